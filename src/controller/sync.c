/* The flow for one user PVC (see controller.h and docs/controller.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/controller.h"
#include "controller/json.h"
#include "controller/labels.h"
#include "controller/prime.h"
#include "controller/staticpv.h"
#include "controller/termmsg.h"
#include "kube/resource.h"
#include "util/cleanup.h"
#include "util/error.h"

#define MAX_ATTEMPTS 100

struct pass {
  struct ctl *c;
  json_t *pvc, *cr, *prime;
  enum ctl_kind kind;
  struct ctl_target t;
};

static void pass_clear(struct pass *p)
{
  json_decref(p->pvc);
  json_decref(p->cr);
  json_decref(p->prime);
}

static unsigned limit(const struct ctl *c)
{
  unsigned n = c->o.restart_limit ? c->o.restart_limit : 3;
  return MIN(n, MAX_ATTEMPTS);
}

/* The newest attempt's pod (new reference) and its number; 0 if none. */
static unsigned latest_pod(struct ctl *c, const char *ns, const char *uid,
                           json_t **ret)
{
  unsigned n, found = 0;
  char name[128];

  *ret = NULL;
  for (n = 1; n <= limit(c); n++) {
    json_t *pod;

    ctl_pod_name(uid, n, name, sizeof name);
    pod = ctl_cached(c, CTL_INF_POD, ns, name);
    if (!pod)
      continue;
    json_decref(*ret);
    *ret = pod;
    found = n;
  }
  return found;
}

static const char *pod_phase(const json_t *pod)
{
  const char *p = cj_str(pod, "status", "phase", NULL);
  return p ? p : "Pending";
}

/* The termination message of the pod's container, parsed. */
static void pod_termination(const json_t *pod, struct termmsg *tm)
{
  json_t *cs =
      json_array_get(cj_get(pod, "status", "containerStatuses", NULL), 0);
  json_t *term = cj_get(cs, "state", "terminated", NULL);
  const char *msg = cj_str(term, "message", NULL);

  if (msg) {
    termmsg_parse(msg, strlen(msg), tm);
  } else {
    const char *why = cj_str(term, "reason", NULL);
    if (!why)
      why = cj_str(pod, "status", "message", NULL);
    termmsg_parse(why ? why : "", why ? strlen(why) : 0, tm);
  }
  if (!tm->message[0] && !tm->succeeded)
    snprintf(tm->message, sizeof tm->message, "the pod %s", pod_phase(pod));
}

int ctl_create(struct ctl *c, const struct kube_resource *res, const char *ns,
               json_t *obj, const char *what)
{
  int r = kube_create(c->client, res, ns, obj, NULL);

  if (r == -EEXIST) { /* made by an earlier pass or controller: adopt */
    error_clear();
    return 0;
  }
  if (r < 0) {
    ctl_log("%s/%s: cannot create %s: %s", ns, kube_obj_name(obj), what,
            error_message());
    return r;
  }
  ctl_log("%s/%s: created %s", ns, kube_obj_name(obj), what);
  return 1;
}

static int remove_obj(struct ctl *c, const struct kube_resource *res,
                      const char *ns, const char *name, const char *uid,
                      const char *what)
{
  int r;

  /* the caches show a deletion only later: one request is enough */
  if (!ctl_once(c, uid, "delete", name))
    return 0;
  r = kube_delete(c->client, res, ns, name, NULL, NULL);
  if (r < 0 && r != -ENOENT)
    ctl_forget_once(c, uid, "delete", name);
  if (r == -ENOENT) {
    error_clear();
    return 0;
  }
  if (r < 0) {
    ctl_log("%s/%s: cannot delete %s: %s", ns, name, what, error_message());
    return r;
  }
  ctl_log("%s/%s: deleted %s", ns, name, what);
  return 0;
}

/* Everything hoist made for the PVC uid in ns: pods, the prime PVC, and
 * the reservation of a static PV that was never bound. */
struct unreserve_ctx {
  const char *uid;
  json_t *pvs;
};

static void find_reserved(json_t *pv, void *opaque)
{
  struct unreserve_ctx *u = opaque;
  const char *by = cj_str(pv, "metadata", "labels", CTL_LABEL_RESERVED, NULL);
  const char *phase = cj_str(pv, "status", "phase", NULL);

  if (by && streq(by, u->uid) && phase)
    json_array_append(u->pvs, pv);
}

