/* Streaming range GETs (see http_get_stream() in http.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_internal.h"
#include "util/cleanup.h"
#include "util/error.h"

/* The reply of a streaming GET is good if it is the range asked for (or
 * the whole resource, when that is what was asked for). */
static bool stream_reply_ok(const struct http_conn *conn)
{
  if (conn->status == 206)
    return conn->have_range && conn->range_first == conn->s_start &&
           conn->range_last == conn->s_end - 1;
  return conn->status == 200 && conn->s_start == 0;
}

size_t http_stream_write(struct http_conn *conn, const char *data, size_t len)
{
  size_t drop, avail, room, n;

  if (conn->status < 200 || conn->status > 299) {
    http_keep_error_body(conn, data, len);
    return len;
  }
  if (!stream_reply_ok(conn)) {
    conn->s_bad = true;
    return 0;
  }
  /* After a pause, curl hands the same bytes again: skip those taken. */
  drop = MIN(conn->skip, len);
  conn->skip -= drop;
  avail = len - drop;
  if (avail > conn->s_end - conn->s_next) {
    conn->overflow = true;
    return 0;
  }
  room = conn->buf_cap - conn->got;
  n = MIN(avail, room);
  memcpy(conn->buf + conn->got, data + drop, n);
  conn->got += n;
  conn->s_next += n;
  if (n < avail) {
    conn->skip = drop + n;
    return CURL_WRITEFUNC_PAUSE;
  }
  return len;
}

void http_stream_abandon(struct http_conn *conn)
{
  if (conn->in_multi)
    curl_multi_remove_handle(conn->multi, conn->easy);
  conn->in_multi = false;
  conn->skip = 0;
  free(conn->s_url);
  conn->s_url = NULL;
}

uint64_t http_conn_stream_next(const struct http_conn *conn)
{
  return conn->in_multi && !conn->s_done ? conn->s_next : UINT64_MAX;
}

/* Starts a GET of [s_next, s_end) on the multi handle. */
static int stream_start(struct http_conn *conn, const char *url)
{
  const struct http_options *o = &conn->client->opts;
  CURL *h = conn->easy;
  char range[64];

  if (!conn->multi && !(conn->multi = curl_multi_init()))
    return error_set(ENOMEM, "cannot create a libcurl multi handle");
  if (!conn->s_url && !(conn->s_url = strdup(url)))
    return error_set(ENOMEM, "out of memory");
  http_attempt_reset(conn);
  conn->s_start = conn->s_next;
  conn->s_done = conn->s_bad = false;
  conn->s_result = CURLE_OK;
  conn->skip = 0;
  snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, conn->s_start,
           conn->s_end - 1);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, conn->get_headers);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 0L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_limit);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->low_speed_time);
  curl_easy_setopt(h, CURLOPT_RANGE, range);
  if (curl_multi_add_handle(conn->multi, h) != CURLM_OK)
    return error_set(EIO, "cannot start a libcurl transfer");
  conn->in_multi = true;
  return 0;
}

/* Drives the transfer until the buffer is full or the GET ends. */
static int stream_pump(struct http_conn *conn)
{
  CURLMsg *msg;
  int running, left;

  curl_easy_pause(conn->easy, CURLPAUSE_CONT);
  /* Once the last byte is in, run on to the end of the reply, so that
   * the connection stays open for the next request. */
  while ((conn->got < conn->buf_cap || conn->s_next == conn->s_end) &&
         !conn->s_done) {
    if (curl_multi_perform(conn->multi, &running) != CURLM_OK)
      return error_set(EIO, "libcurl multi handle failed");
    while ((msg = curl_multi_info_read(conn->multi, &left)))
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == conn->easy) {
        conn->s_done = true;
        conn->s_result = msg->data.result;
      }
    if (conn->s_done ||
        (conn->got >= conn->buf_cap && conn->s_next < conn->s_end))
      break;
    if (curl_multi_poll(conn->multi, NULL, 0, 1000, NULL) != CURLM_OK)
      return error_set(EIO, "libcurl multi handle failed");
  }
  if (conn->status)
    atomic_store(&conn->client->reached, true);
  return 0;
}

int http_get_stream(struct http_conn *conn, const char *url, void *buf,
                    size_t len, uint64_t offset, uint64_t end)
{
  struct retry_state rs;
  uint64_t stop = offset + len;
  int r;

  if (len == 0)
    return 0;
  if (stop < offset || end < stop)
    return http_conn_fail(conn, EINVAL, "GET %s: range out of bounds", url);
  /* Go on with the open GET if it is at offset and covers the range. */
  if (!(conn->in_multi && !conn->s_done && conn->s_next == offset &&
        stop <= conn->s_end && streq(conn->s_url, url)))
    http_stream_abandon(conn);
  http_retry_init(&rs, &conn->client->opts);
  conn->sink = SINK_STREAM;
  conn->buf = buf;
  conn->buf_cap = len;
  conn->got = 0;
  for (;;) {
    uint64_t before = conn->s_next;
    bool transient;

    if (!conn->in_multi) {
      conn->s_next = offset + conn->got;
      conn->s_end = end;
      rs.attempts++;
      if ((r = stream_start(conn, url)) < 0)
        break;
    }
    if ((r = stream_pump(conn)) < 0)
      break;
    if (conn->got == len && !conn->overflow) {
      if (conn->s_done)
        http_stream_abandon(conn); /* complete: the connection is reusable */
      conn->buf = NULL;
      return 0;
    }
    /* Too much, or the GET ended before the buffer was full. */
    if (conn->overflow && conn->status == 200) {
      r = http_range_fail_reply(conn, url, conn->s_start, conn->s_end - 1);
      break;
    }
    if (conn->overflow) {
      r = http_conn_fail(conn, EPROTO,
                         "GET %s: the server sent more than the %" PRIu64
                         " bytes asked for",
                         url, conn->s_end - conn->s_start);
      break;
    }
    if (conn->s_bad) {
      r = http_range_fail_reply(conn, url, conn->s_start, conn->s_end - 1);
      break;
    }
    if (conn->s_result == CURLE_OK) {
      transient = stream_reply_ok(conn) || http_status_transient(conn->status);
      if (!transient) {
        r = http_fail_status(conn, "GET", url, conn->status, conn->reason,
                             conn->err_body);
        break;
      }
    } else {
      transient = http_curl_transient(conn, conn->s_result);
      if (!transient) {
        r = http_fail_curl(conn, "GET", url, conn->s_result, rs.attempts);
        break;
      }
    }
    http_stream_abandon(conn);
    if (conn->s_next > before)
      http_retry_progress(&rs);
    if (!http_retry_wait(&rs)) {
      if (conn->s_result != CURLE_OK)
        r = http_fail_curl(conn, "GET", url, conn->s_result, rs.attempts);
      else if (http_status_transient(conn->status))
        r = http_fail_status(conn, "GET", url, conn->status, conn->reason,
                             conn->err_body);
      else
        r = http_conn_fail(conn, EIO,
                           "GET %s: the reply ended at byte %" PRIu64
                           " of %" PRIu64 " (gave up after %u attempts)",
                           url, conn->s_next, conn->s_end, rs.attempts);
      break;
    }
  }
  http_stream_abandon(conn);
  conn->buf = NULL;
  return r;
}
