/* oVirt imageio tickets as byte sources (see imageio.h). */
#include "sources/ovirt/imageio.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "disk/disk.h"
#include "net/http.h"
#include "net/range_reader.h"
#include "net/url.h"
#include "util/cleanup.h"
#include "util/error.h"

#define SCHEME_PREFIX "imageio+"
/* The extents of a badly fragmented multi-TiB disk fit in this. */
#define EXTENTS_JSON_MAX (64u * 1024 * 1024)
#define OPTIONS_JSON_MAX (64u * 1024)

/* A data connection: the fast range reader, and the full client for
 * what the fast path does not do (created when first needed). */
struct data_conn {
  struct range_conn *fast;
  struct http_conn *http;
};

struct imageio_source {
  struct bytesource bs;
  struct http_client *client;
  char *url;         /* https://HOST:PORT/images/TICKET */
  bool have_extents; /* else the whole image reads as data */
  struct extent_list extents;
  struct range_client *fast; /* NULL: the full client only */

  /* Idle connections; each concurrent pread takes one of its own. */
  pthread_mutex_t lock;
  struct data_conn **idle;
  unsigned nidle, idle_cap, nconns;
};

/* What this thread asked extents() for last: the copy engine asks for the
 * extents of a work unit, then reads its data in order, so a GET may run
 * on to the end of the unit's data without a new request. */
static _Thread_local struct {
  const struct imageio_source *source;
  uint64_t start, end;
} read_hint;

/* ---- URLs ---- */

static const char *strip_prefix(const char *spec)
{
  if (strncmp(spec, SCHEME_PREFIX, strlen(SCHEME_PREFIX)) == 0)
    return spec + strlen(SCHEME_PREFIX);
  return spec;
}

bool imageio_is_url(const char *spec)
{
  const char *path;

  if (strncmp(spec, SCHEME_PREFIX, strlen(SCHEME_PREFIX)) == 0)
    return true;
  if (strncmp(spec, "https://", 8) != 0)
    return false;
  path = strchr(spec + 8, '/');
  return path && strncmp(path, "/images/", 8) == 0;
}

/* Ticket ids are UUIDs in oVirt; anything beyond URL-safe characters is
 * refused rather than escaped. */
static bool ticket_is_valid(const char *t)
{
  static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";
  return *t && strspn(t, ok) == strlen(t) && !streq(t, ".") && !streq(t, "..");
}

/* Splits the URL into the canonical https URL and the ticket. Messages
 * here cannot name the URL in full: it holds the ticket. */
static int parse_url(const char *spec, char **ret_url, char **ret_ticket)
{
  _cleanup_(url_parts_free) struct url_parts p = {0};
  const char *ticket;
  int r;

  r = url_split(strip_prefix(spec), 0, &p);
  if (r == -ENOMEM)
    return error_set(ENOMEM, "out of memory");
  if (r < 0) {
    _cleanup_free_ char *shown = imageio_display_url(spec);
    return error_set(EINVAL,
                     "%s: not a valid URL; expected "
                     "imageio+https://HOST:PORT/images/TICKET",
                     shown ? shown : "imageio URL");
  }
  ticket = strncmp(p.path, "/images/", 8) == 0 ? p.path + 8 : NULL;
  if (!streq(p.scheme, "https"))
    return error_set(EINVAL,
                     "imageio URL with scheme \"%s\": hoist reads imageio "
                     "tickets over https only",
                     p.scheme);
  if (p.user || p.query || p.fragment) {
    _cleanup_free_ char *shown = imageio_display_url(spec);
    return error_set(EINVAL,
                     "%s: an imageio URL has no user, query or fragment; the "
                     "ticket in the path is the credential",
                     shown ? shown : "imageio URL");
  }
  if (!ticket || !ticket_is_valid(ticket)) {
    _cleanup_free_ char *shown = imageio_display_url(spec);
    return error_set(EINVAL,
                     "%s: expected a path /images/TICKET (the transfer_url or "
                     "proxy_url of an oVirt image transfer)",
                     shown ? shown : "imageio URL");
  }
  if (asprintf(ret_url, "https://%s%s%s/images/%s", p.host, p.port ? ":" : "",
               p.port ? p.port : "", ticket) < 0 ||
      !(*ret_ticket = strdup(ticket)))
    return error_set(ENOMEM, "out of memory");
  return 0;
}

