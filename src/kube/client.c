/* The Kubernetes API client: transport, auth, rate limit, retries (see
 * client.h). The typed helpers are in client_ops.c. */
#include "kube/client.h"
#include "kube/client_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "net/http.h"
#include "util/cleanup.h"
#include "util/error.h"

#define POOL_KEEP 8             /* idle handles kept for reuse */
#define TOKEN_CHECK_INTERVAL 5. /* seconds between mtime checks */
#define ERROR_BODY_MAX (64u * 1024)
#define RETRY_AFTER_MAX 30.

struct kube_client {
  char *server;
  char *namespace;
  char *ca_file, *ca_data;
  char *cert_file, *cert_data, *key_file, *key_data;
  bool insecure;
  char *user_agent;
  long timeout;
  unsigned max_retries;

  CURLSH *share;
  pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];

  pthread_mutex_t lock; /* pool, limiter */
  CURL *pool[POOL_KEEP];
  int npool;
  double qps, burst, tokens, last_fill;

  pthread_mutex_t token_lock;
  char *token;
  char *token_file;
  struct timespec token_mtime;
  ino_t token_ino;
  double token_checked;

  atomic_uint_fast64_t count[V_DELETE + 1];
  atomic_uint_fast64_t retries, throttled_ns;
};

static _Thread_local long last_code;
static _Thread_local char last_reason[64];

long kube_last_code(void)
{
  return last_code;
}

const char *kube_last_reason(void)
{
  return last_reason;
}

