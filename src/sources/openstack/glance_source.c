/* A Glance image's file as a byte source, its digest, and opening it as
 * a disk (see glance.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/http.h"
#include "net/range_reader.h"
#include "sources/openstack/glance.h"
#include "sources/openstack/glance_internal.h"
#include "sources/openstack/keystone.h"
#include "util/cleanup.h"
#include "util/error.h"

#define VERIFY_READ (8u * 1024 * 1024)
#define DEFAULT_CONNECTIONS 4

/* ---- digests ---- */

int glance_digest_init(struct glance_digest *d, const char *algo,
                       const char *hex, const char *name)
{
  const EVP_MD *md;
  size_t i;

  memset(d, 0, sizeof *d);
  if (!hex)
    return 0;
  md = EVP_get_digestbyname(algo);
  if (!md)
    return error_set(ENOTSUP,
                     "%s: Glance hashed the image with %s, which hoist "
                     "cannot compute; the copy could not be verified",
                     name, algo);
  if (strlen(hex) != (size_t)EVP_MD_get_size(md) * 2)
    return error_set(EPROTO,
                     "%s: the image's %s digest has %zu hex digits instead "
                     "of %d",
                     name, algo, strlen(hex), EVP_MD_get_size(md) * 2);
  d->md = md;
  d->algo = strdup(algo);
  d->expected = strdup(hex);
  if (!d->algo || !d->expected) {
    glance_digest_clear(d);
    return error_set(ENOMEM, "out of memory");
  }
  for (i = 0; d->expected[i]; i++)
    if (d->expected[i] >= 'A' && d->expected[i] <= 'F')
      d->expected[i] += 'a' - 'A';
  return 0;
}

void glance_digest_clear(struct glance_digest *d)
{
  free(d->algo);
  free(d->expected);
  memset(d, 0, sizeof *d);
}

int glance_digest_check(const struct glance_digest *d, EVP_MD_CTX *ctx,
                        const char *name)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  unsigned n = 0, i;

  if (!d->md)
    return 0;
  if (EVP_DigestFinal_ex(ctx, md, &n) != 1)
    return error_set(EIO, "%s: cannot compute the %s digest", name, d->algo);
  for (i = 0; i < n; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  if (!streq(hex, d->expected))
    return error_set(EBADMSG,
                     "%s: the image's data does not match its %s checksum "
                     "(Glance published %.16s…, the bytes received hash to "
                     "%.16s…): the image is corrupt in the store or was "
                     "damaged on the way; nothing was kept",
                     name, d->algo, d->expected, hex);
  return 0;
}

/* ---- connections ---- */

void glance_conn_free(struct glance_conn *c)
{
  if (!c)
    return;
  range_conn_free(c->fast);
  http_conn_free(c->conn);
  free(c);
}

struct glance_conn *glance_conn_get(struct glance_source *g)
{
  struct glance_conn *c = NULL;

  pthread_mutex_lock(&g->lock);
  if (g->nidle)
    c = g->idle[--g->nidle];
  pthread_mutex_unlock(&g->lock);
  if (c)
    return c;
  c = calloc(1, sizeof *c);
  if (!c) {
    error_set(ENOMEM, "out of memory");
    return NULL;
  }
  if (http_conn_new(g->client, &c->conn) < 0) {
    free(c);
    return NULL;
  }
  if (g->fast && range_conn_new(g->fast, &c->fast) < 0)
    c->fast = NULL;
  return c;
}

void glance_conn_put(struct glance_source *g, struct glance_conn *c)
{
  pthread_mutex_lock(&g->lock);
  if (g->nidle == g->idle_cap) {
    unsigned cap = g->idle_cap ? g->idle_cap * 2 : 8;
    struct glance_conn **p = realloc(g->idle, cap * sizeof *p);
    if (p) {
      g->idle = p;
      g->idle_cap = cap;
    }
  }
  if (g->nidle < g->idle_cap) {
    g->idle[g->nidle++] = c;
    c = NULL;
  }
  pthread_mutex_unlock(&g->lock);
  glance_conn_free(c);
}

/* How much of the range the fast path read, with the session's token. */
static size_t fast_get(struct glance_source *g, struct glance_conn *c,
                       void *buf, size_t len, uint64_t offset, uint64_t end)
{
  char *token = NULL;
  unsigned gen;
  int r;

  if (os_session_token(g->session, &token, &gen) < 0) {
    error_clear(); /* the full client tries and reports */
    return 0;
  }
  r = gen == c->fast_gen
          ? 0
          : range_conn_set_header(c->fast, "X-Auth-Token", token);
  explicit_bzero(token, strlen(token));
  free(token);
  if (r < 0)
    return 0;
  c->fast_gen = gen;
  return range_get(c->fast, buf, len, offset, end);
}

