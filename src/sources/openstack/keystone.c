/* The Keystone v3 session (see keystone.h). */
#include "sources/openstack/keystone.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/http.h"
#include "net/range_reader.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/json_path.h"

/* A token body with a big catalog stays far below this. */
#define TOKEN_JSON_MAX (4u * 1024 * 1024)
#define RENEW_MARGIN_MAX 600

struct os_session {
  struct http_client *client;
  struct http_options hopts;
  char *cacert;
  struct http_conn *conn; /* for Keystone itself, under lock */
  char *auth_url;         /* …/v3 */
  char *tokens_url;       /* …/v3/auth/tokens */
  enum os_interface iface;
  char *region;
  /* Credentials, kept to renew the token. */
  char *username, *user_id, *user_domain_name, *user_domain_id, *password;
  char *project_name, *project_id, *project_domain_name, *project_domain_id;
  char *given_token;
  char *app_cred_id, *app_cred_name, *app_cred_secret;

  pthread_mutex_t lock;
  char *token;
  unsigned gen;
  double renew_at; /* monotonic seconds; 0: never */
  struct os_token_info info;
};

static double now_mono(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool can_renew(const struct os_session *s)
{
  return s->password || s->app_cred_secret;
}

/* ---- the request body ---- */

static json_t *domain_json(const char *name, const char *id)
{
  if (id)
    return json_pack("{s:s}", "id", id);
  return json_pack("{s:s}", "name", name ? name : "Default");
}

static json_t *user_json(const struct os_session *s)
{
  if (s->user_id)
    return json_pack("{s:s}", "id", s->user_id);
  return json_pack("{s:s,s:o}", "name", s->username, "domain",
                   domain_json(s->user_domain_name, s->user_domain_id));
}

static json_t *scope_json(const struct os_session *s)
{
  if (s->project_id)
    return json_pack("{s:{s:s}}", "project", "id", s->project_id);
  if (s->project_name)
    return json_pack("{s:{s:s,s:o}}", "project", "name", s->project_name,
                     "domain",
                     domain_json(s->project_domain_name, s->project_domain_id));
  return NULL;
}

static json_t *auth_body(const struct os_session *s, bool with_token)
{
  json_t *identity, *auth, *scope;

  if (s->app_cred_secret) {
    json_t *cred =
        s->app_cred_id
            ? json_pack("{s:s,s:s}", "id", s->app_cred_id, "secret",
                        s->app_cred_secret)
            : json_pack("{s:s,s:s,s:o}", "name", s->app_cred_name, "secret",
                        s->app_cred_secret, "user", user_json(s));
    identity = json_pack("{s:[s],s:o}", "methods", "application_credential",
                         "application_credential", cred);
    /* The credential is bound to its project: no scope. */
    return json_pack("{s:{s:o}}", "auth", "identity", identity);
  }
  if (s->password && !with_token) {
    json_t *user = user_json(s);
    if (user)
      json_object_set_new(user, "password", json_string(s->password));
    identity = json_pack("{s:[s],s:{s:o}}", "methods", "password", "password",
                         "user", user);
  } else {
    identity = json_pack("{s:[s],s:{s:s}}", "methods", "token", "token", "id",
                         s->given_token);
  }
  auth = json_pack("{s:o}", "identity", identity);
  scope = scope_json(s);
  if (auth && scope)
    json_object_set_new(auth, "scope", scope);
  return json_pack("{s:o}", "auth", auth);
}

/* ---- authentication ---- */

static const char *keystone_advice(long status)
{
  switch (status) {
  case 401:
    return "the credentials were refused: check the user, its domain, the "
           "password or application credential, and the project";
  case 403:
    return "the user may not use this scope; check the project and its "
           "domain";
  case 404:
    return "no such token or resource; check --os-auth-url (the Keystone "
           "v3 URL)";
  default:
    return NULL;
  }
}

/* Takes the token and catalog of a 201 (or 200) reply. Lock held. */
static int take_reply(struct os_session *s, const struct http_response *resp,
                      char *token, double sent)
{
  struct os_token_info info;
  double life, margin;
  int r;

  r = keystone_parse_token(resp->body, resp->body_len, s->tokens_url, &info);
  if (r < 0) {
    free(token);
    return r;
  }
  free(s->token);
  s->token = token;
  s->gen++;
  os_token_info_clear(&s->info);
  s->info = info;
  s->renew_at = 0;
  if (info.expires_at && can_renew(s)) {
    /* Measured from the server's own issued_at, so clock skew between
     * us and Keystone does not matter. */
    life = info.issued_at && info.issued_at < info.expires_at
               ? (double)(info.expires_at - info.issued_at)
               : (double)(info.expires_at - time(NULL));
    margin = MIN(life / 4, (double)RENEW_MARGIN_MAX);
    s->renew_at = sent + MAX(life - margin, 0);
  }
  return 0;
}

/* One POST /v3/auth/tokens (or GET, to read a given token's catalog).
 * Lock held. */
static int authenticate(struct os_session *s)
{
  bool validate = s->given_token && !s->password && !s->app_cred_secret &&
                  !s->project_id && !s->project_name;
  _cleanup_(json_decrefp) json_t *body = NULL;
  struct http_response resp;
  double sent = now_mono();
  char *token;
  int r;

  if (validate) {
    /* A token without a project to rescope to: read its own catalog. */
    if ((r = http_conn_set_header(s->conn, "X-Auth-Token", s->given_token)) <
            0 ||
        (r = http_conn_set_header(s->conn, "X-Subject-Token", s->given_token)) <
            0)
      return r;
    r = http_request(s->conn, "GET", s->tokens_url, NULL, TOKEN_JSON_MAX,
                     &resp);
  } else {
    body = auth_body(s, s->given_token && !s->password && !s->app_cred_secret);
    if (!body)
      return error_set(ENOMEM, "out of memory");
    if ((r = http_conn_set_header(s->conn, "X-Auth-Token", NULL)) < 0 ||
        (r = http_conn_set_header(s->conn, "X-Subject-Token", NULL)) < 0)
      return r;
    r = http_request(s->conn, "POST", s->tokens_url, body, TOKEN_JSON_MAX,
                     &resp);
  }
  if (r < 0)
    return r;
  token = http_conn_take_header(s->conn);
  if (validate && resp.status == 200 && !token)
    token = strdup(s->given_token);
  if ((resp.status == 401 || resp.status == 404) && s->given_token &&
      !s->password && !s->app_cred_secret) {
    r = error_set(EACCES,
                  "Keystone at %s refused the token (HTTP %ld): it expired or "
                  "was revoked; get a new one (openstack token issue) or "
                  "use a password or application credential",
                  s->auth_url, resp.status);
  } else if (resp.status != 201 && resp.status != 200) {
    r = http_status_error(s->conn, validate ? "GET" : "POST", s->tokens_url,
                          &resp);
  } else if (!token) {
    r = error_set(EPROTO,
                  "POST %s: the reply has no X-Subject-Token header; is "
                  "this a Keystone v3 identity service?",
                  s->tokens_url);
  } else {
    r = take_reply(s, &resp, TAKE_PTR(token), sent);
  }
  free(token);
  http_response_clear(&resp);
  if (r == 0 && !s->info.catalog.len)
    r = error_set(EACCES,
                  "the token from %s has no service catalog: it is not "
                  "scoped to a project; name one with --os-project-name "
                  "(and --os-project-domain-name) or --os-project-id",
                  s->auth_url);
  return r;
}

/* ---- the session ---- */

static int dup_opt(const char *in, char **out)
{
  if (!in || !*in)
    return 0;
  *out = strdup(in);
  return *out ? 0 : -ENOMEM;
}

/* auth_url with /v3 at the end, once. */
static char *v3_url(const char *url)
{
  size_t n = strlen(url);
  char *out;

  while (n && url[n - 1] == '/')
    n--;
  if (n >= 3 && strncmp(url + n - 3, "/v3", 3) == 0)
    return strndup(url, n);
  if (asprintf(&out, "%.*s/v3", (int)n, url) < 0)
    return NULL;
  return out;
}

static int check_config(const struct os_auth_config *c)
{
  if (!c->auth_url || !*c->auth_url)
    return error_set(EINVAL, "no Keystone URL: give --os-auth-url URL or set "
                             "OS_AUTH_URL");
  if (strncmp(c->auth_url, "https://", 8) != 0 &&
      strncmp(c->auth_url, "http://", 7) != 0)
    return error_set(EINVAL,
                     "--os-auth-url \"%s\" is not an http(s) URL (it is "
                     "Keystone's, e.g. https://keystone.example:5000/v3)",
                     c->auth_url);
  if (c->app_cred_secret && *c->app_cred_secret) {
    if (!c->app_cred_id && !c->app_cred_name)
      return error_set(EINVAL, "an application credential secret needs the "
                               "credential's id "
                               "(--os-application-credential-id) or name");
    if (!c->app_cred_id && !c->user_id && !c->username)
      return error_set(EINVAL, "an application credential by name needs its "
                               "user (--os-username or --os-user-id)");
    return 0;
  }
  if (c->app_cred_id || c->app_cred_name)
    return error_set(EINVAL, "an application credential needs its secret: "
                             "--os-application-credential-secret-file FILE "
                             "or OS_APPLICATION_CREDENTIAL_SECRET");
  if (c->password && *c->password) {
    if (!c->username && !c->user_id)
      return error_set(EINVAL, "password authentication needs the user: "
                               "--os-username NAME (or OS_USERNAME)");
    if (!c->project_name && !c->project_id)
      return error_set(EINVAL, "password authentication needs the project: "
                               "--os-project-name NAME (or "
                               "OS_PROJECT_NAME), or --os-project-id");
    return 0;
  }
  if (c->token && *c->token)
    return 0;
  return error_set(EINVAL,
                   "no credentials: give --os-password-file FILE (or "
                   "OS_PASSWORD), --os-application-credential-secret-file "
                   "FILE with its id, or --os-token-file FILE");
}

int os_session_open(const struct os_auth_config *c, struct os_session **ret)
{
  struct http_options hopts = {0};
  struct os_session *s;
  int r;

  r = check_config(c);
  if (r < 0)
    return r;
  s = calloc(1, sizeof *s);
  if (!s)
    return error_set(ENOMEM, "out of memory");
  pthread_mutex_init(&s->lock, NULL);
  s->iface = c->iface;
  if (!(s->auth_url = v3_url(c->auth_url)) ||
      asprintf(&s->tokens_url, "%s/auth/tokens", s->auth_url) < 0) {
    s->tokens_url = NULL;
    goto oom;
  }
  if (dup_opt(c->region, &s->region) < 0 ||
      dup_opt(c->username, &s->username) < 0 ||
      dup_opt(c->user_id, &s->user_id) < 0 ||
      dup_opt(c->user_domain_name, &s->user_domain_name) < 0 ||
      dup_opt(c->user_domain_id, &s->user_domain_id) < 0 ||
      dup_opt(c->password, &s->password) < 0 ||
      dup_opt(c->project_name, &s->project_name) < 0 ||
      dup_opt(c->project_id, &s->project_id) < 0 ||
      dup_opt(c->project_domain_name, &s->project_domain_name) < 0 ||
      dup_opt(c->project_domain_id, &s->project_domain_id) < 0 ||
      dup_opt(c->token, &s->given_token) < 0 ||
      dup_opt(c->app_cred_id, &s->app_cred_id) < 0 ||
      dup_opt(c->app_cred_name, &s->app_cred_name) < 0 ||
      dup_opt(c->app_cred_secret, &s->app_cred_secret) < 0)
    goto oom;
  /* Credentials in use win over a token given too. */
  if (s->password || s->app_cred_secret) {
    free(s->given_token);
    s->given_token = NULL;
  }
  if (s->app_cred_secret) {
    free(s->password);
    s->password = NULL;
  }
  if (c->cacert && !(s->cacert = strdup(c->cacert)))
    goto oom;
  hopts.cacert = s->cacert;
  hopts.insecure = c->insecure;
  s->hopts = hopts;
  if ((r = http_client_new(&hopts, &s->client)) < 0 ||
      (r = http_client_add_secret(s->client, s->password)) < 0 ||
      (r = http_client_add_secret(s->client, s->given_token)) < 0 ||
      (r = http_client_add_secret(s->client, s->app_cred_secret)) < 0 ||
      (r = http_conn_new(s->client, &s->conn)) < 0 ||
      (r = http_conn_capture_header(s->conn, "X-Subject-Token")) < 0)
    goto fail;
  http_client_set_advice(s->client, keystone_advice);
  r = authenticate(s);
  if (r < 0)
    goto fail;
  /* Services have their own messages for their statuses. */
  http_client_set_advice(s->client, NULL);
  *ret = s;
  return 0;

oom:
  r = error_set(ENOMEM, "out of memory");
fail:
  os_session_free(s);
  return r;
}

static void free_secret(char *p)
{
  if (p) {
    explicit_bzero(p, strlen(p));
    free(p);
  }
}

void os_session_free(struct os_session *s)
{
  if (!s)
    return;
  http_conn_free(s->conn);
  http_client_free(s->client);
  free(s->cacert);
  free(s->auth_url);
  free(s->tokens_url);
  free(s->region);
  free(s->username);
  free(s->user_id);
  free(s->user_domain_name);
  free(s->user_domain_id);
  free_secret(s->password);
  free(s->project_name);
  free(s->project_id);
  free(s->project_domain_name);
  free(s->project_domain_id);
  free_secret(s->given_token);
  free(s->app_cred_id);
  free(s->app_cred_name);
  free_secret(s->app_cred_secret);
  free_secret(s->token);
  os_token_info_clear(&s->info);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

struct http_client *os_session_client(struct os_session *s)
{
  return s->client;
}

int os_session_new_client(struct os_session *s, struct http_client **ret)
{
  struct http_client *c;
  int r;

  r = http_client_new(&s->hopts, &c);
  if (r == 0)
    r = http_client_add_secret(c, s->password);
  if (r == 0)
    r = http_client_add_secret(c, s->given_token);
  if (r == 0)
    r = http_client_add_secret(c, s->app_cred_secret);
  if (r < 0) {
    http_client_free(c);
    return r;
  }
  *ret = c;
  return 0;
}

int os_session_new_range_client(struct os_session *s, const char *url,
                                struct range_client **ret)
{
  return range_client_new(url, s->hopts.cacert, s->hopts.insecure, ret);
}

const char *os_session_project_id(struct os_session *s)
{
  return s->info.project_id;
}

int os_session_endpoint(struct os_session *s, const char *type, char **ret)
{
  int r;

  pthread_mutex_lock(&s->lock);
  r = os_catalog_find(&s->info.catalog, type, s->iface, s->region, ret);
  pthread_mutex_unlock(&s->lock);
  return r;
}

int os_session_token(struct os_session *s, char **ret, unsigned *ret_gen)
{
  int r = 0;

  pthread_mutex_lock(&s->lock);
  if (s->renew_at && now_mono() >= s->renew_at)
    r = authenticate(s);
  if (r == 0 && !(*ret = strdup(s->token)))
    r = error_set(ENOMEM, "out of memory");
  if (r == 0 && ret_gen)
    *ret_gen = s->gen;
  pthread_mutex_unlock(&s->lock);
  return r;
}

int os_session_reauth(struct os_session *s, unsigned gen)
{
  int r = 0;

  pthread_mutex_lock(&s->lock);
  if (s->gen == gen) {
    if (!can_renew(s))
      r = error_set(EACCES,
                    "the OpenStack token expired or was revoked, and a token "
                    "given as such cannot be renewed; get a new one "
                    "(openstack token issue) or use a password or "
                    "application credential");
    else
      r = authenticate(s);
  }
  pthread_mutex_unlock(&s->lock);
  return r;
}

int os_session_prepare(struct os_session *s, struct http_conn *conn,
                       unsigned *conn_gen)
{
  _cleanup_free_ char *token = NULL;
  unsigned gen;
  int r;

  r = os_session_token(s, &token, &gen);
  if (r < 0)
    return r;
  if (gen != *conn_gen) {
    r = http_conn_set_header(conn, "X-Auth-Token", token);
    if (r < 0)
      return r;
    *conn_gen = gen;
  }
  explicit_bzero(token, strlen(token));
  return 0;
}

int os_session_json(struct os_session *s, struct http_conn *conn,
                    unsigned *conn_gen, const char *method, const char *url,
                    json_t *body, size_t body_max, json_t **ret_json)
{
  int r, tries;

  for (tries = 0;; tries++) {
    r = os_session_prepare(s, conn, conn_gen);
    if (r < 0)
      return r;
    r = http_json(conn, method, url, body, body_max, ret_json);
    if (r == 0 || http_conn_status(conn) != 401 || tries > 0)
      return r;
    error_clear(); /* a new token and one more try */
    r = os_session_reauth(s, *conn_gen);
    if (r < 0)
      return r;
  }
}
