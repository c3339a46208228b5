/* hoist inspect SRC */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sources/ova/ova.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/human.h"

/* Map summaries print at most this many runs; the totals cover all. */
#define INSPECT_MAX_RUNS 64
#define INSPECT_STEP (1024ull * 1024 * 1024)

static void inspect_usage(FILE *f)
{
  fprintf(
      f,
      "Usage: hoist inspect [OPTIONS] SRC\n"
      "\n"
      "Shows a disk's format, virtual size, allocated bytes and a summary of\n"
      "its data/zero map. SRC is a path or ova:PATH#FILE.\n"
      "\n"
      "With SRC = ova:PATH (no #FILE), lists the virtual machines the OVA\n"
      "describes instead: firmware, CPU topology, memory, disks, NICs and\n"
      "the concerns a migration raises. PATH is an .ova archive, an .ovf\n"
      "file with its disks next to it, or a directory holding one .ovf.\n"
      "\n"
      "Options:\n"
      "      --json     print JSON for scripts\n"
      "      --verify   (ova:PATH) also check every file of the package\n"
      "                 against the manifest's digests\n"
      "  -h, --help     this help\n");
}

struct map_summary {
  uint64_t data_bytes, zero_bytes;
  size_t runs;
  json_t *json_runs;
};

static int add_run(struct map_summary *m, uint64_t offset, uint64_t length,
                   bool zero)
{
  if (zero)
    m->zero_bytes += length;
  else
    m->data_bytes += length;
  m->runs++;
  if (json_array_size(m->json_runs) < INSPECT_MAX_RUNS)
    json_array_append_new(
        m->json_runs, json_pack("{s:I,s:I,s:b}", "offset", (json_int_t)offset,
                                "length", (json_int_t)length, "zero", zero));
  return 0;
}

/* Walks the data/zero map of the whole disk, merging adjacent runs. */
static int map_disk(struct disk *d, struct map_summary *m)
{
  struct extent cur = {0, 0, false};
  uint64_t pos = 0;
  int r = 0;

  m->json_runs = json_array();
  if (d->stream) {
    _cleanup_free_ void *payload = malloc(d->chunk_payload_max);
    struct disk_chunk chunk;
    if (!payload)
      return error_set(ENOMEM, "out of memory");
    while ((r = d->ops->next_chunk(d, &chunk, payload)) == 1) {
      if (chunk.offset > pos) {
        add_run(m, pos, chunk.offset - pos, true);
      }
      add_run(m, chunk.offset, chunk.length, false);
      pos = chunk.offset + chunk.length;
    }
    if (r == 0 && pos < d->size)
      add_run(m, pos, d->size - pos, true);
    return r;
  }
  while (pos < d->size) {
    struct extent_list l = {0};
    uint64_t len = MIN(INSPECT_STEP, d->size - pos);
    size_t i;
    r = d->ops->extents(d, pos, len, &l);
    for (i = 0; r == 0 && i < l.len; i++) {
      struct extent e = l.ptr[i];
      if (cur.length && cur.zero == e.zero &&
          cur.offset + cur.length == e.offset) {
        cur.length += e.length;
        continue;
      }
      if (cur.length)
        add_run(m, cur.offset, cur.length, cur.zero);
      cur = e;
    }
    extent_list_reset(&l);
    if (r < 0)
      return r;
    pos += len;
  }
  if (cur.length)
    add_run(m, cur.offset, cur.length, cur.zero);
  return 0;
}

/* ---- ova:PATH: the VMs of an OVA ---- */

struct verify_result {
  json_t *files; /* [{name, listed, verified}] */
  size_t listed, unlisted;
  bool not_utf8; /* a name jansson refused */
};

