/* hoist-populator's command line. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "populator/populator.h"
#include "util/cleanup.h"

static const char common_help[] =
    "Target:\n"
    "  --volume-path PATH     the target: a file on a mounted Filesystem\n"
    "                         volume (e.g. /mnt/disk.img, created sparse and\n"
    "                         written in place) or a block device (e.g.\n"
    "                         /dev/block)\n"
    "  --owner-uid UID        the target PVC's UID (a label of the metrics)\n"
    "  --pvc-size BYTES       the PVC's requested size; the disk must fit\n"
    "  --cr-name NAME         the populator CR's name (reported)\n"
    "  --cr-namespace NS      the populator CR's namespace (reported)\n"
    "\n"
    "Resume:\n"
    "  --checkpoint-dir DIR   keep the checkpoint in DIR (an emptyDir for a\n"
    "                         block device); default: next to a target file\n"
    "  --checkpoint-interval S  save the checkpoint every S seconds\n"
    "                         (default 5)\n"
    "  --no-checkpoint        do not resume: always copy everything\n"
    "\n"
    "Reporting:\n"
    "  --metrics-addr ADDR    serve /metrics on [HOST]:PORT (default :8443,\n"
    "                         HTTPS with a self-signed certificate made at\n"
    "                         start); \"none\": no metrics server\n"
    "  --metrics-insecure-http  serve the metrics over plain HTTP\n"
    "  --termination-log PATH  where the JSON summary goes at exit (default\n"
    "                         /dev/termination-log)\n"
    "  --checksum             read the result back and report its sha256\n"
    "  --progress-interval S  a progress line every S seconds (default 5)\n"
    "  --secret-dir DIR       credential files (default /etc/secret-volume)\n"
    "  -w, --workers N        parallel workers (default 4)\n"
    "  -h, --help             this help\n"
    "\n"
    "Credentials come from the Secret, as environment variables (user,\n"
    "password, cacert: the CA's PEM, insecureSkipVerify) or as files of the\n"
    "same names in the secret directory; they never appear in the output.\n"
    "Exit status: 0 when the volume is populated, 1 on failure, 2 for a\n"
    "usage error.\n";

const char *pop_mode_name(enum pop_mode mode)
{
  return mode == POP_MODE_OVIRT       ? "ovirt"
         : mode == POP_MODE_OPENSTACK ? "openstack"
                                      : "imageio";
}

void pop_usage(FILE *f, enum pop_mode mode)
{
  if (mode == POP_MODE_OPENSTACK)
    fprintf(f,
            "Usage: hoist-populator openstack --endpoint URL --image-id ID\n"
            "         --volume-path PATH [OPTIONS]\n"
            "\n"
            "Copies a Glance image into a volume: authenticates with\n"
            "Keystone, reads the image with parallel range GETs (qcow2 and\n"
            "VMDK decoded to raw on the fly), verifies it against Glance's\n"
            "checksum (os_hash_value, else md5) before it counts as done.\n"
            "\n"
            "Source:\n"
            "  --endpoint URL         Keystone (the CR's identityUrl), e.g.\n"
            "                         https://keystone.example:5000/v3\n"
            "  --image-id ID          the Glance image (the CR's imageId)\n"
            "  --secret-name NAME     the Secret with the credentials (named\n"
            "                         in messages)\n"
            "  --transfer-network NS/NAME  the network the controller\n"
            "                         attached for the transfer (reported)\n"
            "\n"
            "The Secret's keys are Forklift's: authType (password, token,\n"
            "applicationcredential), username or userID, password, token,\n"
            "applicationCredentialID or applicationCredentialName,\n"
            "applicationCredentialSecret, projectName or projectID,\n"
            "userDomainName/ID, projectDomainName/ID (domainName/ID for\n"
            "both), regionName, availability (public, internal, admin),\n"
            "insecureSkipVerify, cacert. A raw image is re-read from the\n"
            "start after a restart (its checksum covers the whole file).\n"
            "\n%s",
            common_help);
  else if (mode == POP_MODE_OVIRT)
    fprintf(f,
            "Usage: hoist-populator ovirt --engine-url URL --disk-id ID\n"
            "         --volume-path PATH [OPTIONS]\n"
            "\n"
            "Copies an oVirt disk into a volume: logs in to the engine,\n"
            "starts an image transfer of the disk, copies its data through\n"
            "ovirt-imageio, finalizes the transfer.\n"
            "\n"
            "Source:\n"
            "  --engine-url URL       the engine, https://engine.example.com\n"
            "  --disk-id ID           the disk to copy\n"
            "  --secret-name NAME     the Secret with the credentials (named\n"
            "                         in messages)\n"
            "  --transfer-network NS/NAME  the network the controller\n"
            "                         attached for the transfer (reported)\n"
            "\n%s",
            common_help);
  else
    fprintf(f,
            "Usage: hoist-populator imageio --url URL --volume-path PATH\n"
            "         [OPTIONS]\n"
            "\n"
            "Copies the disk behind an oVirt imageio ticket into a volume.\n"
            "\n"
            "Source:\n"
            "  --url URL              https://HOST:PORT/images/TICKET (a\n"
            "                         transfer_url or proxy_url); or the\n"
            "                         Secret's url key when not given\n"
            "  --cacert FILE          trust the CA certificates in FILE\n"
            "  --insecure             do not verify the server's certificate\n"
            "  --disk-id ID           the disk (a label of the metrics; also\n"
            "                         names the source for resuming)\n"
            "  --source-id ID         names the source for resuming (default:\n"
            "                         the disk id, else the URL with the\n"
            "                         ticket hashed)\n"
            "\n%s",
            common_help);
}

static int usage_error(const char *mode, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const char *mode, const char *fmt, ...)
{
  va_list ap;

  fprintf(stderr, "%s %s: ", POP_PROGRAM, mode);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "; run '%s %s --help'\n", POP_PROGRAM, mode);
  return 2;
}

/* An option as messages show it: its name, never its value (a value may
 * be a ticket URL). */
