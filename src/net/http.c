/* The HTTP client (see http.h). */
#include "net/http.h"
#include "net/http_internal.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/url.h"
#include "util/cleanup.h"
#include "util/error.h"

#define DEFAULT_CONNECT_TIMEOUT 30
#define DEFAULT_LOW_SPEED_TIME 60
#define DEFAULT_LOW_SPEED_LIMIT 1024
#define DEFAULT_REQUEST_TIMEOUT 120
#define DEFAULT_ATTEMPTS 6
#define DEFAULT_BUDGET 60.0
#define DEFAULT_DELAY 1.0
#define CURL_BUFFER (256 * 1024)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result;

static void global_init(void)
{
  global_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static double now_seconds(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_seconds(double s)
{
  struct timespec ts = {.tv_sec = (time_t)s,
                        .tv_nsec = (long)((s - (time_t)s) * 1e9)};

  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* ---- redaction ---- */

char *http_redact_secret(const char *text, const char *secret)
{
  size_t slen = secret ? strlen(secret) : 0, keep;
  char *out, *o;
  const char *p;
  size_t n = 0;

  if (!text)
    return NULL;
  /* A secret of 8 characters or less is its own first 8 characters. */
  if (slen <= 8)
    return strdup(text);
  keep = 8;
  for (p = text; (p = strstr(p, secret)); p += slen)
    n++;
  out = malloc(strlen(text) + n * (keep + 3) + 1);
  if (!out)
    return NULL;
  o = out;
  for (p = text; *p;) {
    if (strncmp(p, secret, slen) == 0) {
      memcpy(o, secret, keep);
      memcpy(o + keep, "...", 3);
      o += keep + 3;
      p += slen;
    } else {
      *o++ = *p++;
    }
  }
  *o = 0;
  return out;
}

/* Drops "user:password@" after every "://" in text. */
static char *strip_userinfo(const char *text)
{
  char *out = strdup(text), *p;

  if (!out)
    return NULL;
  for (p = out; (p = strstr(p, "://"));) {
    char *host = p + 3;
    size_t span = strcspn(host, "@/?# \t\n");
    if (host[span] == '@')
      memmove(host, host + span + 1, strlen(host + span + 1) + 1);
    p = host;
  }
  return out;
}

char *http_client_redact(const struct http_client *c, const char *text)
{
  char *cur = strip_userinfo(text), *q;
  unsigned i;

  for (i = 0; cur && c && i < c->nsecrets; i++) {
    char *next = http_redact_secret(cur, c->secrets[i]);
    free(cur);
    cur = next;
  }
  /* Messages name the resource, not its query string (which may hold
   * tokens): drop it up to the end of the URL, keeping a ':' after it. */
  for (q = cur; q && (q = strstr(q, "://"));) {
    char *end;
    q += 3;
    q += strcspn(q, "? \t");
    if (*q != '?')
      continue;
    end = q + strcspn(q, " \t");
    if (end > q + 1 && end[-1] == ':')
      end--;
    memmove(q, end, strlen(end) + 1);
  }
  return cur;
}

char *http_origin(const char *url)
{
  _cleanup_(url_parts_free) struct url_parts p = {0};
  char *out;

  if (url_split(url, 0, &p) < 0 ||
      asprintf(&out, "%s://%s%s%s", p.scheme, p.host, p.port ? ":" : "",
               p.port ? p.port : "") < 0)
    return NULL;
  return out;
}

/* Records a message after redacting it; returns -errnum. */
int http_conn_fail(struct http_conn *conn, int errnum, const char *fmt, ...)
{
  _cleanup_free_ char *raw = NULL, *clean = NULL;
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vasprintf(&raw, fmt, ap);
  va_end(ap);
  if (n < 0)
    return error_set(ENOMEM, "out of memory");
  clean = http_client_redact(conn->client, raw);
  return error_set(errnum, "%s", clean ? clean : "out of memory");
}

/* The server's error text as one printable line. */
static void printable_line(char *s)
{
  char *p, *end;

  for (p = s; *p; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t')
      *p = ' ';
    else if (!isprint((unsigned char)*p))
      *p = '?';
  end = s + strlen(s);
  while (end > s && end[-1] == ' ')
    *--end = 0;
}

/* ---- client ---- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a,
                       void *userptr)
{
  struct http_client *c = userptr;

  (void)h;
  (void)a;
  if ((unsigned)data < CURL_LOCK_DATA_LAST)
    pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userptr)
{
  struct http_client *c = userptr;

  (void)h;
  if ((unsigned)data < CURL_LOCK_DATA_LAST)
    pthread_mutex_unlock(&c->share_locks[data]);
}

int http_client_new(const struct http_options *opts, struct http_client **ret)
{
  struct http_client *c;
  unsigned i;

  pthread_once(&global_once, global_init);
  if (global_result != CURLE_OK)
    return error_set(EIO, "cannot initialise libcurl: %s",
                     curl_easy_strerror(global_result));
  if (opts->cacert && access(opts->cacert, R_OK) < 0)
    return error_errno("cannot read the CA file %s", opts->cacert);
  c = calloc(1, sizeof *c);
  if (!c)
    return error_set(ENOMEM, "out of memory");
  c->opts = *opts;
  if (!c->opts.connect_timeout)
    c->opts.connect_timeout = DEFAULT_CONNECT_TIMEOUT;
  if (!c->opts.low_speed_time)
    c->opts.low_speed_time = DEFAULT_LOW_SPEED_TIME;
  if (!c->opts.low_speed_limit)
    c->opts.low_speed_limit = DEFAULT_LOW_SPEED_LIMIT;
  if (!c->opts.request_timeout)
    c->opts.request_timeout = DEFAULT_REQUEST_TIMEOUT;
  if (!c->opts.max_attempts)
    c->opts.max_attempts = DEFAULT_ATTEMPTS;
  if (c->opts.retry_budget <= 0)
    c->opts.retry_budget = DEFAULT_BUDGET;
  if (c->opts.retry_delay <= 0)
    c->opts.retry_delay = DEFAULT_DELAY;
  for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init(&c->share_locks[i], NULL);
  if (opts->cacert && !(c->cacert = strdup(opts->cacert)))
    goto oom;
  c->opts.cacert = c->cacert;
  c->share = curl_share_init();
  if (!c->share)
    goto oom;
  curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  *ret = c;
  return 0;

oom:
  http_client_free(c);
  return error_set(ENOMEM, "out of memory");
}

void http_client_free(struct http_client *c)
{
  unsigned i;

  if (!c)
    return;
  if (c->share)
    curl_share_cleanup(c->share);
  for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_destroy(&c->share_locks[i]);
  for (i = 0; i < c->nsecrets; i++)
    free(c->secrets[i]);
  free(c->cacert);
  free(c);
}

int http_client_add_secret(struct http_client *c, const char *secret)
{
  if (!secret || !*secret)
    return 0;
  if (c->nsecrets == MAX_SECRETS)
    return error_set(EINVAL, "internal error: too many secrets");
  c->secrets[c->nsecrets] = strdup(secret);
  if (!c->secrets[c->nsecrets])
    return error_set(ENOMEM, "out of memory");
  c->nsecrets++;
  return 0;
}

void http_client_set_advice(struct http_client *c, http_status_advice_fn fn)
{
  c->advice = fn;
}

/* ---- connections ---- */

static size_t header_cb(char *data, size_t size, size_t n, void *opaque)
{
  struct http_conn *conn = opaque;
  size_t len = size * n;
  char line[256];
  unsigned long long a, b, t;
  int status;

  http_headers_reply_line(conn, data, len);
  snprintf(line, sizeof line, "%.*s", (int)MIN(len, sizeof line - 1), data);
  line[strcspn(line, "\r\n")] = 0;
  if (strncmp(line, "HTTP/", 5) == 0) {
    /* A new reply (also after "100 Continue"): forget the last one. */
    const char *sp = strchr(line, ' ');
    conn->status = 0;
    conn->reason[0] = 0;
    conn->have_range = false;
    if (sp && sscanf(sp, " %3d", &status) == 1) {
      conn->status = status;
      sp = strchr(sp + 1, ' ');
      if (sp)
        snprintf(conn->reason, sizeof conn->reason, "%s", sp + 1);
    }
    return len;
  }
  if (strncasecmp(line, "content-range:", 14) == 0) {
    const char *v = line + 14;
    v += strspn(v, " \t");
    if (sscanf(v, "bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
      conn->have_range = true;
      conn->range_total_known = true;
      conn->range_total = t;
    } else if (sscanf(v, "bytes %llu-%llu/*", &a, &b) == 2) {
      conn->have_range = true;
      conn->range_total_known = false;
    } else {
      return len;
    }
    conn->range_first = a;
    conn->range_last = b;
  }
  return len;
}

void http_keep_error_body(struct http_conn *conn, const char *data, size_t len)
{
  size_t k = MIN(HTTP_ERROR_BODY_MAX - conn->err_len, len);

  memcpy(conn->err_body + conn->err_len, data, k);
  conn->err_len += k;
  conn->err_body[conn->err_len] = 0;
}

static size_t write_cb(char *data, size_t size, size_t n, void *opaque)
{
  struct http_conn *conn = opaque;
  size_t len = size * n;

  if (conn->sink == SINK_STREAM)
    return http_stream_write(conn, data, len);
  if (conn->status < 200 || conn->status > 299) {
    if (conn->sink == SINK_RANGE) {
      /* An error reply: keep its start for the message. */
      http_keep_error_body(conn, data, len);
      return len;
    }
  }
  if (len > conn->buf_cap - conn->got) {
    conn->overflow = true;
    return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
  }
  if (conn->sink == SINK_BODY && conn->got + len + 1 > conn->body_alloc) {
    size_t want = MAX(conn->body_alloc * 2, conn->got + len + 1);
    char *p;
    want = MIN(want, conn->buf_cap + 1);
    p = realloc(conn->buf, want);
    if (!p) {
      conn->overflow = true;
      return 0;
    }
    conn->buf = p;
    conn->body_alloc = want;
  }
  memcpy(conn->buf + conn->got, data, len);
  conn->got += len;
  if (conn->sink == SINK_BODY)
    conn->buf[conn->got] = 0;
  return len;
}

int http_conn_new(struct http_client *c, struct http_conn **ret)
{
  struct http_conn *conn = calloc(1, sizeof *conn);
  CURL *h;

  if (!conn)
    return error_set(ENOMEM, "out of memory");
  conn->client = c;
  conn->easy = h = curl_easy_init();
  if (!h) {
    free(conn);
    return error_set(ENOMEM, "cannot create a libcurl handle");
  }
  conn->json_headers =
      curl_slist_append(NULL, "Content-Type: application/json");
  if (conn->json_headers)
    conn->json_headers =
        curl_slist_append(conn->json_headers, "Accept: application/json");
  if (conn->json_headers)
    conn->json_headers = curl_slist_append(conn->json_headers, "Expect:");
  if (!conn->json_headers) {
    http_conn_free(conn);
    return error_set(ENOMEM, "out of memory");
  }
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, conn->errbuf);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "hoist");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->opts.connect_timeout);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)CURL_BUFFER);
  curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->opts.insecure ? 0L : 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->opts.insecure ? 0L : 2L);
  if (c->cacert)
    curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
  curl_easy_setopt(h, CURLOPT_SHARE, c->share);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, conn);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, conn);
  *ret = conn;
  return 0;
}

