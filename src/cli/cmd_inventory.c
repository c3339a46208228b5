/* hoist inventory vms|networks|storage|hosts: what an oVirt engine holds. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/ovirt_cli.h"
#include "model/names.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/human.h"

#define P(s) names_printable((s), (char[128]){0}, 128)

static void inventory_usage(FILE *f)
{
  fprintf(f,
          "Usage: hoist inventory openstack vms|networks|volumes|images|"
          "leftovers …\n"
          "       (see 'hoist inventory openstack --help')\n"
          "Usage: hoist inventory vms|networks|storage|hosts --engine URL "
          "--user USER\n"
          "                       [--password-file FILE] [--cacert FILE] "
          "[--json]\n"
          "\n"
          "Lists what an oVirt (RHV) engine holds, through its REST API:\n"
          "  vms        the VMs, with CPU, memory, firmware, disks, NICs and\n"
          "             the concerns a migration raises (critical ones stop\n"
          "             `hoist migrate` unless --force)\n"
          "  networks   the networks (the names a --network-map maps)\n"
          "  storage    the storage domains\n"
          "  hosts      the hosts\n"
          "\n"
          "Options:\n" CLI_OVIRT_HELP
          "      --json                 print JSON for scripts\n"
          "  -h, --help                 this help\n");
}

static const char *power_name(enum vm_power p)
{
  return p == POWER_ON ? "on" : p == POWER_OFF ? "off" : "unknown";
}

/* ---- JSON ---- */

json_t *cli_vm_json(const struct vm *vm)
{
  json_t *disks = json_array(), *nics = cli_nics_json(vm, "interface");
  json_t *concerns = cli_concerns_json(vm);
  json_t *o;
  size_t i;

  for (i = 0; i < vm->disks.len; i++) {
    const struct vm_disk *d = &vm->disks.ptr[i];
    json_array_append_new(
        disks,
        json_pack("{s:s?,s:s?,s:I,s:I,s:s?,s:s,s:s?,s:b,s:b,s:s?}", "id", d->id,
                  "name", d->name, "capacity", (json_int_t)d->capacity,
                  "populated", (json_int_t)d->populated, "format", d->format,
                  "bus", vm_disk_bus_name(d->bus), "interface",
                  d->source_controller, "bootable", d->boot_order > 0,
                  "shareable", d->shareable, "storage", d->storage));
  }
  o = json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s,s:b,s:{s:I,s:I,s:I},s:I,"
                "s:s,s:s?,s:s?}",
                "name", vm->name, "id", vm->id, "uuid", vm->uuid, "description",
                vm->description, "os_type", vm->os_type, "firmware",
                vm_firmware_name(vm->firmware), "secure_boot", vm->secure_boot,
                "cpu", "sockets", (json_int_t)vm->sockets, "cores",
                (json_int_t)vm->cores_per_socket, "threads",
                (json_int_t)vm->threads_per_core, "memory",
                (json_int_t)vm->memory, "power", power_name(vm->power),
                "serial", vm->serial, "timezone", vm->timezone);
  if (!o || !disks || !nics || !concerns) {
    json_decref(o);
    json_decref(disks);
    json_decref(nics);
    json_decref(concerns);
    return NULL;
  }
  if (vm->utc_offset_set)
    json_object_set_new(o, "utc_offset", json_integer(vm->utc_offset));
  json_object_set_new(o, "disks", disks);
  json_object_set_new(o, "nics", nics);
  json_object_set_new(o, "concerns", concerns);
  return o;
}

int cli_print_json(json_t *list)
{
  if (!list) {
    /* jansson takes UTF-8 only; the engine's names should be. */
    fprintf(stderr,
            "%s inventory: cannot print JSON: out of memory or a name that "
            "is not valid UTF-8\n",
            cli_program);
    return 1;
  }
  json_dumpf(list, stdout, JSON_INDENT(2));
  putchar('\n');
  json_decref(list);
  return 0;
}

json_t *cli_json_append(json_t *list, json_t *item)
{
  if (!list || !item || json_array_append_new(list, item) < 0) {
    json_decref(list);
    return NULL;
  }
  return list;
}

/* ---- tables ---- */

/* Writes s with control characters escaped, so that a line stays one
 * line whatever the engine put in a name. */
static void put_oneline(const char *s)
{
  for (; s && *s; s++) {
    unsigned char c = *s;
    if (c < 0x20 || c == 0x7f)
      printf("\\x%02x", c);
    else
      putchar(c);
  }
}