static double now_mono(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_for(double s)
{
  struct timespec ts;

  if (s <= 0)
    return;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
  global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a,
                       void *opaque)
{
  struct kube_client *c = opaque;

  (void)h, (void)a;
  pthread_mutex_lock(&c->share_lock[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *opaque)
{
  struct kube_client *c = opaque;

  (void)h;
  pthread_mutex_unlock(&c->share_lock[data]);
}

static int dup_opt(const char *s, char **ret)
{
  *ret = NULL;
  if (s && !(*ret = strdup(s)))
    return -ENOMEM;
  return 0;
}

static int reload_token(struct kube_client *c, bool force);

int kube_client_new(const struct kube_config *cfg,
                    const struct kube_client_options *opts,
                    struct kube_client **ret)
{
  struct kube_client_options none = {0};
  struct kube_client *c;
  int r;

  if (!opts)
    opts = &none;
  pthread_once(&global_once, global_init);
  if (global_rc != CURLE_OK)
    return error_set(EIO, "cannot initialise libcurl: %s",
                     curl_easy_strerror(global_rc));
  if (!cfg->server)
    return error_set(EINVAL, "kube client: no API server URL");
  c = calloc(1, sizeof(*c));
  if (!c)
    return error_set(ENOMEM, "out of memory");
  pthread_mutex_init(&c->lock, NULL);
  pthread_mutex_init(&c->token_lock, NULL);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init(&c->share_lock[i], NULL);
  if (dup_opt(cfg->server, &c->server) < 0 ||
      dup_opt(cfg->namespace ? cfg->namespace : "default", &c->namespace) < 0 ||
      dup_opt(cfg->ca_file, &c->ca_file) < 0 ||
      dup_opt(cfg->ca_data, &c->ca_data) < 0 ||
      dup_opt(cfg->cert_file, &c->cert_file) < 0 ||
      dup_opt(cfg->cert_data, &c->cert_data) < 0 ||
      dup_opt(cfg->key_file, &c->key_file) < 0 ||
      dup_opt(cfg->key_data, &c->key_data) < 0 ||
      dup_opt(cfg->token, &c->token) < 0 ||
      dup_opt(cfg->token_file, &c->token_file) < 0 ||
      dup_opt(opts->user_agent ? opts->user_agent : "hoist/0.1",
              &c->user_agent) < 0) {
    kube_client_free(c);
    return error_set(ENOMEM, "out of memory");
  }
  c->insecure = cfg->insecure;
  c->timeout = opts->timeout > 0 ? opts->timeout : 60;
  c->max_retries = opts->max_retries ? opts->max_retries : 5;
  c->qps = opts->qps ? opts->qps : 5;
  c->burst = opts->burst > 0 ? opts->burst : 10;
  c->tokens = c->burst;
  c->last_fill = now_mono();
  c->share = curl_share_init();
  if (!c->share) {
    kube_client_free(c);
    return error_set(ENOMEM, "out of memory");
  }
  curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  if (c->token_file && !c->token) {
    r = reload_token(c, true);
    if (r < 0) {
      kube_client_free(c);
      return r;
    }
  }
  *ret = c;
  return 0;
}

static void wipe_free(char *s)
{
  if (s)
    explicit_bzero(s, strlen(s));
  free(s);
}

void kube_client_free(struct kube_client *c)
{
  if (!c)
    return;
  for (int i = 0; i < c->npool; i++)
    curl_easy_cleanup(c->pool[i]);
  if (c->share)
    curl_share_cleanup(c->share);
  free(c->server);
  free(c->namespace);
  free(c->ca_file);
  free(c->ca_data);
  free(c->cert_file);
  free(c->cert_data);
  free(c->key_file);
  wipe_free(c->key_data);
  wipe_free(c->token);
  free(c->token_file);
  free(c->user_agent);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_destroy(&c->share_lock[i]);
  pthread_mutex_destroy(&c->token_lock);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

const char *kube_client_namespace(const struct kube_client *c)
{
  return c->namespace;
}

void kube_client_counters(struct kube_client *c, struct kube_counters *ret)
{
  *ret = (struct kube_counters){
      .get = c->count[V_GET],
      .list = c->count[V_LIST],
      .watch = c->count[V_WATCH],
      .create = c->count[V_CREATE],
      .update = c->count[V_UPDATE],
      .patch = c->count[V_PATCH],
      .delete_ = c->count[V_DELETE],
      .retries = c->retries,
      .throttled_ns = c->throttled_ns,
  };
  ret->reads = ret->get + ret->list + ret->watch;
  ret->writes = ret->create + ret->update + ret->patch + ret->delete_;
}

/* ---- the token: re-read from its file when the file changes ---- */

static int reload_token(struct kube_client *c, bool force)
{
  struct stat st;
  char *token;
  double now;
  int r;

  if (!c->token_file)
    return 0;
  now = now_mono();
  if (!force && c->token && now - c->token_checked < TOKEN_CHECK_INTERVAL)
    return 0;
  c->token_checked = now;
  if (stat(c->token_file, &st) < 0) {
    /* Keep the token we have while the file is being replaced. */
    if (c->token)
      return 0;
    return error_errno("cannot read the token file %s", c->token_file);
  }
  if (!force && c->token && st.st_ino == c->token_ino &&
      st.st_mtim.tv_sec == c->token_mtime.tv_sec &&
      st.st_mtim.tv_nsec == c->token_mtime.tv_nsec)
    return 0;
  r = kube_read_token_file(c->token_file, &token);
  if (r < 0) {
    if (c->token) { /* a torn write: try again next time */
      error_clear();
      return 0;
    }
    return r;
  }
  wipe_free(c->token);
  c->token = token;
  c->token_ino = st.st_ino;
  c->token_mtime = st.st_mtim;
  return 0;
}

/* "Authorization: Bearer …" for this request, or NULL without a token. */
static int auth_header(struct kube_client *c, bool force, char **ret)
{
  int r;

  *ret = NULL;
  pthread_mutex_lock(&c->token_lock);
  r = reload_token(c, force);
  if (r == 0 && c->token &&
      asprintf(ret, "Authorization: Bearer %s", c->token) < 0) {
    *ret = NULL;
    r = error_set(ENOMEM, "out of memory");
  }
  pthread_mutex_unlock(&c->token_lock);
  return r;
}

/* ---- client-side rate limit: a token bucket with reservations ---- */

static void throttle(struct kube_client *c)
{
  double now, wait = 0;

  if (c->qps < 0)
    return;
  pthread_mutex_lock(&c->lock);
  now = now_mono();
  c->tokens += (now - c->last_fill) * c->qps;
  if (c->tokens > c->burst)
    c->tokens = c->burst;
  c->last_fill = now;
  c->tokens -= 1;
  if (c->tokens < 0)
    wait = -c->tokens / c->qps;
  pthread_mutex_unlock(&c->lock);
  if (wait > 0) {
    c->throttled_ns += (uint64_t)(wait * 1e9);
    sleep_for(wait);
  }
}

/* ---- handles ---- */

static CURL *handle_get(struct kube_client *c)
{
  CURL *h = NULL;

  pthread_mutex_lock(&c->lock);
  if (c->npool > 0)
    h = c->pool[--c->npool];
  pthread_mutex_unlock(&c->lock);
  if (h)
    curl_easy_reset(h);
  else
    h = curl_easy_init();
  return h;
}

static void handle_put(struct kube_client *c, CURL *h)
{
  if (!h)
    return;
  pthread_mutex_lock(&c->lock);
  if (c->npool < POOL_KEEP) {
    c->pool[c->npool++] = h;
    h = NULL;
  }
  pthread_mutex_unlock(&c->lock);
  if (h)
    curl_easy_cleanup(h);
}

struct buf {
  char *data;
  size_t len, cap, max;
  bool over;
};

static size_t buf_write(char *ptr, size_t size, size_t n, void *opaque)
{
  struct buf *b = opaque;
  size_t len = size * n;

  if (b->len + len > b->max) {
    b->over = true;
    return 0;
  }
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 16384;
    char *d;

    while (cap < b->len + len + 1)
      cap *= 2;
    d = realloc(b->data, cap);
    if (!d)
      return 0;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, ptr, len);
  b->len += len;
  b->data[b->len] = '\0';
  return len;
}

struct xfer {
  struct buf body;
  double retry_after; /* < 0: none */
  kube_stream_fn stream;
  void *stream_opaque;
  int stream_rc;
  CURL *h;
  const atomic_bool *stop;
  bool text; /* any reply type (logs, metrics through the pod proxy) */
};

static size_t on_header(char *ptr, size_t size, size_t n, void *opaque)
{
  struct xfer *x = opaque;
  size_t len = size * n;

  if (len > 12 && strncasecmp(ptr, "Retry-After:", 12) == 0) {
    char tmp[32];
    size_t l = MIN(len - 12, sizeof(tmp) - 1);

    memcpy(tmp, ptr + 12, l);
    tmp[l] = '\0';
    x->retry_after = atof(tmp); /* seconds; an HTTP date is "0" */
  }
  return len;
}

static size_t on_body(char *ptr, size_t size, size_t n, void *opaque)
{
  struct xfer *x = opaque;
  long status = 0;

  if (!x->stream)
    return buf_write(ptr, size, n, &x->body);
  curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299)
    return buf_write(ptr, size, n, &x->body);
  x->stream_rc = x->stream(ptr, size * n, x->stream_opaque);
  return x->stream_rc ? 0 : size * n;
}

static int on_progress(void *opaque, curl_off_t a, curl_off_t b, curl_off_t d,
                       curl_off_t e)
{
  struct xfer *x = opaque;

  (void)a, (void)b, (void)d, (void)e;
  return x->stop && atomic_load(x->stop) ? 1 : 0;
}

static int setup(struct kube_client *c, CURL *h, const char *url,
                 struct curl_slist *headers, struct xfer *x)
{
  struct curl_blob blob;

  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_SHARE, c->share);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  if (c->insecure) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (c->ca_data) {
    blob = (struct curl_blob){c->ca_data, strlen(c->ca_data), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
  } else if (c->ca_file) {
    curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
  }
  if (c->cert_data) {
    blob =
        (struct curl_blob){c->cert_data, strlen(c->cert_data), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob);
  } else if (c->cert_file) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
  }
  if (c->key_data) {
    blob = (struct curl_blob){c->key_data, strlen(c->key_data), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
  } else if (c->key_file) {
    curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
  }
  return 0;
}

static const char *verb_method(enum verb v)
{
  static const char *const m[] = {"GET", "GET",   "GET",   "POST",
                                  "PUT", "PATCH", "DELETE"};
  return m[v];
}

static bool transport_retryable(CURLcode rc, bool idempotent)
{
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
    return true; /* the request never left */
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SSL_CONNECT_ERROR:
    return idempotent;
  default:
    return false;
  }
}

static int transport_error(CURLcode rc, const char *method, const char *url,
                           const char *errbuf)
{
  int e;
  const char *advice = "";

  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
    e = ECONNREFUSED;
    break;
  case CURLE_OPERATION_TIMEDOUT:
    e = ETIMEDOUT;
    break;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
    e = EPERM;
    advice = " (the API server's certificate is not trusted: check the "
             "cluster's certificate-authority, or set "
             "insecure-skip-tls-verify by name)";
    break;
  case CURLE_SSL_CERTPROBLEM:
    e = EINVAL;
    advice = " (check the user's client-certificate and client-key)";
    break;
  case CURLE_ABORTED_BY_CALLBACK:
    e = ECANCELED;
    break;
  default:
    e = EIO;
  }
  last_code = 0;
  last_reason[0] = '\0';
  return error_set(e, "%s %s: %s%s", method, url,
                   errbuf[0] ? errbuf : curl_easy_strerror(rc), advice);
}

