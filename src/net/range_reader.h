/* A fast path for range GETs of large bodies: HTTP/1.1 over OpenSSL,
 * the body decrypted straight into the caller's buffer.
 *
 * libcurl costs a copy of every byte (its buffer, then the write
 * callback), a poll per TLS record and two reads per record; this reader
 * reads ahead (one recv for many records) and has no copy of its own;
 * on TLS 1.3 it reads the records itself, without OpenSSL's copies
 * (net/tls_records.h).
 * It does only the plain case: a 206 reply with exactly the range asked
 * for, on a kept-alive connection. Anything else (a failure to connect or
 * to verify the server, another status, a reply cut short, a reply it does
 * not understand) ends the call early and closes the connection, and the
 * caller reads the rest through the full client (net/http.h), which
 * retries, resumes and reports. So this reader sets no error and prints
 * nothing; it only tells how far it got.
 *
 * TLS verification is as strict as the full client's: the CA file (or the
 * system's CAs), the host name or IP address, TLS 1.2 or later; `insecure`
 * turns verification off by name.
 */
#ifndef HOIST_NET_RANGE_READER_H
#define HOIST_NET_RANGE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct range_client;
struct range_conn;

/* For url (https://HOST[:PORT]/PATH, no user info or query). Fails
 * (negative errno, no message) where the fast path cannot be used, such
 * as when a proxy is configured in the environment. */
int range_client_new(const char *url, const char *cacert, bool insecure,
                     struct range_client **ret);
void range_client_free(struct range_client *c);

int range_conn_new(struct range_client *c, struct range_conn **ret);
void range_conn_free(struct range_conn *conn);

/* Sends "NAME: VALUE" with every request from now on (one such header
 * per connection, replaced by the next call; VALUE may be a credential:
 * it is wiped when replaced or freed, and never shown). -EINVAL when
 * either holds a line break. */
int range_conn_set_header(struct range_conn *conn, const char *name,
                          const char *value);

/* False once reads through conn's client fell short a few times in a
 * row (a server the fast path does not suit): range_get() then returns
 * 0 at once, and callers go straight to the full client. */
bool range_conn_usable(const struct range_conn *conn);

/* Reads [offset, offset+len) into buf, as part of a GET of [offset, end)
 * that stays open: a next call at offset+len goes on with it without a
 * new request. Returns how many bytes it put in buf (len when all went
 * well); on anything short of that the connection is closed. */
size_t range_get(struct range_conn *conn, void *buf, size_t len,
                 uint64_t offset, uint64_t end);

/* Where the open GET of a connection goes on, or UINT64_MAX. */
uint64_t range_conn_next(const struct range_conn *conn);

/* The head of a reply (status line and headers, up to and without the
 * blank line), as far as the fast path cares. */
struct range_head {
  int status;
  bool have_range, have_length, chunked, close;
  uint64_t first, last, length;
};

/* Parses a reply head; 0, or -EPROTO when it is malformed. */
int range_parse_head(const char *buf, size_t len, struct range_head *out);

#endif
