/* Test-only checks of the work queue (src/kube/workqueue.h), no API
 * server: one JSON line per check, {"test": NAME, "ok": BOOL, …}; exit
 * status 1 if any failed. Driven by tests/test_kube_client.py. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/workqueue.h"
#include "util/cleanup.h"

static int failures;

static double mono(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(const char *name, bool ok, json_t *detail)
{
  json_t *o = json_pack("{s:s, s:b}", "test", name, "ok", ok);
  char *s;

  if (detail)
    json_object_set_new(o, "detail", detail);
  s = json_dumps(o, JSON_COMPACT);
  printf("%s\n", s);
  fflush(stdout);
  free(s);
  json_decref(o);
  if (!ok)
    failures++;
}

static void test_dedup(void)
{
  struct kube_workqueue *q;
  const char *k1, *k2;
  size_t n;

  kube_workqueue_new(0, 0, &q);
  kube_workqueue_add(q, "ns/a");
  kube_workqueue_add(q, "ns/a");
  kube_workqueue_add(q, "ns/b");
  kube_workqueue_add(q, "ns/a");
  n = kube_workqueue_len(q);
  kube_workqueue_get(q, &k1);
  kube_workqueue_get(q, &k2);
  report("dedup",
         n == 2 && streq(k1, "ns/a") && streq(k2, "ns/b") &&
             kube_workqueue_len(q) == 0,
         json_pack("{s:I, s:s, s:s}", "len", (json_int_t)n, "first", k1,
                   "second", k2));
  kube_workqueue_done(q, k1);
  kube_workqueue_done(q, k2);
  kube_workqueue_free(q);
}

static void test_dirty_while_processing(void)
{
  struct kube_workqueue *q;
  const char *k, *again;
  size_t during, after;

  kube_workqueue_new(0, 0, &q);
  kube_workqueue_add(q, "x");
  kube_workqueue_get(q, &k);
  kube_workqueue_add(q, "x"); /* while processing: not handed out */
  kube_workqueue_add(q, "x");
  during = kube_workqueue_len(q);
  kube_workqueue_done(q, k); /* now queued once */
  after = kube_workqueue_len(q);
  kube_workqueue_get(q, &again);
  report("dirty_while_processing",
         during == 0 && after == 1 && streq(again, "x"),
         json_pack("{s:I, s:I}", "len_during", (json_int_t)during, "len_after",
                   (json_int_t)after));
  kube_workqueue_done(q, again);
  kube_workqueue_free(q);
}

static void test_add_after(void)
{
  struct kube_workqueue *q;
  const char *k;
  double t0, waited;
  size_t now;

  kube_workqueue_new(0, 0, &q);
  t0 = mono();
  kube_workqueue_add_after(q, "late", 0.3);
  kube_workqueue_add_after(q, "later", 10); /* superseded: */
  kube_workqueue_add_after(q, "later", 0.1);
  now = kube_workqueue_len(q);
  kube_workqueue_get(q, &k);
  waited = mono() - t0;
  report("add_after_sooner_wins",
         now == 0 && streq(k, "later") && waited >= 0.1 && waited < 0.3,
         json_pack("{s:s, s:f}", "first", k, "waited", waited));
  kube_workqueue_done(q, k);
  kube_workqueue_get(q, &k);
  waited = mono() - t0;
  report("add_after", streq(k, "late") && waited >= 0.3 && waited < 2,
         json_pack("{s:s, s:f}", "key", k, "waited", waited));
  kube_workqueue_done(q, k);
  kube_workqueue_free(q);
}

static void test_backoff(void)
{
  struct kube_workqueue *q;
  json_t *delays = json_array();
  bool ok = true;
  const char *k;

  kube_workqueue_new(0.02, 0.1, &q);
  /* 20, 40, 80 ms, then capped at 100 ms. */
  for (int i = 0; i < 5; i++) {
    double t0 = mono(), d, want = i < 3 ? 0.02 * (1 << i) : 0.1;

    kube_workqueue_add_rate_limited(q, "flaky");
    kube_workqueue_get(q, &k);
    d = mono() - t0;
    json_array_append_new(delays, json_real(d));
    if (d < want * 0.95 || d > want + 0.5)
      ok = false;
    kube_workqueue_done(q, k);
  }
  ok = ok && kube_workqueue_requeues(q, "flaky") == 5;
  kube_workqueue_forget(q, "flaky");
  ok = ok && kube_workqueue_requeues(q, "flaky") == 0;
  report("backoff", ok, json_pack("{s:o}", "delays", delays));
  kube_workqueue_free(q);
}

struct waiter {
  struct kube_workqueue *q;
  int rc;
};