void http_conn_free(struct http_conn *conn)
{
  if (!conn)
    return;
  http_stream_abandon(conn);
  if (conn->multi)
    curl_multi_cleanup(conn->multi);
  if (conn->easy)
    curl_easy_cleanup(conn->easy);
  curl_slist_free_all(conn->json_headers);
  http_headers_free(conn);
  if (conn->sink == SINK_BODY)
    free(conn->buf);
  free(conn);
}

/* ---- requests ---- */

/* curl_easy_perform() on the connection's multi handle, so that streaming
 * GETs and plain requests share one connection cache. */
static CURLcode conn_perform(struct http_conn *conn)
{
  CURLcode rc = CURLE_OK;
  CURLMsg *msg;
  bool done = false;
  int running, left;

  if (!conn->multi && !(conn->multi = curl_multi_init()))
    return CURLE_OUT_OF_MEMORY;
  if (curl_multi_add_handle(conn->multi, conn->easy) != CURLM_OK)
    return CURLE_FAILED_INIT;
  while (!done) {
    if (curl_multi_perform(conn->multi, &running) != CURLM_OK) {
      rc = CURLE_FAILED_INIT;
      break;
    }
    while ((msg = curl_multi_info_read(conn->multi, &left)))
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == conn->easy) {
        done = true;
        rc = msg->data.result;
      }
    if (!done &&
        curl_multi_poll(conn->multi, NULL, 0, 1000, NULL) != CURLM_OK) {
      rc = CURLE_FAILED_INIT;
      break;
    }
  }
  curl_multi_remove_handle(conn->multi, conn->easy);
  return rc;
}

