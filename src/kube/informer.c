/* The informer: list + watch into a cache (see informer.h). The cache is
 * a jansson object used as a hash map from key to object. */
#include "kube/informer.h"
#include "kube/watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/error.h"

#define BACKOFF_FIRST 0.5
#define BACKOFF_MAX 30.

struct kube_informer {
  struct kube_client *c;
  struct kube_resource res;
  char *group, *version, *plural;
  char *ns, *label_selector, *field_selector;
  long page_size, watch_timeout;
  double resync;
  bool keep_managed_fields;
  struct kube_informer_handlers h;

  pthread_t thread;
  bool started, joined;
  atomic_bool stop;

  pthread_mutex_t lock;
  pthread_cond_t cond;
  json_t *cache;
  bool synced;
  struct kube_informer_stats stats;
  char *rv;
};

static double now_mono(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dup_opt(const char *s, char **ret)
{
  *ret = NULL;
  if (s && *s && !(*ret = strdup(s)))
    return -ENOMEM;
  return 0;
}

int kube_informer_new(struct kube_client *c,
                      const struct kube_informer_options *opts,
                      const struct kube_informer_handlers *handlers,
                      struct kube_informer **ret)
{
  struct kube_informer *inf;
  pthread_condattr_t attr;

  if (!opts->res)
    return error_set(EINVAL, "informer: no resource");
  inf = calloc(1, sizeof(*inf));
  if (!inf)
    return error_set(ENOMEM, "out of memory");
  inf->c = c;
  pthread_mutex_init(&inf->lock, NULL);
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&inf->cond, &attr);
  pthread_condattr_destroy(&attr);
  inf->cache = json_object();
  if (!inf->cache || dup_opt(opts->res->group, &inf->group) < 0 ||
      dup_opt(opts->res->version, &inf->version) < 0 ||
      dup_opt(opts->res->plural, &inf->plural) < 0 ||
      dup_opt(opts->ns, &inf->ns) < 0 ||
      dup_opt(opts->label_selector, &inf->label_selector) < 0 ||
      dup_opt(opts->field_selector, &inf->field_selector) < 0) {
    kube_informer_free(inf);
    return error_set(ENOMEM, "out of memory");
  }
  inf->res = (struct kube_resource){inf->group ? inf->group : "", inf->version,
                                    inf->plural, opts->res->namespaced};
  inf->page_size = opts->page_size > 0 ? opts->page_size : 500;
  inf->watch_timeout = opts->watch_timeout > 0 ? opts->watch_timeout : 300;
  inf->resync = opts->resync_seconds;
  inf->keep_managed_fields = opts->keep_managed_fields;
  if (handlers)
    inf->h = *handlers;
  *ret = inf;
  return 0;
}

/* ---- the cache ---- */

static void trim(struct kube_informer *inf, json_t *obj)
{
  if (!inf->keep_managed_fields)
    json_object_del(json_object_get(obj, "metadata"), "managedFields");
}

static void set_rv(struct kube_informer *inf, const char *rv)
{
  char *copy;

  if (!rv || !*rv || !(copy = strdup(rv)))
    return;
  pthread_mutex_lock(&inf->lock);
  free(inf->rv);
  inf->rv = copy;
  pthread_mutex_unlock(&inf->lock);
}

/* An ADDED or MODIFIED object: stored, then add or update called. */
static void upsert(struct kube_informer *inf, json_t *obj)
{
  _cleanup_free_ char *key = kube_obj_key(obj);
  json_t *old;

  if (!key)
    return;
  trim(inf, obj);
  pthread_mutex_lock(&inf->lock);
  old = json_incref(json_object_get(inf->cache, key));
  json_object_set(inf->cache, key, obj);
  pthread_mutex_unlock(&inf->lock);
  if (old && inf->h.update)
    inf->h.update(old, obj, inf->h.opaque);
  else if (!old && inf->h.add)
    inf->h.add(obj, inf->h.opaque);
  json_decref(old);
}

static void remove_obj(struct kube_informer *inf, json_t *obj)
{
  _cleanup_free_ char *key = kube_obj_key(obj);
  bool had;

  if (!key)
    return;
  trim(inf, obj);
  pthread_mutex_lock(&inf->lock);
  had = json_object_get(inf->cache, key) != NULL;
  json_object_del(inf->cache, key);
  pthread_mutex_unlock(&inf->lock);
  if (had && inf->h.del)
    inf->h.del(obj, inf->h.opaque);
}

static int on_event(const struct kube_event *ev, void *opaque)
{
  struct kube_informer *inf = opaque;

  pthread_mutex_lock(&inf->lock);
  inf->stats.events++;
  pthread_mutex_unlock(&inf->lock);
  switch (ev->type) {
  case KUBE_EVENT_ADDED:
  case KUBE_EVENT_MODIFIED:
    upsert(inf, ev->object);
    break;
  case KUBE_EVENT_DELETED:
    remove_obj(inf, ev->object);
    break;
  default:
    break;
  }
  if (ev->type != KUBE_EVENT_ERROR)
    set_rv(inf, kube_obj_resource_version(ev->object));
  return atomic_load(&inf->stop) ? 1 : 0;
}