static void *wait_get(void *opaque)
{
  struct waiter *w = opaque;
  const char *k;

  w->rc = kube_workqueue_get(w->q, &k);
  return NULL;
}

static void test_shutdown(void)
{
  struct kube_workqueue *q;
  struct waiter w[3];
  pthread_t t[3];
  bool ok = true;
  double t0;

  kube_workqueue_new(0, 0, &q);
  kube_workqueue_add_after(q, "never", 60);
  for (int i = 0; i < 3; i++) {
    w[i] = (struct waiter){q, 1};
    pthread_create(&t[i], NULL, wait_get, &w[i]);
  }
  usleep(100000);
  t0 = mono();
  kube_workqueue_shutdown(q);
  for (int i = 0; i < 3; i++) {
    pthread_join(t[i], NULL);
    ok = ok && w[i].rc == -ESHUTDOWN;
  }
  ok = ok && mono() - t0 < 1 && kube_workqueue_shutting_down(q);
  kube_workqueue_add(q, "after");
  ok = ok && kube_workqueue_len(q) == 0;
  report("shutdown_wakes_waiters", ok,
         json_pack("{s:f}", "seconds", mono() - t0));
  kube_workqueue_free(q);
}

/* Workers and producers at once: a key is never held by two workers, and
 * each key is processed after its last add. */
#define NKEYS 40
#define NADDS 4000

static struct {
  struct kube_workqueue *q;
  atomic_int busy[NKEYS];
  atomic_long last_add[NKEYS];   /* sequence of the last add */
  atomic_long last_start[NKEYS]; /* sequence when processing last began */
  atomic_long seq;
  atomic_int overlaps;
  atomic_long processed;
} st;

static void *producer(void *opaque)
{
  unsigned seed = (unsigned)(size_t)opaque;

  for (int i = 0; i < NADDS / 2; i++) {
    int k = rand_r(&seed) % NKEYS;
    char key[16];

    snprintf(key, sizeof(key), "k%d", k);
    atomic_store(&st.last_add[k], atomic_fetch_add(&st.seq, 1));
    kube_workqueue_add(st.q, key);
    if (i % 50 == 0)
      usleep(1000);
  }
  return NULL;
}

static void *worker(void *opaque)
{
  const char *key;

  (void)opaque;
  while (kube_workqueue_get(st.q, &key) == 0) {
    int k = atoi(key + 1);

    if (atomic_fetch_add(&st.busy[k], 1) != 0)
      atomic_fetch_add(&st.overlaps, 1);
    atomic_store(&st.last_start[k], atomic_fetch_add(&st.seq, 1));
    usleep(200);
    atomic_fetch_sub(&st.busy[k], 1);
    atomic_fetch_add(&st.processed, 1);
    kube_workqueue_done(st.q, key);
  }
  return NULL;
}

static void test_threads(void)
{
  pthread_t p[2], w[4];
  int missed = 0;
  double t0;

  kube_workqueue_new(0, 0, &st.q);
  for (int i = 0; i < NKEYS; i++)
    atomic_store(&st.last_add[i], -1);
  for (int i = 0; i < 4; i++)
    pthread_create(&w[i], NULL, worker, NULL);
  for (int i = 0; i < 2; i++)
    pthread_create(&p[i], NULL, producer, (void *)(size_t)(i + 1));
  for (int i = 0; i < 2; i++)
    pthread_join(p[i], NULL);
  /* Drain: the queue empties once every worker is idle. */
  t0 = mono();
  for (;;) {
    bool idle = kube_workqueue_len(st.q) == 0;

    for (int i = 0; i < NKEYS; i++)
      idle = idle && atomic_load(&st.busy[i]) == 0;
    if ((idle && mono() - t0 > 0.2) || mono() - t0 > 10)
      break;
    usleep(10000);
  }
  kube_workqueue_shutdown(st.q);
  for (int i = 0; i < 4; i++)
    pthread_join(w[i], NULL);
  for (int i = 0; i < NKEYS; i++)
    if (atomic_load(&st.last_add[i]) >= 0 &&
        atomic_load(&st.last_start[i]) < atomic_load(&st.last_add[i]))
      missed++;
  report("threads",
         atomic_load(&st.overlaps) == 0 && missed == 0 &&
             atomic_load(&st.processed) < NADDS,
         json_pack("{s:i, s:i, s:I}", "overlaps", atomic_load(&st.overlaps),
                   "missed", missed, "processed",
                   (json_int_t)atomic_load(&st.processed)));
  kube_workqueue_free(st.q);
}

int main(void)
{
  test_dedup();
  test_dirty_while_processing();
  test_add_after();
  test_backoff();
  test_shutdown();
  test_threads();
  return failures ? 1 : 0;
}
