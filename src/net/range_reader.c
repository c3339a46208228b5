/* Range GETs over OpenSSL without libcurl (see range_reader.h). */
#include "net/range_reader.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/tls_records.h"
#include "net/url.h"
#include "util/cleanup.h"

#define HEAD_MAX (16 * 1024)
/* One recv takes a few TLS records. Not more: OpenSSL 3.0 moves what is
 * left in its buffer to the front before each record, which costs more
 * than the reads it saves once the buffer outgrows the CPU's cache. */
#define TLS_READ_BUFFER (64 * 1024)
/* A client gives up after this many failed reads in a row (a server that
 * the fast path does not suit): its callers then use the full client. */
#define FAILURES_MAX 4
#define CONNECT_TIMEOUT 30
#define IO_TIMEOUT 60

struct range_client {
  SSL_CTX *ctx;
  bool insecure, is_ip;
  char *host; /* without the brackets of an IPv6 literal */
  char *port;
  char *authority; /* for the Host header */
  char *path;
  atomic_int failures; /* reads in a row that fell short */
};

struct range_conn {
  struct range_client *client;
  int fd;
  SSL *ssl;
  /* The open reply's body: bytes before next were taken; it ends at end
   * (next == end: none open). */
  uint64_t next, end;
  bool close_after;
  char *header; /* "NAME: VALUE\r\n" or NULL */
  /* TLS 1.3: the secret from the handshake, then the records read here
   * (net/tls_records.h); NULL: read with SSL_read. */
  struct tls_secret secret;
  struct tls_records *records;
  /* Bytes read with the head that belong to the body. */
  char head[HEAD_MAX];
  size_t hpos, hlen;
};

static bool proxy_configured(void)
{
  static const char *const vars[] = {"https_proxy", "HTTPS_PROXY", "all_proxy",
                                     "ALL_PROXY"};
  size_t i;

  for (i = 0; i < ARRAY_SIZE(vars); i++) {
    const char *v = getenv(vars[i]);
    if (v && *v)
      return true;
  }
  return false;
}

static int split_url(struct range_client *c, const char *url)
{
  _cleanup_(url_parts_free) struct url_parts p = {0};
  unsigned char addr[sizeof(struct in6_addr)];
  int r;

  r = url_split(url, URL_DEFAULT_PORT, &p);
  if (r < 0)
    return r;
  if (!streq(p.scheme, "https") || p.user || p.query)
    return -EINVAL;
  if (p.host[0] == '[') {
    c->host = strndup(p.host + 1, strlen(p.host) - 2);
  } else {
    c->host = strdup(p.host);
  }
  c->port = strdup(p.port);
  c->path = strdup(p.path);
  if (!c->host || !c->port || !c->path ||
      asprintf(&c->authority, "%s:%s", p.host, p.port) < 0) {
    c->authority = NULL;
    return -ENOMEM;
  }
  c->is_ip = inet_pton(AF_INET, c->host, addr) == 1 ||
             inet_pton(AF_INET6, c->host, addr) == 1;
  return 0;
}

int range_client_new(const char *url, const char *cacert, bool insecure,
                     struct range_client **ret)
{
  struct range_client *c;
  int r;

  if (proxy_configured())
    return -ENOTSUP;
  c = calloc(1, sizeof *c);
  if (!c)
    return -ENOMEM;
  c->insecure = insecure;
  r = split_url(c, url);
  if (r == 0 && !(c->ctx = SSL_CTX_new(TLS_client_method())))
    r = -ENOMEM;
  if (r == 0 && !SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION))
    r = -ENOTSUP;
  if (r == 0 && !insecure &&
      !(cacert ? SSL_CTX_load_verify_locations(c->ctx, cacert, NULL)
               : SSL_CTX_set_default_verify_paths(c->ctx)))
    r = -ENOENT;
  if (r < 0) {
    range_client_free(c);
    return r;
  }
  SSL_CTX_set_verify(c->ctx, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                     NULL);
  SSL_CTX_set_mode(c->ctx, SSL_MODE_AUTO_RETRY);
  SSL_CTX_set_read_ahead(c->ctx, 1);
  SSL_CTX_set_keylog_callback(c->ctx, tls_records_keylog);
  SSL_CTX_set_default_read_buffer_len(c->ctx, TLS_READ_BUFFER);
  *ret = c;
  return 0;
}