/* Lists everything and makes the cache that list: adds for new objects,
 * updates for changed ones, deletes for those gone. */
static int relist(struct kube_informer *inf)
{
  struct kube_list_options lo = {.label_selector = inf->label_selector,
                                 .field_selector = inf->field_selector,
                                 .limit = inf->page_size};
  json_auto_t *fresh = json_object(), *old = NULL;
  _cleanup_free_ char *cont = NULL, *rv = NULL;
  const char *ns = inf->res.namespaced ? (inf->ns ? inf->ns : "") : NULL;
  const char *key;
  json_t *obj;
  void *tmp;
  int r;

  if (!fresh)
    return error_set(ENOMEM, "out of memory");
  do {
    json_auto_t *page = NULL;
    json_t *items, *item;
    const char *next;
    size_t i;

    r = kube_list_page(inf->c, &inf->res, ns, &lo, cont, &page);
    if (r < 0)
      return r;
    if (!rv) {
      rv = strdup(kube_obj_resource_version(page) ?: "");
      if (!rv)
        return error_set(ENOMEM, "out of memory");
    }
    items = json_object_get(page, "items");
    json_array_foreach(items, i, item)
    {
      _cleanup_free_ char *k = kube_obj_key(item);

      if (!k)
        continue;
      trim(inf, item);
      if (json_object_set(fresh, k, item) < 0)
        return error_set(ENOMEM, "out of memory");
    }
    next = json_string_value(
        json_object_get(json_object_get(page, "metadata"), "continue"));
    free(cont);
    cont = next && *next ? strdup(next) : NULL;
  } while (cont && !atomic_load(&inf->stop));
  if (atomic_load(&inf->stop))
    return 0;

  pthread_mutex_lock(&inf->lock);
  old = inf->cache;
  inf->cache = json_incref(fresh);
  free(inf->rv);
  inf->rv = TAKE_PTR(rv);
  inf->stats.lists++;
  pthread_mutex_unlock(&inf->lock);

  json_object_foreach(fresh, key, obj)
  {
    json_t *was = json_object_get(old, key);
    const char *a, *b;

    if (!was) {
      if (inf->h.add)
        inf->h.add(obj, inf->h.opaque);
      continue;
    }
    a = kube_obj_resource_version(was);
    b = kube_obj_resource_version(obj);
    if (inf->h.update && (!a || !b || !streq(a, b)))
      inf->h.update(was, obj, inf->h.opaque);
  }
  json_object_foreach_safe(old, tmp, key, obj)
  {
    if (!json_object_get(fresh, key) && inf->h.del)
      inf->h.del(obj, inf->h.opaque);
  }
  pthread_mutex_lock(&inf->lock);
  inf->synced = true;
  pthread_cond_broadcast(&inf->cond);
  pthread_mutex_unlock(&inf->lock);
  return 0;
}

static void resync(struct kube_informer *inf)
{
  json_auto_t *snap;
  const char *key;
  json_t *obj;

  pthread_mutex_lock(&inf->lock);
  snap = json_copy(inf->cache); /* shallow: the objects are shared */
  pthread_mutex_unlock(&inf->lock);
  if (!snap || !inf->h.update)
    return;
  json_object_foreach(snap, key, obj)
  {
    if (atomic_load(&inf->stop))
      break;
    inf->h.update(obj, obj, inf->h.opaque);
  }
}

/* Sleeps s seconds or until stop. */
static void pause_for(struct kube_informer *inf, double s)
{
  double end = now_mono() + s;
  struct timespec ts = {.tv_sec = (time_t)end,
                        .tv_nsec = (long)((end - (time_t)end) * 1e9)};

  pthread_mutex_lock(&inf->lock);
  while (!atomic_load(&inf->stop) && now_mono() < end)
    pthread_cond_timedwait(&inf->cond, &inf->lock, &ts);
  pthread_mutex_unlock(&inf->lock);
}

/* A failed list or watch: counted, then a pause that doubles each time;
 * returns the next pause. */
static double failed(struct kube_informer *inf, double backoff)
{
  error_clear();
  pthread_mutex_lock(&inf->lock);
  inf->stats.errors++;
  pthread_mutex_unlock(&inf->lock);
  pause_for(inf, backoff);
  return backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
}