static const char *opt_shown(const char *arg, char *buf, size_t len)
{
  snprintf(buf, len, "%.*s", (int)strcspn(arg, "="), arg);
  return buf;
}

static int parse_u64(const char *s, uint64_t *ret)
{
  char *end;
  unsigned long long v;

  if (!s || !*s || *s == '-')
    return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || *end)
    return -1;
  *ret = v;
  return 0;
}

static int parse_seconds(const char *s, double *ret)
{
  char *end;
  double v;

  if (!s || !*s)
    return -1;
  errno = 0;
  v = strtod(s, &end);
  if (errno || *end || !isfinite(v) || v <= 0 || v > 86400)
    return -1;
  *ret = v;
  return 0;
}

enum {
  OPT_ENGINE_URL = 256,
  OPT_ENDPOINT,
  OPT_IMAGE_ID,
  OPT_SECRET_NAME,
  OPT_DISK_ID,
  OPT_TRANSFER_NETWORK,
  OPT_URL,
  OPT_CACERT,
  OPT_INSECURE,
  OPT_SOURCE_ID,
  OPT_CR_NAME,
  OPT_CR_NAMESPACE,
  OPT_OWNER_UID,
  OPT_PVC_SIZE,
  OPT_VOLUME_PATH,
  OPT_CHECKPOINT_DIR,
  OPT_CHECKPOINT_INTERVAL,
  OPT_NO_CHECKPOINT,
  OPT_METRICS_ADDR,
  OPT_METRICS_HTTP,
  OPT_TERMINATION_LOG,
  OPT_CHECKSUM,
  OPT_PROGRESS_INTERVAL,
  OPT_SECRET_DIR,
};