int glance_get(struct glance_source *g, struct glance_conn *c, void *buf,
               size_t len, uint64_t offset, uint64_t end)
{
  size_t got = 0;
  int r, tries;

  if (g->cancel && atomic_load(g->cancel))
    return error_set(EINTR, "%s: interrupted", g->bs.name);
  if (g->ranges && range_conn_usable(c->fast) &&
      http_conn_stream_next(c->conn) != offset) {
    got = fast_get(g, c, buf, len, offset, end);
    if (got == len)
      return 0;
    buf = (char *)buf + got;
    len -= got;
    offset += got;
  }
  for (tries = 0;; tries++) {
    if (g->cancel && atomic_load(g->cancel))
      return error_set(EINTR, "%s: interrupted", g->bs.name);
    r = os_session_prepare(g->session, c->conn, &c->gen);
    if (r < 0)
      return r;
    r = http_get_stream(c->conn, g->url, buf, len, offset, end);
    if (r == 0 || http_conn_status(c->conn) != 401 || tries > 0)
      return r;
    error_clear(); /* the token expired or was revoked: a new one */
    r = os_session_reauth(g->session, c->gen);
    if (r < 0)
      return r;
  }
}

/* ---- the byte source ---- */

static int glance_pread(struct bytesource *bs, void *buf, size_t len,
                        uint64_t offset)
{
  struct glance_source *g = (struct glance_source *)bs;
  struct glance_conn *c = glance_conn_get(g);
  int r;

  if (!c)
    return -error_code();
  r = glance_get(g, c, buf, len, offset, offset + len);
  glance_conn_put(g, c);
  return r;
}

/* Reads the whole file in order and hashes it. */
static void *verifier_main(void *arg)
{
  struct glance_source *g = arg;
  struct glance_conn *c = NULL;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  void *buf = malloc(VERIFY_READ);
  uint64_t off = 0, size = g->bs.size;
  int r = 0;

  if (!ctx || !buf || EVP_DigestInit_ex(ctx, g->digest.md, NULL) != 1)
    r = error_set(ENOMEM, "out of memory");
  if (r == 0 && !(c = glance_conn_get(g)))
    r = -error_code();
  while (r == 0 && off < size) {
    size_t n = (size_t)MIN(VERIFY_READ, size - off);
    if (atomic_load(&g->stop)) {
      r = error_set(ECANCELED, "%s: verification stopped", g->bs.name);
      break;
    }
    r = glance_get(g, c, buf, n, off, size);
    if (r == 0 && EVP_DigestUpdate(ctx, buf, n) != 1)
      r = error_set(EIO, "%s: cannot hash", g->bs.name);
    off += n;
  }
  if (r == 0)
    r = glance_digest_check(&g->digest, ctx, g->bs.name);
  glance_conn_free(c);
  EVP_MD_CTX_free(ctx);
  free(buf);
  g->verify_result = r;
  if (r < 0) {
    int errnum;
    g->verify_error = error_take(&errnum);
  }
  return NULL;
}

int glance_source_start_verifier(struct glance_source *g)
{
  if (!g->digest.md)
    return 0;
  if (pthread_create(&g->verifier, NULL, verifier_main, g) != 0)
    return error_set(EAGAIN, "cannot start a thread");
  g->verifier_running = true;
  return 0;
}

static void join_verifier(struct glance_source *g)
{
  if (g->verifier_running) {
    pthread_join(g->verifier, NULL);
    g->verifier_running = false;
  }
}

static int glance_verify(struct bytesource *bs)
{
  struct glance_source *g = (struct glance_source *)bs;

  join_verifier(g);
  if (g->verify_result < 0) {
    error_put(TAKE_PTR(g->verify_error), -g->verify_result);
    return g->verify_result;
  }
  return 0;
}

static void glance_source_close(struct bytesource *bs)
{
  struct glance_source *g = (struct glance_source *)bs;
  unsigned i;

  atomic_store(&g->stop, true);
  join_verifier(g);
  free(g->verify_error);
  for (i = 0; i < g->nidle; i++)
    glance_conn_free(g->idle[i]);
  free(g->idle);
  glance_digest_clear(&g->digest);
  pthread_mutex_destroy(&g->lock);
  free(g->url);
  range_client_free(g->fast);
  http_client_free(g->client);
  if (g->owns_session)
    os_session_free(g->session);
}

static const struct bytesource_ops glance_ops = {
    .kind = "glance",
    .pread = glance_pread,
    .verify = glance_verify,
    .close = glance_source_close,
};

/* Whether Glance serves ranges, and the file's first bytes (which tell
 * its format): one range GET of the head. */
static int probe_ranges(struct glance_source *g)
{
  struct glance_conn *c = glance_conn_get(g);
  size_t n = (size_t)MIN(g->bs.size, sizeof g->head);
  uint64_t total = UINT64_MAX;
  int r, tries;

  if (!c)
    return -error_code();
  for (tries = 0;; tries++) {
    r = os_session_prepare(g->session, c->conn, &c->gen);
    if (r < 0)
      break;
    r = http_get_range(c->conn, g->url, g->head, n, 0, &total);
    if (r == 0 || http_conn_status(c->conn) != 401 || tries > 0)
      break;
    error_clear();
    if ((r = os_session_reauth(g->session, c->gen)) < 0)
      break;
  }
  if (r < 0 && http_conn_status(c->conn) == 200) {
    /* The whole file instead of its head: no ranges. */
    error_clear();
    g->ranges = false;
    r = 0;
  } else if (r == 0) {
    g->ranges = g->bs.size <= n || total == g->bs.size;
    g->head_len = n;
    if (total != UINT64_MAX && total != g->bs.size)
      r = error_set(EPROTO,
                    "%s: Glance says the image has %" PRIu64
                    " bytes but serves %" PRIu64,
                    g->bs.name, g->bs.size, total);
  }
  glance_conn_put(g, c);
  return r;
}

