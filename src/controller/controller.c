/* Informers, the work queue and the workers (see controller.h). */
#include "controller/controller.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controller/json.h"
#include "controller/labels.h"
#include "controller/prime.h"
#include "util/cleanup.h"
#include "util/error.h"

const struct kube_resource ctl_cr_resources[CTL_KIND_COUNT] = {
    {CTL_GROUP, CTL_VERSION, "ovirtvolumepopulators", true},
    {CTL_GROUP, CTL_VERSION, "openstackvolumepopulators", true},
};
const struct kube_resource ctl_jobs = {"batch", "v1", "jobs", true};

void ctl_log(const char *fmt, ...)
{
  char line[2048];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "hoist-controller: %s\n", line);
}

json_t *ctl_cached(struct ctl *c, enum ctl_informer i, const char *ns,
                   const char *name)
{
  char key[512];

  if (!name || !c->inf[i])
    return NULL;
  if (ns)
    snprintf(key, sizeof key, "%s/%s", ns, name);
  else
    snprintf(key, sizeof key, "%s", name);
  return kube_informer_get(c->inf[i], key);
}

bool ctl_once(struct ctl *c, const char *uid, const char *what,
              const char *detail)
{
  char key[512];
  bool first;

  snprintf(key, sizeof key, "%s/%s/%s", uid, what, detail ? detail : "");
  pthread_mutex_lock(&c->lock);
  first = json_object_get(c->said, key) == NULL;
  if (first)
    json_object_set_new(c->said, key, json_true());
  pthread_mutex_unlock(&c->lock);
  return first;
}

void ctl_forget_once(struct ctl *c, const char *uid, const char *what,
                     const char *detail)
{
  char key[512];

  snprintf(key, sizeof key, "%s/%s/%s", uid, what, detail ? detail : "");
  pthread_mutex_lock(&c->lock);
  json_object_del(c->said, key);
  pthread_mutex_unlock(&c->lock);
}

void ctl_forget_uid(struct ctl *c, const char *uid)
{
  size_t n = strlen(uid);
  const char *key;
  json_t *v;
  void *tmp;

  pthread_mutex_lock(&c->lock);
  json_object_foreach_safe(c->said, tmp, key, v)
  {
    if (!strncmp(key, uid, n) && key[n] == '/')
      json_object_del(c->said, key);
  }
  pthread_mutex_unlock(&c->lock);
}

void ctl_event(struct ctl *c, const json_t *pvc, const char *type,
               const char *reason, const char *once, const char *fmt, ...)
{
  const char *uid = kube_obj_uid(pvc), *ns = kube_obj_namespace(pvc);
  char msg[1024], now[32], host[128] = "hoist-controller";
  _cleanup_(json_decrefp) json_t *ev = NULL;
  struct timespec ts;
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (once && !ctl_once(c, uid, reason, once))
    return;
  ctl_log("%s/%s: %s: %s", ns, kube_obj_name(pvc), reason, msg);
  gethostname(host, sizeof host - 1);
  clock_gettime(CLOCK_REALTIME, &ts);
  kube_time_format(&ts, false, now, sizeof now);
  ev = json_pack(
      "{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}, "
      "s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:i, s:s, s:s}",
      "apiVersion", "v1", "kind", "Event", "metadata", "generateName",
      kube_obj_name(pvc), "namespace", ns, "involvedObject", "apiVersion", "v1",
      "kind", "PersistentVolumeClaim", "namespace", ns, "name",
      kube_obj_name(pvc), "uid", uid, "reason", reason, "message", msg, "type",
      type, "source", "component", CTL_MANAGED_BY, "firstTimestamp", now,
      "lastTimestamp", now, "count", 1, "reportingComponent", CTL_MANAGED_BY,
      "reportingInstance", host);
  if (ev && kube_create(c->client, &kube_events, ns, ev, NULL) < 0)
    ctl_log("%s/%s: cannot record event %s: %s", ns, kube_obj_name(pvc), reason,
            error_message());
  error_clear();
}

/* ---- what wakes which PVC ---- */

static void enqueue(struct ctl *c, const char *ns, const char *name)
{
  char key[512];

  if (!ns || !name)
    return;
  snprintf(key, sizeof key, "%s/%s", ns, name);
  kube_workqueue_add(c->queue, key);
}

/* The owner PVC of a prime PVC or pod of hoist's. */
static void enqueue_owner(struct ctl *c, const json_t *obj)
{
  json_t *ref =
      json_array_get(cj_get(obj, "metadata", "ownerReferences", NULL), 0);
  const char *kind = cj_str(ref, "kind", NULL);

  if (kind && streq(kind, "PersistentVolumeClaim"))
    enqueue(c, kube_obj_namespace(obj), cj_str(ref, "name", NULL));
}