static const struct option long_opts[] = {
    {"engine-url", required_argument, NULL, OPT_ENGINE_URL},
    {"endpoint", required_argument, NULL, OPT_ENDPOINT},
    {"identity-url", required_argument, NULL, OPT_ENDPOINT},
    {"image-id", required_argument, NULL, OPT_IMAGE_ID},
    {"secret-name", required_argument, NULL, OPT_SECRET_NAME},
    {"disk-id", required_argument, NULL, OPT_DISK_ID},
    {"transfer-network", required_argument, NULL, OPT_TRANSFER_NETWORK},
    {"url", required_argument, NULL, OPT_URL},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"source-id", required_argument, NULL, OPT_SOURCE_ID},
    {"cr-name", required_argument, NULL, OPT_CR_NAME},
    {"cr-namespace", required_argument, NULL, OPT_CR_NAMESPACE},
    {"owner-uid", required_argument, NULL, OPT_OWNER_UID},
    {"pvc-size", required_argument, NULL, OPT_PVC_SIZE},
    {"volume-path", required_argument, NULL, OPT_VOLUME_PATH},
    {"checkpoint-dir", required_argument, NULL, OPT_CHECKPOINT_DIR},
    {"checkpoint-interval", required_argument, NULL, OPT_CHECKPOINT_INTERVAL},
    {"no-checkpoint", no_argument, NULL, OPT_NO_CHECKPOINT},
    {"metrics-addr", required_argument, NULL, OPT_METRICS_ADDR},
    {"metrics-insecure-http", no_argument, NULL, OPT_METRICS_HTTP},
    {"termination-log", required_argument, NULL, OPT_TERMINATION_LOG},
    {"checksum", no_argument, NULL, OPT_CHECKSUM},
    {"progress-interval", required_argument, NULL, OPT_PROGRESS_INTERVAL},
    {"secret-dir", required_argument, NULL, OPT_SECRET_DIR},
    {"workers", required_argument, NULL, 'w'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Options that belong to the other mode. */
static bool foreign_option(enum pop_mode mode, int c)
{
  bool openstack = c == OPT_ENDPOINT || c == OPT_IMAGE_ID;

  if (mode == POP_MODE_OPENSTACK)
    return c == OPT_URL || c == OPT_CACERT || c == OPT_INSECURE ||
           c == OPT_SOURCE_ID || c == OPT_ENGINE_URL || c == OPT_DISK_ID;
  if (mode == POP_MODE_OVIRT)
    return openstack || c == OPT_URL || c == OPT_CACERT || c == OPT_INSECURE ||
           c == OPT_SOURCE_ID;
  return openstack || c == OPT_ENGINE_URL || c == OPT_SECRET_NAME ||
         c == OPT_TRANSFER_NETWORK;
}

static int check_required(const char *m, const struct pop_args *a)
{
  if (a->mode == POP_MODE_OPENSTACK && !a->identity_url)
    return usage_error(m, "%s is required", "--endpoint");
  if (a->mode == POP_MODE_OPENSTACK && !a->image_id)
    return usage_error(m, "%s is required", "--image-id");
  if (a->mode == POP_MODE_OVIRT && !a->engine_url)
    return usage_error(m, "%s is required", "--engine-url");
  if (a->mode == POP_MODE_OVIRT && !a->disk_id)
    return usage_error(m, "%s is required", "--disk-id");
  if (!a->volume_path)
    return usage_error(m, "%s is required", "--volume-path");
  if (a->cacert && a->insecure)
    return usage_error(m, "%s and --insecure exclude each other", "--cacert");
  if (a->no_checkpoint && a->checkpoint_dir)
    return usage_error(m, "%s and --checkpoint-dir exclude each other",
                       "--no-checkpoint");
  return 0;
}

int pop_parse_args(enum pop_mode mode, int argc, char **argv,
                   struct pop_args *a)
{
  const char *m = pop_mode_name(mode);
  char shown[64];
  int c;

  *a = (struct pop_args){
      .mode = mode,
      .metrics_addr = POP_DEFAULT_METRICS_ADDR,
      .termination_log = POP_DEFAULT_TERMINATION_LOG,
      .secret_dir = POP_DEFAULT_SECRET_DIR,
      .checkpoint_interval = 5,
      .progress_interval = 5,
  };
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "w:h", long_opts, NULL)) != -1) {
    uint64_t v;

    if (foreign_option(mode, c))
      return usage_error(m, "%s is not an option of this mode",
                         opt_shown(argv[optind - 1], shown, sizeof shown));
    switch (c) {
    case OPT_ENGINE_URL:
      a->engine_url = optarg;
      break;
    case OPT_ENDPOINT:
      a->identity_url = optarg;
      break;
    case OPT_IMAGE_ID:
      a->image_id = optarg;
      break;
    case OPT_SECRET_NAME:
      a->secret_name = optarg;
      break;
    case OPT_DISK_ID:
      a->disk_id = optarg;
      break;
    case OPT_TRANSFER_NETWORK:
      a->transfer_network = optarg;
      break;
    case OPT_URL:
      a->url = optarg;
      break;
    case OPT_CACERT:
      a->cacert = optarg;
      break;
    case OPT_INSECURE:
      a->insecure = true;
      break;
    case OPT_SOURCE_ID:
      a->source_id = optarg;
      break;
    case OPT_CR_NAME:
      a->cr_name = optarg;
      break;
    case OPT_CR_NAMESPACE:
      a->cr_namespace = optarg;
      break;
    case OPT_OWNER_UID:
      a->owner_uid = optarg;
      break;
    case OPT_PVC_SIZE:
      if (parse_u64(optarg, &v) < 0 || v == 0)
        return usage_error(m,
                           "--pvc-size takes a number of bytes above 0, "
                           "not \"%s\"",
                           optarg);
      a->pvc_size = v;
      break;
    case OPT_VOLUME_PATH:
      a->volume_path = optarg;
      break;
    case OPT_CHECKPOINT_DIR:
      a->checkpoint_dir = optarg;
      break;
    case OPT_CHECKPOINT_INTERVAL:
      if (parse_seconds(optarg, &a->checkpoint_interval) < 0)
        return usage_error(m,
                           "--checkpoint-interval takes seconds, not "
                           "\"%s\"",
                           optarg);
      break;
    case OPT_NO_CHECKPOINT:
      a->no_checkpoint = true;
      break;
    case OPT_METRICS_ADDR:
      a->metrics_addr = streq(optarg, "none") ? NULL : optarg;
      break;
    case OPT_METRICS_HTTP:
      a->metrics_http = true;
      break;
    case OPT_TERMINATION_LOG:
      a->termination_log = optarg;
      break;
    case OPT_CHECKSUM:
      a->checksum = true;
      break;
    case OPT_PROGRESS_INTERVAL:
      if (parse_seconds(optarg, &a->progress_interval) < 0)
        return usage_error(m,
                           "--progress-interval takes seconds, not "
                           "\"%s\"",
                           optarg);
      break;
    case OPT_SECRET_DIR:
      a->secret_dir = optarg;
      break;
    case 'w':
      if (parse_u64(optarg, &v) < 0 || v == 0 || v > COPY_MAX_WORKERS)
        return usage_error(m,
                           "--workers takes a number from 1 to 64, not "
                           "\"%s\"",
                           optarg);
      a->workers = (unsigned)v;
      break;
    case 'h':
      pop_usage(stdout, mode);
      return 1;
    default:
      return usage_error(m, "unknown option or missing value: %s",
                         opt_shown(argv[optind - 1], shown, sizeof shown));
    }
  }
  if (optind < argc)
    return usage_error(m, "%s: every argument is an option",
                       "unexpected "
                       "argument");
  return check_required(m, a);
}