char *imageio_display_url(const char *spec)
{
  const char *url = strip_prefix(spec);
  const char *p = strstr(url, "/images/");
  _cleanup_free_ char *ticket = NULL;
  size_t n;

  if (!p)
    return http_client_redact(NULL, url);
  p += 8;
  n = strcspn(p, "/?#");
  ticket = strndup(p, n);
  if (!ticket)
    return NULL;
  {
    _cleanup_free_ char *clean = http_client_redact(NULL, url);
    return clean ? http_redact_secret(clean, ticket) : NULL;
  }
}

/* ---- connections ---- */

static void data_conn_free(struct data_conn *c)
{
  if (!c)
    return;
  range_conn_free(c->fast);
  http_conn_free(c->http);
  free(c);
}

/* Where the open GET of a connection goes on, or UINT64_MAX. */
static uint64_t data_conn_next(const struct data_conn *c)
{
  if (c->http && http_conn_stream_next(c->http) != UINT64_MAX)
    return http_conn_stream_next(c->http);
  return c->fast ? range_conn_next(c->fast) : UINT64_MAX;
}

static struct data_conn *data_conn_new(struct imageio_source *s)
{
  struct data_conn *c = calloc(1, sizeof *c);

  if (!c) {
    error_set(ENOMEM, "out of memory");
    return NULL;
  }
  if (s->fast && range_conn_new(s->fast, &c->fast) < 0)
    c->fast = NULL;
  if (!c->fast && http_conn_new(s->client, &c->http) < 0) {
    free(c);
    return NULL;
  }
  return c;
}

static void take_idle(struct imageio_source *s, unsigned i,
                      struct data_conn **ret)
{
  *ret = s->idle[i];
  s->idle[i] = s->idle[--s->nidle];
}

/* A connection for a read at offset: the one whose open GET goes on
 * there, else one without an open GET, else a new one (up to twice the
 * readers allowed; past that, one whose open GET is given up). */
static struct data_conn *conn_get(struct imageio_source *s, uint64_t offset)
{
  struct data_conn *conn = NULL;
  unsigned i;

  pthread_mutex_lock(&s->lock);
  for (i = 0; !conn && i < s->nidle; i++)
    if (data_conn_next(s->idle[i]) == offset)
      take_idle(s, i, &conn);
  for (i = 0; !conn && i < s->nidle; i++)
    if (data_conn_next(s->idle[i]) == UINT64_MAX)
      take_idle(s, i, &conn);
  if (!conn && s->nidle && s->nconns >= 2 * MAX(s->bs.max_readers, 1))
    take_idle(s, s->nidle - 1, &conn);
  if (!conn)
    s->nconns++;
  pthread_mutex_unlock(&s->lock);
  if (!conn && !(conn = data_conn_new(s))) {
    pthread_mutex_lock(&s->lock);
    s->nconns--;
    pthread_mutex_unlock(&s->lock);
    return NULL;
  }
  return conn;
}

static void conn_put(struct imageio_source *s, struct data_conn *conn)
{
  pthread_mutex_lock(&s->lock);
  if (s->nidle == s->idle_cap) {
    unsigned cap = s->idle_cap ? s->idle_cap * 2 : 8;
    struct data_conn **p = realloc(s->idle, cap * sizeof *p);
    if (p) {
      s->idle = p;
      s->idle_cap = cap;
    }
  }
  if (s->nidle < s->idle_cap) {
    s->idle[s->nidle++] = conn;
    conn = NULL;
  } else {
    s->nconns--;
  }
  pthread_mutex_unlock(&s->lock);
  data_conn_free(conn);
}

