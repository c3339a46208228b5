/* Progress: the populator pods' /metrics pulled into the CR's status, with
 * few writes (at most one per progress interval per PVC, and only when
 * the figures changed). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/controller.h"
#include "controller/json.h"
#include "controller/promtext.h"
#include "controller/scrape.h"
#include "util/cleanup.h"
#include "util/error.h"

struct entry {
  char *uid, *ns, *pod, *ip, *cr_name;
  enum ctl_kind kind;
  unsigned attempt;
  char fp[SCRAPE_FINGERPRINT_MAX];
  uint64_t copied, total;   /* last written */
  unsigned direct_failures; /* in a row */
  bool via_proxy;           /* the pod's IP cannot be reached */
  double written_at;        /* monotonic seconds; 0: never */
  struct entry *next;
};

struct ctl_progress {
  struct ctl *c;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t thread;
  bool running, stopping;
  struct entry *list;
  json_t *status_main; /* kinds whose CRD has no status subresource */
};

static double now_mono(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void entry_free(struct entry *e)
{
  if (!e)
    return;
  free(e->uid);
  free(e->ns);
  free(e->pod);
  free(e->ip);
  free(e->cr_name);
  free(e);
}

int ctl_progress_new(struct ctl *c, struct ctl_progress **ret)
{
  struct ctl_progress *p = calloc(1, sizeof *p);

  if (!p)
    return error_set(ENOMEM, "out of memory");
  p->c = c;
  p->status_main = json_object();
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  *ret = p;
  return 0;
}

void ctl_progress_watch(struct ctl_progress *p, const json_t *pvc,
                        const json_t *cr, const json_t *pod, unsigned attempt)
{
  const char *uid = kube_obj_uid(pvc),
             *ip = cj_str(pod, "status", "podIP", NULL);
  struct entry *e;

  if (!uid || !ip || !*ip)
    return;
  pthread_mutex_lock(&p->lock);
  for (e = p->list; e && strcmp(e->uid, uid); e = e->next)
    ;
  if (e && streq(e->pod, kube_obj_name(pod))) {
    pthread_mutex_unlock(&p->lock);
    return;
  }
  if (!e) {
    e = calloc(1, sizeof *e);
    if (!e || !(e->uid = strdup(uid))) {
      entry_free(e);
      pthread_mutex_unlock(&p->lock);
      return;
    }
    /* what the CR's status already says counts as written: a restarted
     * controller does not write it again */
    e->copied =
        (uint64_t)json_integer_value(cj_get(cr, "status", "bytesCopied", NULL));
    e->total =
        (uint64_t)json_integer_value(cj_get(cr, "status", "bytesTotal", NULL));
    e->next = p->list;
    p->list = e;
  }
  free(e->ns);
  free(e->pod);
  free(e->ip);
  free(e->cr_name);
  e->ns = strdup(kube_obj_namespace(pvc));
  e->pod = strdup(kube_obj_name(pod));
  e->ip = strdup(ip);
  e->cr_name = strdup(kube_obj_name(cr));
  e->kind = (enum ctl_kind)ctl_kind_of_pvc(pvc);
  e->attempt = attempt;
  e->fp[0] = 0;
  pthread_cond_signal(&p->wake);
  pthread_mutex_unlock(&p->lock);
}

void ctl_progress_forget(struct ctl_progress *p, const char *uid)
{
  struct entry **pe, *e;

  pthread_mutex_lock(&p->lock);
  for (pe = &p->list; (e = *pe); pe = &e->next)
    if (streq(e->uid, uid)) {
      *pe = e->next;
      entry_free(e);
      break;
    }
  pthread_mutex_unlock(&p->lock);
}

/* ---- the CR's status ---- */

int ctl_status_patch(struct ctl *c, const json_t *cr, json_t *fields)
{
  struct ctl_progress *p = c->progress;
  _cleanup_(json_decrefp) json_t *patch = NULL;
  const char *kind = cj_str(cr, "kind", NULL), *key;
  json_t *status = cj_get(cr, "status", NULL), *v;
  const struct kube_resource *res;
  bool same = true, main_only;
  int k, r;

  json_object_foreach(fields, key, v) same =
      same && json_equal(json_object_get(status, key), v);
  if (same)
    return 0;
  for (k = 0; k < CTL_KIND_COUNT; k++)
    if (kind && streq(kind, ctl_kind_info(k)->kind))
      break;
  if (k == CTL_KIND_COUNT)
    return error_set(EINVAL, "not a populator CR");
  res = &ctl_cr_resources[k];
  patch = json_pack("{s:O}", "status", fields);
  pthread_mutex_lock(&p->lock);
  main_only = json_object_get(p->status_main, kind) != NULL;
  pthread_mutex_unlock(&p->lock);
  if (!main_only) {
    r = kube_patch(c->client, res, kube_obj_namespace(cr), kube_obj_name(cr),
                   "status", KUBE_PATCH_MERGE, patch, NULL);
    if (r != -ENOENT)
      return r;
    /* Forklift's CRDs have no status subresource: status is part of the
     * object (a missing CR is then -ENOENT again) */
    error_clear();
    pthread_mutex_lock(&p->lock);
    json_object_set_new(p->status_main, kind, json_true());
    pthread_mutex_unlock(&p->lock);
  }
  return kube_patch(c->client, res, kube_obj_namespace(cr), kube_obj_name(cr),
                    NULL, KUBE_PATCH_MERGE, patch, NULL);
}

/* ---- the loop ---- */

/* Reads the fingerprint from the pod's log (once per pod). */
static int fingerprint(struct ctl *c, struct entry *e)
{
  _cleanup_free_ char *path = NULL, *log = NULL;
  size_t len = 0;
  int r;

  path = kube_path(&kube_pods, e->ns, e->pod, "log");
  if (!path)
    return -ENOMEM;
  r = kube_request_text(c->client, "GET", path, "limitBytes=65536", 65536, &log,
                        &len);
  if (r < 0)
    return r;
  return scrape_fingerprint_from_log(log, len, e->fp);
}

/* Through the API server's pod proxy (which does not verify the pod's
 * certificate). Untested in the test rig: its API server refuses to proxy
 * to loopback pod IPs. */
static int fetch_proxy(struct ctl *c, struct entry *e, char **text, size_t *len)
{
  _cleanup_free_ char *path = NULL;
  char name[300];

  snprintf(name, sizeof name, "https:%s:%d", e->pod, CTL_METRICS_PORT);
  path = kube_path(&kube_pods, e->ns, name, "proxy/metrics");
  if (!path)
    return -ENOMEM;
  return kube_request_text(c->client, "GET", path, NULL, PROMTEXT_MAX_TEXT,
                           text, len);
}

/* Directly from the pod's IP; after 5 failures in a row (a pod network
 * the controller cannot reach), through the proxy, and from then on if
 * that works. */
static int fetch(struct ctl *c, struct entry *e, char **text, size_t *len)
{
  char url[256];
  int r;

  if (c->o.use_pod_proxy || e->via_proxy)
    return fetch_proxy(c, e, text, len);
  if (!e->fp[0] && fingerprint(c, e) < 0)
    return -ENOENT;
  snprintf(url, sizeof url,
           strchr(e->ip, ':') ? "https://[%s]:%d/metrics"
                              : "https://%s:%d/metrics",
           e->ip, CTL_METRICS_PORT);
  r = scrape_get(url, e->fp, text, len);
  if (r == 0) {
    e->direct_failures = 0;
    return 0;
  }
  if (r != -EIO || ++e->direct_failures < 5)
    return r;
  error_clear();
  r = fetch_proxy(c, e, text, len);
  if (r == 0) {
    ctl_log("%s/%s: the pod's IP cannot be reached: reading its metrics "
            "through the API server",
            e->ns, e->pod);
    e->via_proxy = true;
  }
  return r;
}

static void scrape_one(struct ctl_progress *p, struct entry *e)
{
  struct ctl *c = p->c;
  double interval = c->o.progress_interval > 0 ? c->o.progress_interval : 10;
  _cleanup_free_ char *text = NULL;
  _cleanup_(json_decrefp) json_t *cr = NULL, *st = NULL;
  struct populator_metrics m;
  size_t len = 0;
  char pct[8];

  if (e->written_at && now_mono() - e->written_at < interval)
    return;
  if (fetch(c, e, &text, &len) < 0 ||
      promtext_populator(text, len, e->uid, &m) < 0 || !m.have_copied ||
      !m.have_total) {
    error_clear();
    return;
  }
  if (m.bytes_copied == e->copied && m.bytes_total == e->total)
    return;
  cr = ctl_cached(c, CTL_INF_OVIRT + e->kind, e->ns, e->cr_name);
  if (!cr)
    return;
  snprintf(pct, sizeof pct, "%u",
           m.bytes_total ? (unsigned)(MIN(m.bytes_copied, m.bytes_total) * 99 /
                                      m.bytes_total)
                         : 0);
  st = json_pack("{s:s, s:s, s:I, s:I, s:I}", "phase", "Running", "progress",
                 pct, "bytesCopied", (json_int_t)m.bytes_copied, "bytesTotal",
                 (json_int_t)m.bytes_total, "attempts", (json_int_t)e->attempt);
  if (ctl_status_patch(c, cr, st) < 0) {
    ctl_log("%s/%s: cannot write progress: %s", e->ns, e->cr_name,
            error_message());
    error_clear();
    e->written_at = now_mono(); /* no faster retries than writes */
    return;
  }
  e->copied = m.bytes_copied;
  e->total = m.bytes_total;
  e->written_at = now_mono();
}

static void *loop(void *opaque)
{
  struct ctl_progress *p = opaque;
  double every = p->c->o.scrape_interval > 0 ? p->c->o.scrape_interval : 2;

  pthread_mutex_lock(&p->lock);
  while (!p->stopping) {
    struct timespec until;
    struct entry *e;

    /* scrape without the lock: copy the list's keys first */
    for (e = p->list; e && !p->stopping; e = e->next) {
      struct entry copy = *e;
      bool gone;

      copy.next = NULL;
      copy.uid = strdup(e->uid);
      copy.ns = strdup(e->ns);
      copy.pod = strdup(e->pod);
      copy.ip = strdup(e->ip);
      copy.cr_name = strdup(e->cr_name);
      pthread_mutex_unlock(&p->lock);
      if (copy.uid && copy.ns && copy.pod && copy.ip && copy.cr_name)
        scrape_one(p, &copy);
      pthread_mutex_lock(&p->lock);
      /* the entry may be gone or changed meanwhile: find it again */
      for (e = p->list; e && copy.uid && strcmp(e->uid, copy.uid); e = e->next)
        ;
      gone = !e;
      if (e && copy.pod && streq(e->pod, copy.pod)) {
        memcpy(e->fp, copy.fp, sizeof e->fp);
        e->copied = copy.copied;
        e->total = copy.total;
        e->written_at = copy.written_at;
        e->direct_failures = copy.direct_failures;
        e->via_proxy = copy.via_proxy;
      }
      free(copy.uid);
      free(copy.ns);
      free(copy.pod);
      free(copy.ip);
      free(copy.cr_name);
      if (gone)
        break;
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)every;
    until.tv_nsec += (long)((every - (double)(time_t)every) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&p->wake, &p->lock, &until);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

int ctl_progress_start(struct ctl_progress *p)
{
  if (pthread_create(&p->thread, NULL, loop, p) != 0)
    return error_set(EAGAIN, "cannot start the progress thread");
  p->running = true;
  return 0;
}

void ctl_progress_stop(struct ctl_progress *p)
{
  if (!p || !p->running)
    return;
  pthread_mutex_lock(&p->lock);
  p->stopping = true;
  pthread_cond_signal(&p->wake);
  pthread_mutex_unlock(&p->lock);
  pthread_join(p->thread, NULL);
  p->running = false;
}

void ctl_progress_free(struct ctl_progress *p)
{
  if (!p)
    return;
  ctl_progress_stop(p);
  while (p->list) {
    struct entry *e = p->list;
    p->list = e->next;
    entry_free(e);
  }
  json_decref(p->status_main);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->wake);
  free(p);
}
