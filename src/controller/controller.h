/* The populator controller: for each PVC whose dataSourceRef names an
 * OvirtVolumePopulator or an OpenstackVolumePopulator, a prime PVC, a
 * populator pod as its first consumer, then the prime's PV handed to the
 * user's PVC (docs/controller.md has the whole flow).
 *
 * Informers on PVCs, PVs, hoist's pods, StorageClasses and the two CR
 * kinds feed a rate-limited work queue keyed by the user's PVC
 * ("ns/name"); workers run ctl_sync() on each key. Every object is
 * created under a name derived from the PVC's uid, so a restarted
 * controller adopts what it finds (AlreadyExists is success).
 */
#ifndef HOIST_CONTROLLER_CONTROLLER_H
#define HOIST_CONTROLLER_CONTROLLER_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "controller/podspec.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "kube/workqueue.h"

#define CTL_POPULATED_FROM "hoist.io/populated-from"

struct ctl_options {
  const char *ns; /* watch only this namespace; NULL: all */
  struct ctl_pod_options pod;
  unsigned restart_limit;   /* attempts; 0: 3 */
  unsigned workers;         /* 0: 4 */
  double progress_interval; /* seconds between status writes; 0: 10 */
  double scrape_interval;   /* seconds between scrapes; 0: 2 */
  const char *group_job;    /* Job template (JSON) for complete VM groups,
                               or NULL */
  bool use_pod_proxy;       /* scrape through the API server's pod proxy */
};

enum ctl_informer {
  CTL_INF_PVC,
  CTL_INF_PV,
  CTL_INF_POD,
  CTL_INF_SC,
  CTL_INF_OVIRT,
  CTL_INF_OPENSTACK,
  CTL_INF_COUNT
};

struct ctl_progress; /* progress.c */

struct ctl {
  struct ctl_options o;
  struct kube_client *client;
  struct kube_informer *inf[CTL_INF_COUNT];
  struct kube_workqueue *queue;
  struct ctl_progress *progress;
  json_t *group_job; /* parsed o.group_job */
  pthread_mutex_t lock;
  json_t *said;       /* "uid/reason" of events already sent: no repeats */
  json_t *waiting_pv; /* keys of PVCs waiting for a static PV */
  atomic_bool stop;
};

extern const struct kube_resource ctl_cr_resources[CTL_KIND_COUNT];
extern const struct kube_resource ctl_jobs;

int ctl_new(struct kube_client *client, const struct ctl_options *o,
            struct ctl **ret);
/* Starts the informers, waits for their caches, runs the workers and the
 * progress loop until ctl_stop(). */
int ctl_run(struct ctl *c);
void ctl_stop(struct ctl *c);
void ctl_free(struct ctl *c);

/* One pass of the flow for the user's PVC key; 0, or > 0: requeue after
 * that many seconds, or a negative errno (requeued with backoff). */
int ctl_sync(struct ctl *c, const char *key);

/* Creates obj; 1 when made, 0 when it existed (adopted), or a negative
 * errno (logged). */
int ctl_create(struct ctl *c, const struct kube_resource *res, const char *ns,
               json_t *obj, const char *what);

/* After pvc (of cr) is populated and Bound: when every PVC of its VM
 * group (label hoist.io/vm) is Bound, the --group-job Job, named
 * hoist-vm-<hash of the group>, with HOIST_VM and HOIST_PVCS (the PVCs'
 * names, sorted, comma-separated) in its containers' environment. */
int ctl_group_job(struct ctl *c, const json_t *pvc, const json_t *cr);

/* The cached object of an informer, new reference, or NULL. */
json_t *ctl_cached(struct ctl *c, enum ctl_informer i, const char *ns,
                   const char *name);

/* An event on the user's PVC (type "Normal"/"Warning"), sent once per
 * PVC uid and `once` key (NULL: always). Failures are logged only. */
void ctl_event(struct ctl *c, const json_t *pvc, const char *type,
               const char *reason, const char *once, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* True the first time for (uid, what, detail) in this process: for
 * writes that the caches show only later. */
bool ctl_once(struct ctl *c, const char *uid, const char *what,
              const char *detail);
void ctl_forget_once(struct ctl *c, const char *uid, const char *what,
                     const char *detail);

/* Forgets every once-key of the PVC uid (it was deleted). */
void ctl_forget_uid(struct ctl *c, const char *uid);

/* One log line on stderr. */
void ctl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- progress.c: scraping and the CR's status ---- */

int ctl_progress_new(struct ctl *c, struct ctl_progress **ret);
void ctl_progress_free(struct ctl_progress *p);
/* Runs the scrape loop on a thread of its own. */
int ctl_progress_start(struct ctl_progress *p);
void ctl_progress_stop(struct ctl_progress *p);
/* Tells the loop that pod (running, attempt n) populates pvc for cr. */
void ctl_progress_watch(struct ctl_progress *p, const json_t *pvc,
                        const json_t *cr, const json_t *pod, unsigned attempt);
/* The PVC (uid) is no longer populating. */
void ctl_progress_forget(struct ctl_progress *p, const char *uid);

/* Merges fields into the CR's status (one write; skipped when nothing
 * would change). */
int ctl_status_patch(struct ctl *c, const json_t *cr, json_t *fields);

#endif