static int verify_ova(struct ova *ova, struct verify_result *v)
{
  const char *mf = ova_manifest_name(ova);
  size_t i;

  v->files = json_array();
  if (!mf)
    return error_set(EINVAL, "%s: no manifest to verify the package against",
                     ova_path(ova));
  for (i = 0; i < ova_file_count(ova); i++) {
    const char *name = ova_file_name(ova, i);
    bool listed = false;
    int r;
    if (strcmp(name, mf) == 0)
      continue;
    r = ova_verify_member(ova, name, &listed);
    if (r < 0)
      return r;
    if (listed)
      v->listed++;
    else
      v->unlisted++;
    if (json_array_append_new(v->files,
                              json_pack("{s:s,s:b,s:b}", "name", name, "listed",
                                        listed, "verified", listed)) < 0)
      v->not_utf8 = true;
  }
  return 0;
}

static json_t *vm_json(const struct vm *vm)
{
  json_t *o, *disks = json_array();
  json_t *nics = cli_nics_json(vm, "source_model");
  json_t *concerns = cli_concerns_json(vm);
  size_t i;

  for (i = 0; i < vm->disks.len; i++) {
    const struct vm_disk *d = &vm->disks.ptr[i];
    json_array_append_new(
        disks,
        json_pack("{s:s?,s:s?,s:s?,s:I,s:I,s:s?,s:b,s:s?,s:s,s:s?,s:i,s:s?,"
                  "s:b}",
                  "id", d->id, "name", d->name, "member", d->locator,
                  "capacity", (json_int_t)d->capacity, "populated",
                  (json_int_t)d->populated, "format", d->format, "compressed",
                  d->compression != NULL, "compression", d->compression, "bus",
                  vm_disk_bus_name(d->bus), "controller", d->source_controller,
                  "boot_order", d->boot_order, "serial", d->serial, "shareable",
                  d->shareable));
  }
  o = json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s,s:b,s:{s:I,s:I,s:I,"
                "s:I},s:I,s:s}",
                "name", vm->name, "id", vm->id, "uuid", vm->uuid, "description",
                vm->description, "os_type", vm->os_type, "os_description",
                vm->os_description, "machine_type", vm->machine_type,
                "firmware", vm_firmware_name(vm->firmware), "secure_boot",
                vm->secure_boot, "cpu", "count",
                (json_int_t)vm->sockets * vm->cores_per_socket *
                    vm->threads_per_core,
                "sockets", (json_int_t)vm->sockets, "cores_per_socket",
                (json_int_t)vm->cores_per_socket, "threads_per_core",
                (json_int_t)vm->threads_per_core, "memory",
                (json_int_t)vm->memory, "power",
                vm->power == POWER_ON    ? "on"
                : vm->power == POWER_OFF ? "off"
                                         : "unknown");
  json_object_set_new(o, "disks", disks);
  json_object_set_new(o, "nics", nics);
  json_object_set_new(o, "concerns", concerns);
  return o;
}

