/* The oVirt engine: connection, login and REST calls (see engine.h). */
#include "sources/ovirt/engine.h"
#include "sources/ovirt/engine_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/url.h"
#include "sources/ovirt/inventory.h"
#include "util/cleanup.h"
#include "util/error.h"

#define API_PATH "/ovirt-engine/api"

double ovirt_now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

bool ovirt_stopped(const struct ovirt_engine *e)
{
  return e->stop && atomic_load(e->stop);
}

int ovirt_sleep(struct ovirt_engine *e, double seconds)
{
  double end = ovirt_now() + seconds;

  for (;;) {
    double left = end - ovirt_now(), step = MIN(left, 0.1);
    struct timespec ts;

    if (ovirt_stopped(e))
      return error_set(EINTR, "oVirt engine %s: interrupted", e->origin);
    if (left <= 0)
      return 0;
    ts.tv_sec = 0;
    ts.tv_nsec = (long)(step * 1e9);
    nanosleep(&ts, NULL);
  }
}

/* Splits the configured URL into the origin and the API URL. Accepts
 * https://HOST[:PORT], with or without /ovirt-engine[/api] after it. */
static int parse_engine_url(const char *url, char **ret_origin)
{
  _cleanup_(url_parts_free) struct url_parts p = {0};
  int r;

  r = url_split(url, 0, &p);
  if (r == -ENOMEM)
    return error_set(ENOMEM, "out of memory");
  if (r < 0)
    return error_set(EINVAL,
                     "oVirt engine URL \"%s\" is not valid; expected "
                     "https://ENGINE-HOST[:PORT]",
                     url);
  if (!streq(p.scheme, "https"))
    return error_set(EINVAL,
                     "oVirt engine URL with scheme \"%s\": the engine is "
                     "reached over https only",
                     p.scheme);
  if (p.user || p.query)
    return error_set(EINVAL,
                     "oVirt engine URL: give the user with --user (or the "
                     "provider file), not in the URL, and no query");
  if (!streq(p.path, "/") && !streq(p.path, "/ovirt-engine") &&
      !streq(p.path, "/ovirt-engine/") && !streq(p.path, API_PATH) &&
      !streq(p.path, API_PATH "/"))
    return error_set(EINVAL,
                     "oVirt engine URL with path \"%s\": expected "
                     "https://ENGINE-HOST[:PORT][/ovirt-engine/api]",
                     p.path);
  if (asprintf(ret_origin, "https://%s%s%s", p.host, p.port ? ":" : "",
               p.port ? p.port : "") < 0)
    return error_set(ENOMEM, "out of memory");
  return 0;
}

static const char *engine_advice(long status)
{
  switch (status) {
  case 401:
    return "the session is not valid; check the user and password";
  case 403:
    return "the user may not do this; give it the needed permissions in "
           "oVirt";
  case 404:
    return "no such object on the engine";
  default:
    return NULL;
  }
}

int ovirt_api_conn(struct ovirt_engine *e, struct http_conn **ret)
{
  struct http_conn *conn;
  int r;

  r = http_conn_new(e->client, &conn);
  if (r < 0)
    return r;
  r = http_conn_add_header(conn, "Version: 4");
  pthread_mutex_lock(&e->lock);
  if (r == 0 && e->auth_header)
    r = http_conn_add_header(conn, e->auth_header);
  pthread_mutex_unlock(&e->lock);
  if (r < 0) {
    http_conn_free(conn);
    return r;
  }
  *ret = conn;
  return 0;
}

/* The engine's fault ({"reason": …, "detail": …}) as one line, or the
 * start of the body. */
