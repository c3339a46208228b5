/* Leader election on a Lease (see leader.h). */
#include "kube/leader.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/error.h"

struct kube_leader {
  struct kube_client *c;
  char *ns, *name, *identity;
  double lease_duration, renew_deadline, retry_period;
  bool no_release;
  void (*started)(void *opaque);
  void (*stopped)(void *opaque);
  void *opaque;

  pthread_t thread;
  bool running, joined;
  atomic_bool stop;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool leading, lost;
  double renewed; /* monotonic time the last successful renew was sent */

  /* The Lease as last seen, and when it last changed (our clock). */
  char *seen;
  double seen_at;
};

static double now_mono(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int kube_leader_new(struct kube_client *c,
                    const struct kube_leader_options *opts,
                    struct kube_leader **ret)
{
  struct kube_leader *le;
  pthread_condattr_t attr;

  if (!opts->name || !*opts->name || !opts->identity || !*opts->identity)
    return error_set(EINVAL, "leader election: a Lease name and an identity "
                             "are needed");
  le = calloc(1, sizeof(*le));
  if (!le)
    return error_set(ENOMEM, "out of memory");
  le->c = c;
  le->ns = strdup(opts->ns ? opts->ns : kube_client_namespace(c));
  le->name = strdup(opts->name);
  le->identity = strdup(opts->identity);
  if (!le->ns || !le->name || !le->identity) {
    kube_leader_free(le);
    return error_set(ENOMEM, "out of memory");
  }
  le->lease_duration = opts->lease_duration > 0 ? opts->lease_duration : 15;
  le->renew_deadline = opts->renew_deadline > 0 ? opts->renew_deadline : 10;
  le->retry_period = opts->retry_period > 0 ? opts->retry_period : 2;
  if (le->renew_deadline >= le->lease_duration ||
      le->retry_period >= le->renew_deadline) {
    kube_leader_free(le);
    return error_set(EINVAL,
                     "leader election: need retry period < renew deadline "
                     "< lease duration (%g, %g, %g s)",
                     opts->retry_period, opts->renew_deadline,
                     opts->lease_duration);
  }
  le->no_release = opts->no_release;
  le->started = opts->started;
  le->stopped = opts->stopped;
  le->opaque = opts->opaque;
  pthread_mutex_init(&le->lock, NULL);
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&le->cond, &attr);
  pthread_condattr_destroy(&attr);
  *ret = le;
  return 0;
}

static void now_micro(char *buf, size_t len)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  kube_time_format(&ts, true, buf, len);
}

static json_t *spec_of(json_t *lease)
{
  json_t *spec = json_object_get(lease, "spec");

  if (!json_is_object(spec)) {
    spec = json_object();
    json_object_set_new(lease, "spec", spec);
  }
  return spec;
}

/* Remembers the Lease's record; restarts the expiry clock when it
 * changed. */
static void observe(struct kube_leader *le, json_t *lease, double when)
{
  char *rec =
      json_dumps(json_object_get(lease, "spec"), JSON_COMPACT | JSON_SORT_KEYS);

  if (!rec)
    return;
  if (!le->seen || !streq(le->seen, rec)) {
    free(le->seen);
    le->seen = rec;
    le->seen_at = when;
  } else {
    free(rec);
  }
}

static void fill_spec(struct kube_leader *le, json_t *spec, bool ours_before,
                      const char *now)
{
  json_int_t transitions =
      json_integer_value(json_object_get(spec, "leaseTransitions"));

  if (!ours_before) {
    json_object_set_new(spec, "acquireTime", json_string(now));
    json_object_set_new(spec, "leaseTransitions",
                        json_integer(json_object_get(spec, "holderIdentity")
                                         ? transitions + 1
                                         : transitions));
  }
  json_object_set_new(spec, "holderIdentity", json_string(le->identity));
  json_object_set_new(spec, "leaseDurationSeconds",
                      json_integer((json_int_t)(le->lease_duration + 0.999)));
  json_object_set_new(spec, "renewTime", json_string(now));
}

/* One try: true when this candidate holds the Lease after it. */
static bool try_acquire_or_renew(struct kube_leader *le)
{
  json_auto_t *lease = NULL, *written = NULL;
  double sent = now_mono();
  const char *holder;
  char now[40];
  json_t *spec;
  bool ours;
  int r;

  now_micro(now, sizeof(now));
  r = kube_get(le->c, &kube_leases, le->ns, le->name, &lease);
  if (r == -ENOENT) {
    error_clear();
    lease = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{}}", "apiVersion",
                      "coordination.k8s.io/v1", "kind", "Lease", "metadata",
                      "name", le->name, "namespace", le->ns, "spec");
    if (!lease)
      return false;
    fill_spec(le, spec_of(lease), false, now);
    json_object_set_new(spec_of(lease), "leaseTransitions", json_integer(0));
    r = kube_create(le->c, &kube_leases, le->ns, lease, &written);
    if (r < 0) {
      error_clear(); /* AlreadyExists: another was faster */
      return false;
    }
    observe(le, written, sent);
    return true;
  }
  if (r < 0) {
    error_clear();
    return false;
  }
  observe(le, lease, now_mono());
  spec = spec_of(lease);
  holder = json_string_value(json_object_get(spec, "holderIdentity"));
  ours = holder && streq(holder, le->identity);
  if (holder && *holder && !ours &&
      le->seen_at + le->lease_duration > now_mono())
    return false; /* held by another, not expired */
  fill_spec(le, spec, ours, now);
  /* metadata.resourceVersion makes this a compare-and-swap. */
  r = kube_update(le->c, &kube_leases, le->ns, NULL, lease, &written);
  if (r < 0) {
    error_clear();
    return false;
  }
  observe(le, written, sent);
  return true;
}