static void concern_counts(const struct vm *vm, char *buf, size_t len)
{
  size_t n[3] = {0}, i;

  for (i = 0; i < vm->concerns.len; i++)
    n[vm->concerns.ptr[i].level]++;
  if (!vm->concerns.len)
    snprintf(buf, len, "-");
  else
    snprintf(buf, len, "%zu critical, %zu warning, %zu info",
             n[CONCERN_CRITICAL], n[CONCERN_WARNING], n[CONCERN_INFO]);
}

void cli_print_vms(const struct vm_list *vms)
{
  size_t i, j;

  printf("%-24s %-7s %-4s %-9s %-8s %-18s %-4s %s\n", "NAME", "POWER", "CPU",
         "MEMORY", "FIRMWARE", "DISKS", "NICS", "CONCERNS");
  for (i = 0; i < vms->len; i++) {
    const struct vm *vm = vms->ptr[i];
    char mem[32], disks[48], total[32], counts[64];
    uint64_t bytes = 0;

    for (j = 0; j < vm->disks.len; j++)
      bytes += vm->disks.ptr[j].capacity;
    snprintf(disks, sizeof disks, "%zu (%s)", vm->disks.len,
             human_size(bytes, total, sizeof total));
    concern_counts(vm, counts, sizeof counts);
    printf("%-24s %-7s %-4u %-9s %-8s %-18s %-4zu %s\n", P(vm->name),
           power_name(vm->power),
           vm->sockets * vm->cores_per_socket * vm->threads_per_core,
           human_size(vm->memory, mem, sizeof mem),
           vm->secure_boot ? "efi+sb" : vm_firmware_name(vm->firmware), disks,
           vm->nics.len, counts);
    for (j = 0; j < vm->concerns.len; j++) {
      const struct vm_concern *c = &vm->concerns.ptr[j];
      printf("    %-8s ", vm_concern_level_name(c->level));
      put_oneline(c->message);
      fputs(" [", stdout);
      put_oneline(c->category);
      fputs("]\n", stdout);
    }
  }
}

static int list_vms(struct ovirt_engine *e, bool as_json)
{
  struct vm_list vms = {0};
  json_t *list;
  size_t i;

  if (ovirt_list_vms(e, &vms) < 0) {
    vm_list_free(&vms);
    cli_report_error(NULL);
    return 1;
  }
  if (!as_json) {
    cli_print_vms(&vms);
    vm_list_free(&vms);
    return 0;
  }
  list = json_array();
  for (i = 0; list && i < vms.len; i++)
    list = cli_json_append(list, cli_vm_json(vms.ptr[i]));
  vm_list_free(&vms);
  return cli_print_json(list);
}

static int list_networks(const struct ovirt_inventory *inv, bool as_json)
{
  json_t *list = as_json ? json_array() : NULL;
  size_t i;

  if (!as_json)
    printf("%-24s %-5s %-4s %-36s %s\n", "NAME", "VLAN", "VM", "ID",
           "DESCRIPTION");
  for (i = 0; i < inv->networks.len; i++) {
    const struct ovirt_network *n = &inv->networks.ptr[i];
    char vlan[16] = "-";

    if (n->vlan >= 0)
      snprintf(vlan, sizeof vlan, "%d", n->vlan);
    if (as_json) {
      json_t *o =
          json_pack("{s:s,s:s?,s:s?,s:s?,s:b}", "id", n->id, "name", n->name,
                    "description", n->description, "data_center",
                    n->data_center, "vm_network", n->vm_network);
      if (o && n->vlan >= 0)
        json_object_set_new(o, "vlan", json_integer(n->vlan));
      list = cli_json_append(list, o);
    } else {
      printf("%-24s %-5s %-4s %-36s %s\n", P(n->name), vlan,
             n->vm_network ? "yes" : "no", P(n->id),
             P(n->description ? n->description : "-"));
    }
  }
  return as_json ? cli_print_json(list) : 0;
}

