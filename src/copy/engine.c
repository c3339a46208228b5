/* The copy engine (see engine.h). */
#include "copy/engine.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "copy/checkpoint.h"
#include "util/checked.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/iszero.h"

#define WORK_UNIT_MAX (64ull * 1024 * 1024)
#define WORK_UNIT_MIN (1ull * 1024 * 1024)
/* Stream mode drops written pages this far behind the reader. */
#define EVICT_STEP (32ull * 1024 * 1024)
#define COPY_BUF_ALIGN 4096

struct job {
  struct disk *src;
  struct dest *dst;
  const struct copy_options *opts;
  struct copy_progress *progress;
  uint32_t request_size;
  unsigned workers;
  atomic_bool failed;
  pthread_mutex_t lock;

  /* Random access: units handed out in order. */
  uint64_t unit_size;
  _Atomic uint64_t next_unit;

  /* Stream: slots cycle between the free stack and the ready queue. */
  struct slot *slots;
  unsigned nslots;
  unsigned *free_stack, nfree;
  unsigned *ready, ready_head, ready_len;
  bool eof;
  pthread_cond_t slot_freed, slot_ready;
};

struct slot {
  struct disk_chunk chunk;
  void *payload;
};

struct worker {
  struct job *job;
  pthread_t thread;
  void *buf;
  char *error;
  int errnum;
  /* Range written but not yet dropped from the page cache. */
  uint64_t pending_off, pending_len;
};

void copy_progress_init(struct copy_progress *p, const struct disk *src)
{
  p->total = src->size;
  p->data_total = src->allocated;
  atomic_store(&p->done, 0);
  atomic_store(&p->read, 0);
  atomic_store(&p->written, 0);
  atomic_store(&p->resumed, 0);
  atomic_store(&p->resumed_data, 0);
}

static bool stopped(const struct job *job)
{
  return job->opts->stop && atomic_load(job->opts->stop);
}

static int stop_error(void)
{
  return error_set(EINTR, "interrupted: the copy was asked to stop");
}

static int zero_range(struct job *job, uint64_t offset, uint64_t len)
{
  if (len == 0 || job->dst->is_zero)
    return 0;
  return dest_zero(job->dst, offset, len);
}

/* Writes buf (the bytes of [offset, offset+len)), turning 4 KiB blocks of
 * zeros, aligned on the virtual disk, into zero runs. */
static int write_detecting_zeros(struct job *job, const char *buf,
                                 uint64_t offset, size_t len)
{
  size_t pos = 0, run_start = 0;
  bool run_zero = false;
  int r;

  if (job->opts->keep_zeros) {
    r = dest_pwrite(job->dst, buf, len, offset);
    if (r == 0)
      atomic_fetch_add(&job->progress->written, len);
    return r;
  }
  while (pos < len) {
    uint64_t abs = offset + pos;
    size_t blk = COPY_ZERO_GRANULE - abs % COPY_ZERO_GRANULE;
    bool zero;

    blk = MIN(blk, len - pos);
    zero = is_zero(buf + pos, blk);
    if (pos == 0) {
      run_zero = zero;
    } else if (zero != run_zero) {
      if (run_zero)
        r = zero_range(job, offset + run_start, pos - run_start);
      else
        r = dest_pwrite(job->dst, buf + run_start, pos - run_start,
                        offset + run_start);
      if (r < 0)
        return r;
      if (!run_zero)
        atomic_fetch_add(&job->progress->written, pos - run_start);
      run_start = pos;
      run_zero = zero;
    }
    pos += blk;
  }
  if (run_zero)
    r = zero_range(job, offset + run_start, len - run_start);
  else
    r = dest_pwrite(job->dst, buf + run_start, len - run_start,
                    offset + run_start);
  if (r == 0 && !run_zero)
    atomic_fetch_add(&job->progress->written, len - run_start);
  return r;
}

/* Drops the worker's previous unit from the page cache (waiting for its
 * writeback), and starts writeback of the one just finished. */
static void evict_behind(struct worker *w, uint64_t offset, uint64_t len)
{
  struct dest *dst = w->job->dst;

  if (!dst->ops->evict)
    return;
  if (w->pending_len)
    dst->ops->evict(dst, w->pending_off, w->pending_len, true);
  w->pending_off = offset;
  w->pending_len = len;
  if (len)
    dst->ops->evict(dst, offset, len, false);
}