static int cleanup(struct ctl *c, const char *ns, const char *uid,
                   bool unreserve)
{
  char name[128];
  unsigned n;
  int r = 0;
  json_t *obj;

  ctl_progress_forget(c->progress, uid);
  for (n = 1; n <= limit(c); n++) {
    ctl_pod_name(uid, n, name, sizeof name);
    if ((obj = ctl_cached(c, CTL_INF_POD, ns, name))) {
      if (!cj_get(obj, "metadata", "deletionTimestamp", NULL))
        r = remove_obj(c, &kube_pods, ns, name, uid, "populator pod") ?: r;
      json_decref(obj);
    }
  }
  ctl_prime_name(uid, name, sizeof name);
  /* a deleted prime PVC stays (its protection finalizer) while its pod
   * ends: delete it once */
  if ((obj = ctl_cached(c, CTL_INF_PVC, ns, name))) {
    if (!cj_get(obj, "metadata", "deletionTimestamp", NULL))
      r = remove_obj(c, &kube_pvcs, ns, name, uid, "prime PVC") ?: r;
    json_decref(obj);
  }
  if (unreserve) {
    struct unreserve_ctx u = {uid, json_array()};
    json_t *pv;
    size_t i;

    kube_informer_foreach(c->inf[CTL_INF_PV], find_reserved, &u);
    json_array_foreach(u.pvs, i, pv)
    {
      /* never bound: free again; bound once (Released): the data the
       * populator may have written stays under the PV's reclaim policy,
       * as for any claim */
      bool unbound = streq(cj_str(pv, "status", "phase", NULL), "Available");
      _cleanup_(json_decrefp) json_t *patch =
          unbound ? json_pack("{s:{s:{s:n}}, s:{s:n}}", "metadata", "labels",
                              CTL_LABEL_RESERVED, "spec", "claimRef")
                  : json_pack("{s:{s:{s:n}}}", "metadata", "labels",
                              CTL_LABEL_RESERVED);
      if (kube_patch(c->client, &kube_pvs, NULL, kube_obj_name(pv), NULL,
                     KUBE_PATCH_MERGE, patch, NULL) == 0)
        ctl_log("PV %s: reservation for %s/%s dropped", kube_obj_name(pv), ns,
                uid);
      error_clear();
    }
    json_decref(u.pvs);
  }
  return r;
}

/* ---- static storage ---- */

struct pick_ctx {
  const json_t *pvc;
  const struct ctl_target *t;
  json_t *best;
};

static void pick(json_t *pv, void *opaque)
{
  struct pick_ctx *p = opaque;

  if (!ctl_pv_fits(pv, p->pvc, p->t))
    return;
  if (p->best && ctl_pv_reserved_for(p->best, p->t))
    return;
  if (!p->best || ctl_pv_reserved_for(pv, p->t) || ctl_pv_better(pv, p->best)) {
    json_decref(p->best);
    p->best = json_incref(pv);
  }
}

static void waiting(struct ctl *c, const char *key, bool on)
{
  pthread_mutex_lock(&c->lock);
  if (on)
    json_object_set_new(c->waiting_pv, key, json_true());
  else
    json_object_del(c->waiting_pv, key);
  pthread_mutex_unlock(&c->lock);
}

/* Reserves a PV for the prime PVC and points the user's PVC at it (so the
 * binder cannot give it another, empty one). 1: go on; 0: wait. */
static int reserve_pv(struct pass *p, const char *key)
{
  struct ctl *c = p->c;
  struct pick_ctx pc = {p->pvc, &p->t, NULL};
  _cleanup_(json_decrefp) json_t *pv = NULL, *patch = NULL;
  const char *vn = cj_str(p->pvc, "spec", "volumeName", NULL);
  int r;

  kube_informer_foreach(c->inf[CTL_INF_PV], pick, &pc);
  pv = pc.best;
  if (!pv) {
    waiting(c, key, true);
    ctl_event(c, p->pvc, "Warning", "NoMatchingPV", "no-pv",
              "storage class %s has no provisioner and no Available PV "
              "fits (%llu bytes, %s%s%s): waiting for one",
              p->t.sclass ? p->t.sclass : "\"\"",
              (unsigned long long)p->t.request,
              p->t.block ? "Block" : "Filesystem", p->t.node ? ", node " : "",
              p->t.node ? p->t.node : "");
    return 0;
  }
  waiting(c, key, false);
  if (!ctl_pv_reserved_for(pv, &p->t)) {
    patch = ctl_pv_reserve_patch(pv, &p->t);
    r = kube_patch(c->client, &kube_pvs, NULL, kube_obj_name(pv), NULL,
                   KUBE_PATCH_MERGE, patch, NULL);
    if (r < 0) { /* taken meanwhile (a conflict): pick again */
      ctl_log("%s: cannot reserve PV %s: %s", key, kube_obj_name(pv),
              error_message());
      return r;
    }
    ctl_log("%s: reserved PV %s for the prime PVC", key, kube_obj_name(pv));
    json_decref(patch);
    patch = NULL;
  }
  if (!vn || !*vn) {
    patch = json_pack("{s:{s:s}}", "spec", "volumeName", kube_obj_name(pv));
    r = kube_patch(c->client, &kube_pvcs, p->t.ns, p->t.name, NULL,
                   KUBE_PATCH_MERGE, patch, NULL);
    if (r < 0) {
      ctl_log("%s: cannot set volumeName: %s", key, error_message());
      return r;
    }
  } else if (!streq(vn, kube_obj_name(pv))) {
    ctl_event(c, p->pvc, "Warning", "VolumeNameSet", "volume-name",
              "the PVC names PV %s itself: hoist leaves it alone", vn);
    return 0;
  }
  return 1;
}

