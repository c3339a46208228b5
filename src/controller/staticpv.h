/* Static storage: a StorageClass whose provisioner is
 * kubernetes.io/no-provisioner has no one to make a volume for the prime
 * PVC, so hoist picks an Available PV that fits and reserves it for the
 * prime PVC (its claimRef) before creating that PVC.
 *
 * A PV fits when it is Available with no claimRef (or already reserved
 * for this prime PVC), of the same storage class and volume mode, has
 * every requested access mode and at least the requested capacity, and
 * its node affinity (kubernetes.io/hostname In …) admits the selected
 * node, when there is one. The smallest fitting PV wins (as Kubernetes'
 * binder picks), then the name, so two controllers pick alike.
 */
#ifndef HOIST_CONTROLLER_STATICPV_H
#define HOIST_CONTROLLER_STATICPV_H

#include <jansson.h>
#include <stdbool.h>

#include "controller/prime.h"

#define CTL_NO_PROVISIONER "kubernetes.io/no-provisioner"

/* True if the class has no provisioner that can make a volume. */
bool ctl_class_is_static(const json_t *sc);

/* Whether pv fits the prime PVC of the user's pvc (t parsed from it). */
bool ctl_pv_fits(const json_t *pv, const json_t *pvc,
                 const struct ctl_target *t);

/* True if pv is reserved for (or bound to) the prime PVC of t. */
bool ctl_pv_reserved_for(const json_t *pv, const struct ctl_target *t);

/* Of two fitting PVs, true if a is the better pick. */
bool ctl_pv_better(const json_t *a, const json_t *b);

/* The merge patch that reserves pv for the prime PVC of t, guarded by
 * the PV's resourceVersion (a second controller's patch then conflicts). */
json_t *ctl_pv_reserve_patch(const json_t *pv, const struct ctl_target *t);

#endif