/* ---- bytesource ops ---- */

/* The extent that holds offset (there is one: offset < size). */
static const struct extent *extent_at(const struct extent_list *l,
                                      uint64_t offset)
{
  size_t lo = 0, hi = l->len;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (l->ptr[mid].offset + l->ptr[mid].length <= offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < l->len ? &l->ptr[lo] : NULL;
}

/* Where the GET for a read may run on to: the end of the data that this
 * thread is reading in order (see read_hint), or just the read. */
static uint64_t stream_end(const struct imageio_source *s, uint64_t offset,
                           size_t len)
{
  uint64_t stop = offset + len, end = s->bs.size;
  const struct extent *e;

  if (read_hint.source != s || offset < read_hint.start || stop > read_hint.end)
    return stop;
  end = MIN(end, read_hint.end);
  if (s->have_extents) {
    e = extent_at(&s->extents, offset);
    if (!e || e->zero)
      return stop;
    end = MIN(end, e->offset + e->length);
  }
  return MAX(end, stop);
}

/* The fast path first, unless the full client has a GET open here; the
 * full client for the rest, which retries, resumes and reports. */
static int data_read(struct imageio_source *s, struct data_conn *conn,
                     char *buf, size_t len, uint64_t offset)
{
  uint64_t end = stream_end(s, offset, len);
  size_t got = 0;

  if (range_conn_usable(conn->fast) &&
      !(conn->http && http_conn_stream_next(conn->http) == offset)) {
    got = range_get(conn->fast, buf, len, offset, end);
    if (got == len)
      return 0;
  }
  if (!conn->http && http_conn_new(s->client, &conn->http) < 0)
    return -error_code();
  return http_get_stream(conn->http, s->url, buf + got, len - got, offset + got,
                         end);
}

static int imageio_pread(struct bytesource *bs, void *buf, size_t len,
                         uint64_t offset)
{
  struct imageio_source *s = (struct imageio_source *)bs;
  struct data_conn *conn = conn_get(s, offset);
  int r;

  if (!conn)
    return -error_code();
  r = data_read(s, conn, buf, len, offset);
  conn_put(s, conn);
  return r;
}

static int imageio_extents(struct bytesource *bs, uint64_t offset, uint64_t len,
                           struct extent_list *out)
{
  struct imageio_source *s = (struct imageio_source *)bs;
  const struct extent_list *l = &s->extents;
  uint64_t end = offset + len;
  const struct extent *e;

  read_hint.source = s;
  read_hint.start = offset;
  read_hint.end = end;
  if (!s->have_extents)
    return extent_list_add(out, offset, len, false);
  for (e = extent_at(l, offset); e && e < l->ptr + l->len && e->offset < end;
       e++) {
    uint64_t a = MAX(e->offset, offset);
    uint64_t b = MIN(e->offset + e->length, end);
    int r = extent_list_add(out, a, b - a, e->zero);
    if (r < 0)
      return r;
  }
  return 0;
}

static void imageio_close(struct bytesource *bs)
{
  struct imageio_source *s = (struct imageio_source *)bs;
  unsigned i;

  for (i = 0; i < s->nidle; i++)
    data_conn_free(s->idle[i]);
  free(s->idle);
  extent_list_reset(&s->extents);
  range_client_free(s->fast);
  http_client_free(s->client);
  pthread_mutex_destroy(&s->lock);
  free(s->url);
}

static const struct bytesource_ops imageio_ops = {
    .kind = "imageio",
    .pread = imageio_pread,
    .extents = imageio_extents,
    .close = imageio_close,
};

/* ---- opening ---- */

static const char *imageio_advice(long status)
{
  switch (status) {
  case 401:
  case 403:
    return "the ticket expired, was cancelled or finalized, or is wrong; "
           "start a new image transfer in oVirt";
  case 404:
    return "no such resource on this server; check the URL "
           "(the image transfer's transfer_url or proxy_url)";
  case 416:
    return "the range lies beyond the end of the image";
  default:
    return NULL;
  }
}

static bool has_feature(json_t *features, const char *name)
{
  size_t i;
  json_t *f;

  json_array_foreach(features, i, f)
  {
    if (json_is_string(f) && streq(json_string_value(f), name))
      return true;
  }
  return false;
}

/* OPTIONS: which features the ticket has, how many readers it allows. */
static int query_options(struct imageio_source *s, struct http_conn *conn,
                         bool *ret_extents, unsigned *ret_readers)
{
  struct http_response resp;
  _cleanup_(json_decrefp) json_t *j = NULL;
  json_t *v;
  int r;

  *ret_extents = false;
  *ret_readers = 1;
  r = http_request(conn, "OPTIONS", s->url, NULL, OPTIONS_JSON_MAX, &resp);
  if (r < 0)
    return r;
  /* 405: an old daemon without OPTIONS, which allows one reader. */
  if (resp.status == 405) {
    http_response_clear(&resp);
    return 0;
  }
  if (resp.status < 200 || resp.status > 299) {
    r = http_status_error(conn, "OPTIONS", s->url, &resp);
    http_response_clear(&resp);
    return r;
  }
  if (resp.body_len)
    j = json_loadb(resp.body, resp.body_len, 0, NULL);
  http_response_clear(&resp);
  if (!json_is_object(j))
    return error_set(EPROTO,
                     "OPTIONS %s: the reply is not a JSON object; is this "
                     "an oVirt imageio server?",
                     s->bs.name);
  v = json_object_get(j, "features");
  *ret_extents = json_is_array(v) && has_feature(v, "extents");
  v = json_object_get(j, "max_readers");
  if (json_is_integer(v) && json_integer_value(v) > 0)
    *ret_readers = (unsigned)MIN(json_integer_value(v), 1024);
  return 0;
}

int imageio_parse_extents(const char *buf, size_t len, const char *name,
                          struct extent_list *out, uint64_t *ret_size)
{
  json_error_t jerr;
  _cleanup_(json_decrefp) json_t *j = json_loadb(buf, len, 0, &jerr);
  uint64_t pos = 0;
  size_t i;
  json_t *e;
  int r;

  if (!j)
    return error_set(EPROTO,
                     "%s: the extents reply is not valid JSON: %s (line %d)",
                     name, jerr.text, jerr.line);
  if (!json_is_array(j))
    return error_set(EPROTO, "%s: the extents reply is not a JSON array", name);
  json_array_foreach(j, i, e)
  {
    json_t *js = json_object_get(e, "start");
    json_t *jl = json_object_get(e, "length");
    json_t *jz = json_object_get(e, "zero");
    json_int_t start, length;

    if (!json_is_integer(js) || !json_is_integer(jl) || !json_is_boolean(jz))
      return error_set(EPROTO,
                       "%s: extent %zu lacks an integer start and length "
                       "and a boolean zero",
                       name, i);
    start = json_integer_value(js);
    length = json_integer_value(jl);
    if (start < 0 || length < 0 || (uint64_t)start != pos)
      return error_set(EPROTO,
                       "%s: extent %zu (start %" JSON_INTEGER_FORMAT
                       ", length %" JSON_INTEGER_FORMAT
                       ") does not follow the previous one at %" PRIu64,
                       name, i, start, length, pos);
    /* A disk is at most what a file offset can address. */
    if ((uint64_t)length > (uint64_t)INT64_MAX - pos)
      return error_set(EPROTO,
                       "%s: extent %zu ends beyond 2^63 bytes; the image "
                       "size is not believable",
                       name, i);
    r = extent_list_add(out, pos, length, json_is_true(jz));
    if (r < 0)
      return r;
    pos += length;
  }
  *ret_size = pos;
  return 0;
}

/* The zero extents, once. */
static int load_extents(struct imageio_source *s, struct http_conn *conn)
{
  _cleanup_free_ char *url = NULL;
  struct http_response resp;
  int r;

  if (asprintf(&url, "%s/extents?context=zero", s->url) < 0)
    return error_set(ENOMEM, "out of memory");
  r = http_request(conn, "GET", url, NULL, EXTENTS_JSON_MAX, &resp);
  if (r < 0)
    return r;
  if (resp.status < 200 || resp.status > 299)
    r = http_status_error(conn, "GET", url, &resp);
  else
    r = imageio_parse_extents(resp.body ? resp.body : "", resp.body_len,
                              s->bs.name, &s->extents, &s->bs.size);
  http_response_clear(&resp);
  if (r == 0)
    s->have_extents = true;
  return r;
}

int imageio_open(const char *spec, const struct imageio_options *opts,
                 struct bytesource **ret)
{
  static const struct imageio_options defaults;
  _cleanup_free_ char *url = NULL, *ticket = NULL, *shown = NULL;
  struct http_options hopts = {0};
  struct imageio_source *s;
  struct http_conn *conn = NULL;
  bool extents;
  unsigned readers;
  int r;

  if (!opts)
    opts = &defaults;
  r = parse_url(spec, &url, &ticket);
  if (r < 0)
    return r;
  shown = http_redact_secret(url, ticket);
  if (!shown)
    return error_set(ENOMEM, "out of memory");
  s = (struct imageio_source *)bytesource_new(&imageio_ops, sizeof *s, shown);
  if (!s)
    return error_set(ENOMEM, "out of memory");
  pthread_mutex_init(&s->lock, NULL);
  s->url = TAKE_PTR(url);
  hopts.cacert = opts->cacert;
  hopts.insecure = opts->insecure;
  r = http_client_new(&hopts, &s->client);
  if (r == 0)
    r = http_client_add_secret(s->client, ticket);
  if (r < 0)
    goto fail;
  http_client_set_advice(s->client, imageio_advice);
  r = http_conn_new(s->client, &conn);
  if (r < 0)
    goto fail;
  s->nconns = 1;
  r = query_options(s, conn, &extents, &readers);
  if (r < 0)
    goto fail;
  if (extents) {
    r = load_extents(s, conn);
  } else {
    /* No extents: the size is after the "/" of a one-byte range. */
    unsigned char byte;
    uint64_t total;
    r = http_get_range(conn, s->url, &byte, 1, 0, &total);
    if (r == 0 && total == UINT64_MAX)
      r = error_set(EPROTO,
                    "%s: the server reports neither extents nor the "
                    "image size",
                    s->bs.name);
    if (r == 0)
      s->bs.size = total;
  }
  if (r < 0)
    goto fail;
  if (opts->max_readers && opts->max_readers < readers)
    readers = opts->max_readers;
  s->bs.thread_safe = true;
  s->bs.request_size = IMAGEIO_REQUEST_SIZE;
  s->bs.max_readers = readers;
  /* Data comes through the fast path where it can: the setup connection
   * is closed then, so that the daemon sees no more connections than
   * readers; otherwise it is the first data connection. */
  if (range_client_new(s->url, opts->cacert, opts->insecure, &s->fast) < 0)
    s->fast = NULL;
  if (s->fast) {
    http_conn_free(TAKE_PTR(conn));
    s->nconns = 0;
  } else {
    struct data_conn *dc = calloc(1, sizeof *dc);
    if (!dc) {
      r = error_set(ENOMEM, "out of memory");
      goto fail;
    }
    dc->http = TAKE_PTR(conn);
    conn_put(s, dc);
  }
  *ret = &s->bs;
  return 0;

fail:
  http_conn_free(conn);
  bytesource_close(&s->bs);
  return r;
}