static int status_errno(long status, const char *reason)
{
  switch (status) {
  case 400:
  case 422:
    return EINVAL;
  case 401:
    return EACCES;
  case 403:
    return EPERM;
  case 404:
    return ENOENT;
  case 409:
    return reason && streq(reason, "AlreadyExists") ? EEXIST : KUBE_ECONFLICT;
  case 410:
    return KUBE_EGONE;
  case 429:
    return EAGAIN;
  default:
    return status >= 500 ? EAGAIN : EPROTO;
  }
}

int kube_status_error(const char *method, const char *path, long status,
                      const json_t *reply)
{
  const char *reason = json_string_value(json_object_get(reply, "reason"));
  const char *message = json_string_value(json_object_get(reply, "message"));
  int e;

  if (!reason || !*reason) {
    switch (status) {
    case 401:
      reason = "Unauthorized";
      break;
    case 403:
      reason = "Forbidden";
      break;
    case 404:
      reason = "NotFound";
      break;
    case 409:
      reason = "Conflict";
      break;
    case 410:
      reason = "Gone";
      break;
    case 429:
      reason = "TooManyRequests";
      break;
    default:
      reason = "";
    }
  }
  e = status_errno(status, reason);
  last_code = status;
  snprintf(last_reason, sizeof(last_reason), "%s", reason);
  return error_set(e, "%s %s: %s (%ld)%s%s%s", method, path,
                   *reason ? reason : "HTTP", status, message ? ": " : "",
                   message ? message : "",
                   status == 401 ? " (the token or client certificate was "
                                   "refused: check the credentials)"
                                 : "");
}

