/* oVirt SSO: OAuth's password grant for a bearer token, and logout.
 *
 * POST /ovirt-engine/sso/oauth/token with grant_type=password,
 * scope=ovirt-app-api, username and password (form-encoded) answers
 * {"access_token": …, "token_type": "bearer", "exp": …} or, for wrong
 * credentials, an error status or {"error_code": …, "error": …}. The
 * password goes only into the form body; messages never hold it (nor the
 * engine's error text when that repeats it).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sources/ovirt/engine_internal.h"
#include "util/cleanup.h"
#include "util/error.h"

#define TOKEN_PATH "/ovirt-engine/sso/oauth/token"
#define LOGOUT_PATH "/ovirt-engine/services/sso-logout"
#define SCOPE "ovirt-app-api"

static void wipe(char *s)
{
  if (s)
    explicit_bzero(s, strlen(s));
}

static void wipe_free(char **s)
{
  wipe(*s);
  free(*s);
}

/* text with every occurrence of secret replaced by "***", in place
 * (the result is never longer). */
static void hide(char *text, const char *secret)
{
  size_t n = secret ? strlen(secret) : 0;
  char *p;

  if (n == 0)
    return;
  while ((p = strstr(text, secret))) {
    memcpy(p, "***", MIN(n, 3));
    memmove(p + MIN(n, 3), p + n, strlen(p + n) + 1);
  }
}

/* The engine's reason for refusing, as one line without the password. */
static void sso_reason(const struct http_response *resp, const char *password,
                       char *buf, size_t len)
{
  _cleanup_(json_decrefp) json_t *j = NULL;
  const char *msg = NULL;
  char *p;

  buf[0] = 0;
  if (resp->body_len)
    j = json_loadb(resp->body, resp->body_len, 0, NULL);
  if (json_is_object(j)) {
    msg = json_string_value(json_object_get(j, "error"));
    if (!msg)
      msg = json_string_value(json_object_get(j, "error_description"));
    if (!msg)
      msg = json_string_value(json_object_get(j, "error_code"));
  }
  if (msg)
    snprintf(buf, len, "%s", msg);
  for (p = buf; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = ' ';
  hide(buf, password);
}

static int login_failed(struct ovirt_engine *e, const char *reason)
{
  return error_set(EACCES,
                   "oVirt engine %s: login failed for user %s%s%s%s: check "
                   "the user and password",
                   e->origin, e->user, *reason ? " (" : "", reason,
                   *reason ? ")" : "");
}

int ovirt_sso_login(struct ovirt_engine *e, const char *password)
{
  _cleanup_(wipe_free) char *form = NULL, *pass = NULL;
  _cleanup_free_ char *url = NULL, *user = NULL;
  _cleanup_(json_decrefp) json_t *j = NULL;
  struct http_conn *conn = NULL;
  struct http_response resp;
  const char *token, *type;
  char *auth = NULL, *tok = NULL;
  char reason[256];
  int r;

  if (asprintf(&url, "%s%s", e->origin, TOKEN_PATH) < 0 ||
      !(user = http_escape(e->user)) || !(pass = http_escape(password)) ||
      asprintf(&form, "grant_type=password&scope=%s&username=%s&password=%s",
               SCOPE, user, pass) < 0)
    return error_set(ENOMEM, "out of memory");
  r = http_conn_new(e->client, &conn);
  if (r < 0)
    return r;
  r = http_post_form(conn, url, form, OVIRT_SSO_JSON_MAX, &resp);
  http_conn_free(conn);
  if (r < 0) {
    error_prefix("oVirt engine %s: login", e->origin);
    return r;
  }
  if (resp.body_len)
    j = json_loadb(resp.body, resp.body_len, 0, NULL);
  if (resp.status == 400 || resp.status == 401 || resp.status == 403 ||
      (json_is_object(j) && json_object_get(j, "error"))) {
    sso_reason(&resp, password, reason, sizeof reason);
    http_response_clear(&resp);
    return login_failed(e, reason);
  }
  if (resp.status == 404) {
    http_response_clear(&resp);
    return error_set(ENOENT,
                     "oVirt engine %s: no SSO service at %s; check the "
                     "engine URL (https://ENGINE-HOST)",
                     e->origin, TOKEN_PATH);
  }
  if (resp.status < 200 || resp.status > 299) {
    sso_reason(&resp, password, reason, sizeof reason);
    r = error_set(EIO, "oVirt engine %s: login: %ld%s%s", e->origin,
                  resp.status, *reason ? " " : "", reason);
    http_response_clear(&resp);
    return r;
  }
  http_response_clear(&resp);
  token = json_string_value(json_object_get(j, "access_token"));
  type = json_string_value(json_object_get(j, "token_type"));
  if (!token || !*token || strlen(token) > OVIRT_TOKEN_MAX ||
      strcspn(token, "\r\n \t") != strlen(token) ||
      (type && strcasecmp(type, "bearer") != 0))
    return error_set(EPROTO,
                     "oVirt engine %s: the SSO reply holds no bearer "
                     "access token; is this an oVirt engine?",
                     e->origin);
  tok = strdup(token);
  if (!tok || asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
    free(tok);
    return error_set(ENOMEM, "out of memory");
  }
  pthread_mutex_lock(&e->lock);
  wipe_free(&e->token);
  wipe_free(&e->auth_header);
  e->token = tok;
  e->auth_header = auth;
  pthread_mutex_unlock(&e->lock);
  return 0;
}

void ovirt_sso_logout(struct ovirt_engine *e)
{
  _cleanup_(wipe_free) char *form = NULL, *tok = NULL;
  _cleanup_free_ char *url = NULL;
  struct http_conn *conn = NULL;
  struct http_response resp;
  char *saved;
  int errnum = 0;

  if (!e->token || !(tok = http_escape(e->token)))
    return;
  if (asprintf(&url, "%s%s", e->origin, LOGOUT_PATH) < 0 ||
      asprintf(&form, "scope=%s&token=%s", SCOPE, tok) < 0)
    return;
  /* Best effort: a failed logout only leaves a session to time out, and
   * must not replace (or become) the message of what failed. */
  saved = error_take(&errnum);
  if (http_conn_new(e->client, &conn) == 0 &&
      http_post_form(conn, url, form, OVIRT_SSO_JSON_MAX, &resp) == 0)
    http_response_clear(&resp);
  http_conn_free(conn);
  error_clear();
  if (saved)
    error_put(saved, errnum);
}
