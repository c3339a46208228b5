/* The rate-limited work queue (see workqueue.h).
 *
 * Each key known to the queue has one item in a hash table. An item is
 * in the FIFO while `queued`; `dirty` says it must be processed (again);
 * `processing` that a worker has it. A delayed item has a due time and
 * is moved to the FIFO by the first get() or len() after it. Items with
 * nothing left to say are removed.
 */
#include "kube/workqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/error.h"

struct item {
  char *key;
  struct item *hnext; /* hash chain */
  struct item *qnext; /* FIFO */
  bool dirty, processing, queued;
  double due; /* > 0: delayed until then (monotonic seconds) */
  unsigned failures;
};

struct kube_workqueue {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  double base_delay, max_delay;
  struct item **buckets;
  size_t nbuckets, nitems;
  struct item *head, *tail;
  size_t queued;
  size_t ndelayed;
  bool shutdown;
};

static double now_mono(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t hash_key(const char *s)
{
  uint64_t h = 1469598103934665603ull; /* FNV-1a */

  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

int kube_workqueue_new(double base_delay, double max_delay,
                       struct kube_workqueue **ret)
{
  struct kube_workqueue *q = calloc(1, sizeof(*q));
  pthread_condattr_t attr;

  if (!q)
    return error_set(ENOMEM, "out of memory");
  q->base_delay = base_delay > 0 ? base_delay : 0.005;
  q->max_delay = max_delay > 0 ? max_delay : 1000;
  q->nbuckets = 64;
  q->buckets = calloc(q->nbuckets, sizeof(*q->buckets));
  if (!q->buckets) {
    free(q);
    return error_set(ENOMEM, "out of memory");
  }
  pthread_mutex_init(&q->lock, NULL);
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&q->cond, &attr);
  pthread_condattr_destroy(&attr);
  *ret = q;
  return 0;
}

void kube_workqueue_free(struct kube_workqueue *q)
{
  if (!q)
    return;
  for (size_t i = 0; i < q->nbuckets; i++) {
    struct item *it = q->buckets[i], *next;

    for (; it; it = next) {
      next = it->hnext;
      free(it->key);
      free(it);
    }
  }
  free(q->buckets);
  pthread_cond_destroy(&q->cond);
  pthread_mutex_destroy(&q->lock);
  free(q);
}

static struct item *find(struct kube_workqueue *q, const char *key)
{
  struct item *it = q->buckets[hash_key(key) % q->nbuckets];

  for (; it; it = it->hnext)
    if (streq(it->key, key))
      return it;
  return NULL;
}

static void grow(struct kube_workqueue *q)
{
  size_t n = q->nbuckets * 4;
  struct item **b = calloc(n, sizeof(*b));

  if (!b)
    return; /* longer chains, still correct */
  for (size_t i = 0; i < q->nbuckets; i++) {
    struct item *it = q->buckets[i], *next;

    for (; it; it = next) {
      size_t h = hash_key(it->key) % n;

      next = it->hnext;
      it->hnext = b[h];
      b[h] = it;
    }
  }
  free(q->buckets);
  q->buckets = b;
  q->nbuckets = n;
}

static struct item *find_or_add(struct kube_workqueue *q, const char *key)
{
  struct item *it = find(q, key);
  size_t h;

  if (it)
    return it;
  if (q->nitems >= q->nbuckets)
    grow(q);
  it = calloc(1, sizeof(*it));
  if (!it || !(it->key = strdup(key))) {
    free(it);
    error_set(ENOMEM, "out of memory");
    return NULL;
  }
  h = hash_key(key) % q->nbuckets;
  it->hnext = q->buckets[h];
  q->buckets[h] = it;
  q->nitems++;
  return it;
}

/* Drops an item that is in no state worth keeping. */
static void maybe_remove(struct kube_workqueue *q, struct item *it)
{
  struct item **pp;

  if (it->dirty || it->processing || it->queued || it->due > 0 || it->failures)
    return;
  for (pp = &q->buckets[hash_key(it->key) % q->nbuckets]; *pp;
       pp = &(*pp)->hnext) {
    if (*pp == it) {
      *pp = it->hnext;
      break;
    }
  }
  q->nitems--;
  free(it->key);
  free(it);
}

static void push(struct kube_workqueue *q, struct item *it)
{
  it->queued = true;
  it->qnext = NULL;
  if (q->tail)
    q->tail->qnext = it;
  else
    q->head = it;
  q->tail = it;
  q->queued++;
  pthread_cond_signal(&q->cond);
}

/* client-go's Add: dirty once; queued unless a worker has it. */
static void add_locked(struct kube_workqueue *q, struct item *it)
{
  if (it->due > 0) {
    it->due = 0;
    q->ndelayed--;
  }
  if (it->dirty)
    return;
  it->dirty = true;
  if (!it->processing)
    push(q, it);
}

int kube_workqueue_add(struct kube_workqueue *q, const char *key)
{
  return kube_workqueue_add_after(q, key, 0);
}

int kube_workqueue_add_after(struct kube_workqueue *q, const char *key,
                             double delay)
{
  struct item *it;
  int r = 0;

  pthread_mutex_lock(&q->lock);
  if (q->shutdown)
    goto out;
  it = find_or_add(q, key);
  if (!it) {
    r = -ENOMEM;
    goto out;
  }
  if (delay <= 0) {
    add_locked(q, it);
  } else if (!it->dirty || it->processing) {
    /* A key already waiting in the FIFO will run sooner anyway. */
    double due = now_mono() + delay;

    if (it->due <= 0) {
      q->ndelayed++;
      it->due = due;
    } else if (due < it->due) {
      it->due = due;
    }
    /* A worker waiting for the next due time may need to wait less. */
    pthread_cond_broadcast(&q->cond);
  }
out:
  pthread_mutex_unlock(&q->lock);
  return r;
}

int kube_workqueue_add_rate_limited(struct kube_workqueue *q, const char *key)
{
  struct item *it;
  double delay;

  pthread_mutex_lock(&q->lock);
  it = q->shutdown ? NULL : find_or_add(q, key);
  if (!it) {
    pthread_mutex_unlock(&q->lock);
    return q->shutdown ? 0 : -ENOMEM;
  }
  delay = q->base_delay;
  for (unsigned i = 0; i < it->failures && delay < q->max_delay; i++)
    delay *= 2;
  if (delay > q->max_delay)
    delay = q->max_delay;
  it->failures++;
  pthread_mutex_unlock(&q->lock);
  return kube_workqueue_add_after(q, key, delay);
}

void kube_workqueue_forget(struct kube_workqueue *q, const char *key)
{
  struct item *it;

  pthread_mutex_lock(&q->lock);
  it = find(q, key);
  if (it) {
    it->failures = 0;
    maybe_remove(q, it);
  }
  pthread_mutex_unlock(&q->lock);
}

unsigned kube_workqueue_requeues(struct kube_workqueue *q, const char *key)
{
  struct item *it;
  unsigned n;

  pthread_mutex_lock(&q->lock);
  it = find(q, key);
  n = it ? it->failures : 0;
  pthread_mutex_unlock(&q->lock);
  return n;
}

/* Moves the items that are due into the FIFO; returns the next due time
 * of those still waiting (0: none). */
static double promote(struct kube_workqueue *q)
{
  double now, next = 0;

  if (!q->ndelayed)
    return 0;
  now = now_mono();
  for (size_t i = 0; i < q->nbuckets; i++) {
    for (struct item *it = q->buckets[i]; it; it = it->hnext) {
      if (it->due <= 0)
        continue;
      if (it->due <= now)
        add_locked(q, it);
      else if (!next || it->due < next)
        next = it->due;
    }
  }
  return next;
}

int kube_workqueue_get(struct kube_workqueue *q, const char **ret_key)
{
  struct item *it;

  pthread_mutex_lock(&q->lock);
  for (;;) {
    double next;

    if (q->shutdown) {
      pthread_mutex_unlock(&q->lock);
      return -ESHUTDOWN;
    }
    next = promote(q);
    if (q->head)
      break;
    if (next > 0) {
      struct timespec ts = {.tv_sec = (time_t)next,
                            .tv_nsec = (long)((next - (time_t)next) * 1e9)};

      pthread_cond_timedwait(&q->cond, &q->lock, &ts);
    } else {
      pthread_cond_wait(&q->cond, &q->lock);
    }
  }
  it = q->head;
  q->head = it->qnext;
  if (!q->head)
    q->tail = NULL;
  q->queued--;
  it->queued = false;
  it->dirty = false;
  it->processing = true;
  *ret_key = it->key;
  pthread_mutex_unlock(&q->lock);
  return 0;
}

void kube_workqueue_done(struct kube_workqueue *q, const char *key)
{
  struct item *it;

  pthread_mutex_lock(&q->lock);
  it = find(q, key);
  if (it && it->processing) {
    it->processing = false;
    if (it->dirty)
      push(q, it);
    else
      maybe_remove(q, it);
  }
  pthread_mutex_unlock(&q->lock);
}

void kube_workqueue_shutdown(struct kube_workqueue *q)
{
  pthread_mutex_lock(&q->lock);
  q->shutdown = true;
  pthread_cond_broadcast(&q->cond);
  pthread_mutex_unlock(&q->lock);
}

bool kube_workqueue_shutting_down(struct kube_workqueue *q)
{
  bool r;

  pthread_mutex_lock(&q->lock);
  r = q->shutdown;
  pthread_mutex_unlock(&q->lock);
  return r;
}

size_t kube_workqueue_len(struct kube_workqueue *q)
{
  size_t n;

  pthread_mutex_lock(&q->lock);
  promote(q);
  n = q->queued;
  pthread_mutex_unlock(&q->lock);
  return n;
}
