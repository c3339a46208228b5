/* Helpers shared by the commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/openstack_cli.h"
#include "sources/ova/ova.h"
#include "sources/openstack/glance.h"
#include "sources/ovirt/imageio.h"
#include "util/cleanup.h"
#include "util/error.h"

void cli_report_error(const char *context)
{
  const char *msg = error_message();

  if (context)
    fprintf(stderr, "%s: %s: %s\n", cli_program, context, msg ? msg : "failed");
  else
    fprintf(stderr, "%s: %s\n", cli_program, msg ? msg : "failed");
  error_clear();
}

static int open_imageio(const char *spec, const struct cli_source_options *o,
                        struct disk **ret)
{
  struct imageio_options io = {0};
  struct disk_open_opts dopts = {.open_sibling = disk_refuse_sibling,
                                 .opaque = (char *)"imageio"};
  struct bytesource *bs;
  int r;

  if (o) {
    io.cacert = o->cacert;
    io.insecure = o->insecure;
  }
  if (io.insecure) {
    _cleanup_free_ char *origin = imageio_display_url(spec);
    fprintf(stderr,
            "%s: warning: TLS certificate verification is off "
            "(--insecure): the server of %s is not authenticated\n",
            cli_program, origin ? origin : "the source");
  }
  r = imageio_open(spec, &io, &bs);
  if (r < 0)
    return r;
  return disk_open(bs, &dopts, ret);
}

/* glance://IMAGE_ID: authenticates with the --os-* options or the
 * environment; the disk owns the session. */
static int open_glance(const char *spec, const struct cli_source_options *o,
                       struct disk **ret)
{
  struct cli_openstack none = {0};
  struct glance_disk_options gopts = {.owns_session = true};
  const char *id = spec + strlen("glance://");
  struct os_session *s;
  int r;

  if (!glance_id_ok(id))
    return error_set(EINVAL,
                     "%s: expected glance://IMAGE_ID (the image's id, "
                     "from 'hoist inventory openstack images')",
                     spec);
  r = cli_openstack_session(o && o->openstack ? o->openstack : &none, "copy",
                            o ? o->cacert : NULL, o && o->insecure, &s);
  if (r < 0)
    return r;
  gopts.connections = o ? o->workers : 0;
  return glance_open_disk(s, id, &gopts, ret);
}

char *cli_display_spec(const char *spec)
{
  if (imageio_is_url(spec))
    return imageio_display_url(spec);
  return strdup(spec);
}

int cli_open_disk(const char *spec, struct disk **ret)
{
  return cli_open_disk_opts(spec, NULL, ret);
}

int cli_open_disk_opts(const char *spec, const struct cli_source_options *o,
                       struct disk **ret)
{
  if (imageio_is_url(spec))
    return open_imageio(spec, o, ret);
  if (strncmp(spec, "glance://", 9) == 0)
    return open_glance(spec, o, ret);
  if (strncmp(spec, "ova:", 4) == 0) {
    _cleanup_free_ char *path = strdup(spec + 4);
    char *member;

    if (!path)
      return error_set(ENOMEM, "out of memory");
    member = strrchr(path, '#');
    if (!member || !member[1])
      return error_set(EINVAL,
                       "%s: name the disk inside the OVA as "
                       "ova:PATH#FILE",
                       spec);
    *member++ = 0;
    return ova_open_disk(path, member, ret);
  }
  if (strncmp(spec, "file:", 5) == 0)
    spec += 5;
  return disk_open_path(spec, ret);
}

int cli_parse_uint(const char *s, unsigned long long max,
                   unsigned long long *ret)
{
  char *end;
  unsigned long long v;

  errno = 0;
  if (!s || !*s || *s == '-')
    return -1;
  v = strtoull(s, &end, 10);
  if (errno || *end || v > max)
    return -1;
  *ret = v;
  return 0;
}

json_t *cli_nics_json(const struct vm *vm, const char *model_key)
{
  json_t *nics = json_array();
  size_t i;

  for (i = 0; nics && i < vm->nics.len; i++) {
    const struct vm_nic *n = &vm->nics.ptr[i];

    if (json_array_append_new(
            nics, json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?}", "name", n->name,
                            "mac", n->mac, "network", n->network, model_key,
                            n->source_model, "model", n->model)) < 0) {
      json_decref(nics);
      return NULL;
    }
  }
  return nics;
}

json_t *cli_concerns_json(const struct vm *vm)
{
  json_t *concerns = json_array();
  size_t i;

  for (i = 0; concerns && i < vm->concerns.len; i++) {
    const struct vm_concern *c = &vm->concerns.ptr[i];

    if (json_array_append_new(
            concerns, json_pack("{s:s,s:s?,s:s?}", "level",
                                vm_concern_level_name(c->level), "category",
                                c->category, "message", c->message)) < 0) {
      json_decref(concerns);
      return NULL;
    }
  }
  return concerns;
}