/* ---- the pods ---- */

static int start_pod(struct pass *p, unsigned attempt)
{
  struct ctl *c = p->c;
  _cleanup_(json_decrefp) json_t *labels = ctl_labels(p->pvc, p->cr);
  _cleanup_(json_decrefp) json_t *pod = NULL;
  int r;

  if (!labels)
    return error_set(ENOMEM, "out of memory");
  pod = ctl_pod_build(p->pvc, p->cr, p->kind, labels, attempt, &c->o.pod);
  if (!pod) {
    ctl_event(c, p->pvc, "Warning", "PopulatorCreationError", "pod-spec", "%s",
              error_message());
    error_clear();
    return 0;
  }
  r = ctl_create(c, &kube_pods, p->t.ns, pod, "populator pod");
  if (r == 1 && attempt == 1)
    ctl_event(c, p->pvc, "Normal", "PopulatorCreated", NULL,
              "populator pod %s started", kube_obj_name(pod));
  return r < 0 ? r : 0;
}

static json_t *condition(const char *type, const char *reason, const char *msg)
{
  char now[32];
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  kube_time_format(&ts, false, now, sizeof now);
  return json_pack("[{s:s, s:s, s:s, s:s, s:s}]", "type", type, "status",
                   "True", "reason", reason, "message", msg,
                   "lastTransitionTime", now);
}

static int failed(struct pass *p, json_t *pod, unsigned attempt)
{
  struct ctl *c = p->c;
  struct termmsg tm;
  char once[32];
  _cleanup_(json_decrefp) json_t *st = NULL;
  const char *phase;

  pod_termination(pod, &tm);
  ctl_progress_forget(c->progress, p->t.uid);
  if (attempt < limit(c)) {
    ctl_log("%s/%s: attempt %u of %u failed: %s", p->t.ns, p->t.name, attempt,
            limit(c), tm.message);
    snprintf(once, sizeof once, "failed-%u", attempt);
    ctl_event(c, p->pvc, "Warning", "PopulatorFailed", once,
              "attempt %u of %u failed (pod %s kept): %s", attempt, limit(c),
              kube_obj_name(pod), tm.message);
    return start_pod(p, attempt + 1);
  }
  phase = cj_str(p->cr, "status", "phase", NULL);
  if (phase && streq(phase, "Failed"))
    return 0;
  ctl_log("%s/%s: giving up after %u attempts: %s", p->t.ns, p->t.name, attempt,
          tm.message);
  ctl_event(c, p->pvc, "Warning", "PopulatorFailed", "gave-up",
            "failed %u times, giving up (the failed pods are kept): %s",
            attempt, tm.message);
  st = json_pack("{s:s, s:I, s:o}", "phase", "Failed", "attempts",
                 (json_int_t)attempt, "conditions",
                 condition("Failed", "PopulatorFailed", tm.message));
  if (tm.have_bytes) {
    json_object_set_new(st, "bytesCopied", json_integer(tm.bytes_copied));
    json_object_set_new(st, "bytesTotal", json_integer(tm.bytes_total));
  }
  return ctl_status_patch(c, p->cr, st);
}