static void on_pvc(json_t *obj, void *opaque)
{
  struct ctl *c = opaque;
  const char *by = cj_str(obj, "metadata", "labels", CTL_MANAGED_BY_KEY, NULL);

  if (by && streq(by, CTL_MANAGED_BY))
    enqueue_owner(c, obj);
  else if (ctl_kind_of_pvc(obj) >= 0)
    enqueue(c, kube_obj_namespace(obj), kube_obj_name(obj));
}

static void on_pvc_update(json_t *old, json_t *obj, void *opaque)
{
  (void)old;
  on_pvc(obj, opaque);
}

static void on_pvc_delete(json_t *obj, void *opaque)
{
  struct ctl *c = opaque;
  char key[512];

  if (ctl_kind_of_pvc(obj) < 0) {
    on_pvc(obj, opaque);
    return;
  }
  snprintf(key, sizeof key, "!%s/%s", kube_obj_namespace(obj),
           kube_obj_uid(obj));
  kube_workqueue_add(c->queue, key);
}

static void on_owned(json_t *obj, void *opaque)
{
  enqueue_owner(opaque, obj);
}

static void on_owned_update(json_t *old, json_t *obj, void *opaque)
{
  (void)old;
  enqueue_owner(opaque, obj);
}

static void wake_waiting(struct ctl *c)
{
  const char *key;
  json_t *v;

  pthread_mutex_lock(&c->lock);
  json_object_foreach(c->waiting_pv, key, v) kube_workqueue_add(c->queue, key);
  pthread_mutex_unlock(&c->lock);
}

static void on_pv(json_t *obj, void *opaque)
{
  struct ctl *c = opaque;
  const char *ns = cj_str(obj, "spec", "claimRef", "namespace", NULL);
  const char *name = cj_str(obj, "spec", "claimRef", "name", NULL);
  const char *phase = cj_str(obj, "status", "phase", NULL);

  if (name && !strncmp(name, "prime-", 6)) {
    json_t *prime = ctl_cached(c, CTL_INF_PVC, ns, name);
    if (prime)
      enqueue_owner(c, prime);
    json_decref(prime);
  } else if (name) {
    enqueue(c, ns, name);
  }
  if (!name && phase && streq(phase, "Available"))
    wake_waiting(c);
}

static void on_pv_update(json_t *old, json_t *obj, void *opaque)
{
  (void)old;
  on_pv(obj, opaque);
}

struct cr_ctx {
  struct ctl *c;
  const json_t *cr;
};

static void match_cr(json_t *pvc, void *opaque)
{
  struct cr_ctx *x = opaque;
  int k = ctl_kind_of_pvc(pvc);
  const char *kind = cj_str(x->cr, "kind", NULL);
  const char *ns = kube_obj_namespace(pvc), *crns = kube_obj_namespace(x->cr);
  const char *ref = cj_str(pvc, "spec", "dataSourceRef", "name", NULL);

  if (k >= 0 && kind && streq(ctl_kind_info(k)->kind, kind) && ns && crns &&
      streq(ns, crns) && ref && streq(ref, kube_obj_name(x->cr)))
    enqueue(x->c, ns, kube_obj_name(pvc));
}

static void on_cr(json_t *obj, void *opaque)
{
  struct cr_ctx x = {opaque, obj};

  /* the PVC cache is locked here: match_cr only queues keys */
  kube_informer_foreach(x.c->inf[CTL_INF_PVC], match_cr, &x);
}

static void on_cr_update(json_t *old, json_t *obj, void *opaque)
{
  /* status writes (ours) change nothing the flow reads */
  if (json_equal(json_object_get(old, "spec"), json_object_get(obj, "spec")))
    return;
  on_cr(obj, opaque);
}

static void on_sc(json_t *obj, void *opaque)
{
  (void)obj;
  wake_waiting(opaque);
}

static void on_sc_update(json_t *old, json_t *obj, void *opaque)
{
  (void)old;
  on_sc(obj, opaque);
}

/* ---- life cycle ---- */

int ctl_new(struct kube_client *client, const struct ctl_options *o,
            struct ctl **ret)
{
  _cleanup_free_ struct ctl *c = calloc(1, sizeof *c);
  int r;

