/* The oVirt provider options that `hoist inventory` and `hoist migrate
 * --source ovirt://…` share, and the interrupt handling of a migration
 * (a signal cancels the image transfer in progress). */
#ifndef HOIST_CLI_OVIRT_CLI_H
#define HOIST_CLI_OVIRT_CLI_H

#include <getopt.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "sources/ovirt/engine.h"
#include "sources/ovirt/provider.h"

enum {
  OPT_OVIRT_ENGINE = 1000,
  OPT_OVIRT_USER,
  OPT_OVIRT_PASSWORD_FILE,
  OPT_OVIRT_CACERT,
  OPT_OVIRT_INSECURE,
  OPT_OVIRT_PROVIDER,
  OPT_OVIRT_TRANSFER_TIMEOUT,
};

#define CLI_OVIRT_OPTIONS                                                      \
  {"engine", required_argument, NULL, OPT_OVIRT_ENGINE},                       \
      {"user", required_argument, NULL, OPT_OVIRT_USER},                       \
      {"password-file", required_argument, NULL, OPT_OVIRT_PASSWORD_FILE},     \
      {"cacert", required_argument, NULL, OPT_OVIRT_CACERT},                   \
      {"insecure", no_argument, NULL, OPT_OVIRT_INSECURE},                     \
      {"provider", required_argument, NULL, OPT_OVIRT_PROVIDER},               \
  {                                                                            \
    "transfer-timeout", required_argument, NULL, OPT_OVIRT_TRANSFER_TIMEOUT    \
  }

/* The options' help text (indented like the commands' own). */
#define CLI_OVIRT_HELP                                                         \
  "      --engine URL           the engine: https://ENGINE-HOST[:PORT]\n"      \
  "      --user USER            the user to log in as, e.g. admin@internal\n"  \
  "      --password-file FILE   a file holding the password (its first\n"      \
  "                             line); else $HOIST_OVIRT_PASSWORD\n"           \
  "      --cacert FILE          the engine's CA certificate (PEM), from\n"     \
  "                             https://ENGINE/ovirt-engine/services/pki-\n"   \
  "                             resource?resource=ca-certificate&format=\n"    \
  "                             X509-PEM-CA; default: the system's CAs\n"      \
  "      --insecure             do not verify the engine's and the hosts'\n"   \
  "                             TLS certificates (not recommended)\n"          \
  "      --provider FILE        url, user, password or passwordFile, cacert\n" \
  "                             and insecureSkipVerify from a file (YAML\n"    \
  "                             or key=value lines); options override it\n"

struct cli_ovirt {
  const char *engine, *user, *password_file, *cacert, *provider;
  bool insecure;
  unsigned transfer_timeout;
  /* Resolved by cli_ovirt_config(). */
  struct ovirt_provider prov;
  char *password;
};

/* Handles one of the options above: 1 if it was one, 0 if not, -1 after
 * printing a usage error (prefixed "hoist CMD: "). */
int cli_ovirt_option(struct cli_ovirt *o, const char *cmd, int opt,
                     const char *arg);

/* Fills cfg from the options, the provider file and the environment;
 * `url` (when not NULL) is the engine named by the command's source.
 * Prints the --insecure warning once. 0, or -1 after printing the
 * error. */
int cli_ovirt_config(struct cli_ovirt *o, const char *cmd, const char *url,
                     struct ovirt_config *cfg);
void cli_ovirt_clear(struct cli_ovirt *o);

/* ---- interrupts ---- */

/* Blocks SIGINT and SIGTERM in every thread and starts a thread that
 * waits for them. A first signal sets *stop, prints that the migration is
 * being interrupted, and cancels the registered transfers; a second one
 * exits at once. Call before any other thread starts. */
int cli_interrupts_start(atomic_bool *stop);
/* A transfer that a signal cancels, until unregistered; up to 16 at
 * once (-EBUSY past that). */
int cli_interrupts_register(struct ovirt_transfer *t);
void cli_interrupts_unregister(struct ovirt_transfer *t);
/* The signal received (0: none): the exit status is 128 + it. */
int cli_interrupts_signal(void);

#endif