static void *run(void *opaque)
{
  struct kube_informer *inf = opaque;
  double backoff = BACKOFF_FIRST;
  double next_resync = inf->resync > 0 ? now_mono() + inf->resync : 0;
  bool need_list = true;

  while (!atomic_load(&inf->stop)) {
    struct kube_watch_options wo = {.label_selector = inf->label_selector,
                                    .field_selector = inf->field_selector,
                                    .timeout_seconds = inf->watch_timeout,
                                    .stop = &inf->stop};
    _cleanup_free_ char *rv = NULL;
    int r;

    if (need_list) {
      r = relist(inf);
      if (r < 0) {
        backoff = failed(inf, backoff);
        continue;
      }
      need_list = false;
    }
    if (next_resync > 0) {
      double left = next_resync - now_mono();

      if (left <= 0) {
        resync(inf);
        next_resync = now_mono() + inf->resync;
        left = inf->resync;
      }
      if (left < wo.timeout_seconds)
        wo.timeout_seconds = left < 1 ? 1 : (long)left;
    }
    pthread_mutex_lock(&inf->lock);
    rv = inf->rv ? strdup(inf->rv) : NULL;
    inf->stats.watches++;
    pthread_mutex_unlock(&inf->lock);
    wo.resource_version = rv;
    r = kube_watch(inf->c, &inf->res,
                   inf->res.namespaced ? (inf->ns ? inf->ns : "") : NULL, &wo,
                   on_event, inf);
    if (atomic_load(&inf->stop))
      break;
    if (r == -KUBE_EGONE) {
      error_clear();
      need_list = true;
      pthread_mutex_lock(&inf->lock);
      inf->stats.relists++;
      pthread_mutex_unlock(&inf->lock);
      continue;
    }
    if (r < 0) {
      backoff = failed(inf, backoff);
      continue;
    }
    backoff = BACKOFF_FIRST;
  }
  return NULL;
}

int kube_informer_start(struct kube_informer *inf)
{
  int r;

  if (inf->started)
    return 0;
  r = pthread_create(&inf->thread, NULL, run, inf);
  if (r)
    return error_set(r, "informer: cannot start a thread");
  inf->started = true;
  return 0;
}

bool kube_informer_has_synced(struct kube_informer *inf)
{
  bool s;

  pthread_mutex_lock(&inf->lock);
  s = inf->synced;
  pthread_mutex_unlock(&inf->lock);
  return s;
}

bool kube_informer_wait_synced(struct kube_informer *inf, double timeout)
{
  double end = now_mono() + timeout;
  struct timespec ts = {.tv_sec = (time_t)end,
                        .tv_nsec = (long)((end - (time_t)end) * 1e9)};
  bool s;

  pthread_mutex_lock(&inf->lock);
  while (!inf->synced && !atomic_load(&inf->stop) && now_mono() < end)
    pthread_cond_timedwait(&inf->cond, &inf->lock, &ts);
  s = inf->synced;
  pthread_mutex_unlock(&inf->lock);
  return s;
}

json_t *kube_informer_get(struct kube_informer *inf, const char *key)
{
  json_t *obj;

  pthread_mutex_lock(&inf->lock);
  obj = json_incref(json_object_get(inf->cache, key));
  pthread_mutex_unlock(&inf->lock);
  return obj;
}

size_t kube_informer_foreach(struct kube_informer *inf,
                             void (*fn)(json_t *obj, void *opaque),
                             void *opaque)
{
  const char *key;
  json_t *obj;
  size_t n;

  pthread_mutex_lock(&inf->lock);
  n = json_object_size(inf->cache);
  json_object_foreach(inf->cache, key, obj) fn(obj, opaque);
  pthread_mutex_unlock(&inf->lock);
  return n;
}

size_t kube_informer_size(struct kube_informer *inf)
{
  size_t n;

  pthread_mutex_lock(&inf->lock);
  n = json_object_size(inf->cache);
  pthread_mutex_unlock(&inf->lock);
  return n;
}

void kube_informer_stats(struct kube_informer *inf,
                         struct kube_informer_stats *ret)
{
  pthread_mutex_lock(&inf->lock);
  *ret = inf->stats;
  pthread_mutex_unlock(&inf->lock);
}

void kube_informer_stop(struct kube_informer *inf)
{
  if (!inf)
    return;
  pthread_mutex_lock(&inf->lock);
  atomic_store(&inf->stop, true);
  pthread_cond_broadcast(&inf->cond);
  pthread_mutex_unlock(&inf->lock);
  if (inf->started && !inf->joined) {
    pthread_join(inf->thread, NULL);
    inf->joined = true;
  }
}

void kube_informer_free(struct kube_informer *inf)
{
  if (!inf)
    return;
  kube_informer_stop(inf);
  json_decref(inf->cache);
  free(inf->rv);
  free(inf->group);
  free(inf->version);
  free(inf->plural);
  free(inf->ns);
  free(inf->label_selector);
  free(inf->field_selector);
  pthread_cond_destroy(&inf->cond);
  pthread_mutex_destroy(&inf->lock);
  free(inf);
}