/* One request with retries. Body and stream are exclusive. On success
 * (a reply came) returns the status and fills x->body. */
static int perform(struct kube_client *c, enum verb v, const char *path,
                   const char *query, const char *body,
                   const char *content_type, long timeout, long idle,
                   struct xfer *x)
{
  const char *method = verb_method(v);
  _cleanup_free_ char *url = NULL;
  bool idempotent = v == V_GET || v == V_LIST || v == V_WATCH;
  bool reauthed = false;
  double delay = 0.2;
  int r;

  if (asprintf(&url, "%s%s%s%s", c->server, path, query && *query ? "?" : "",
               query && *query ? query : "") < 0) {
    url = NULL;
    return error_set(ENOMEM, "out of memory");
  }
  for (unsigned attempt = 0;; attempt++) {
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL, *h2;
    char *auth = NULL;
    long status = 0;
    CURLcode rc;
    CURL *h;
    double wait;

    r = auth_header(c, reauthed && attempt > 0, &auth);
    if (r < 0)
      return r;
    h = handle_get(c);
    if (!h) {
      wipe_free(auth);
      return error_set(ENOMEM, "out of memory");
    }
    headers = curl_slist_append(NULL, x->text ? "Accept: */*"
                                              : "Accept: application/json");
    if (headers && body) {
      char ct[128];

      snprintf(ct, sizeof(ct), "Content-Type: %s",
               content_type ? content_type : "application/json");
      headers = (h2 = curl_slist_append(headers, ct)) ? h2 : headers;
    }
    if (headers && auth)
      headers = (h2 = curl_slist_append(headers, auth)) ? h2 : headers;
    wipe_free(auth);
    x->body.len = 0;
    x->body.over = false;
    x->retry_after = -1;
    x->stream_rc = 0;
    x->h = h;
    setup(c, h, url, headers, x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (timeout > 0)
      curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
    if (idle > 0) {
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, idle);
    }
    if (v != V_WATCH)
      throttle(c);
    else if (attempt == 0)
      throttle(c);
    atomic_fetch_add(&c->count[v], 1);
    if (attempt > 0)
      atomic_fetch_add(&c->retries, 1);
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    /* Take the headers away before the handle goes back to the pool. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(headers);
    handle_put(c, h);

    if (rc == CURLE_WRITE_ERROR && x->stream_rc)
      return 0; /* the stream's consumer stopped it; it knows why */
    if (rc == CURLE_WRITE_ERROR && x->body.over)
      return error_set(EFBIG, "%s %s: the reply is larger than %zu bytes",
                       method, path, x->body.max);
    if (rc != CURLE_OK) {
      if (x->stop && atomic_load(x->stop))
        return -ECANCELED;
      if (attempt < c->max_retries && transport_retryable(rc, idempotent) &&
          !(x->stream && x->stream_rc == 0 && status >= 200 && status < 300)) {
        sleep_for(delay);
        delay = MIN(delay * 2, 5.);
        continue;
      }
      /* A watch that was cut after it started is just over. */
      if (x->stream && status >= 200 && status < 300)
        return (int)status;
      return transport_error(rc, method, path, errbuf);
    }
    if (status == 401 && c->token_file && !reauthed) {
      reauthed = true; /* the token may have just rotated */
      continue;
    }
    wait = -1;
    if (status == 429)
      wait = x->retry_after >= 0 ? x->retry_after : delay;
    else if (status >= 500 && (idempotent || x->retry_after >= 0))
      wait = x->retry_after >= 0 ? x->retry_after : delay;
    if (wait >= 0 && attempt < c->max_retries) {
      sleep_for(MIN(wait, RETRY_AFTER_MAX));
      delay = MIN(delay * 2, 5.);
      continue;
    }
    return (int)status;
  }
}

