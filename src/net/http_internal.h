/* Internals of the HTTP client shared by http.c (client, connections,
 * plain and range requests, errors, retries) and http_stream.c
 * (streaming range GETs). Not for use outside src/net. */
#ifndef HOIST_NET_HTTP_INTERNAL_H
#define HOIST_NET_HTTP_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "net/http.h"

#define MAX_SECRETS 4
#define REASON_MAX 64

struct http_client {
  struct http_options opts;
  char *cacert;
  char *secrets[MAX_SECRETS];
  unsigned nsecrets;
  http_status_advice_fn advice;
  CURLSH *share;
  pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
  /* Set once any request got an HTTP reply: from then on, a refused
   * connection means a server restarting, not a wrong address. */
  atomic_bool reached;
};

/* Where the body of the current reply goes. */
enum sink_kind { SINK_RANGE, SINK_BODY, SINK_STREAM };

struct http_conn {
  struct http_client *client;
  CURL *easy;
  struct curl_slist *json_headers; /* and those added by the caller */
  bool retry_post;
  char errbuf[CURL_ERROR_SIZE];

  /* Per attempt: the reply's status line and headers. */
  long status;
  char reason[REASON_MAX];
  bool have_range;
  uint64_t range_first, range_last, range_total;
  bool range_total_known;

  /* Per attempt: the body. */
  enum sink_kind sink;
  char *buf;      /* SINK_RANGE: caller's buffer; SINK_BODY: growable */
  size_t buf_cap; /* bytes the sink accepts */
  size_t got;
  size_t body_alloc;
  bool overflow;
  /* The body of a non-2xx reply to a range GET. */
  char err_body[HTTP_ERROR_BODY_MAX + 1];
  size_t err_len;

  /* A streaming GET of [s_start, s_end) on the multi handle, of which
   * the bytes before s_next were delivered. While the caller works on
   * them the transfer is paused: the server goes on sending into the
   * socket buffers. */
  CURLM *multi;
  bool in_multi, s_done, s_bad;
  uint64_t s_start, s_next, s_end;
  size_t skip; /* bytes curl delivers again after a pause, already taken */
  CURLcode s_result;
  char *s_url;
};

/* The retry policy of one request: attempts and a time budget, both
 * restarted when a try moved forward. */
struct retry_state {
  const struct http_options *opts;
  unsigned attempts;
  double started, delay;
};

int http_conn_fail(struct http_conn *conn, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int http_fail_status(struct http_conn *conn, const char *method,
                     const char *url, long status, const char *reason,
                     const char *body);
int http_fail_curl(struct http_conn *conn, const char *method, const char *url,
                   CURLcode rc, unsigned attempts);
int http_range_fail_reply(struct http_conn *conn, const char *url,
                          uint64_t first, uint64_t last);
bool http_status_transient(long status);
bool http_curl_transient(struct http_conn *conn, CURLcode rc);
void http_attempt_reset(struct http_conn *conn);
void http_keep_error_body(struct http_conn *conn, const char *data, size_t len);

void http_retry_init(struct retry_state *rs, const struct http_options *o);
void http_retry_progress(struct retry_state *rs);
/* Waits before the next try, or returns false when out of tries. */
bool http_retry_wait(struct retry_state *rs);

/* http_stream.c */
size_t http_stream_write(struct http_conn *conn, const char *data, size_t len);
/* Drops the open GET, if any (closing its connection if unfinished). */
void http_stream_abandon(struct http_conn *conn);

#endif