static int list_storage(const struct ovirt_inventory *inv, bool as_json)
{
  json_t *list = as_json ? json_array() : NULL;
  size_t i;

  if (!as_json)
    printf("%-24s %-8s %-10s %-10s %-10s %s\n", "NAME", "TYPE", "STORAGE",
           "AVAILABLE", "USED", "ID");
  for (i = 0; i < inv->storage.len; i++) {
    const struct ovirt_storage_domain *s = &inv->storage.ptr[i];
    char a[32], u[32];

    if (as_json)
      list = cli_json_append(
          list,
          json_pack("{s:s,s:s?,s:s?,s:s?,s:s?,s:I,s:I}", "id", s->id, "name",
                    s->name, "type", s->type, "storage_type", s->storage_type,
                    "status", s->status, "available", (json_int_t)s->available,
                    "used", (json_int_t)s->used));
    else
      printf("%-24s %-8s %-10s %-10s %-10s %s\n", P(s->name),
             P(s->type ? s->type : "-"),
             P(s->storage_type ? s->storage_type : "-"),
             human_size(s->available, a, sizeof a),
             human_size(s->used, u, sizeof u), P(s->id));
  }
  return as_json ? cli_print_json(list) : 0;
}

static int list_hosts(const struct ovirt_inventory *inv, bool as_json)
{
  json_t *list = as_json ? json_array() : NULL;
  size_t i, j;

  if (!as_json)
    printf("%-24s %-24s %-14s %-16s %s\n", "NAME", "ADDRESS", "STATUS",
           "CLUSTER", "ID");
  for (i = 0; i < inv->hosts.len; i++) {
    const struct ovirt_host *h = &inv->hosts.ptr[i];
    const char *cluster = h->cluster_id;

    for (j = 0; h->cluster_id && j < inv->clusters.len; j++)
      if (streq(inv->clusters.ptr[j].id, h->cluster_id) &&
          inv->clusters.ptr[j].name)
        cluster = inv->clusters.ptr[j].name;
    if (as_json)
      list = cli_json_append(list, json_pack("{s:s,s:s?,s:s?,s:s?,s:s?}", "id",
                                             h->id, "name", h->name, "address",
                                             h->address, "status", h->status,
                                             "cluster", cluster));
    else
      printf("%-24s %-24s %-14s %-16s %s\n", P(h->name),
             P(h->address ? h->address : "-"), P(h->status ? h->status : "-"),
             P(cluster ? cluster : "-"), P(h->id));
  }
  return as_json ? cli_print_json(list) : 0;
}

static int usage_error(const char *msg, const char *arg)
{
  fprintf(stderr, "%s inventory: %s%s%s%s; run 'hoist inventory --help'\n",
          cli_program, msg, arg ? " \"" : "", arg ? P(arg) : "",
          arg ? "\"" : "");
  return 2;
}

int cmd_inventory(int argc, char **argv)
{
  enum { OPT_JSON = 256 };
  static const struct option long_opts[] = {
      CLI_OVIRT_OPTIONS,
      {"json", no_argument, NULL, OPT_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct cli_ovirt oo = {0};
  struct ovirt_config cfg;
  struct ovirt_engine *e = NULL;
  const struct ovirt_inventory *inv;
  const char *what;
  bool as_json = false;
  int c, r;

  if (argc > 1 && streq(argv[1], "openstack"))
    return cmd_inventory_openstack(argc - 1, argv + 1);
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_JSON:
      as_json = true;
      break;
    case 'h':
      inventory_usage(stdout);
      return 0;
    default:
      r = cli_ovirt_option(&oo, "inventory", c, optarg);
      if (r < 0)
        return 2;
      if (r == 0)
        return usage_error("unknown option or missing value:",
                           argv[optind - 1]);
    }
  }
  if (optind >= argc)
    return usage_error("what to list? vms, networks, storage or hosts", NULL);
  what = argv[optind];
  if (optind + 1 < argc)
    return usage_error("unexpected argument", argv[optind + 1]);
  if (!streq(what, "vms") && !streq(what, "networks") &&
      !streq(what, "storage") && !streq(what, "hosts"))
    return usage_error("lists vms, networks, storage or hosts, not", what);
  if (cli_ovirt_config(&oo, "inventory", NULL, &cfg) < 0) {
    cli_ovirt_clear(&oo);
    return 1;
  }
  r = ovirt_connect(&cfg, &e);
  cli_ovirt_clear(&oo);
  if (r < 0) {
    cli_report_error(NULL);
    return 1;
  }
  if (streq(what, "vms")) {
    r = list_vms(e, as_json);
  } else if (ovirt_inventory(e, &inv) < 0) {
    cli_report_error(NULL);
    r = 1;
  } else if (streq(what, "networks")) {
    r = list_networks(inv, as_json);
  } else if (streq(what, "storage")) {
    r = list_storage(inv, as_json);
  } else {
    r = list_hosts(inv, as_json);
  }
  ovirt_close(e);
  return r;
}