static int copy_unit(struct worker *w, uint64_t start, uint64_t len)
{
  struct job *job = w->job;
  struct extent_list extents = {0};
  size_t i;
  int r;

  r = job->src->ops->extents(job->src, start, len, &extents);
  for (i = 0; r == 0 && i < extents.len; i++) {
    const struct extent *e = &extents.ptr[i];
    uint64_t off = MAX(e->offset, start);
    uint64_t end = MIN(e->offset + e->length, start + len);

    if (e->zero) {
      r = zero_range(job, off, end - off);
      if (r == 0)
        atomic_fetch_add(&job->progress->done, end - off);
      continue;
    }
    while (r == 0 && off < end && !atomic_load(&job->failed)) {
      size_t n = MIN(end - off, job->request_size);
      if (stopped(job)) {
        r = stop_error();
        break;
      }
      r = job->src->ops->pread(job->src, w->buf, n, off);
      if (r == 0) {
        atomic_fetch_add(&job->progress->read, n);
        r = write_detecting_zeros(job, w->buf, off, n);
      }
      if (r == 0)
        atomic_fetch_add(&job->progress->done, n);
      off += n;
    }
  }
  extent_list_reset(&extents);
  if (r == 0)
    evict_behind(w, start, len);
  return r;
}

/* A unit the checkpoint had done: counted, not copied. Its data is
 * measured by the extents (metadata only), for progress in bytes. */
static int skip_unit(struct job *job, uint64_t start, uint64_t len)
{
  struct extent_list extents = {0};
  uint64_t data = 0;
  size_t i;
  int r;

  r = job->src->ops->extents(job->src, start, len, &extents);
  for (i = 0; r == 0 && i < extents.len; i++) {
    const struct extent *e = &extents.ptr[i];
    if (!e->zero)
      data += MIN(e->offset + e->length, start + len) - MAX(e->offset, start);
  }
  extent_list_reset(&extents);
  if (r < 0)
    return r;
  atomic_fetch_add(&job->progress->resumed_data, data);
  atomic_fetch_add(&job->progress->resumed, len);
  atomic_fetch_add(&job->progress->done, len);
  return 0;
}

static void worker_fail(struct worker *w, int r)
{
  if (!error_is_set())
    error_set(-r, "copy failed: %s", strerror(-r));
  w->error = error_take(&w->errnum);
  atomic_store(&w->job->failed, true);
}

static void *random_worker(void *arg)
{
  struct worker *w = arg;
  struct job *job = w->job;
  struct checkpoint *cp = job->opts->checkpoint;

  while (!atomic_load(&job->failed)) {
    uint64_t unit = atomic_fetch_add(&job->next_unit, 1);
    uint64_t start = unit * job->unit_size;
    uint64_t len;
    int r;

    if (start >= job->src->size)
      break;
    if (stopped(job)) {
      worker_fail(w, stop_error());
      break;
    }
    len = MIN(job->unit_size, job->src->size - start);
    if (cp && checkpoint_was_done(cp, unit)) {
      r = skip_unit(job, start, len);
    } else {
      r = copy_unit(w, start, len);
      if (r == 0 && cp)
        r = checkpoint_unit_done(cp, unit, job->dst);
    }
    if (r < 0) {
      worker_fail(w, r);
      break;
    }
  }
  evict_behind(w, 0, 0);
  return NULL;
}

/* ---- stream mode ---- */

static void *stream_worker(void *arg)
{
  struct worker *w = arg;
  struct job *job = w->job;

  for (;;) {
    struct slot *s;
    unsigned idx;
    int r;

    pthread_mutex_lock(&job->lock);
    while (job->ready_len == 0 && !job->eof && !atomic_load(&job->failed))
      pthread_cond_wait(&job->slot_ready, &job->lock);
    if (job->ready_len == 0 || atomic_load(&job->failed)) {
      pthread_mutex_unlock(&job->lock);
      break;
    }
    idx = job->ready[job->ready_head];
    job->ready_head = (job->ready_head + 1) % job->nslots;
    job->ready_len--;
    pthread_mutex_unlock(&job->lock);

    s = &job->slots[idx];
    if (job->src->ops->chunk_data) {
      /* The bytes are written from where the source holds them. */
      r = write_detecting_zeros(job,
                                job->src->ops->chunk_data(job->src, &s->chunk),
                                s->chunk.offset, s->chunk.length);
      job->src->ops->release_chunk(job->src, &s->chunk);
    } else {
      r = job->src->ops->decode_chunk(job->src, &s->chunk, w->buf);
      if (r == 0)
        r = write_detecting_zeros(job, w->buf, s->chunk.offset,
                                  s->chunk.length);
    }
    if (r == 0) {
      atomic_fetch_add(&job->progress->read, s->chunk.payload_len);
      atomic_fetch_add(&job->progress->done, s->chunk.length);
    }

    pthread_mutex_lock(&job->lock);
    job->free_stack[job->nfree++] = idx;
    pthread_cond_signal(&job->slot_freed);
    pthread_mutex_unlock(&job->lock);
    if (r < 0) {
      worker_fail(w, r);
      pthread_mutex_lock(&job->lock);
      pthread_cond_broadcast(&job->slot_freed);
      pthread_cond_broadcast(&job->slot_ready);
      pthread_mutex_unlock(&job->lock);
      break;
    }
  }
  return NULL;
}