  if (!c)
    return error_set(ENOMEM, "out of memory");
  c->o = *o;
  c->client = client;
  c->said = json_object();
  c->waiting_pv = json_object();
  pthread_mutex_init(&c->lock, NULL);
  if (o->group_job) {
    json_error_t err;

    c->group_job = json_load_file(o->group_job, 0, &err);
    if (!json_is_object(c->group_job)) {
      r = error_set(EINVAL, "%s: not a Job as JSON: %s", o->group_job,
                    err.text);
      goto fail;
    }
  }
  if ((r = kube_workqueue_new(0.5, 60, &c->queue)) < 0 ||
      (r = ctl_progress_new(c, &c->progress)) < 0)
    goto fail;
  *ret = TAKE_PTR(c);
  return 0;
fail:
  ctl_free(TAKE_PTR(c));
  return r;
}

static int add_informer(struct ctl *c, enum ctl_informer i,
                        const struct kube_resource *res, const char *selector,
                        const struct kube_informer_handlers *h)
{
  struct kube_informer_options io = {
      .res = res,
      .ns = res->namespaced ? c->o.ns : NULL,
      .label_selector = selector,
  };

  return kube_informer_new(c->client, &io, h, &c->inf[i]);
}

static void *worker(void *opaque)
{
  struct ctl *c = opaque;
  const char *key;

  while (kube_workqueue_get(c->queue, &key) == 0) {
    int r = ctl_sync(c, key);

    if (r < 0) {
      ctl_log("%s: %s (will retry)", key,
              error_message() ? error_message() : "failed");
      kube_workqueue_add_rate_limited(c->queue, key);
    } else {
      kube_workqueue_forget(c->queue, key);
      if (r > 0)
        kube_workqueue_add_after(c->queue, key, r);
    }
    error_clear();
    kube_workqueue_done(c->queue, key);
  }
  return NULL;
}

int ctl_run(struct ctl *c)
{
  static const struct kube_resource *res[CTL_INF_COUNT] = {
      &kube_pvcs,           &kube_pvs,
      &kube_pods,           &kube_storageclasses,
      &ctl_cr_resources[0], &ctl_cr_resources[1]};
  const struct kube_informer_handlers h[CTL_INF_COUNT] = {
      {on_pvc, on_pvc_update, on_pvc_delete, c},
      {on_pv, on_pv_update, NULL, c},
      {on_owned, on_owned_update, on_owned, c},
      {on_sc, on_sc_update, NULL, c},
      {on_cr, on_cr_update, NULL, c},
      {on_cr, on_cr_update, NULL, c},
  };
  unsigned nworkers = c->o.workers ? c->o.workers : 4, i, started = 0;
  pthread_t threads[64];
  int r = 0;

  nworkers = MIN(nworkers, ARRAY_SIZE(threads));
  for (i = 0; i < CTL_INF_COUNT; i++) {
    const char *sel =
        i == CTL_INF_POD ? CTL_MANAGED_BY_KEY "=" CTL_MANAGED_BY : NULL;
    if ((r = add_informer(c, i, res[i], sel, &h[i])) < 0)
      return r;
  }
  /* the PVC cache first: the other handlers look PVCs up in it */
  for (i = 0; i < CTL_INF_COUNT; i++) {
    if ((r = kube_informer_start(c->inf[i])) < 0)
      return r;
    if (i == CTL_INF_PVC)
      kube_informer_wait_synced(c->inf[i], 60);
  }
  for (i = 0; i < CTL_INF_COUNT; i++)
    if (!kube_informer_wait_synced(c->inf[i], 120))
      return error_set(ETIMEDOUT, "the %s cache did not fill in 2 minutes",
                       res[i]->plural);
  ctl_log("caches filled: %zu PVCs, %zu PVs, %zu pods",
          kube_informer_size(c->inf[CTL_INF_PVC]),
          kube_informer_size(c->inf[CTL_INF_PV]),
          kube_informer_size(c->inf[CTL_INF_POD]));
  if ((r = ctl_progress_start(c->progress)) < 0)
    return r;
  for (i = 0; i < nworkers; i++)
    if (pthread_create(&threads[i], NULL, worker, c) == 0)
      started++;
  if (!started)
    return error_set(EAGAIN, "cannot start the workers");
  for (i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
  ctl_progress_stop(c->progress);
  return 0;
}

void ctl_stop(struct ctl *c)
{
  atomic_store(&c->stop, true);
  kube_workqueue_shutdown(c->queue);
}

void ctl_free(struct ctl *c)
{
  unsigned i;

  if (!c)
    return;
  /* every watch stops before any cache goes: handlers read each other's */
  for (i = 0; i < CTL_INF_COUNT; i++)
    kube_informer_stop(c->inf[i]);
  for (i = 0; i < CTL_INF_COUNT; i++)
    kube_informer_free(c->inf[i]);
  ctl_progress_free(c->progress);
  kube_workqueue_free(c->queue);
  json_decref(c->said);
  json_decref(c->waiting_pv);
  json_decref(c->group_job);
  pthread_mutex_destroy(&c->lock);
  free(c);
}
