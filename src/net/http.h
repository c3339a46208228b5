/* A small HTTP(S) client on libcurl, for data paths that read disks by
 * range (oVirt imageio, later Glance, vSphere /folder, KubeVirt export).
 *
 * A client holds the settings that every connection shares: TLS trust
 * (verification is on unless `insecure` is set by name), timeouts, the
 * retry policy and a DNS and TLS session cache. A connection (struct
 * http_conn) is one libcurl easy handle: it keeps its TCP/TLS connection
 * alive between requests and must be used by one thread at a time; give
 * each worker thread its own.
 *
 * Transient failures (connection refused or reset, timeouts, 5xx, 408,
 * 429, a body cut short) are retried with exponential backoff within a
 * number of attempts and a time budget; a range GET resumes from the
 * first byte it has not received. Everything else (TLS verification
 * failures, 4xx) fails at once. Every buffer the network fills has a cap.
 *
 * Messages never show credentials: user:password in a URL is never
 * printed, and the caller names secrets (such as a ticket in the path)
 * that messages abbreviate to their first 8 characters.
 */
#ifndef HOIST_NET_HTTP_H
#define HOIST_NET_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_JSON_MAX (16u * 1024 * 1024)
#define HTTP_ERROR_BODY_MAX 1024

struct http_options {
  const char *cacert;    /* PEM file of trusted CAs; NULL: system CAs */
  bool insecure;         /* do not verify the server's certificate */
  long connect_timeout;  /* seconds; 0: 30 */
  long low_speed_time;   /* seconds below low_speed_limit; 0: 60 */
  long low_speed_limit;  /* bytes per second; 0: 1024 */
  long request_timeout;  /* whole small (JSON) requests, s; 0: 120 */
  unsigned max_attempts; /* attempts per request; 0: 6 */
  double retry_budget;   /* seconds for the retries of one request; 0: 60 */
  double retry_delay;    /* first backoff delay, doubled; 0: 1 s */
};

/* Advice appended to a failed request's message for an HTTP status, or
 * NULL (for example "the ticket expired or was cancelled; …" for 403). */
typedef const char *(*http_status_advice_fn)(long status);

struct http_client;
struct http_conn;

struct http_response {
  long status;
  char *body; /* NUL-terminated, capped; NULL if none */
  size_t body_len;
};

int http_client_new(const struct http_options *opts, struct http_client **ret);
void http_client_free(struct http_client *c);

/* Messages show `secret` abbreviated wherever it appears (in URLs and in
 * the server's own error text). */
int http_client_add_secret(struct http_client *c, const char *secret);
void http_client_set_advice(struct http_client *c, http_status_advice_fn fn);

int http_conn_new(struct http_client *c, struct http_conn **ret);
void http_conn_free(struct http_conn *conn);

/* GET url with "Range: bytes=offset-(offset+len-1)" into buf, which gets
 * exactly len bytes (the reply must be 206 with a matching Content-Range,
 * or 200 with exactly len bytes when the range is the whole resource).
 * If ret_total is set, it receives the size after the "/" of
 * Content-Range, or UINT64_MAX when the server did not say. */
int http_get_range(struct http_conn *conn, const char *url, void *buf,
                   size_t len, uint64_t offset, uint64_t *ret_total);

/* As http_get_range(), as part of a longer GET of [offset, end) that stays
 * open: the next call at offset+len (on this connection) goes on with it
 * without a new request, and the server keeps sending while the caller
 * works. A call elsewhere abandons the open GET (closing its connection),
 * so `end` should be where the caller's sequential reading stops; with
 * end == offset + len this is a plain range GET on a kept-alive
 * connection. A GET cut short resumes from its first missing byte. */
int http_get_stream(struct http_conn *conn, const char *url, void *buf,
                    size_t len, uint64_t offset, uint64_t end);

/* Where the open GET of a connection goes on, or UINT64_MAX. */
uint64_t http_conn_stream_next(const struct http_conn *conn);

/* A request with an optional JSON body. The reply body (capped at
 * body_max bytes) is returned in resp, whatever the status, once the
 * request completed; transient failures are retried first (POST only
 * when the connection could not be made). Caller frees with
 * http_response_clear(). */
int http_request(struct http_conn *conn, const char *method, const char *url,
                 json_t *body, size_t body_max, struct http_response *resp);
void http_response_clear(struct http_response *resp);

/* POST url with an application/x-www-form-urlencoded body (values escaped
 * with http_escape()), otherwise as http_request(). The body may hold
 * credentials: it never appears in messages. */
int http_post_form(struct http_conn *conn, const char *url, const char *form,
                   size_t body_max, struct http_response *resp);

/* Adds a header ("Name: value") that http_request() and http_json() send
 * on this connection from then on. A header may hold a credential
 * ("Authorization: Bearer …"): headers never appear in messages. */
int http_conn_add_header(struct http_conn *conn, const char *header);

/* With on, http_request() also retries a POST whose connection failed
 * after the request may have reached the server, as for other methods:
 * for actions that are safe to repeat. Off by default. */
void http_conn_set_retry_post(struct http_conn *conn, bool on);

/* s percent-encoded (all but unreserved characters) for a query or form
 * value; caller frees, NULL when out of memory. */
char *http_escape(const char *s);

/* As http_request(), but a non-2xx status is an error (with the server's
 * message and the advice), and a non-empty reply is parsed as JSON into
 * *ret_json (NULL when the body is empty; ret_json may be NULL). */
int http_json(struct http_conn *conn, const char *method, const char *url,
              json_t *body, size_t body_max, json_t **ret_json);

/* Records the error for a completed request whose status the caller does
 * not accept; returns a negative errno. */
int http_status_error(struct http_conn *conn, const char *method,
                      const char *url, const struct http_response *resp);

/* "https://host:port" of a URL (no user info, path or query), for
 * messages; NULL on a malformed URL or out of memory. Caller frees. */
char *http_origin(const char *url);

/* The URL as messages show it: no user info, no query, secrets
 * abbreviated. Caller frees; NULL when out of memory. */
char *http_client_redact(const struct http_client *c, const char *text);

/* Abbreviates secret in a copy of text to its first 8 characters and
 * "..." (a secret of at most 8 characters stays as it is). */
char *http_redact_secret(const char *text, const char *secret);

#endif
