/* OpenStack provider options (see openstack_cli.h). */
#include "cli/openstack_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "model/names.h"
#include "util/cleanup.h"
#include "util/error.h"

#define P(s) names_printable((s), (char[128]){0}, 128)
#define SECRET_FILE_MAX (64 * 1024)
#define O(o, id) ((o)->opt[(id)-OPT_OS_AUTH_URL])

int cli_openstack_option(struct cli_openstack *o, const char *cmd, int opt,
                         const char *arg)
{
  if (opt == OPT_OS_PLAIN_SECRET) {
    fprintf(stderr,
            "%s %s: secrets are not taken on the command line (other users "
            "can see it); use --os-password-file, --os-token-file or "
            "--os-application-credential-secret-file, or the OS_* "
            "environment variables\n",
            cli_program, cmd);
    return -1;
  }
  if (opt < OPT_OS_AUTH_URL || opt >= OPT_OS_PLAIN_SECRET)
    return 0;
  O(o, opt) = arg;
  o->any = true;
  return 1;
}

/* The first line of a file that holds a secret. */
static int read_secret_file(const char *path, char **ret)
{
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  _cleanup_free_ char *buf = NULL;
  size_t got = 0;
  ssize_t n;

  if (fd < 0)
    return error_errno("cannot read %s", path);
  buf = malloc(SECRET_FILE_MAX + 1);
  if (!buf)
    return error_set(ENOMEM, "out of memory");
  while (got < SECRET_FILE_MAX &&
         (n = read(fd, buf + got, SECRET_FILE_MAX - got)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return error_errno("cannot read %s", path);
    got += n;
  }
  buf[got] = 0;
  buf[strcspn(buf, "\r\n")] = 0;
  if (!buf[0]) {
    explicit_bzero(buf, got);
    return error_set(EINVAL,
                     "%s: the first line is empty; it should hold "
                     "the secret",
                     path);
  }
  *ret = strdup(buf);
  explicit_bzero(buf, got);
  return *ret ? 0 : error_set(ENOMEM, "out of memory");
}

static const char *env(const char *a, const char *b)
{
  const char *v = getenv(a);

  if ((!v || !*v) && b)
    v = getenv(b);
  return v && *v ? v : NULL;
}

static const char *pick(struct cli_openstack *o, int id, const char *e1,
                        const char *e2)
{
  return O(o, id) ? O(o, id) : env(e1, e2);
}

enum auth_kind { AUTH_NONE, AUTH_PASSWORD, AUTH_TOKEN, AUTH_APPCRED };

static int parse_auth_type(const char *s, enum auth_kind *ret)
{
  if (!strncasecmp(s, "v3", 2))
    s += 2;
  if (!strcasecmp(s, "password"))
    *ret = AUTH_PASSWORD;
  else if (!strcasecmp(s, "token"))
    *ret = AUTH_TOKEN;
  else if (!strcasecmp(s, "applicationcredential") ||
           !strcasecmp(s, "application_credential"))
    *ret = AUTH_APPCRED;
  else
    return -1;
  return 0;
}

/* A secret from its file option, else from the environment. */
static int secret(struct cli_openstack *o, int id, const char *var, char **ret)
{
  const char *v;

  if (O(o, id))
    return read_secret_file(O(o, id), ret);
  v = env(var, NULL);
  if (v && !(*ret = strdup(v)))
    return error_set(ENOMEM, "out of memory");
  return 0;
}

int cli_openstack_config(struct cli_openstack *o, const char *cmd,
                         const char *cacert, bool insecure,
                         struct os_auth_config *cfg)
{
  const char *type = pick(o, OPT_OS_AUTH_TYPE, "OS_AUTH_TYPE", NULL);
  const char *iface =
      pick(o, OPT_OS_INTERFACE, "OS_INTERFACE", "OS_ENDPOINT_TYPE");
  enum auth_kind kind = AUTH_NONE;

  memset(cfg, 0, sizeof *cfg);
  if (type && parse_auth_type(type, &kind) < 0) {
    return error_set(EINVAL,
                     "--os-auth-type \"%s\": use password, token or "
                     "applicationcredential",
                     P(type));
  }
  if (kind == AUTH_NONE) {
    /* What the options name wins over the environment. */
    if (O(o, OPT_OS_APP_CRED_SECRET_FILE))
      kind = AUTH_APPCRED;
    else if (O(o, OPT_OS_PASSWORD_FILE))
      kind = AUTH_PASSWORD;
    else if (O(o, OPT_OS_TOKEN_FILE))
      kind = AUTH_TOKEN;
    else if (env("OS_APPLICATION_CREDENTIAL_SECRET", NULL))
      kind = AUTH_APPCRED;
    else if (env("OS_PASSWORD", NULL))
      kind = AUTH_PASSWORD;
    else if (env("OS_TOKEN", NULL))
      kind = AUTH_TOKEN;
  }
  if (iface && os_parse_interface(iface, &cfg->iface) < 0) {
    return error_set(EINVAL,
                     "--os-interface \"%s\": use public, internal or admin",
                     P(iface));
  }
  cfg->auth_url = pick(o, OPT_OS_AUTH_URL, "OS_AUTH_URL", NULL);
  cfg->region = pick(o, OPT_OS_REGION_NAME, "OS_REGION_NAME", NULL);
  cfg->username = pick(o, OPT_OS_USERNAME, "OS_USERNAME", NULL);
  cfg->user_id = pick(o, OPT_OS_USER_ID, "OS_USER_ID", NULL);
  cfg->user_domain_name =
      pick(o, OPT_OS_USER_DOMAIN_NAME, "OS_USER_DOMAIN_NAME", NULL);
  cfg->user_domain_id =
      pick(o, OPT_OS_USER_DOMAIN_ID, "OS_USER_DOMAIN_ID", NULL);
  cfg->project_name =
      pick(o, OPT_OS_PROJECT_NAME, "OS_PROJECT_NAME", "OS_TENANT_NAME");
  cfg->project_id = pick(o, OPT_OS_PROJECT_ID, "OS_PROJECT_ID", "OS_TENANT_ID");
  cfg->project_domain_name =
      pick(o, OPT_OS_PROJECT_DOMAIN_NAME, "OS_PROJECT_DOMAIN_NAME", NULL);
  cfg->project_domain_id =
      pick(o, OPT_OS_PROJECT_DOMAIN_ID, "OS_PROJECT_DOMAIN_ID", NULL);
  cfg->cacert = cacert ? cacert : insecure ? NULL : env("OS_CACERT", NULL);
  cfg->insecure = insecure;
  switch (kind) {
  case AUTH_APPCRED:
    cfg->app_cred_id =
        pick(o, OPT_OS_APP_CRED_ID, "OS_APPLICATION_CREDENTIAL_ID", NULL);
    cfg->app_cred_name =
        pick(o, OPT_OS_APP_CRED_NAME, "OS_APPLICATION_CREDENTIAL_NAME", NULL);
    if (secret(o, OPT_OS_APP_CRED_SECRET_FILE,
               "OS_APPLICATION_CREDENTIAL_SECRET", &o->secret) < 0)
      return -error_code();
    cfg->app_cred_secret = o->secret;
    break;
  case AUTH_PASSWORD:
    if (secret(o, OPT_OS_PASSWORD_FILE, "OS_PASSWORD", &o->password) < 0)
      return -error_code();
    cfg->password = o->password;
    break;
  case AUTH_TOKEN:
    if (secret(o, OPT_OS_TOKEN_FILE, "OS_TOKEN", &o->token) < 0)
      return -error_code();
    cfg->token = o->token;
    break;
  case AUTH_NONE:
    break;
  }
  if (insecure)
    fprintf(stderr,
            "%s %s: warning: TLS certificate verification is off "
            "(--insecure): Keystone and the OpenStack services are not "
            "authenticated\n",
            cli_program, cmd);
  return 0;
}

static void free_secret(char **p)
{
  if (*p) {
    explicit_bzero(*p, strlen(*p));
    free(*p);
    *p = NULL;
  }
}

void cli_openstack_clear(struct cli_openstack *o)
{
  free_secret(&o->password);
  free_secret(&o->token);
  free_secret(&o->secret);
}

int cli_openstack_session(struct cli_openstack *o, const char *cmd,
                          const char *cacert, bool insecure,
                          struct os_session **ret)
{
  struct os_auth_config cfg;
  int r;

  if (cli_openstack_config(o, cmd, cacert, insecure, &cfg) < 0)
    return -1;
  r = os_session_open(&cfg, ret);
  cli_openstack_clear(o);
  if (r < 0)
    return -error_code();
  return 0;
}