static void release(struct kube_leader *le)
{
  json_auto_t *lease = NULL;
  const char *holder;
  char now[40];
  json_t *spec;

  if (kube_get(le->c, &kube_leases, le->ns, le->name, &lease) < 0) {
    error_clear();
    return;
  }
  spec = spec_of(lease);
  holder = json_string_value(json_object_get(spec, "holderIdentity"));
  if (!holder || !streq(holder, le->identity))
    return;
  now_micro(now, sizeof(now));
  json_object_set_new(spec, "holderIdentity", json_string(""));
  json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
  json_object_set_new(spec, "renewTime", json_string(now));
  if (kube_update(le->c, &kube_leases, le->ns, NULL, lease, NULL) < 0)
    error_clear();
}

/* Waits s seconds (with 20% jitter when asked) or until stop. */
static void pause_for(struct kube_leader *le, double s, bool jitter)
{
  double end = now_mono() + s * (jitter ? 1 + (rand() % 20) / 100.0 : 1);
  struct timespec ts = {.tv_sec = (time_t)end,
                        .tv_nsec = (long)((end - (time_t)end) * 1e9)};

  pthread_mutex_lock(&le->lock);
  while (!atomic_load(&le->stop) && now_mono() < end)
    pthread_cond_timedwait(&le->cond, &le->lock, &ts);
  pthread_mutex_unlock(&le->lock);
}

static void set_leading(struct kube_leader *le, bool on, bool lost)
{
  pthread_mutex_lock(&le->lock);
  le->leading = on;
  le->lost = lost;
  pthread_cond_broadcast(&le->cond);
  pthread_mutex_unlock(&le->lock);
}

static void *run(void *opaque)
{
  struct kube_leader *le = opaque;

  while (!atomic_load(&le->stop)) {
    double sent = now_mono();

    if (try_acquire_or_renew(le)) {
      pthread_mutex_lock(&le->lock);
      le->renewed = sent;
      pthread_mutex_unlock(&le->lock);
      set_leading(le, true, false);
      break;
    }
    pause_for(le, le->retry_period, true);
  }
  if (atomic_load(&le->stop))
    return NULL;
  if (le->started)
    le->started(le->opaque);
  for (;;) {
    double sent, renewed;

    pause_for(le, le->retry_period, false);
    if (atomic_load(&le->stop))
      break;
    sent = now_mono();
    if (try_acquire_or_renew(le)) {
      pthread_mutex_lock(&le->lock);
      le->renewed = sent;
      pthread_mutex_unlock(&le->lock);
      continue;
    }
    pthread_mutex_lock(&le->lock);
    renewed = le->renewed;
    pthread_mutex_unlock(&le->lock);
    if (now_mono() - renewed >= le->renew_deadline) {
      set_leading(le, false, true);
      if (le->stopped)
        le->stopped(le->opaque);
      return NULL;
    }
  }
  set_leading(le, false, false);
  if (!le->no_release)
    release(le);
  if (le->stopped)
    le->stopped(le->opaque);
  return NULL;
}

int kube_leader_start(struct kube_leader *le)
{
  int r;

  if (le->running)
    return 0;
  r = pthread_create(&le->thread, NULL, run, le);
  if (r)
    return error_set(r, "leader election: cannot start a thread");
  le->running = true;
  return 0;
}

bool kube_leader_is_leader(struct kube_leader *le)
{
  bool on;

  pthread_mutex_lock(&le->lock);
  /* Also false when the renewing thread is stuck in a slow request: the
   * Lease may expire for others renew_deadline after our last renew. */
  on = le->leading && now_mono() - le->renewed < le->renew_deadline;
  pthread_mutex_unlock(&le->lock);
  return on;
}

bool kube_leader_lost(struct kube_leader *le)
{
  bool lost;

  pthread_mutex_lock(&le->lock);
  lost = le->lost;
  pthread_mutex_unlock(&le->lock);
  return lost;
}

bool kube_leader_wait(struct kube_leader *le, double timeout)
{
  double end = now_mono() + timeout;
  struct timespec ts = {.tv_sec = (time_t)end,
                        .tv_nsec = (long)((end - (time_t)end) * 1e9)};

  pthread_mutex_lock(&le->lock);
  while (!le->leading && !le->lost && !atomic_load(&le->stop)) {
    if (timeout < 0)
      pthread_cond_wait(&le->cond, &le->lock);
    else if (now_mono() >= end ||
             pthread_cond_timedwait(&le->cond, &le->lock, &ts) == ETIMEDOUT)
      break;
  }
  pthread_mutex_unlock(&le->lock);
  return kube_leader_is_leader(le);
}

void kube_leader_stop(struct kube_leader *le)
{
  if (!le)
    return;
  pthread_mutex_lock(&le->lock);
  atomic_store(&le->stop, true);
  pthread_cond_broadcast(&le->cond);
  pthread_mutex_unlock(&le->lock);
  if (le->running && !le->joined) {
    pthread_join(le->thread, NULL);
    le->joined = true;
  }
}

void kube_leader_free(struct kube_leader *le)
{
  if (!le)
    return;
  kube_leader_stop(le);
  free(le->seen);
  free(le->ns);
  free(le->name);
  free(le->identity);
  pthread_cond_destroy(&le->cond);
  pthread_mutex_destroy(&le->lock);
  free(le);
}