int glance_source_open(struct os_session *s, const char *image_id,
                       const char *display, uint64_t size,
                       struct glance_source **ret)
{
  _cleanup_free_ char *base = NULL;
  struct glance_source *g;
  int r;

  r = glance_endpoint(s, &base);
  if (r < 0)
    return r;
  g = (struct glance_source *)bytesource_new(&glance_ops, sizeof *g, display);
  if (!g)
    return error_set(ENOMEM, "out of memory");
  pthread_mutex_init(&g->lock, NULL);
  g->session = s;
  g->bs.size = size;
  g->bs.thread_safe = true;
  g->bs.request_size = GLANCE_CHUNK;
  if (asprintf(&g->url, "%s/v2/images/%s/file", base, image_id) < 0) {
    g->url = NULL;
    bytesource_close(&g->bs);
    return error_set(ENOMEM, "out of memory");
  }
  r = os_session_new_client(s, &g->client);
  if (r < 0) {
    bytesource_close(&g->bs);
    return r;
  }
  http_client_set_advice(g->client, glance_advice);
  if (os_session_new_range_client(s, g->url, &g->fast) < 0)
    g->fast = NULL;
  r = probe_ranges(g);
  if (r < 0) {
    bytesource_close(&g->bs);
    return r;
  }
  *ret = g;
  return 0;
}

/* ---- opening an image as a disk ---- */

static bool looks_encoded(const unsigned char *h, size_t n)
{
  return (n >= 4 && (memcmp(h, "QFI\xfb", 4) == 0 ||
                     memcmp(h, "KDMV", 4) == 0 || memcmp(h, "COWD", 4) == 0)) ||
         (n >= 2 && h[0] == 0x1f && h[1] == 0x8b) ||
         (n >= 21 && memcmp(h, "# Disk DescriptorFile", 21) == 0);
}

static int no_siblings(void *opaque, const char *name, struct bytesource **ret)
{
  (void)opaque;
  (void)ret;
  return error_set(ENOTSUP,
                   "the image refers to another file (\"%s\"), which a "
                   "Glance image cannot carry",
                   name);
}

static int check_image(const struct glance_image *img, const char *shown)
{
  if (!img->status || !streq(img->status, "active"))
    return error_set(EAGAIN,
                     "%s: the image is %s, not active: it has no data to "
                     "copy yet (or any more)",
                     shown, img->status ? img->status : "in no known state");
  if (img->container_format && !streq(img->container_format, "bare"))
    return error_set(ENOTSUP,
                     "%s: the image's container format is %s; hoist copies "
                     "disk images in a bare container",
                     shown, img->container_format);
  if (!img->size)
    return error_set(ENODATA, "%s: the image has no data (size 0)", shown);
  return 0;
}

int glance_open_disk(struct os_session *s, const char *image_id,
                     const struct glance_disk_options *o, struct disk **ret)
{
  struct glance_disk_options defaults = {0};
  struct glance_image img = {0};
  struct glance_source *g = NULL;
  struct glance *api = NULL;
  _cleanup_free_ char *shown = NULL;
  struct disk_open_opts dopts = {.open_sibling = no_siblings};
  bool owned = o && o->owns_session;
  int r;

  if (!o)
    o = &defaults;
  if (asprintf(&shown, "glance://%s", image_id) < 0) {
    if (owned)
      os_session_free(s);
    return error_set(ENOMEM, "out of memory");
  }
  r = glance_open(s, &api);
  if (r == 0)
    r = glance_get_image(api, image_id, &img);
  glance_close(api);
  if (r == 0)
    r = check_image(&img, shown);
  if (r == 0)
    r = glance_source_open(s, image_id, shown, img.size, &g);
  if (r == 0) {
    g->owns_session = o->owns_session;
    g->cancel = o->cancel;
    owned = false;
  }
  if (r == 0 && img.hash_value)
    r = glance_digest_init(&g->digest, img.hash_algo, img.hash_value, shown);
  else if (r == 0)
    r = glance_digest_init(&g->digest, "md5", img.checksum, shown);
  glance_image_clear(&img);
  if (r < 0)
    goto fail;

  if (!g->ranges)
    return glance_stream_open(
        g, 1, ret); /* checks the content for formats it cannot stream */
  if (!looks_encoded(g->head, g->head_len))
    return glance_stream_open(
        g, o->connections ? o->connections : DEFAULT_CONNECTIONS, ret);
  r = glance_source_start_verifier(g);
  if (r < 0)
    goto fail;
  g->bs.max_readers = o->connections ? o->connections : 0;
  return disk_open(&g->bs, &dopts, ret);

fail:
  if (g)
    bytesource_close(&g->bs);
  if (owned)
    os_session_free(s);
  return r;
}