void http_attempt_reset(struct http_conn *conn)
{
  conn->status = 0;
  conn->reason[0] = 0;
  conn->have_range = false;
  conn->range_total_known = false;
  conn->overflow = false;
  conn->err_len = 0;
  conn->err_body[0] = 0;
  conn->errbuf[0] = 0;
}

bool http_status_transient(long status)
{
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

static int status_errno(long status)
{
  switch (status) {
  case 401:
  case 403:
    return EACCES;
  case 404:
  case 410:
    return ENOENT;
  case 416:
    return ERANGE;
  default:
    return status >= 500 ? EIO : EPROTO;
  }
}

int http_fail_status(struct http_conn *conn, const char *method,
                     const char *url, long status, const char *reason,
                     const char *body)
{
  _cleanup_free_ char *text = body ? strdup(body) : NULL;
  const char *advice =
      conn->client->advice ? conn->client->advice(status) : NULL;

  if (text)
    printable_line(text);
  return http_conn_fail(conn, status_errno(status), "%s %s: %ld%s%s%s%s%s%s",
                        method, url, status, reason && *reason ? " " : "",
                        reason ? reason : "", text && *text ? ": " : "",
                        text ? text : "", advice ? ": " : "",
                        advice ? advice : "");
}

int http_status_error(struct http_conn *conn, const char *method,
                      const char *url, const struct http_response *resp)
{
  char reason[REASON_MAX];

  snprintf(reason, sizeof reason, "%s", conn->reason);
  printable_line(reason);
  return http_fail_status(conn, method, url, resp->status, reason, resp->body);
}

/* Curl failures that a later attempt may not see. */
bool http_curl_transient(struct http_conn *conn, CURLcode rc)
{
  switch (rc) {
  case CURLE_COULDNT_CONNECT:
  case CURLE_SSL_CONNECT_ERROR:
    /* Before the first reply, this is a wrong address or port. */
    return atomic_load(&conn->client->reached);
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_PARTIAL_FILE:
  case CURLE_GOT_NOTHING:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return true;
  default:
    return false;
  }
}

/* The message for a libcurl failure. */
int http_fail_curl(struct http_conn *conn, const char *method, const char *url,
                   CURLcode rc, unsigned attempts)
{
  _cleanup_free_ char *origin = http_origin(url);
  const char *detail = conn->errbuf[0] ? conn->errbuf : curl_easy_strerror(rc);
  char tries[64] = "";
  const char *o = origin ? origin : url;

  if (attempts > 1)
    snprintf(tries, sizeof tries, " (gave up after %u attempts)", attempts);
  switch (rc) {
  case CURLE_PEER_FAILED_VERIFICATION:
    return http_conn_fail(conn, EPERM,
                          "TLS certificate verification failed for %s: %s: use "
                          "--cacert FILE with the engine's CA, or --insecure",
                          o, detail);
  case CURLE_SSL_CACERT_BADFILE:
    return http_conn_fail(
        conn, EINVAL, "cannot use the CA file %s for %s: %s",
        conn->client->cacert ? conn->client->cacert : "(system)", o, detail);
  case CURLE_COULDNT_RESOLVE_HOST:
    return http_conn_fail(conn, EHOSTUNREACH,
                          "cannot resolve the host of %s: %s: check the URL", o,
                          detail);
  case CURLE_COULDNT_CONNECT:
    return http_conn_fail(
        conn, ECONNREFUSED,
        "cannot connect to %s%s: %s: check the host and port, "
        "and that the server is running",
        o, tries, detail);
  case CURLE_OPERATION_TIMEDOUT:
    return http_conn_fail(conn, ETIMEDOUT, "%s %s: timed out%s: %s", method,
                          url, tries, detail);
  case CURLE_SSL_CONNECT_ERROR:
    return http_conn_fail(conn, EPROTO,
                          "TLS handshake with %s failed%s: %s: check that the "
                          "port serves https",
                          o, tries, detail);
  default:
    return http_conn_fail(conn, EIO, "%s %s: %s%s", method, url, detail, tries);
  }
}

void http_retry_init(struct retry_state *rs, const struct http_options *o)
{
  rs->opts = o;
  rs->attempts = 0;
  rs->started = now_seconds();
  rs->delay = o->retry_delay;
}

void http_retry_progress(struct retry_state *rs)
{
  rs->attempts = 0;
  rs->started = now_seconds();
  rs->delay = rs->opts->retry_delay;
}

/* Waits before the next try, or returns false when out of tries. */
bool http_retry_wait(struct retry_state *rs)
{
  double left;

  if (rs->attempts >= rs->opts->max_attempts)
    return false;
  left = rs->opts->retry_budget - (now_seconds() - rs->started);
  if (left <= 0)
    return false;
  sleep_seconds(MIN(rs->delay, left));
  rs->delay *= 2;
  return true;
}

int http_range_fail_reply(struct http_conn *conn, const char *url,
                          uint64_t first, uint64_t last)
{
  if (conn->status == 200)
    return http_conn_fail(conn, EPROTO,
                          "GET %s: the server ignored the Range header "
                          "(bytes=%" PRIu64 "-%" PRIu64 ") and sent the whole "
                          "resource; it cannot be read in parallel",
                          url, first, last);
  if (conn->status == 206 && !conn->have_range)
    return http_conn_fail(conn, EPROTO,
                          "GET %s: a 206 reply for bytes=%" PRIu64 "-%" PRIu64
                          " has no valid Content-Range header",
                          url, first, last);
  if (conn->status == 206)
    return http_conn_fail(conn, EPROTO,
                          "GET %s: asked for bytes %" PRIu64 "-%" PRIu64
                          " but the server sent bytes %" PRIu64 "-%" PRIu64,
                          url, first, last, conn->range_first,
                          conn->range_last);
  return http_fail_status(conn, "GET", url, conn->status, conn->reason,
                          conn->err_body);
}

int http_get_range(struct http_conn *conn, const char *url, void *buf,
                   size_t len, uint64_t offset, uint64_t *ret_total)
{
  const struct http_options *o = &conn->client->opts;
  CURL *h = conn->easy;
  struct retry_state rs;
  size_t done = 0;
  CURLcode rc = CURLE_OK;
  char range[64];

  if (ret_total)
    *ret_total = UINT64_MAX;
  if (len == 0)
    return 0;
  if (offset + len < offset)
    return http_conn_fail(conn, EINVAL, "GET %s: range out of bounds", url);
  http_stream_abandon(conn);
  http_retry_init(&rs, o);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, conn->get_headers);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 0L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_limit);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->low_speed_time);

  for (;;) {
    uint64_t first = offset + done, last = offset + len - 1;
    size_t before = done;
    bool transient;

    rs.attempts++;
    http_attempt_reset(conn);
    conn->sink = SINK_RANGE;
    conn->buf = (char *)buf + done;
    conn->buf_cap = len - done;
    conn->got = 0;
    snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, first, last);
    curl_easy_setopt(h, CURLOPT_RANGE, range);
    rc = conn_perform(conn);
    if (conn->status)
      atomic_store(&conn->client->reached, true);
    /* Only bytes of a good partial reply count, even if cut short. */
    if (conn->status == 206 && conn->have_range && conn->range_first == first &&
        conn->range_last == last)
      done += conn->got;
    else if (conn->status == 200 && first == 0)
      done += conn->got;
    conn->buf = NULL;

    if (rc == CURLE_WRITE_ERROR && conn->overflow) {
      if (conn->status == 200)
        return http_range_fail_reply(conn, url, first, last);
      return http_conn_fail(conn, EPROTO,
                            "GET %s: the server sent more than the %zu bytes "
                            "asked for",
                            url, len - before);
    }
    if (rc == CURLE_OK) {
      bool ok_range = conn->status == 206 && conn->have_range &&
                      conn->range_first == first && conn->range_last == last;
      bool ok_whole = conn->status == 200 && first == 0;
      if (ok_range || ok_whole) {
        if (done == len) {
          if (ret_total && conn->have_range && conn->range_total_known)
            *ret_total = conn->range_total;
          else if (ret_total && ok_whole)
            *ret_total = len;
          return 0;
        }
        /* A reply without Content-Length that ended early. */
        transient = true;
      } else if (http_status_transient(conn->status)) {
        transient = true;
      } else {
        return http_range_fail_reply(conn, url, first, last);
      }
    } else {
      transient = http_curl_transient(conn, rc);
      if (!transient)
        return http_fail_curl(conn, "GET", url, rc, rs.attempts);
    }
    if (done > before)
      http_retry_progress(&rs);
    if (!http_retry_wait(&rs)) {
      if (rc != CURLE_OK)
        return http_fail_curl(conn, "GET", url, rc, rs.attempts);
      if (http_status_transient(conn->status))
        return http_fail_status(conn, "GET", url, conn->status, conn->reason,
                                conn->err_body);
      return http_conn_fail(conn, EIO,
                            "GET %s: the reply ended after %zu of %zu bytes "
                            "(gave up after %u attempts)",
                            url, done, len, rs.attempts);
    }
  }
}

