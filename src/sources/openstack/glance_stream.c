/* A raw Glance image as a stream disk (see glance.h).
 *
 * Fetcher threads claim spans of GLANCE_SPAN bytes in order and read each
 * with one GET (several when it is cut short: the retries resume), chunk
 * by chunk, into a ring of slots: chunk j goes to slot j % nslots once
 * chunk j - nslots has been hashed and written out. The ring is smaller
 * than the spans in flight; the fetcher of the chunk the copy needs next
 * always has its slot (the chunk before it in the slot is done), so a
 * fetcher further ahead only waits, its GET paused.
 *
 * A fetched chunk goes two ways at once: the hasher thread hashes the
 * chunks in order, and the engine's reader (next_chunk()) hands them, in
 * order too, to the copy workers, which detect zeros and write straight
 * from the slot (chunk_data(): no copy). Hashing (sha512 is the slowest
 * step, about 1.4 s of CPU per GiB) thus never waits for the writes nor
 * holds them back, and the slot is free again once both are done. The
 * digest is checked when the copy asks for the chunk after the last, so
 * the copy only counts as done when every byte hashed right.
 *
 * Without Range support one fetcher reads the whole file as one span.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sources/openstack/glance.h"
#include "sources/openstack/glance_internal.h"
#include "util/cleanup.h"
#include "util/error.h"

#define FETCHERS_MAX 16
#define GLANCE_AHEAD (8u * 1024 * 1024)

/* Slot buffers are page-aligned, so that a destination may write them
 * with O_DIRECT. */
#define SLOT_ALIGN 4096

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY };

struct slot {
  enum slot_state state;
  uint64_t chunk;       /* the chunk it holds or held last; UINT64_MAX: none */
  bool hashed, written; /* READY: free again once both are done */
  unsigned char *buf;
};

struct glance_stream {
  struct disk d;
  struct glance_source *g; /* == d.bs */
  uint64_t nchunks;
  unsigned nslots, nfetchers, started;
  struct slot *slots;
  pthread_t *fetchers;
  pthread_t hasher;
  bool hasher_started;

  pthread_mutex_t lock;
  pthread_cond_t filled; /* a chunk fetched, all hashed, or a failure */
  pthread_cond_t freed;  /* a slot free again, or a failure */
  uint64_t next_span;    /* next span to claim */
  uint64_t next_out;     /* next chunk next_chunk() hands out */
  bool stop, failed, hashed_all;
  char *error; /* the first thread's error */
  int errnum;

  EVP_MD_CTX *ctx;
};

static uint64_t span_size(const struct glance_stream *st)
{
  return st->g->ranges ? GLANCE_SPAN : st->d.size;
}

static uint64_t chunk_len(const struct glance_stream *st, uint64_t j)
{
  uint64_t off = j * GLANCE_CHUNK;

  return MIN((uint64_t)GLANCE_CHUNK, st->d.size - off);
}

static void stream_fail(struct glance_stream *st)
{
  int errnum = 0;
  char *msg = error_take(&errnum);

  pthread_mutex_lock(&st->lock);
  if (!st->failed) {
    st->failed = true;
    st->error = msg;
    st->errnum = errnum ? errnum : EIO;
    msg = NULL;
  }
  pthread_cond_broadcast(&st->filled);
  pthread_cond_broadcast(&st->freed);
  pthread_mutex_unlock(&st->lock);
  free(msg);
}

static void *fetcher_main(void *arg)
{
  struct glance_stream *st = arg;
  struct glance_source *g = st->g;
  struct glance_conn *c = glance_conn_get(g);
  uint64_t span = span_size(st);

  if (!c) {
    stream_fail(st);
    return NULL;
  }
  for (;;) {
    uint64_t start, end, j, jend;
    bool quit;

    pthread_mutex_lock(&st->lock);
    start = st->next_span++ * span;
    quit = st->stop || st->failed || start >= st->d.size;
    pthread_mutex_unlock(&st->lock);
    if (quit)
      break;
    end = MIN(start + span, st->d.size);
    jend = (end + GLANCE_CHUNK - 1) / GLANCE_CHUNK;
    for (j = start / GLANCE_CHUNK; j < jend; j++) {
      struct slot *s = &st->slots[j % st->nslots];
      uint64_t off = j * GLANCE_CHUNK;
      int r;

      pthread_mutex_lock(&st->lock);
      /* The slot is ours once the chunk before us in it was hashed and
       * written out (not merely free because it is not fetched yet). */
      while (!(s->state == SLOT_FREE &&
               (j < st->nslots ? s->chunk == UINT64_MAX
                               : s->chunk == j - st->nslots)) &&
             !st->stop && !st->failed)
        pthread_cond_wait(&st->freed, &st->lock);
      quit = st->stop || st->failed;
      if (!quit) {
        s->state = SLOT_FILLING;
        s->chunk = j;
        s->hashed = !g->digest.md;
        s->written = false;
      }
      pthread_mutex_unlock(&st->lock);
      if (quit)
        goto out;
      r = glance_get(g, c, s->buf, chunk_len(st, j), off, end);
      if (r < 0) {
        stream_fail(st);
        goto out;
      }
      pthread_mutex_lock(&st->lock);
      s->state = SLOT_READY;
      pthread_cond_broadcast(&st->filled);
      pthread_mutex_unlock(&st->lock);
    }
  }
out:
  glance_conn_put(g, c);
  return NULL;
}