void range_client_free(struct range_client *c)
{
  if (!c)
    return;
  SSL_CTX_free(c->ctx);
  free(c->host);
  free(c->port);
  free(c->authority);
  free(c->path);
  free(c);
}

int range_conn_new(struct range_client *c, struct range_conn **ret)
{
  struct range_conn *conn = calloc(1, sizeof *conn);

  if (!conn)
    return -ENOMEM;
  conn->client = c;
  conn->fd = -1;
  *ret = conn;
  return 0;
}

static void conn_close(struct range_conn *conn)
{
  tls_records_free(conn->records);
  conn->records = NULL;
  OPENSSL_cleanse(&conn->secret, sizeof conn->secret);
  if (conn->ssl)
    SSL_free(conn->ssl);
  conn->ssl = NULL;
  if (conn->fd >= 0)
    close(conn->fd);
  conn->fd = -1;
  conn->next = conn->end = 0;
  conn->hpos = conn->hlen = 0;
}

static void wipe_header(struct range_conn *conn)
{
  if (conn->header)
    explicit_bzero(conn->header, strlen(conn->header));
  free(conn->header);
  conn->header = NULL;
}

void range_conn_free(struct range_conn *conn)
{
  if (!conn)
    return;
  conn_close(conn);
  wipe_header(conn);
  free(conn);
}

int range_conn_set_header(struct range_conn *conn, const char *name,
                          const char *value)
{
  char *line;

  if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
    return -EINVAL;
  if (asprintf(&line, "%s: %s\r\n", name, value) < 0)
    return -ENOMEM;
  wipe_header(conn);
  conn->header = line;
  return 0;
}

bool range_conn_usable(const struct range_conn *conn)
{
  return conn && atomic_load(&conn->client->failures) < FAILURES_MAX;
}

uint64_t range_conn_next(const struct range_conn *conn)
{
  return conn->ssl && conn->next < conn->end ? conn->next : UINT64_MAX;
}