/* The pod is done: hand the prime's PV to the user's PVC. */
static int rebind(struct pass *p)
{
  struct ctl *c = p->c;
  const char *vname = cj_str(p->prime, "spec", "volumeName", NULL);
  _cleanup_(json_decrefp) json_t *pv = NULL, *patch = NULL;
  const char *uid;
  char from[512];
  int r;

  if (!vname || !*vname)
    return 0; /* the prime PVC's update wakes us */
  pv = ctl_cached(c, CTL_INF_PV, NULL, vname);
  if (!pv)
    return 0;
  uid = cj_str(pv, "spec", "claimRef", "uid", NULL);
  if (uid && streq(uid, p->t.uid))
    return 0; /* done: the binder binds the user's PVC */
  if (!ctl_once(c, p->t.uid, "rebind", vname))
    return 0; /* patched already; the cache has not caught up */
  snprintf(from, sizeof from, "%s/%s", p->t.ns,
           cj_str(p->cr, "metadata", "name", NULL));
  patch =
      json_pack("{s:{s:{s:s}}, s:{s:{s:s, s:s, s:s, s:s, s:s, s:s}}}",
                "metadata", "annotations", CTL_POPULATED_FROM, from, "spec",
                "claimRef", "apiVersion", "v1", "kind", "PersistentVolumeClaim",
                "namespace", p->t.ns, "name", p->t.name, "uid", p->t.uid,
                "resourceVersion", kube_obj_resource_version(p->pvc));
  r = kube_patch(c->client, &kube_pvs, NULL, vname, NULL, KUBE_PATCH_MERGE,
                 patch, NULL);
  if (r < 0) {
    ctl_forget_once(c, p->t.uid, "rebind", vname);
    return r;
  }
  ctl_log("%s/%s: PV %s handed over from the prime PVC", p->t.ns, p->t.name,
          vname);
  return 0;
}

static int run_pods(struct pass *p)
{
  struct ctl *c = p->c;
  _cleanup_(json_decrefp) json_t *pod = NULL;
  unsigned n = latest_pod(c, p->t.ns, p->t.uid, &pod);
  const char *phase;

  if (n == 0)
    return start_pod(p, 1);
  phase = pod_phase(pod);
  if (streq(phase, "Failed"))
    return failed(p, pod, n);
  if (streq(phase, "Succeeded")) {
    ctl_progress_forget(c->progress, p->t.uid);
    return rebind(p);
  }
  if (streq(phase, "Running"))
    ctl_progress_watch(c->progress, p->pvc, p->cr, pod, n);
  return 0;
}

/* ---- the end ---- */

static int finished(struct pass *p)
{
  struct ctl *c = p->c;
  const char *vname = cj_str(p->pvc, "spec", "volumeName", NULL);
  _cleanup_(json_decrefp) json_t *pv = NULL, *pod = NULL, *st = NULL;
  const char *phase;
  unsigned n;
  struct termmsg tm = {0};
  int r;

  pv = vname ? ctl_cached(c, CTL_INF_PV, NULL, vname) : NULL;
  if (!pv)
    return 0;
  if (!cj_str(pv, "metadata", "annotations", CTL_POPULATED_FROM, NULL)) {
    const char *bound_to = cj_str(pv, "spec", "claimRef", "uid", NULL);

    /* the PV's cache can lag the PVC's: until it shows the PV bound to
     * the PVC, its update is still to come */
    if (!bound_to || !streq(bound_to, p->t.uid))
      return 0;
    /* a verdict that deletes things is taken on the live PV */
    json_decref(pv);
    pv = NULL;
    if ((r = kube_get(c->client, &kube_pvs, NULL, vname, &pv)) < 0)
      return r;
  }
  if (!cj_str(pv, "metadata", "annotations", CTL_POPULATED_FROM, NULL)) {
    ctl_event(c, p->pvc, "Warning", "NotPopulated", "not-populated",
              "bound to PV %s, which hoist did not populate (a provisioner "
              "or the binder that ignores dataSourceRef bound it first): "
              "hoist never writes into a bound volume",
              vname);
    return cleanup(c, p->t.ns, p->t.uid, true);
  }
  p->cr = ctl_cached(c, CTL_INF_OVIRT + p->kind, p->t.ns,
                     cj_str(p->pvc, "spec", "dataSourceRef", "name", NULL));
  phase = cj_str(p->cr, "status", "phase", NULL);
  n = latest_pod(c, p->t.ns, p->t.uid, &pod);
  if (p->cr && (!phase || !streq(phase, "Succeeded")) && n) {
    pod_termination(pod, &tm);
    st = json_pack("{s:s, s:s, s:I, s:o}", "phase", "Succeeded", "progress",
                   "100", "attempts", (json_int_t)n, "conditions",
                   condition("Succeeded", "PopulatorFinished",
                             "the PVC is populated and bound"));
    if (tm.have_bytes) {
      /* a source that learns its size only by reading it to the end
       * (a Glance stream) may report no total: once done, all is done */
      if (tm.succeeded && tm.bytes_total < tm.bytes_copied)
        tm.bytes_total = tm.bytes_copied;
      json_object_set_new(st, "bytesCopied", json_integer(tm.bytes_copied));
      json_object_set_new(st, "bytesTotal", json_integer(tm.bytes_total));
    }
    if ((r = ctl_status_patch(c, p->cr, st)) < 0)
      return r;
    ctl_event(c, p->pvc, "Normal", "PopulatorFinished", "finished",
              "populated from %s in %u attempt%s (%llu bytes of data, %llu "
              "of them resumed from a checkpoint)",
              cj_str(p->cr, "metadata", "name", NULL), n, n > 1 ? "s" : "",
              (unsigned long long)tm.bytes_copied,
              (unsigned long long)tm.bytes_resumed);
    ctl_log("%s/%s: populated and bound to PV %s", p->t.ns, p->t.name, vname);
  }
  if ((r = cleanup(c, p->t.ns, p->t.uid, false)) < 0)
    return r;
  return ctl_group_job(c, p->pvc, p->cr);
}