static void print_vm(const struct vm *vm, size_t index)
{
  char a[32];
  size_t i;

  printf("\nVM %zu: %s", index + 1, vm->name ? vm->name : "(unnamed)");
  if (vm->id && (!vm->name || strcmp(vm->id, vm->name) != 0))
    printf(" (id %s)", vm->id);
  putchar('\n');
  if (vm->description)
    printf("  description:  %s\n", vm->description);
  if (vm->os_type && vm->os_description &&
      strcmp(vm->os_type, vm->os_description) == 0)
    printf("  os:           %s\n", vm->os_type);
  else if (vm->os_type || vm->os_description)
    printf("  os:           %s%s%s%s\n", vm->os_type ? vm->os_type : "",
           vm->os_type && vm->os_description ? " (" : "",
           vm->os_description ? vm->os_description : "",
           vm->os_type && vm->os_description ? ")" : "");
  printf("  firmware:     %s%s\n", vm_firmware_name(vm->firmware),
         vm->secure_boot ? ", secure boot" : "");
  printf("  cpu:          %u (%u socket%s × %u core%s × %u thread%s)\n",
         vm->sockets * vm->cores_per_socket * vm->threads_per_core, vm->sockets,
         vm->sockets == 1 ? "" : "s", vm->cores_per_socket,
         vm->cores_per_socket == 1 ? "" : "s", vm->threads_per_core,
         vm->threads_per_core == 1 ? "" : "s");
  printf("  memory:       %s (%llu bytes)\n",
         human_size(vm->memory, a, sizeof a), (unsigned long long)vm->memory);
  printf("  disks:        %zu\n", vm->disks.len);
  for (i = 0; i < vm->disks.len; i++) {
    const struct vm_disk *d = &vm->disks.ptr[i];
    bool ctrl = d->source_controller &&
                strcmp(d->source_controller, vm_disk_bus_name(d->bus)) != 0;
    printf("    %s: %s, %s, %s%s%s%s, %s%s%s", d->id,
           d->locator ? d->locator : "(empty, no file)",
           human_size(d->capacity, a, sizeof a), vm_disk_bus_name(d->bus),
           ctrl ? " (" : "", ctrl ? d->source_controller : "", ctrl ? ")" : "",
           d->format ? d->format : "?", d->compression ? ", " : "",
           d->compression ? d->compression : "");
    if (d->boot_order)
      printf(", boot %d", d->boot_order);
    if (d->serial)
      printf(", serial %s", d->serial);
    putchar('\n');
  }
  printf("  nics:         %zu\n", vm->nics.len);
  for (i = 0; i < vm->nics.len; i++) {
    const struct vm_nic *n = &vm->nics.ptr[i];
    printf("    %s: %s, network %s, %s -> %s\n", n->name ? n->name : "nic",
           n->mac ? n->mac : "no MAC", n->network ? n->network : "(none)",
           n->source_model ? n->source_model : "?", n->model);
  }
  if (vm->concerns.len)
    printf("  concerns:\n");
  for (i = 0; i < vm->concerns.len; i++)
    printf("    %-8s %s: %s\n",
           vm_concern_level_name(vm->concerns.ptr[i].level),
           vm->concerns.ptr[i].category, vm->concerns.ptr[i].message);
}

static int inspect_ova(const char *spec, bool as_json, bool verify)
{
  struct verify_result v = {0};
  struct ova *ova = NULL;
  const struct vm_list *vms;
  size_t i;
  int r;

  r = ova_open(spec + 4, &ova);
  if (r == 0 && verify)
    r = verify_ova(ova, &v);
  if (r < 0) {
    cli_report_error(NULL);
    json_decref(v.files);
    ova_close(ova);
    return 1;
  }
  vms = ova_vms(ova);
  if (as_json) {
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s?}", "source", spec, "path", ova_path(ova),
                  "ovf", ova_ovf_name(ova), "manifest", ova_manifest_name(ova));
    json_t *list = json_array();
    bool ok = o && list && !v.not_utf8;
    for (i = 0; ok && i < vms->len; i++)
      ok = json_array_append_new(list, vm_json(vms->ptr[i])) == 0;
    if (ok && verify)
      ok = json_object_set_new(o, "verified", json_true()) == 0 &&
           json_object_set(o, "files", v.files) == 0;
    if (ok)
      ok = json_object_set_new(o, "vms", TAKE_PTR(list)) == 0;
    if (!ok) {
      /* jansson takes only UTF-8; names in a tar archive may be anything */
      error_set(EILSEQ,
                "%s: cannot print the package as JSON: a name in it is not "
                "valid UTF-8",
                ova_path(ova));
      cli_report_error(NULL);
      json_decref(list);
      json_decref(o);
      json_decref(v.files);
      ova_close(ova);
      return 1;
    }
    json_dumpf(o, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(o);
  } else {
    printf("source:        %s\n", spec);
    printf("descriptor:    %s\n", ova_ovf_name(ova));
    printf("manifest:      %s\n",
           ova_manifest_name(ova) ? ova_manifest_name(ova) : "none");
    if (verify)
      printf("verified:      %zu %s the manifest%s\n", v.listed,
             v.listed == 1 ? "file matches" : "files match",
             v.unlisted ? " (some files are not listed)" : "");
    printf("machines:      %zu\n", vms->len);
    for (i = 0; i < vms->len; i++)
      print_vm(vms->ptr[i], i);
  }
  json_decref(v.files);
  ova_close(ova);
  return 0;
}