static int body_string(json_t *body, char **ret)
{
  *ret = NULL;
  if (!body)
    return 0;
  *ret = json_dumps(body, JSON_COMPACT);
  return *ret ? 0 : error_set(ENOMEM, "out of memory");
}

static json_t *parse_reply(const struct buf *b)
{
  if (!b->data || !b->len)
    return NULL;
  return json_loadb(b->data, b->len, JSON_ALLOW_NUL, NULL);
}

int kube_request_verb(struct kube_client *c, int v, const char *path,
                      const char *query, json_t *body, const char *content_type,
                      json_t **ret_json)
{
  _cleanup_free_ char *payload = NULL;
  struct xfer x = {.body = {.max = KUBE_BODY_MAX}};
  int r;

  if (ret_json)
    *ret_json = NULL;
  r = body_string(body, &payload);
  if (r < 0)
    return r;
  r = perform(c, (enum verb)v, path, query, payload, content_type, c->timeout,
              0, &x);
  if (r > 0 && ret_json)
    *ret_json = parse_reply(&x.body);
  free(x.body.data);
  return r;
}

static int method_verb(const char *method)
{
  if (streq(method, "GET"))
    return V_GET;
  if (streq(method, "POST"))
    return V_CREATE;
  if (streq(method, "PUT"))
    return V_UPDATE;
  if (streq(method, "PATCH"))
    return V_PATCH;
  if (streq(method, "DELETE"))
    return V_DELETE;
  return -1;
}

int kube_request(struct kube_client *c, const char *method, const char *path,
                 const char *query, json_t *body, const char *content_type,
                 json_t **ret_json)
{
  int v = method_verb(method);

  if (v < 0)
    return error_set(EINVAL, "unsupported HTTP method %s", method);
  return kube_request_verb(c, v, path, query, body, content_type, ret_json);
}

int kube_request_text(struct kube_client *c, const char *method,
                      const char *path, const char *query, size_t max,
                      char **ret_body, size_t *ret_len)
{
  struct xfer x = {.body = {.max = max}, .text = true};
  int v = method_verb(method), r;

  if (v < 0)
    return error_set(EINVAL, "unsupported HTTP method %s", method);
  r = perform(c, (enum verb)v, path, query, NULL, NULL, c->timeout, 0, &x);
  if (r < 0) {
    free(x.body.data);
    return r;
  }
  if (r < 200 || r > 299) {
    json_t *err = parse_reply(&x.body);

    r = kube_status_error(method, path, r, err);
    json_decref(err);
    free(x.body.data);
    return r;
  }
  if (!x.body.data)
    x.body.data = strdup("");
  if (!x.body.data)
    return error_set(ENOMEM, "out of memory");
  *ret_body = x.body.data;
  if (ret_len)
    *ret_len = x.body.len;
  return 0;
}

int kube_client_stream(struct kube_client *c, const char *path,
                       const char *query, long idle, kube_stream_fn fn,
                       void *opaque, const atomic_bool *stop, json_t **ret_err)
{
  struct xfer x = {.body = {.max = ERROR_BODY_MAX},
                   .stream = fn,
                   .stream_opaque = opaque,
                   .stop = stop};
  int r;

  *ret_err = NULL;
  r = perform(c, V_WATCH, path, query, NULL, NULL, 0, idle, &x);
  if (r > 0 && (r < 200 || r > 299))
    *ret_err = parse_reply(&x.body);
  free(x.body.data);
  return r;
}

int kube_query_add(char **query, const char *name, const char *value)
{
  _cleanup_free_ char *esc = NULL;
  char *q;

  if (!value)
    return 0;
  esc = http_escape(value);
  if (!esc || asprintf(&q, "%s%s%s=%s", *query ? *query : "", *query ? "&" : "",
                       name, esc) < 0)
    return error_set(ENOMEM, "out of memory");
  free(*query);
  *query = q;
  return 0;
}