int ctl_sync(struct ctl *c, const char *key)
{
  _cleanup_free_ char *ns = NULL, *name = NULL;
  _cleanup_(pass_clear) struct pass p = {c, NULL, NULL, NULL, 0, {0}};
  const char *phase, *ref;
  int kind, r;

  if (key[0] == '!') { /* "!ns/uid": a deleted PVC */
    if (kube_key_split(key + 1, &ns, &name) < 0)
      return 0;
    r = cleanup(c, ns, name, true);
    ctl_forget_uid(c, name);
    return r;
  }
  if (kube_key_split(key, &ns, &name) < 0)
    return 0;
  p.pvc = ctl_cached(c, CTL_INF_PVC, ns, name);
  if (!p.pvc || (kind = ctl_kind_of_pvc(p.pvc)) < 0) {
    waiting(c, key, false);
    return 0;
  }
  p.kind = kind;
  if (ctl_target_parse(p.pvc, &p.t) < 0) {
    ctl_event(c, p.pvc, "Warning", "InvalidPVC", "invalid", "%s",
              error_message());
    error_clear();
    return 0;
  }
  if (cj_get(p.pvc, "metadata", "deletionTimestamp", NULL))
    return cleanup(c, p.t.ns, p.t.uid, true);
  phase = cj_str(p.pvc, "status", "phase", NULL);
  if (phase && streq(phase, "Bound"))
    return finished(&p);
  ref = cj_str(p.pvc, "spec", "dataSourceRef", "name", NULL);
  p.cr = ctl_cached(c, CTL_INF_OVIRT + kind, ns, ref);
  if (!p.cr) {
    ctl_event(c, p.pvc, "Warning", "PopulatorDataSourceNotFound", "no-cr",
              "%s %s/%s not found: waiting for it", ctl_kind_info(kind)->kind,
              ns, ref);
    return 0;
  }
  {
    char prime[96];

    ctl_prime_name(p.t.uid, prime, sizeof prime);
    p.prime = ctl_cached(c, CTL_INF_PVC, ns, prime);
  }
  if (!p.prime) {
    _cleanup_(json_decrefp) json_t *sc = NULL, *labels = NULL, *obj = NULL;
    bool is_static = !p.t.sclass || !*p.t.sclass;

    if (!is_static) {
      sc = ctl_cached(c, CTL_INF_SC, NULL, p.t.sclass);
      if (!sc) {
        ctl_event(c, p.pvc, "Warning", "StorageClassNotFound", "no-sc",
                  "storage class %s not found: waiting for it", p.t.sclass);
        return 0;
      }
      is_static = ctl_class_is_static(sc);
    }
    if (is_static && (r = reserve_pv(&p, key)) <= 0)
      return r;
    if (!(labels = ctl_labels(p.pvc, p.cr)) ||
        !(obj = ctl_prime_build(p.pvc, labels)))
      return error_set(ENOMEM, "%s: cannot build the prime PVC", key);
    if ((r = ctl_create(c, &kube_pvcs, ns, obj, "prime PVC")) < 0)
      return r;
  }
  return run_pods(&p);
}
