/* ovirt mode: log in to the engine, start an image transfer of the disk,
 * read it through imageio, finalize the transfer at the end (or cancel
 * it on failure, so that the disk is not left locked). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "populator/source.h"
#include "sources/ovirt/engine.h"
#include "util/cleanup.h"
#include "util/error.h"

int pop_source_open_ovirt(const struct pop_args *a,
                          const struct pop_credentials *c,
                          const _Atomic bool *stop, struct pop_source *s)
{
  const char *secret = a->secret_name ? a->secret_name : "the Secret";
  struct ovirt_config cfg = {
      .url = a->engine_url,
      .user = c->user,
      .password = c->password,
      .cacert = c->cacert_file,
      .insecure = c->insecure,
      .stop = stop,
  };
  int r;

  if (!c->user || !c->password)
    return error_set(EINVAL,
                     "%s gives no %s: set the user and password keys of "
                     "the engine's credentials",
                     secret, !c->user ? "user" : "password");
  if (asprintf(&s->id, "ovirt-disk:%s", a->disk_id) < 0 ||
      asprintf(&s->shown, "disk %s", a->disk_id) < 0)
    return error_set(ENOMEM, "out of memory");
  if (c->insecure)
    pop_log("warning: TLS certificate verification is off "
            "(insecureSkipVerify in %s): the engine %s is not authenticated",
            secret, a->engine_url);
  r = ovirt_connect(&cfg, &s->engine);
  if (r < 0)
    return r;
  pop_log("starting an image transfer of disk %s on %s", a->disk_id,
          a->engine_url);
  r = ovirt_transfer_start(s->engine, a->disk_id, NULL, &s->transfer);
  if (r < 0)
    return r;
  pop_log_add_ticket(ovirt_transfer_url(s->transfer));
  pop_log_add_ticket(ovirt_transfer_proxy_url(s->transfer));
  pop_log("image transfer %s is ready", ovirt_transfer_id(s->transfer));
  return ovirt_transfer_open_disk(s->transfer, &s->disk);
}

int pop_source_finish(struct pop_source *s)
{
  int r = 0;

  if (s->transfer && !s->finished) {
    r = ovirt_transfer_finalize(s->transfer);
    if (r == 0)
      pop_log("the image transfer is finalized");
  }
  s->finished = r == 0;
  return r;
}

void pop_source_close_transfer(struct pop_source *s)
{
  if (s->transfer && !s->finished)
    pop_log("cancelling the image transfer");
  ovirt_transfer_close(s->transfer);
  ovirt_close(s->engine);
  s->transfer = NULL;
  s->engine = NULL;
}
