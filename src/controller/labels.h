/* The label schema of everything hoist-controller creates.
 *
 * Each prime PVC and populator pod carries:
 *   app.kubernetes.io/managed-by: hoist-controller   (the pod informer's
 *                                                      selector)
 *   hoist.io/pvc-uid: <the user's PVC uid>            (the object's owner)
 *   hoist.io/migration, hoist.io/plan, hoist.io/vm, hoist.io/disk
 *
 * The last four are looked up, first hit wins, in: the user's PVC labels
 * "hoist.io/<k>", its annotations "hoist.io/<k>", Forklift's labels on the
 * PVC ("migration", "plan", "vmID"), then the same on the CR; the disk
 * falls back to the CR's diskId / imageId. A value that is not a valid
 * label value (63 characters of [A-Za-z0-9._-], alphanumeric at both ends)
 * is replaced by a readable prefix of it and a hash of the whole, so that
 * distinct values stay distinct.
 */
#ifndef HOIST_CONTROLLER_LABELS_H
#define HOIST_CONTROLLER_LABELS_H

#include <jansson.h>
#include <stdbool.h>

#define CTL_MANAGED_BY_KEY "app.kubernetes.io/managed-by"
#define CTL_MANAGED_BY "hoist-controller"
#define CTL_LABEL_PVC_UID "hoist.io/pvc-uid"
#define CTL_LABEL_VM "hoist.io/vm"
/* On a static PV that hoist reserved: the user's PVC uid. */
#define CTL_LABEL_RESERVED "hoist.io/reserved-for"
#define CTL_LABEL_MAX 63

/* True if s is a valid label value. */
bool ctl_label_value_ok(const char *s);

/* s as a valid label value (s itself when valid); caller frees; NULL on
 * out of memory. */
char *ctl_label_value(const char *s);

/* A new JSON object with the labels above for the user's pvc and the
 * populator cr (which may be NULL). NULL on out of memory. */
json_t *ctl_labels(const json_t *pvc, const json_t *cr);

/* The VM group of a PVC: its label value for hoist.io/vm (by the lookup
 * above), or NULL when it has none; caller frees. */
char *ctl_vm_group(const json_t *pvc, const json_t *cr);

#endif
