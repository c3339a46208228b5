/* Leader election on a coordination.k8s.io/v1 Lease (client-go's
 * leaderelection with a LeaseLock).
 *
 * A candidate tries every retry_period to take the Lease: it may when
 * the Lease does not exist, names no holder, is its own, or has not been
 * renewed for leaseDurationSeconds (measured on the candidate's own clock
 * from when it last saw the Lease change, as client-go does, so clocks
 * need not agree). Every write is an update conditional on the
 * resourceVersion read, so when two candidates race, the API server lets
 * exactly one win and the other gets a conflict.
 *
 * The leader renews every retry_period; if it has not renewed for
 * renew_deadline it stops leading: `stopped` is called and is_leader()
 * turns false before the Lease can expire for others
 * (renew_deadline < lease_duration). As in client-go, a program should
 * exit when it stops leading rather than try to lead again with state
 * from its first term. On kube_leader_stop() a leader releases the Lease
 * (holder cleared) so that another can take over at once.
 */
#ifndef HOIST_KUBE_LEADER_H
#define HOIST_KUBE_LEADER_H

#include <stdbool.h>

#include "kube/client.h"

struct kube_leader_options {
  const char *ns;        /* NULL: the client's namespace */
  const char *name;      /* the Lease */
  const char *identity;  /* this candidate: unique, e.g. the pod name */
  double lease_duration; /* seconds; 0: 15 */
  double renew_deadline; /* 0: 10 */
  double retry_period;   /* 0: 2 */
  bool no_release;       /* keep the Lease on stop (no handover) */
  /* Called on the election thread; started when this candidate becomes
   * leader, stopped when it stops (lost, or kube_leader_stop()). */
  void (*started)(void *opaque);
  void (*stopped)(void *opaque);
  void *opaque;
};

struct kube_leader;

/* The options' strings are copied. */
int kube_leader_new(struct kube_client *c,
                    const struct kube_leader_options *opts,
                    struct kube_leader **ret);

/* Starts campaigning on a thread of its own. */
int kube_leader_start(struct kube_leader *le);

/* True while this candidate holds the Lease (and renewed it within
 * renew_deadline). */
bool kube_leader_is_leader(struct kube_leader *le);

/* True once leadership was held and then lost (not by stop()). */
bool kube_leader_lost(struct kube_leader *le);

/* Waits up to timeout seconds (< 0: forever) for leadership; true if
 * leading. */
bool kube_leader_wait(struct kube_leader *le, double timeout);

/* Stops campaigning (releasing the Lease if held, unless no_release) and
 * joins the thread. Safe to call twice. */
void kube_leader_stop(struct kube_leader *le);

void kube_leader_free(struct kube_leader *le);

#endif