/* Marks one of a slot's two consumers done; the lock is held. */
static void slot_done(struct glance_stream *st, struct slot *s)
{
  if (s->hashed && s->written) {
    s->state = SLOT_FREE;
    pthread_cond_broadcast(&st->freed);
  }
}

/* Hashes the chunks in order as they arrive. */
static void *hasher_main(void *arg)
{
  struct glance_stream *st = arg;
  uint64_t j;

  for (j = 0; j < st->nchunks; j++) {
    struct slot *s = &st->slots[j % st->nslots];
    bool quit;

    pthread_mutex_lock(&st->lock);
    while (!(s->state == SLOT_READY && s->chunk == j) && !st->stop &&
           !st->failed)
      pthread_cond_wait(&st->filled, &st->lock);
    quit = st->stop || st->failed;
    pthread_mutex_unlock(&st->lock);
    if (quit)
      return NULL;
    /* The slot stays READY until hashed: no one writes into it. */
    if (EVP_DigestUpdate(st->ctx, s->buf, chunk_len(st, j)) != 1) {
      error_set(EIO, "%s: cannot hash", st->d.name);
      stream_fail(st);
      return NULL;
    }
    pthread_mutex_lock(&st->lock);
    s->hashed = true;
    slot_done(st, s);
    pthread_mutex_unlock(&st->lock);
  }
  pthread_mutex_lock(&st->lock);
  st->hashed_all = true;
  pthread_cond_broadcast(&st->filled);
  pthread_mutex_unlock(&st->lock);
  return NULL;
}

/* Refuses formats that need random access when Glance cannot serve it;
 * the first chunk tells. */
static int check_first_chunk(struct glance_stream *st, const unsigned char *h,
                             size_t n)
{
  const char *what = NULL;

  if (n >= 4 && memcmp(h, "QFI\xfb", 4) == 0)
    what = "qcow2";
  else if (n >= 4 && (memcmp(h, "KDMV", 4) == 0 || memcmp(h, "COWD", 4) == 0))
    what = "VMDK";
  else if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
    what = "gzip-compressed";
  if (!what)
    return 0;
  return error_set(ENOTSUP,
                   "%s: the image holds %s data, which must be read at "
                   "random offsets, but Glance does not serve byte ranges "
                   "(it answered 200 to a Range request); upload the image "
                   "as raw, or put Glance behind a server that serves "
                   "ranges",
                   st->d.name, what);
}

static int stream_failure(struct glance_stream *st)
{
  int r = -st->errnum;

  error_put(TAKE_PTR(st->error), st->errnum);
  return r;
}

static int stream_next_chunk(struct disk *d, struct disk_chunk *chunk,
                             void *payload_buf)
{
  struct glance_stream *st = (struct glance_stream *)d;
  uint64_t j = st->next_out;
  struct slot *s;
  int r;

  if (j == st->nchunks) {
    if (!st->g->digest.md)
      return 0;
    pthread_mutex_lock(&st->lock);
    while (!st->hashed_all && !st->failed)
      pthread_cond_wait(&st->filled, &st->lock);
    r = st->failed ? stream_failure(st) : 0;
    pthread_mutex_unlock(&st->lock);
    if (r == 0)
      r = glance_digest_check(&st->g->digest, st->ctx, d->name);
    return r < 0 ? r : 0;
  }
  s = &st->slots[j % st->nslots];
  pthread_mutex_lock(&st->lock);
  while (!(s->state == SLOT_READY && s->chunk == j) && !st->failed)
    pthread_cond_wait(&st->filled, &st->lock);
  if (st->failed) {
    r = stream_failure(st);
    pthread_mutex_unlock(&st->lock);
    return r;
  }
  pthread_mutex_unlock(&st->lock);

  if (j == 0 && !st->g->ranges &&
      (r = check_first_chunk(st, s->buf, chunk_len(st, 0))) < 0)
    return r;
  chunk->offset = j * GLANCE_CHUNK;
  chunk->length = (uint32_t)chunk_len(st, j);
  memcpy(payload_buf, &j, sizeof j);
  chunk->payload = payload_buf;
  /* The engine counts payload_len as bytes read from the source. */
  chunk->payload_len = chunk->length;
  st->next_out++;
  return 1;
}

static struct slot *chunk_slot(struct glance_stream *st,
                               const struct disk_chunk *chunk)
{
  uint64_t j;

  memcpy(&j, chunk->payload, sizeof j);
  return &st->slots[j % st->nslots];
}

