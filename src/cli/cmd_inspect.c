/* hoist inspect SRC */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/cleanup.h"
#include "util/error.h"

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
      "Options:\n"
      "      --json     print JSON for scripts\n"
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

int cmd_inspect(int argc, char **argv)
{
  enum { OPT_JSON = 256 };
  static const struct option long_opts[] = {
      {"json", no_argument, NULL, OPT_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct map_summary map = {0};
  struct disk *d = NULL;
  bool as_json = false;
  int c, r;

  optind = 1;
  while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_JSON:
      as_json = true;
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
    printf("virtual size:  %s (%llu bytes)\n",
           cli_human_size(d->size, a, sizeof a), (unsigned long long)d->size);
    printf("allocated:     %s\n",
           cli_human_size(d->allocated == DISK_UNKNOWN ? map.data_bytes
                                                       : d->allocated,
                          b, sizeof b));
    printf("data / zero:   %s / %s in %zu runs\n",
           cli_human_size(map.data_bytes, a, sizeof a),
           cli_human_size(map.zero_bytes, z, sizeof z), map.runs);
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