int cmd_inspect(int argc, char **argv)
{
  enum { OPT_JSON = 256, OPT_VERIFY };
  static const struct option long_opts[] = {
      {"json", no_argument, NULL, OPT_JSON},
      {"verify", no_argument, NULL, OPT_VERIFY},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct map_summary map = {0};
  struct disk *d = NULL;
  bool as_json = false, verify = false;
  int c, r;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_JSON:
      as_json = true;
      break;
    case OPT_VERIFY:
      verify = true;
      break;
    case 'h':
      inspect_usage(stdout);
      return 0;
    default:
      fprintf(stderr, "Run 'hoist inspect --help' for the options.\n");
      return 2;
    }
  }
  if (argc - optind != 1) {
    fprintf(stderr, "hoist inspect: expects one SRC; run 'hoist inspect "
                    "--help'\n");
    return 2;
  }
  if (strncmp(argv[optind], "ova:", 4) == 0 && !strchr(argv[optind], '#'))
    return inspect_ova(argv[optind], as_json, verify);
  if (verify) {
    fprintf(stderr, "hoist inspect: --verify applies to ova:PATH\n");
    return 2;
  }
  r = cli_open_disk(argv[optind], &d);
  if (r == 0)
    r = map_disk(d, &map);
  if (r < 0) {
    cli_report_error(NULL);
    json_decref(map.json_runs);
    disk_close(d);
    return 1;
  }
  if (as_json) {
    json_t *o =
        json_pack("{s:s,s:s,s:s?,s:I,s:I,s:I,s:I,s:O}", "source", argv[optind],
                  "format", d->format, "variant", d->variant, "virtual_size",
                  (json_int_t)d->size, "allocated",
                  (json_int_t)(d->allocated == DISK_UNKNOWN ? map.data_bytes
                                                            : d->allocated),
                  "data_bytes", (json_int_t)map.data_bytes, "zero_bytes",
                  (json_int_t)map.zero_bytes, "map", map.json_runs);
    json_object_set_new(o, "map_runs", json_integer(map.runs));
    json_dumpf(o, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(o);
  } else {
    char a[32], b[32], z[32];
    size_t i;
    printf("source:        %s\n", argv[optind]);
    printf("format:        %s%s%s%s\n", d->format, d->variant ? " (" : "",
           d->variant ? d->variant : "", d->variant ? ")" : "");
    printf("virtual size:  %s (%llu bytes)\n", human_size(d->size, a, sizeof a),
           (unsigned long long)d->size);
    printf(
        "allocated:     %s\n",
        human_size(d->allocated == DISK_UNKNOWN ? map.data_bytes : d->allocated,
                   b, sizeof b));
    printf("data / zero:   %s / %s in %zu runs\n",
           human_size(map.data_bytes, a, sizeof a),
           human_size(map.zero_bytes, z, sizeof z), map.runs);
    for (i = 0; i < json_array_size(map.json_runs); i++) {
      json_t *run = json_array_get(map.json_runs, i);
      printf("  %-4s %14lld +%lld\n",
             json_is_true(json_object_get(run, "zero")) ? "zero" : "data",
             (long long)json_integer_value(json_object_get(run, "offset")),
             (long long)json_integer_value(json_object_get(run, "length")));
    }
    if (map.runs > json_array_size(map.json_runs))
      printf("  … %zu more runs\n", map.runs - json_array_size(map.json_runs));
  }
  json_decref(map.json_runs);
  disk_close(d);
  return 0;
}
