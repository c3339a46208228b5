/* The OpenStack provider options that `hoist copy glance://…`, `hoist
 * inventory openstack …` and `hoist migrate --source openstack://` share.
 *
 * Settings come from --os-* options, else from the OS_* environment
 * variables that the openstack clients read. Secrets (password, token,
 * application credential secret) are never given on the command line:
 * they come from files named by --os-*-file options, or from the
 * environment. --cacert and --insecure are the commands' own options. */
#ifndef HOIST_CLI_OPENSTACK_CLI_H
#define HOIST_CLI_OPENSTACK_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "sources/openstack/keystone.h"

enum {
  OPT_OS_AUTH_URL = 1100,
  OPT_OS_AUTH_TYPE,
  OPT_OS_USERNAME,
  OPT_OS_USER_ID,
  OPT_OS_PASSWORD_FILE,
  OPT_OS_PROJECT_NAME,
  OPT_OS_PROJECT_ID,
  OPT_OS_USER_DOMAIN_NAME,
  OPT_OS_USER_DOMAIN_ID,
  OPT_OS_PROJECT_DOMAIN_NAME,
  OPT_OS_PROJECT_DOMAIN_ID,
  OPT_OS_REGION_NAME,
  OPT_OS_INTERFACE,
  OPT_OS_APP_CRED_ID,
  OPT_OS_APP_CRED_NAME,
  OPT_OS_APP_CRED_SECRET_FILE,
  OPT_OS_TOKEN_FILE,
  OPT_OS_PLAIN_SECRET, /* --os-password, --os-token …: refused */
};

/* clang-format off */
#define CLI_OPENSTACK_OPTIONS                                                  \
  {"os-auth-url", required_argument, NULL, OPT_OS_AUTH_URL},                   \
  {"os-auth-type", required_argument, NULL, OPT_OS_AUTH_TYPE},                 \
  {"os-username", required_argument, NULL, OPT_OS_USERNAME},                   \
  {"os-user-id", required_argument, NULL, OPT_OS_USER_ID},                     \
  {"os-password-file", required_argument, NULL, OPT_OS_PASSWORD_FILE},         \
  {"os-project-name", required_argument, NULL, OPT_OS_PROJECT_NAME},           \
  {"os-project-id", required_argument, NULL, OPT_OS_PROJECT_ID},               \
  {"os-user-domain-name", required_argument, NULL, OPT_OS_USER_DOMAIN_NAME},   \
  {"os-user-domain-id", required_argument, NULL, OPT_OS_USER_DOMAIN_ID},       \
  {"os-project-domain-name", required_argument, NULL,                          \
   OPT_OS_PROJECT_DOMAIN_NAME},                                                \
  {"os-project-domain-id", required_argument, NULL,                            \
   OPT_OS_PROJECT_DOMAIN_ID},                                                  \
  {"os-region-name", required_argument, NULL, OPT_OS_REGION_NAME},             \
  {"os-interface", required_argument, NULL, OPT_OS_INTERFACE},                 \
  {"os-application-credential-id", required_argument, NULL,                    \
   OPT_OS_APP_CRED_ID},                                                        \
  {"os-application-credential-name", required_argument, NULL,                  \
   OPT_OS_APP_CRED_NAME},                                                      \
  {"os-application-credential-secret-file", required_argument, NULL,           \
   OPT_OS_APP_CRED_SECRET_FILE},                                               \
  {"os-token-file", required_argument, NULL, OPT_OS_TOKEN_FILE},               \
  {"os-password", required_argument, NULL, OPT_OS_PLAIN_SECRET},               \
  {"os-token", required_argument, NULL, OPT_OS_PLAIN_SECRET},                  \
  {"os-application-credential-secret", required_argument, NULL,                \
   OPT_OS_PLAIN_SECRET}
/* clang-format on */

#define CLI_OPENSTACK_HELP                                                     \
  "      --os-auth-url URL      Keystone v3, e.g. https://HOST:5000/v3\n"      \
  "      --os-auth-type TYPE    password, token or applicationcredential\n"    \
  "                             (default: from the credentials given)\n"       \
  "      --os-username NAME, --os-user-id ID\n"                                \
  "      --os-password-file F   the password: the first line of F\n"           \
  "      --os-user-domain-name NAME, --os-user-domain-id ID (default:\n"       \
  "                             Default)\n"                                    \
  "      --os-project-name NAME, --os-project-id ID\n"                         \
  "      --os-project-domain-name NAME, --os-project-domain-id ID\n"           \
  "      --os-region-name R     the region (default: the only one)\n"          \
  "      --os-interface I       public (default), internal or admin\n"         \
  "      --os-application-credential-id ID (or -name NAME with the user)\n"    \
  "      --os-application-credential-secret-file F\n"                          \
  "      --os-token-file F      an existing token (cannot be renewed)\n"       \
  "                             Each also from its OS_* variable "             \
  "(OS_AUTH_URL,\n"                                                            \
  "                             OS_PASSWORD, OS_TOKEN, OS_APPLICATION_\n"      \
  "                             CREDENTIAL_SECRET, OS_CACERT, …); secrets "  \
  "are\n"                                                                      \
  "                             never taken as option values\n"

struct cli_openstack {
  const char *opt[OPT_OS_PLAIN_SECRET - OPT_OS_AUTH_URL];
  bool any; /* an --os-* option was given */
  /* Read by cli_openstack_config(); freed by cli_openstack_clear(). */
  char *password, *token, *secret;
};

/* Handles one of the options above: 1 if it was one, 0 if not, -1 after
 * printing a usage error (prefixed "hoist CMD: "). */
int cli_openstack_option(struct cli_openstack *o, const char *cmd, int opt,
                         const char *arg);

/* Fills cfg from the options and the environment (cacert and insecure
 * are the command's; NULL/false: OS_CACERT). Prints the --insecure
 * warning once. 0, or a negative errno with the error set. */
int cli_openstack_config(struct cli_openstack *o, const char *cmd,
                         const char *cacert, bool insecure,
                         struct os_auth_config *cfg);
void cli_openstack_clear(struct cli_openstack *o);

/* Authenticates: cli_openstack_config() and os_session_open(). The
 * secrets read are dropped afterwards. 0 or a negative errno. */
int cli_openstack_session(struct cli_openstack *o, const char *cmd,
                          const char *cacert, bool insecure,
                          struct os_session **ret);

#endif