static const void *stream_chunk_data(struct disk *d,
                                     const struct disk_chunk *chunk)
{
  return chunk_slot((struct glance_stream *)d, chunk)->buf;
}

static void stream_release_chunk(struct disk *d, const struct disk_chunk *chunk)
{
  struct glance_stream *st = (struct glance_stream *)d;
  struct slot *s = chunk_slot(st, chunk);

  pthread_mutex_lock(&st->lock);
  s->written = true;
  slot_done(st, s);
  pthread_mutex_unlock(&st->lock);
}

static int stream_decode_chunk(struct disk *d, const struct disk_chunk *chunk,
                               void *out)
{
  memcpy(out, stream_chunk_data(d, chunk), chunk->length);
  stream_release_chunk(d, chunk);
  return 0;
}

static void stream_close(struct disk *d)
{
  struct glance_stream *st = (struct glance_stream *)d;
  unsigned i;

  pthread_mutex_lock(&st->lock);
  st->stop = true;
  pthread_cond_broadcast(&st->filled);
  pthread_cond_broadcast(&st->freed);
  pthread_mutex_unlock(&st->lock);
  for (i = 0; i < st->started; i++)
    pthread_join(st->fetchers[i], NULL);
  if (st->hasher_started)
    pthread_join(st->hasher, NULL);
  for (i = 0; st->slots && i < st->nslots; i++)
    free(st->slots[i].buf);
  free(st->slots);
  free(st->fetchers);
  free(st->error);
  EVP_MD_CTX_free(st->ctx);
  pthread_cond_destroy(&st->filled);
  pthread_cond_destroy(&st->freed);
  pthread_mutex_destroy(&st->lock);
}

static const struct disk_ops stream_ops = {
    .next_chunk = stream_next_chunk,
    .decode_chunk = stream_decode_chunk,
    .chunk_data = stream_chunk_data,
    .release_chunk = stream_release_chunk,
    .close = stream_close,
};

int glance_stream_open(struct glance_source *g, unsigned connections,
                       struct disk **ret)
{
  struct glance_stream *st;
  unsigned i;
  int r = 0;

  st = (struct glance_stream *)disk_new(&stream_ops, sizeof *st, &g->bs, "raw");
  if (!st) {
    bytesource_close(&g->bs);
    return error_set(ENOMEM, "out of memory");
  }
  pthread_mutex_init(&st->lock, NULL);
  pthread_cond_init(&st->filled, NULL);
  pthread_cond_init(&st->freed, NULL);
  st->g = g;
  st->d.size = g->bs.size;
  st->d.stream = true;
  st->d.thread_safe = true;
  st->d.chunk_size = GLANCE_CHUNK;
  st->d.chunk_payload_max = sizeof(uint64_t);
  st->d.request_size = GLANCE_CHUNK;
  st->nchunks = (st->d.size + GLANCE_CHUNK - 1) / GLANCE_CHUNK;
  st->nfetchers = g->ranges ? MAX(MIN(connections, FETCHERS_MAX), 1) : 1;
  /* Each fetcher may run GLANCE_AHEAD bytes ahead of the copy (a longer
   * span waits, its GET paused, while the copy catches up). */
  st->nslots = (st->nfetchers + 1) * (GLANCE_AHEAD / GLANCE_CHUNK);
  st->slots = calloc(st->nslots, sizeof *st->slots);
  st->fetchers = calloc(st->nfetchers, sizeof *st->fetchers);
  st->ctx = EVP_MD_CTX_new();
  if (!st->slots || !st->fetchers || !st->ctx)
    r = error_set(ENOMEM, "out of memory");
  for (i = 0; r == 0 && i < st->nslots; i++) {
    st->slots[i].chunk = UINT64_MAX; /* never used */
    if (!(st->slots[i].buf = aligned_alloc(SLOT_ALIGN, GLANCE_CHUNK)))
      r = error_set(ENOMEM, "out of memory");
  }
  if (r == 0 && g->digest.md &&
      EVP_DigestInit_ex(st->ctx, g->digest.md, NULL) != 1)
    r = error_set(EIO, "%s: cannot start the %s digest", st->d.name,
                  g->digest.algo);
  if (r == 0 && g->digest.md) {
    if (pthread_create(&st->hasher, NULL, hasher_main, st) != 0)
      r = error_set(EAGAIN, "cannot start a thread");
    else
      st->hasher_started = true;
  }
  for (i = 0; r == 0 && i < st->nfetchers; i++) {
    if (pthread_create(&st->fetchers[i], NULL, fetcher_main, st) != 0)
      r = error_set(EAGAIN, "cannot start a thread");
    else
      st->started++;
  }
  if (r < 0) {
    disk_close(&st->d);
    return r;
  }
  *ret = &st->d;
  return 0;
}