void http_response_clear(struct http_response *resp)
{
  free(resp->body);
  memset(resp, 0, sizeof *resp);
}

/* One request with an optional body (already encoded) and the headers
 * given; see http_request(). */
static int perform_request(struct http_conn *conn, const char *method,
                           const char *url, const char *payload,
                           struct curl_slist *headers, size_t body_max,
                           struct http_response *resp)
{
  const struct http_options *o = &conn->client->opts;
  CURL *h = conn->easy;
  struct retry_state rs;
  bool is_get = streq(method, "GET"), is_post = streq(method, "POST");
  CURLcode rc;

  memset(resp, 0, sizeof *resp);
  http_stream_abandon(conn);
  http_retry_init(&rs, o);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_RANGE, NULL);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, o->request_timeout);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 0L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 0L);
  if (payload) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, payload);
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
                   is_get || (is_post && payload) ? NULL : method);

  for (;;) {
    bool transient;

    rs.attempts++;
    http_attempt_reset(conn);
    conn->sink = SINK_BODY;
    conn->buf = NULL;
    conn->buf_cap = body_max;
    conn->got = 0;
    conn->body_alloc = 0;
    rc = conn_perform(conn);
    if (conn->status)
      atomic_store(&conn->client->reached, true);
    if (rc == CURLE_WRITE_ERROR && conn->overflow) {
      free(conn->buf);
      conn->buf = NULL;
      return http_conn_fail(conn, EFBIG,
                            "%s %s: the reply is larger than %zu bytes", method,
                            url, body_max);
    }
    if (rc == CURLE_OK && !http_status_transient(conn->status)) {
      resp->status = conn->status;
      resp->body = conn->buf;
      resp->body_len = conn->got;
      conn->buf = NULL;
      return 0;
    }
    if (conn->buf)
      snprintf(conn->err_body, sizeof conn->err_body, "%s", conn->buf);
    free(conn->buf);
    conn->buf = NULL;
    if (rc == CURLE_OK)
      transient = true;
    else if (is_post && !conn->retry_post && rc != CURLE_COULDNT_CONNECT)
      transient = false;
    else
      transient = http_curl_transient(conn, rc);
    if (!transient || !http_retry_wait(&rs)) {
      if (rc != CURLE_OK)
        return http_fail_curl(conn, method, url, rc, rs.attempts);
      return http_fail_status(conn, method, url, conn->status, conn->reason,
                              conn->err_body);
    }
  }
}

