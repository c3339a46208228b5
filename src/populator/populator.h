/* hoist-populator: the program of a volume populator pod.
 *
 * One source (an oVirt disk through its engine, or an imageio ticket URL)
 * is copied into one target volume (a file on a mounted Filesystem
 * volume, or a block device), resumably, with progress served as
 * Prometheus metrics and a one-line JSON summary written as the pod's
 * termination message. This is a program: its modules may print (on
 * stderr), and only through pop_log(), which never sees credentials.
 */
#ifndef HOIST_POPULATOR_POPULATOR_H
#define HOIST_POPULATOR_POPULATOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "copy/engine.h"

#define POP_PROGRAM "hoist-populator"
#define POP_DEFAULT_METRICS_ADDR ":8443"
#define POP_DEFAULT_SECRET_DIR "/etc/secret-volume"
#define POP_DEFAULT_TERMINATION_LOG "/dev/termination-log"

enum pop_mode { POP_MODE_OVIRT, POP_MODE_IMAGEIO, POP_MODE_OPENSTACK };

/* "ovirt", "imageio", "openstack" */
const char *pop_mode_name(enum pop_mode mode);

/* The command line. Strings point into argv. */
struct pop_args {
  enum pop_mode mode;
  /* ovirt */
  const char *engine_url, *secret_name, *disk_id, *transfer_network;
  /* imageio */
  const char *url, *cacert, *source_id;
  /* openstack (also secret_name, transfer_network) */
  const char *identity_url, *image_id;
  bool insecure;
  /* the populator CR and the target PVC */
  const char *cr_name, *cr_namespace, *owner_uid;
  uint64_t pvc_size; /* 0: not given */
  /* the target */
  const char *volume_path;
  const char *checkpoint_dir;
  bool no_checkpoint;
  double checkpoint_interval;
  /* reporting */
  const char *metrics_addr; /* NULL: no metrics server */
  bool metrics_http;
  const char *termination_log;
  double progress_interval;
  bool checksum;
  const char *secret_dir;
  unsigned workers;
};

/* Parses argv (argv[0] is the mode). Returns 0, 1 when help was printed,
 * or 2 after printing a usage error. */
int pop_parse_args(enum pop_mode mode, int argc, char **argv,
                   struct pop_args *a);
void pop_usage(FILE *f, enum pop_mode mode);

/* Credentials from the Secret: environment variables first, else files
 * in the secret directory. */
struct pop_credentials {
  char *user;
  char *password;
  char *cacert_file; /* a PEM file to trust (maybe a private copy) */
  bool cacert_is_tmp;
  bool insecure; /* insecureSkipVerify */
  bool insecure_set;
  char *url; /* imageio mode: the ticket URL, when not on the command line */
};

int pop_credentials_load(const char *secret_dir, struct pop_credentials *c);
/* Any other key of the Secret (the environment variable, else the file),
 * one trailing newline dropped; *ret NULL when it is not set. */
int pop_credential_value(const char *secret_dir, const char *name, char **ret);
void pop_credentials_clear(struct pop_credentials *c);

/* Prints one line on stderr ("hoist-populator: …"), with every secret
 * that pop_log_add_secret() named replaced by "***". */
void pop_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pop_log_add_secret(const char *secret);
/* The ticket in an imageio URL (…/images/TICKET) as a secret. */
void pop_log_add_ticket(const char *url);
/* A copy of text with the secrets replaced; NULL when out of memory. */
char *pop_redact(const char *text);

/* What is being done, for the metrics, the log and the termination
 * message. Filled as the run goes on. */
struct pop_state {
  const struct pop_args *args;
  struct copy_progress progress;
  _Atomic bool copying; /* progress is valid */
  double started;       /* monotonic seconds */
};

double pop_now(void);

/* Source data bytes done: read this run plus those of resumed units. */
uint64_t pop_bytes_copied(struct pop_state *s);
/* Fraction of the copy done (of the data when its amount is known). */
double pop_progress_ratio(struct pop_state *s);

#endif