static void set_timeout(int fd, int opt, int seconds)
{
  struct timeval tv = {.tv_sec = seconds};

  setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

static int tcp_connect(const struct range_client *c)
{
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai, *p;
  int fd = -1, one = 1;

  if (getaddrinfo(c->host, c->port, &hints, &ai) != 0)
    return -1;
  for (p = ai; p; p = p->ai_next) {
    fd = socket(p->ai_family, SOCK_STREAM | SOCK_CLOEXEC, p->ai_protocol);
    if (fd < 0)
      continue;
    set_timeout(fd, SO_SNDTIMEO, CONNECT_TIMEOUT); /* connect() too */
    if (connect(fd, p->ai_addr, p->ai_addrlen) == 0)
      break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(ai);
  if (fd < 0)
    return -1;
  set_timeout(fd, SO_SNDTIMEO, IO_TIMEOUT);
  set_timeout(fd, SO_RCVTIMEO, IO_TIMEOUT);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static bool conn_open(struct range_conn *conn)
{
  const struct range_client *c = conn->client;

  conn->fd = tcp_connect(c);
  if (conn->fd < 0)
    return false;
  conn->ssl = SSL_new(c->ctx);
  if (!conn->ssl || !SSL_set_fd(conn->ssl, conn->fd))
    return false;
  if (!c->is_ip && !SSL_set_tlsext_host_name(conn->ssl, c->host))
    return false;
  if (!c->insecure && !(c->is_ip ? X509_VERIFY_PARAM_set1_ip_asc(
                                       SSL_get0_param(conn->ssl), c->host)
                                 : SSL_set1_host(conn->ssl, c->host)))
    return false;
  /* Nothing read ahead during the handshake: what follows it is left in
   * the socket for tls_records to take. */
  SSL_set_app_data(conn->ssl, &conn->secret);
  SSL_set_read_ahead(conn->ssl, 0);
  if (SSL_connect(conn->ssl) != 1 ||
      (!c->insecure && SSL_get_verify_result(conn->ssl) != X509_V_OK))
    return false;
  if (tls_records_new(conn->ssl, conn->fd, &conn->secret, &conn->records) < 0) {
    conn->records = NULL;
    SSL_set_read_ahead(conn->ssl, 1);
  }
  return true;
}

/* Plaintext from the connection: > 0 bytes, or <= 0 when it ended. */
static int conn_read(struct range_conn *conn, void *buf, size_t len)
{
  len = MIN(len, (size_t)1 << 30);
  if (conn->records)
    return (int)tls_records_read(conn->records, buf, len);
  return SSL_read(conn->ssl, buf, (int)len);
}

/* ---- the reply head ---- */

static bool parse_u64(const char *s, const char *e, uint64_t *ret)
{
  uint64_t v = 0;

  if (s == e)
    return false;
  for (; s < e; s++) {
    if (!isdigit((unsigned char)*s) || v > (UINT64_MAX - 9) / 10)
      return false;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *ret = v;
  return true;
}

static bool name_is(const char *s, size_t n, const char *name)
{
  return n == strlen(name) && strncasecmp(s, name, n) == 0;
}

/* "bytes FIRST-LAST/TOTAL" (TOTAL may be "*"). */
static bool parse_content_range(const char *v, const char *e,
                                struct range_head *h)
{
  const char *dash, *slash;
  uint64_t total;

  if (e - v < 6 || strncasecmp(v, "bytes ", 6) != 0)
    return false;
  v += 6;
  dash = memchr(v, '-', e - v);
  slash = dash ? memchr(dash, '/', e - dash) : NULL;
  if (!slash || !parse_u64(v, dash, &h->first) ||
      !parse_u64(dash + 1, slash, &h->last) || h->last < h->first)
    return false;
  if (!(e - slash == 2 && slash[1] == '*') &&
      (!parse_u64(slash + 1, e, &total) || total <= h->last))
    return false;
  h->have_range = true;
  return true;
}

static bool parse_header(const char *s, const char *e, struct range_head *h)
{
  const char *colon = memchr(s, ':', e - s);
  const char *v;

  if (!colon || colon == s || isspace((unsigned char)*s))
    return false;
  for (v = colon + 1; v < e && (*v == ' ' || *v == '\t'); v++)
    ;
  while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
    e--;
  if (name_is(s, colon - s, "content-range"))
    return parse_content_range(v, e, h);
  if (name_is(s, colon - s, "content-length")) {
    if (h->have_length || !parse_u64(v, e, &h->length))
      return false;
    h->have_length = true;
  } else if (name_is(s, colon - s, "transfer-encoding")) {
    h->chunked = true; /* any coding: not the plain case */
  } else if (name_is(s, colon - s, "connection")) {
    if (e - v == 5 && strncasecmp(v, "close", 5) == 0)
      h->close = true;
  }
  return true;
}

int range_parse_head(const char *buf, size_t len, struct range_head *out)
{
  const char *p = buf, *end = buf + len, *eol;
  uint64_t status;

  memset(out, 0, sizeof *out);
  eol = memchr(p, '\n', len);
  if (!eol)
    eol = end;
  /* "HTTP/1.x SSS reason" */
  if (eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 ||
      !isdigit((unsigned char)p[7]) || p[8] != ' ' ||
      !parse_u64(p + 9, p + 12, &status) ||
      (eol - p > 12 && p[12] != ' ' && p[12] != '\r'))
    return -EPROTO;
  out->status = (int)status;
  while (eol < end) {
    const char *line = eol + 1, *le;
    eol = memchr(line, '\n', end - line);
    if (!eol)
      eol = end;
    le = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
    if (le == line)
      continue; /* the blank line that ends the head */
    if (!parse_header(line, le, out))
      return -EPROTO;
  }
  return 0;
}

/* ---- requests ---- */

/* Reads until the blank line; keeps what follows it in conn->head. */
static bool read_head(struct range_conn *conn, struct range_head *h)
{
  char *blank = NULL;

  conn->hpos = conn->hlen = 0;
  while (!blank) {
    int n = (int)(HEAD_MAX - conn->hlen);
    if (n == 0)
      return false;
    n = conn_read(conn, conn->head + conn->hlen, (size_t)n);
    if (n <= 0)
      return false;
    conn->hlen += n;
    blank = memmem(conn->head, conn->hlen, "\r\n\r\n", 4);
  }
  conn->hpos = blank + 4 - conn->head;
  return range_parse_head(conn->head, blank + 2 - conn->head, h) == 0;
}

static bool start_get(struct range_conn *conn, uint64_t offset, uint64_t end)
{
  const struct range_client *c = conn->client;
  struct range_head h;
  char req[16384];
  bool sent;
  int n;

  if (!conn->ssl && !conn_open(conn))
    return false;
  n = snprintf(req, sizeof req,
               "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hoist\r\n"
               "Accept: */*\r\n%sRange: bytes=%" PRIu64 "-%" PRIu64 "\r\n\r\n",
               c->path, c->authority, conn->header ? conn->header : "", offset,
               end - 1);
  sent = n > 0 && (size_t)n < sizeof req && SSL_write(conn->ssl, req, n) == n;
  explicit_bzero(req, sizeof req); /* it may hold a credential */
  if (!sent)
    return false;
  if (!read_head(conn, &h))
    return false;
  if (h.status != 206 || !h.have_range || h.first != offset ||
      h.last != end - 1 || h.chunked || !h.have_length ||
      h.length != end - offset || conn->hlen - conn->hpos > h.length)
    return false;
  conn->next = offset;
  conn->end = end;
  conn->close_after = h.close;
  return true;
}

static size_t read_body(struct range_conn *conn, char *buf, size_t len)
{
  size_t got = 0;

  while (got < len) {
    size_t n = conn->hlen - conn->hpos;
    if (n) {
      n = MIN(n, len - got);
      memcpy(buf + got, conn->head + conn->hpos, n);
      conn->hpos += n;
    } else {
      int r = conn_read(conn, buf + got, len - got);
      if (r <= 0)
        break;
      n = r;
    }
    got += n;
    conn->next += n;
  }
  return got;
}

size_t range_get(struct range_conn *conn, void *buf, size_t len,
                 uint64_t offset, uint64_t end)
{
  sigset_t pipe, old;
  size_t got = 0;

  if (len == 0 || end < offset + len || !range_conn_usable(conn))
    return 0;
  /* OpenSSL writes to the socket with write(): a server gone would kill
   * the process with SIGPIPE. Blocked here, and a pending one taken. */
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  if (conn->next < conn->end &&
      !(conn->next == offset && offset + len <= conn->end))
    conn_close(conn); /* another place: the open reply is given up */
  if (conn->next < conn->end) {
    got = read_body(conn, buf, len);
  } else {
    bool reused = conn->ssl;
    bool ok = start_get(conn, offset, end);
    /* The server may have closed an idle connection: once more, anew. */
    if (!ok && reused) {
      conn_close(conn);
      ok = start_get(conn, offset, end);
    }
    if (ok)
      got = read_body(conn, buf, len);
  }
  if (got < len || (conn->next == conn->end && conn->close_after))
    conn_close(conn);
  /* Failures leave OpenSSL's per-thread error queue to libcurl, which
   * takes the rest and must not report ours. */
  if (got < len) {
    ERR_clear_error();
    atomic_fetch_add(&conn->client->failures, 1);
  } else {
    atomic_store(&conn->client->failures, 0);
  }
  {
    struct timespec zero = {0};
    sigset_t pending;
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) &&
        !sigismember(&old, SIGPIPE))
      sigtimedwait(&pipe, NULL, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return got;
}