int http_request(struct http_conn *conn, const char *method, const char *url,
                 json_t *body, size_t body_max, struct http_response *resp)
{
  _cleanup_free_ char *payload = NULL;

  memset(resp, 0, sizeof *resp);
  if (body && !(payload = json_dumps(body, JSON_COMPACT)))
    return error_set(ENOMEM, "out of memory");
  return perform_request(conn, method, url, payload, conn->json_headers,
                         body_max, resp);
}

int http_post_form(struct http_conn *conn, const char *url, const char *form,
                   size_t body_max, struct http_response *resp)
{
  struct curl_slist *headers = NULL, *next;
  static const char *const lines[] = {
      "Content-Type: application/x-www-form-urlencoded",
      "Accept: application/json",
      "Expect:",
  };
  size_t i;
  int r;

  memset(resp, 0, sizeof *resp);
  for (i = 0; i < ARRAY_SIZE(lines); i++) {
    next = curl_slist_append(headers, lines[i]);
    if (!next) {
      curl_slist_free_all(headers);
      return error_set(ENOMEM, "out of memory");
    }
    headers = next;
  }
  r = perform_request(conn, "POST", url, form, headers, body_max, resp);
  /* The handle must not keep a pointer to the list or to the body. */
  curl_easy_setopt(conn->easy, CURLOPT_HTTPHEADER, conn->json_headers);
  curl_easy_setopt(conn->easy, CURLOPT_POSTFIELDSIZE, 0L);
  curl_easy_setopt(conn->easy, CURLOPT_COPYPOSTFIELDS, "");
  curl_slist_free_all(headers);
  return r;
}

