/* hoist inventory openstack vms|networks|volumes|images|leftovers: what an
 * OpenStack project holds. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/openstack_cli.h"
#include "model/names.h"
#include "sources/openstack/cloud.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/human.h"

#define P(s) names_printable((s), (char[128]){0}, 128)
#define GiB (1024ull * 1024 * 1024)

static void usage(FILE *f)
{
  fprintf(f,
          "Usage: hoist inventory openstack vms|networks|volumes|images|"
          "leftovers\n"
          "                       [--os-* options] [--cacert FILE] "
          "[--json]\n"
          "\n"
          "Lists what an OpenStack project holds (Nova, Cinder, Neutron and\n"
          "Glance, found in Keystone's catalog):\n"
          "  vms        the servers, with CPU, memory, firmware, disks, NICs\n"
          "             and the concerns a migration raises (critical ones\n"
          "             stop `hoist migrate` unless --force)\n"
          "  networks   the Neutron networks (the names a --network-map "
          "maps)\n"
          "  volumes    the Cinder volumes and their types\n"
          "  images     the Glance images\n"
          "  leftovers  the temporaries (snapshots, volumes, images) that a\n"
          "             migration made and did not delete (it was killed);\n"
          "             --migration ID limits them to one migration, and\n"
          "             --delete deletes them\n"
          "\n"
          "Options:\n" CLI_OPENSTACK_HELP
          "      --cacert FILE          trust the CA certificates in FILE "
          "(PEM);\n"
          "                             default: OS_CACERT, else the "
          "system's\n"
          "      --insecure             do not verify TLS certificates\n"
          "      --json                 print JSON for scripts\n"
          "  -h, --help                 this help\n");
}

static int list_networks(const struct os_inventory *inv, bool as_json)
{
  json_t *list = as_json ? json_array() : NULL;
  size_t i;

  if (!as_json)
    printf("%-24s %-36s %-6s %s\n", "NAME", "ID", "SHARED", "EXTERNAL");
  for (i = 0; i < inv->networks.len; i++) {
    const struct os_network *n = &inv->networks.ptr[i];
    if (as_json)
      list = cli_json_append(
          list, json_pack("{s:s,s:s?,s:b,s:b}", "id", n->id, "name", n->name,
                          "shared", n->shared, "external", n->external));
    else
      printf("%-24s %-36s %-6s %s\n", P(n->name ? n->name : "-"), P(n->id),
             n->shared ? "yes" : "no", n->external ? "yes" : "no");
  }
  return as_json ? cli_print_json(list) : 0;
}

static int list_volumes(const struct os_inventory *inv, bool as_json)
{
  json_t *list = as_json ? json_array() : NULL;
  size_t i;

  if (!as_json)
    printf("%-24s %-10s %-6s %-12s %-8s %s\n", "NAME", "STATUS", "SIZE", "TYPE",
           "BOOTABLE", "ID");
  for (i = 0; i < inv->volumes.len; i++) {
    const struct os_volume *v = &inv->volumes.ptr[i];
    char size[32];
    if (as_json) {
      list = cli_json_append(
          list, json_pack("{s:s,s:s?,s:s?,s:I,s:s?,s:b,s:b,s:b}", "id", v->id,
                          "name", v->name, "status", v->status, "size_gb",
                          (json_int_t)v->size_gb, "type", v->type, "bootable",
                          v->bootable, "multiattach", v->multiattach,
                          "encrypted", v->encrypted));
    } else {
      snprintf(size, sizeof size, "%" PRIu64 "G", v->size_gb);
      printf("%-24s %-10s %-6s %-12s %-8s %s\n", P(v->name ? v->name : "-"),
             P(v->status ? v->status : "-"), size, P(v->type ? v->type : "-"),
             v->bootable ? "yes" : "no", P(v->id));
    }
  }
  if (!as_json && inv->volume_types.len) {
    printf("\nVOLUME TYPE              ID\n");
    for (i = 0; i < inv->volume_types.len; i++)
      printf("%-24s %s\n", P(inv->volume_types.ptr[i].name),
             P(inv->volume_types.ptr[i].id));
  }
  return as_json ? cli_print_json(list) : 0;
}

static int list_images(struct os_cloud *c, bool as_json)
{
  struct glance_image_list images = {0};
  json_t *list = as_json ? json_array() : NULL;
  size_t i;
  int r = os_cloud_images(c, &images);

  if (r < 0) {
    json_decref(list);
    glance_image_list_free(&images);
    cli_report_error(NULL);
    return 1;
  }
  if (!as_json)
    printf("%-24s %-8s %-8s %-10s %s\n", "NAME", "STATUS", "FORMAT", "SIZE",
           "ID");
  for (i = 0; i < images.len; i++) {
    const struct glance_image *img = &images.ptr[i];
    char size[32];
    if (as_json)
      list = cli_json_append(
          list, json_pack("{s:s,s:s?,s:s?,s:s?,s:I,s:I}", "id", img->id, "name",
                          img->name, "status", img->status, "disk_format",
                          img->disk_format, "size", (json_int_t)img->size,
                          "virtual_size", (json_int_t)img->virtual_size));
    else
      printf("%-24s %-8s %-8s %-10s %s\n", P(img->name ? img->name : "-"),
             P(img->status ? img->status : "-"),
             P(img->disk_format ? img->disk_format : "-"),
             human_size(img->size, size, sizeof size), P(img->id));
  }
  glance_image_list_free(&images);
  return as_json ? cli_print_json(list) : 0;
}

struct leftovers {
  bool as_json, delete;
  json_t *list;
  size_t n;
};

static void report(void *opaque, const char *kind, const char *id,
                   const char *name)
{
  struct leftovers *l = opaque;

  l->n++;
  if (l->as_json)
    l->list = cli_json_append(l->list, json_pack("{s:s,s:s,s:s?}", "kind", kind,
                                                 "id", id, "name", name));
  else
    printf("%s%-9s %-36s %s\n", l->delete ? "deleting " : "", kind, P(id),
           P(name ? name : "-"));
}

static int list_leftovers(struct os_cloud *c, const char *migration,
                          bool delete, bool as_json)
{
  struct leftovers l = {as_json, delete, as_json ? json_array() : NULL, 0};
  int r = os_cloud_cleanup(c, migration, !delete, report, &l);

  if (r < 0) {
    json_decref(l.list);
    cli_report_error(NULL);
    return 1;
  }
  if (as_json)
    return cli_print_json(l.list);
  if (!l.n)
    printf("no temporaries of %s%s are left\n",
           migration ? "migration " : "hoist migrations",
           migration ? P(migration) : "");
  return 0;
}

static int usage_error(const char *msg, const char *arg)
{
  fprintf(stderr,
          "%s inventory openstack: %s%s%s%s; run 'hoist inventory openstack "
          "--help'\n",
          cli_program, msg, arg ? " \"" : "", arg ? P(arg) : "",
          arg ? "\"" : "");
  return 2;
}

int cmd_inventory_openstack(int argc, char **argv)
{
  enum {
    OPT_JSON = 256,
    OPT_CACERT,
    OPT_INSECURE,
    OPT_MIGRATION,
    OPT_DELETE,
  };
  static const struct option long_opts[] = {
      CLI_OPENSTACK_OPTIONS,
      {"cacert", required_argument, NULL, OPT_CACERT},
      {"insecure", no_argument, NULL, OPT_INSECURE},
      {"migration", required_argument, NULL, OPT_MIGRATION},
      {"delete", no_argument, NULL, OPT_DELETE},
      {"json", no_argument, NULL, OPT_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct cli_openstack oo = {0};
  struct os_session *s = NULL;
  struct os_cloud *c = NULL;
  const struct os_inventory *inv;
  const char *what, *cacert = NULL, *migration = NULL;
  bool as_json = false, insecure = false, delete = false;
  int opt, r;

  optind = 1;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
    switch (opt) {
    case OPT_JSON:
      as_json = true;
      break;
    case OPT_CACERT:
      cacert = optarg;
      break;
    case OPT_INSECURE:
      insecure = true;
      break;
    case OPT_MIGRATION:
      migration = optarg;
      break;
    case OPT_DELETE:
      delete = true;
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      r = cli_openstack_option(&oo, "inventory", opt, optarg);
      if (r < 0)
        return 2;
      if (r == 0)
        return usage_error("unknown option or missing value:",
                           argv[optind - 1]);
    }
  }
  if (optind >= argc)
    return usage_error("what to list? vms, networks, volumes, images or "
                       "leftovers",
                       NULL);
  what = argv[optind];
  if (optind + 1 < argc)
    return usage_error("unexpected argument", argv[optind + 1]);
  if (!streq(what, "vms") && !streq(what, "networks") &&
      !streq(what, "volumes") && !streq(what, "images") &&
      !streq(what, "leftovers"))
    return usage_error("lists vms, networks, volumes, images or leftovers, "
                       "not",
                       what);
  if ((migration || delete) && !streq(what, "leftovers"))
    return usage_error("--migration and --delete go with", "leftovers");
  if (migration &&
      (strlen(migration) != 8 || strspn(migration, "0123456789abcdef") != 8))
    return usage_error("--migration takes the 8 hex digits of a migration "
                       "id, not",
                       migration);
  r = cli_openstack_session(&oo, "inventory", cacert, insecure, &s);
  if (r == 0)
    r = os_cloud_open(s, &c);
  if (r < 0) {
    cli_report_error(NULL);
    return 1;
  }
  if (streq(what, "vms")) {
    struct vm_list vms = {0};
    if (os_cloud_list_vms(c, &vms) < 0) {
      cli_report_error(NULL);
      r = 1;
    } else if (as_json) {
      json_t *list = json_array();
      size_t i;
      for (i = 0; list && i < vms.len; i++)
        list = cli_json_append(list, cli_vm_json(vms.ptr[i]));
      r = cli_print_json(list);
    } else {
      cli_print_vms(&vms);
      r = 0;
    }
    vm_list_free(&vms);
  } else if (streq(what, "images")) {
    r = list_images(c, as_json);
  } else if (streq(what, "leftovers")) {
    r = list_leftovers(c, migration, delete, as_json);
  } else if (os_cloud_inventory(c, &inv) < 0) {
    cli_report_error(NULL);
    r = 1;
  } else if (streq(what, "networks")) {
    r = list_networks(inv, as_json);
  } else {
    r = list_volumes(inv, as_json);
  }
  os_cloud_close(c);
  return r;
}
