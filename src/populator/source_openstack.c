/* openstack mode: a Glance image, with the keys of Forklift's OpenStack
 * provider Secret (see pop_usage()). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "populator/source.h"
#include "sources/openstack/glance.h"
#include "sources/openstack/keystone.h"
#include "util/cleanup.h"
#include "util/error.h"

/* The Secret's keys this mode reads. */
enum {
  K_AUTH_TYPE,
  K_USERNAME,
  K_USER_ID,
  K_PASSWORD,
  K_TOKEN,
  K_APP_ID,
  K_APP_NAME,
  K_APP_SECRET,
  K_PROJECT_NAME,
  K_PROJECT_ID,
  K_USER_DOMAIN_NAME,
  K_USER_DOMAIN_ID,
  K_PROJECT_DOMAIN_NAME,
  K_PROJECT_DOMAIN_ID,
  K_DOMAIN_NAME,
  K_DOMAIN_ID,
  K_REGION,
  K_AVAILABILITY,
  K_COUNT,
};

static const char *const keys[K_COUNT] = {
    "authType",
    "username",
    "userID",
    "password",
    "token",
    "applicationCredentialID",
    "applicationCredentialName",
    "applicationCredentialSecret",
    "projectName",
    "projectID",
    "userDomainName",
    "userDomainID",
    "projectDomainName",
    "projectDomainID",
    "domainName",
    "domainID",
    "regionName",
    "availability",
};

struct secret {
  char *v[K_COUNT];
};

static void secret_clear(struct secret *s)
{
  size_t i;

  for (i = 0; i < K_COUNT; i++) {
    if (s->v[i])
      explicit_bzero(s->v[i], strlen(s->v[i]));
    free(s->v[i]);
  }
}

static const char *val(const struct secret *s, int k)
{
  return s->v[k] && *s->v[k] ? s->v[k] : NULL;
}

/* Fills cfg from the Secret; only the credentials of authType are used. */
static int config(const struct pop_args *a, const struct secret *s,
                  struct os_auth_config *cfg)
{
  const char *type = val(s, K_AUTH_TYPE) ? val(s, K_AUTH_TYPE) : "password";
  const char *secret = a->secret_name ? a->secret_name : "the Secret";

  cfg->auth_url = a->identity_url;
  cfg->region = val(s, K_REGION);
  cfg->username = val(s, K_USERNAME);
  cfg->user_id = val(s, K_USER_ID);
  cfg->user_domain_name = val(s, K_USER_DOMAIN_NAME)
                              ? val(s, K_USER_DOMAIN_NAME)
                              : val(s, K_DOMAIN_NAME);
  cfg->user_domain_id =
      val(s, K_USER_DOMAIN_ID) ? val(s, K_USER_DOMAIN_ID) : val(s, K_DOMAIN_ID);
  cfg->project_name = val(s, K_PROJECT_NAME);
  cfg->project_id = val(s, K_PROJECT_ID);
  cfg->project_domain_name = val(s, K_PROJECT_DOMAIN_NAME)
                                 ? val(s, K_PROJECT_DOMAIN_NAME)
                                 : val(s, K_DOMAIN_NAME);
  cfg->project_domain_id = val(s, K_PROJECT_DOMAIN_ID)
                               ? val(s, K_PROJECT_DOMAIN_ID)
                               : val(s, K_DOMAIN_ID);
  if (val(s, K_AVAILABILITY) &&
      os_parse_interface(val(s, K_AVAILABILITY), &cfg->iface) < 0)
    return error_set(EINVAL,
                     "%s: availability \"%.20s\" is not public, internal or "
                     "admin",
                     secret, val(s, K_AVAILABILITY));
  if (!strcasecmp(type, "password")) {
    cfg->password = val(s, K_PASSWORD);
  } else if (!strcasecmp(type, "token")) {
    cfg->token = val(s, K_TOKEN);
  } else if (!strcasecmp(type, "applicationcredential")) {
    cfg->app_cred_id = val(s, K_APP_ID);
    cfg->app_cred_name = val(s, K_APP_NAME);
    cfg->app_cred_secret = val(s, K_APP_SECRET);
  } else {
    return error_set(EINVAL,
                     "%s: authType \"%.30s\" is not password, token or "
                     "applicationcredential",
                     secret, type);
  }
  return 0;
}

int pop_source_open_openstack(const struct pop_args *a,
                              const struct pop_credentials *c,
                              const _Atomic bool *stop, struct pop_source *s)
{
  struct secret sec = {0};
  struct os_auth_config cfg = {0};
  struct glance_disk_options gopts = {
      .owns_session = true, .connections = a->workers, .cancel = stop};
  struct os_session *session = NULL;
  size_t i;
  int r;

  if (!glance_id_ok(a->image_id))
    return error_set(EINVAL, "--image-id \"%.60s\" is not a Glance image id",
                     a->image_id);
  if (asprintf(&s->id, "glance-image:%s", a->image_id) < 0 ||
      asprintf(&s->shown, "Glance image %s", a->image_id) < 0)
    return error_set(ENOMEM, "out of memory");
  /* insecureSkipVerify and cacert come in c, as for the other modes. */
  r = 0;
  for (i = 0; r == 0 && i < K_COUNT; i++)
    r = pop_credential_value(a->secret_dir, keys[i], &sec.v[i]);
  if (r == 0) {
    pop_log_add_secret(val(&sec, K_PASSWORD));
    pop_log_add_secret(val(&sec, K_TOKEN));
    pop_log_add_secret(val(&sec, K_APP_SECRET));
    r = config(a, &sec, &cfg);
  }
  if (r == 0) {
    cfg.cacert = c->cacert_file;
    cfg.insecure = c->insecure;
    if (c->insecure)
      pop_log("warning: TLS certificate verification is off "
              "(insecureSkipVerify in %s): Keystone and Glance are not "
              "authenticated",
              a->secret_name ? a->secret_name : "the Secret");
    r = os_session_open(&cfg, &session);
  }
  secret_clear(&sec);
  if (r < 0)
    return r;
  pop_log("reading Glance image %s", a->image_id);
  return glance_open_disk(session, a->image_id, &gopts, &s->disk);
}