int http_conn_add_header(struct http_conn *conn, const char *header)
{
  struct curl_slist *next = curl_slist_append(conn->json_headers, header);

  if (!next)
    return error_set(ENOMEM, "out of memory");
  conn->json_headers = next;
  return 0;
}

void http_conn_set_retry_post(struct http_conn *conn, bool on)
{
  conn->retry_post = on;
}

char *http_escape(const char *s)
{
  static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";
  size_t n = 0;
  const char *p;
  char *out, *o;

  for (p = s; *p; p++)
    n += strchr(safe, *p) ? 1 : 3;
  out = malloc(n + 1);
  if (!out)
    return NULL;
  for (p = s, o = out; *p; p++) {
    if (strchr(safe, *p)) {
      *o++ = *p;
    } else {
      sprintf(o, "%%%02X", (unsigned char)*p);
      o += 3;
    }
  }
  *o = 0;
  return out;
}

int http_json(struct http_conn *conn, const char *method, const char *url,
              json_t *body, size_t body_max, json_t **ret_json)
{
  struct http_response resp;
  json_error_t jerr;
  json_t *j;
  int r;

  if (ret_json)
    *ret_json = NULL;
  r = http_request(conn, method, url, body, body_max, &resp);
  if (r < 0)
    return r;
  if (resp.status < 200 || resp.status > 299) {
    r = http_status_error(conn, method, url, &resp);
    http_response_clear(&resp);
    return r;
  }
  if (!ret_json || resp.body_len == 0) {
    http_response_clear(&resp);
    return 0;
  }
  j = json_loadb(resp.body, resp.body_len, 0, &jerr);
  http_response_clear(&resp);
  if (!j)
    return http_conn_fail(conn, EPROTO,
                          "%s %s: the reply is not valid JSON: %s (line %d)",
                          method, url, jerr.text, jerr.line);
  *ret_json = j;
  return 0;
}
