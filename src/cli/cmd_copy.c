/* hoist copy SRC DST */
#include <errno.h>
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/openstack_cli.h"
#include "cli/progress.h"
#include "copy/checksum.h"
#include "copy/dest.h"
#include "copy/engine.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/human.h"

static void copy_usage(FILE *f)
{
  fprintf(
      f,
      "Usage: hoist copy [OPTIONS] SRC DST\n"
      "\n"
      "Copies a virtual disk into a raw file or block device, decoding its\n"
      "format on the fly. The format is detected from the content.\n"
      "\n"
      "SRC   a local file: raw, qcow2 (v2/v3), VMDK (monolithicSparse,\n"
      "      streamOptimized, monolithicFlat, twoGbMaxExtentSparse/Flat:\n"
      "      give the descriptor); or ova:PATH#FILE, a disk inside an OVA;\n"
      "      or imageio+https://HOST:PORT/images/TICKET, an oVirt image\n"
      "      transfer (its transfer_url or proxy_url); or glance://IMAGE_ID,\n"
      "      an OpenStack Glance image (raw, qcow2, VMDK; its checksum is\n"
      "      verified before the copy counts as done)\n"
      "DST   a path: a new regular file is created sparse; an existing\n"
      "      block device is written in place\n"
      "\n"
      "Options:\n"
      "  -w, --workers N       parallel workers (default %d)\n"
      "      --progress        show progress (a bar on a terminal, lines\n"
      "                        otherwise)\n"
      "      --no-progress     show no progress\n"
      "      --checksum ALGO   print the digest of the whole virtual disk\n"
      "                        as written (sha256, sha1, sha512)\n"
      "      --preallocate     allocate every block of DST (no holes)\n"
      "      --cacert FILE     trust the CA certificates in FILE (PEM) for\n"
      "                        https sources, e.g. the oVirt engine's CA\n"
      "      --insecure        do not verify the server's TLS certificate\n"
      "  -h, --help            this help\n"
      "\n"
      "OpenStack options (glance://IMAGE_ID):\n" CLI_OPENSTACK_HELP,
      COPY_DEFAULT_WORKERS);
}

int cmd_copy(int argc, char **argv)
{
  enum {
    OPT_PROGRESS = 256,
    OPT_NO_PROGRESS,
    OPT_CHECKSUM,
    OPT_PREALLOC,
    OPT_CACERT,
    OPT_INSECURE,
  };
  static const struct option long_opts[] = {
      {"workers", required_argument, NULL, 'w'},
      {"progress", no_argument, NULL, OPT_PROGRESS},
      {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
      {"checksum", required_argument, NULL, OPT_CHECKSUM},
      {"preallocate", no_argument, NULL, OPT_PREALLOC},
      {"cacert", required_argument, NULL, OPT_CACERT},
      {"insecure", no_argument, NULL, OPT_INSECURE},
      CLI_OPENSTACK_OPTIONS,
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct copy_options copts = {0};
  struct dest_file_options dopts = {0};
  struct cli_source_options sopts = {0};
  struct cli_openstack os_opts = {0};
  _cleanup_free_ char *shown = NULL;
  struct progress_display pd;
  struct copy_progress progress;
  const char *checksum = NULL, *src_spec, *dst_path;
  struct disk *src = NULL;
  struct dest *dst = NULL;
  int progress_mode = -1, c, r;
  double started;

  optind = 1;
  while ((c = getopt_long(argc, argv, "w:h", long_opts, NULL)) != -1) {
    unsigned long long v;
    switch (c) {
    case 'w':
      if (cli_parse_uint(optarg, COPY_MAX_WORKERS, &v) < 0 || v == 0) {
        fprintf(stderr,
                "hoist copy: --workers takes a number from 1 to "
                "%d\n",
                COPY_MAX_WORKERS);
        return 2;
      }
      copts.workers = v;
      break;
    case OPT_PROGRESS:
      progress_mode = 1;
      break;
    case OPT_NO_PROGRESS:
      progress_mode = 0;
      break;
    case OPT_CHECKSUM:
      if (!checksum_known(optarg)) {
        fprintf(stderr,
                "hoist copy: unknown checksum \"%s\"; use sha256, "
                "sha1 or sha512\n",
                optarg);
        return 2;
      }
      checksum = optarg;
      break;
    case OPT_PREALLOC:
      dopts.preallocate = true;
      break;
    case OPT_CACERT:
      sopts.cacert = optarg;
      break;
    case OPT_INSECURE:
      sopts.insecure = true;
      break;
    case 'h':
      copy_usage(stdout);
      return 0;
    default:
      r = cli_openstack_option(&os_opts, "copy", c, optarg);
      if (r < 0)
        return 2;
      if (r > 0)
        break;
      fprintf(stderr, "Run 'hoist copy --help' for the options.\n");
      return 2;
    }
  }
  if (argc - optind != 2) {
    fprintf(stderr, "hoist copy: expects SRC and DST; run 'hoist copy "
                    "--help'\n");
    return 2;
  }
  src_spec = argv[optind];
  dst_path = argv[optind + 1];
  if (sopts.cacert && sopts.insecure) {
    fprintf(stderr, "hoist copy: --cacert and --insecure exclude each "
                    "other\n");
    return 2;
  }
  shown = cli_display_spec(src_spec);
  sopts.openstack = &os_opts;
  sopts.workers = copts.workers;

  r = cli_open_disk_opts(src_spec, &sopts, &src);
  if (r < 0) {
    cli_report_error(NULL);
    return 1;
  }
  r = dest_open_file(dst_path, src->size, &dopts, &dst);
  if (r < 0) {
    cli_report_error(NULL);
    disk_close(src);
    return 1;
  }
  copy_progress_init(&progress, src);
  started = progress_now();
  progress_start(&pd, &progress, "copy", progress_mode);
  r = copy_disk(src, dst, &copts, &progress);
  progress_stop(&pd, r == 0);
  if (r == 0 && checksum) {
    char hex[CHECKSUM_HEX_MAX];
    r = checksum_fd(dst->ops->fd(dst), dst->name, src->size, checksum, hex);
    if (r == 0)
      printf("%s  %s\n", hex, dst_path);
  }
  if (r == 0)
    r = dest_commit(dst);
  if (r < 0) {
    cli_report_error(NULL);
  } else if (progress_mode != 0 || isatty(STDERR_FILENO)) {
    char a[32], b[32];
    fprintf(stderr, "copied %s (%s of data) from %s %s in %.2fs\n",
            human_size(src->size, a, sizeof a),
            human_size(atomic_load(&progress.written), b, sizeof b),
            src->format, shown ? shown : "SRC", progress_now() - started);
  }
  dest_close(dst);
  disk_close(src);
  return r < 0 ? 1 : 0;
}