static int stream_setup(struct job *job)
{
  unsigned i;

  job->nslots = job->workers * 4;
  job->slots = calloc(job->nslots, sizeof *job->slots);
  job->free_stack = calloc(job->nslots, sizeof *job->free_stack);
  job->ready = calloc(job->nslots, sizeof *job->ready);
  if (!job->slots || !job->free_stack || !job->ready)
    return error_set(ENOMEM, "out of memory");
  for (i = 0; i < job->nslots; i++) {
    job->slots[i].payload = malloc(job->src->chunk_payload_max);
    if (!job->slots[i].payload)
      return error_set(ENOMEM, "out of memory");
    job->free_stack[job->nfree++] = i;
  }
  return 0;
}

static void stream_teardown(struct job *job)
{
  unsigned i;

  for (i = 0; job->slots && i < job->nslots; i++)
    free(job->slots[i].payload);
  free(job->slots);
  free(job->free_stack);
  free(job->ready);
}

/* The reader: runs on the calling thread while the workers decode. */
static int stream_read(struct job *job)
{
  struct disk *src = job->src;
  struct dest *dst = job->dst;
  uint64_t covered = 0, evicted = 0;
  uint64_t lag = (uint64_t)job->nslots * src->chunk_size;
  int r = 0;

  while (!atomic_load(&job->failed)) {
    struct slot *s;
    unsigned idx;

    pthread_mutex_lock(&job->lock);
    while (job->nfree == 0 && !atomic_load(&job->failed))
      pthread_cond_wait(&job->slot_freed, &job->lock);
    if (atomic_load(&job->failed)) {
      pthread_mutex_unlock(&job->lock);
      break;
    }
    idx = job->free_stack[--job->nfree];
    pthread_mutex_unlock(&job->lock);

    s = &job->slots[idx];
    memset(&s->chunk, 0, sizeof s->chunk);
    r = stopped(job) ? stop_error()
                     : src->ops->next_chunk(src, &s->chunk, s->payload);
    if (r == 1 &&
        (s->chunk.offset < covered || s->chunk.length > src->chunk_size ||
         s->chunk.offset > src->size ||
         s->chunk.length > src->size - s->chunk.offset))
      r = error_set(EIO,
                    "%s: corrupt stream: a block at offset %llu overlaps "
                    "data already read or lies outside the disk",
                    src->name, (unsigned long long)s->chunk.offset);
    if (r == 1) {
      /* A gap before the chunk reads as zeros. */
      r = zero_range(job, covered, s->chunk.offset - covered);
      if (r == 0) {
        atomic_fetch_add(&job->progress->done, s->chunk.offset - covered);
        covered = s->chunk.offset + s->chunk.length;
        r = 1;
      }
    }
    pthread_mutex_lock(&job->lock);
    if (r == 1) {
      job->ready[(job->ready_head + job->ready_len) % job->nslots] = idx;
      job->ready_len++;
      pthread_cond_signal(&job->slot_ready);
    } else {
      job->free_stack[job->nfree++] = idx;
    }
    pthread_mutex_unlock(&job->lock);
    if (r <= 0)
      break;
    if (dst->ops->evict && covered > evicted + lag + EVICT_STEP) {
      /* Writeback of the next step starts now, so that waiting for this
       * one (started a step ago) rarely blocks the reader on the disk. */
      dst->ops->evict(dst, evicted + EVICT_STEP, EVICT_STEP, false);
      dst->ops->evict(dst, evicted, EVICT_STEP, true);
      evicted += EVICT_STEP;
    }
  }
  if (r == 0 && !atomic_load(&job->failed)) {
    r = zero_range(job, covered, src->size - covered);
    if (r == 0)
      atomic_fetch_add(&job->progress->done, src->size - covered);
  }
  pthread_mutex_lock(&job->lock);
  job->eof = true;
  if (r < 0)
    atomic_store(&job->failed, true);
  pthread_cond_broadcast(&job->slot_ready);
  pthread_mutex_unlock(&job->lock);
  return r;
}