static void fault_text(const struct http_response *resp, char *buf, size_t len)
{
  _cleanup_(json_decrefp) json_t *j = NULL;
  const char *reason = NULL, *detail = NULL;
  char *p;

  buf[0] = 0;
  if (resp->body_len)
    j = json_loadb(resp->body, resp->body_len, 0, NULL);
  if (json_is_object(j)) {
    reason = json_string_value(json_object_get(j, "reason"));
    detail = json_string_value(json_object_get(j, "detail"));
    if (!detail)
      detail = json_string_value(json_object_get(j, "error"));
  }
  if (reason || detail)
    snprintf(buf, len, "%s%s%s", reason ? reason : "",
             reason && detail ? ": " : "", detail ? detail : "");
  else if (resp->body)
    snprintf(buf, len, "%.200s", resp->body);
  for (p = buf; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = ' ';
}

/* One API request; 401 once means the token expired: log in again (with
 * the password kept for that) and try once more. */
static int api_request(struct ovirt_engine *e, struct http_conn *conn,
                       const char *method, const char *path, json_t *body,
                       size_t max, bool retry, json_t **ret)
{
  _cleanup_free_ char *url = NULL;
  struct http_response resp;
  json_error_t jerr;
  json_t *j;
  int r;

  if (ret)
    *ret = NULL;
  if (asprintf(&url, "%s/%s", e->api, path) < 0)
    return error_set(ENOMEM, "out of memory");
  http_conn_set_retry_post(conn, retry);
  r = http_request(conn, method, url, body, max, &resp);
  http_conn_set_retry_post(conn, false);
  if (r < 0)
    return r;
  if (resp.status < 200 || resp.status > 299) {
    char text[512], shown[128];
    const char *advice = engine_advice(resp.status);
    /* EKEYEXPIRED tells a 401 (the session ended) from other refusals. */
    int errnum = resp.status == 401   ? EKEYEXPIRED
                 : resp.status == 403 ? EACCES
                 : resp.status == 404 ? ENOENT
                 : resp.status == 409 ? EBUSY
                 : resp.status == 400 ? EINVAL
                                      : EIO;
    fault_text(&resp, text, sizeof text);
    /* Paths hold ids only; the query (search, follow) is left out. */
    snprintf(shown, sizeof shown, "%.*s", (int)strcspn(path, "?"), path);
    r = error_set(errnum, "oVirt engine %s: %s %s: %ld%s%s%s%s", e->origin,
                  method, shown, resp.status, *text ? " " : "", text,
                  advice ? ": " : "", advice ? advice : "");
    http_response_clear(&resp);
    return r;
  }
  if (!ret || resp.body_len == 0) {
    http_response_clear(&resp);
    return 0;
  }
  j = json_loadb(resp.body, resp.body_len, 0, &jerr);
  http_response_clear(&resp);
  if (!json_is_object(j)) {
    json_decref(j);
    return error_set(EPROTO,
                     "oVirt engine %s: %s %.*s: the reply is not a JSON "
                     "object%s%s; is this an oVirt engine?",
                     e->origin, method, (int)strcspn(path, "?"), path,
                     j ? "" : ": ", j ? "" : jerr.text);
  }
  *ret = j;
  return 0;
}

static int api_call(struct ovirt_engine *e, struct http_conn *conn,
                    const char *method, const char *path, json_t *body,
                    size_t max, bool retry, json_t **ret);

int ovirt_api_get(struct ovirt_engine *e, const char *path, size_t max,
                  json_t **ret)
{
  return api_call(e, NULL, "GET", path, NULL, max, true, ret);
}

int ovirt_api_post(struct ovirt_engine *e, struct http_conn *conn,
                   const char *path, json_t *body, bool retry, json_t **ret)
{
  return api_call(e, conn, "POST", path, body, OVIRT_JSON_MAX, retry, ret);
}

static int api_call_locked(struct ovirt_engine *e, struct http_conn *conn,
                           const char *method, const char *path, json_t *body,
                           size_t max, bool retry, json_t **ret)
{
  bool own = conn == NULL || conn == e->conn;
  int r;

  if (!conn)
    conn = e->conn;
  r = api_request(e, conn, method, path, body, max, retry, ret);
  if (r != -EKEYEXPIRED || !own || !e->password)
    return r;
  /* The session expired (a long copy without API calls): log in again
   * and try once more. */
  error_clear();
  r = ovirt_sso_login(e, e->password);
  if (r < 0)
    return r;
  http_conn_free(e->conn);
  e->conn = NULL;
  r = ovirt_api_conn(e, &e->conn);
  if (r < 0)
    return r;
  return api_request(e, e->conn, method, path, body, max, retry, ret);
}

/* The engine's own connection serves one call at a time: transfers of
 * several disks run on threads of their own. */
static int api_call(struct ovirt_engine *e, struct http_conn *conn,
                    const char *method, const char *path, json_t *body,
                    size_t max, bool retry, json_t **ret)
{
  bool own = conn == NULL || conn == e->conn;
  int r;

  if (own)
    pthread_mutex_lock(&e->api_lock);
  r = api_call_locked(e, conn, method, path, body, max, retry, ret);
  if (own)
    pthread_mutex_unlock(&e->api_lock);
  return r;
}

const char *ovirt_engine_origin(const struct ovirt_engine *e)
{
  return e->origin;
}

int ovirt_connect(const struct ovirt_config *cfg, struct ovirt_engine **ret)
{
  struct http_options hopts = {0};
  struct ovirt_engine *e;
  int r;

  if (!cfg->url || !*cfg->url)
    return error_set(EINVAL, "no oVirt engine URL given; use --engine URL "
                             "or the provider file's url");
  if (!cfg->user || !*cfg->user)
    return error_set(EINVAL, "no oVirt user given; use --user USER "
                             "(e.g. admin@internal) or the provider file");
  if (!cfg->password)
    return error_set(EINVAL,
                     "no password for oVirt user %s; use "
                     "--password-file FILE or the provider file",
                     cfg->user);
  e = calloc(1, sizeof *e);
  if (!e)
    return error_set(ENOMEM, "out of memory");
  pthread_mutex_init(&e->lock, NULL);
  pthread_mutex_init(&e->api_lock, NULL);
  r = parse_engine_url(cfg->url, &e->origin);
  if (r < 0)
    goto fail;
  if (asprintf(&e->api, "%s%s", e->origin, API_PATH) < 0 ||
      !(e->user = strdup(cfg->user)) ||
      !(e->password = strdup(cfg->password)) ||
      (cfg->cacert && !(e->cacert = strdup(cfg->cacert)))) {
    r = error_set(ENOMEM, "out of memory");
    goto fail;
  }
  e->insecure = cfg->insecure;
  e->stop = cfg->stop;
  e->transfer_timeout = cfg->transfer_timeout ? cfg->transfer_timeout
                                              : OVIRT_DEFAULT_TRANSFER_TIMEOUT;
  hopts.cacert = cfg->cacert;
  hopts.insecure = cfg->insecure;
  r = http_client_new(&hopts, &e->client);
  if (r < 0)
    goto fail;
  r = ovirt_sso_login(e, cfg->password);
  if (r < 0)
    goto fail;
  r = ovirt_api_conn(e, &e->conn);
  if (r < 0)
    goto fail;
  *ret = e;
  return 0;

fail:
  ovirt_close(e);
  return r;
}

void ovirt_close(struct ovirt_engine *e)
{
  if (!e)
    return;
  if (e->token)
    ovirt_sso_logout(e);
  ovirt_inventory_clear(&e->inv);
  http_conn_free(e->conn);
  http_client_free(e->client);
  if (e->password)
    explicit_bzero(e->password, strlen(e->password));
  if (e->token)
    explicit_bzero(e->token, strlen(e->token));
  if (e->auth_header)
    explicit_bzero(e->auth_header, strlen(e->auth_header));
  free(e->password);
  free(e->token);
  free(e->auth_header);
  free(e->origin);
  free(e->api);
  free(e->user);
  free(e->cacert);
  pthread_mutex_destroy(&e->lock);
  pthread_mutex_destroy(&e->api_lock);
  free(e);
}