int copy_disk(struct disk *src, struct dest *dst,
              const struct copy_options *opts, struct copy_progress *progress)
{
  struct job job = {
      .src = src,
      .dst = dst,
      .opts = opts,
      .progress = progress,
  };
  struct worker *workers = NULL;
  size_t bufsize;
  unsigned i, started = 0;
  int r = 0;

  if (dst->size < src->size)
    return error_set(ENOSPC, "%s: holds %llu bytes but %s needs %llu",
                     dst->name, (unsigned long long)dst->size, src->name,
                     (unsigned long long)src->size);
  job.workers = opts->workers ? opts->workers : COPY_DEFAULT_WORKERS;
  job.workers = MIN(job.workers, COPY_MAX_WORKERS);
  if (src->max_workers)
    job.workers = MIN(job.workers, src->max_workers);
  if (!src->stream && !src->thread_safe)
    job.workers = 1;
  job.request_size =
      opts->request_size ? opts->request_size : src->request_size;
  if (job.request_size < COPY_ZERO_GRANULE)
    job.request_size = COPY_ZERO_GRANULE;
  /* Enough units that every worker stays busy on a small disk. */
  job.unit_size = src->size / (job.workers * 4);
  job.unit_size = ROUND_UP(job.unit_size, WORK_UNIT_MIN);
  job.unit_size = MAX(MIN(job.unit_size, WORK_UNIT_MAX), WORK_UNIT_MIN);
  /* A stream is read in one pass from its start: nothing to skip. */
  if (opts->checkpoint && !src->stream)
    job.unit_size = checkpoint_unit_size(opts->checkpoint);
  pthread_mutex_init(&job.lock, NULL);
  pthread_cond_init(&job.slot_freed, NULL);
  pthread_cond_init(&job.slot_ready, NULL);

  bufsize = src->stream ? src->chunk_size : job.request_size;
  workers = calloc(job.workers, sizeof *workers);
  if (!workers) {
    r = error_set(ENOMEM, "out of memory");
    goto out;
  }
  if (src->stream && (r = stream_setup(&job)) < 0)
    goto out;
  for (i = 0; i < job.workers; i++) {
    workers[i].job = &job;
    /* Aligned, so that a destination may write it with O_DIRECT. */
    workers[i].buf =
        aligned_alloc(COPY_BUF_ALIGN, ROUND_UP(bufsize, COPY_BUF_ALIGN));
    if (!workers[i].buf) {
      r = error_set(ENOMEM, "out of memory");
      atomic_store(&job.failed, true);
      break;
    }
    if (pthread_create(&workers[i].thread, NULL,
                       src->stream ? stream_worker : random_worker,
                       &workers[i]) != 0) {
      r = error_set(EAGAIN, "cannot start a copy worker thread");
      atomic_store(&job.failed, true);
      break;
    }
    started++;
  }
  if (src->stream) {
    int rr = stream_read(&job);
    if (r == 0 && rr < 0)
      r = rr;
  }
  for (i = 0; i < started; i++)
    pthread_join(workers[i].thread, NULL);
  /* The first worker error wins over the reader's "stopped" state. */
  for (i = 0; i < started; i++)
    if (workers[i].error) {
      error_put(TAKE_PTR(workers[i].error), workers[i].errnum);
      if (r == 0)
        r = -(workers[i].errnum ? workers[i].errnum : EIO);
    }
  if (r == 0 && atomic_load(&job.failed))
    r = error_is_set() ? -error_code() : -EIO;
  /* A source with a published checksum checks it before the copy counts
   * as done. */
  if (r == 0)
    r = disk_verify(src);
  if (r == 0 && !opts->no_flush)
    r = dest_flush(dst);

out:
  for (i = 0; workers && i < job.workers; i++) {
    free(workers[i].buf);
    free(workers[i].error);
  }
  free(workers);
  stream_teardown(&job);
  pthread_mutex_destroy(&job.lock);
  pthread_cond_destroy(&job.slot_freed);
  pthread_cond_destroy(&job.slot_ready);
  return r;
}
