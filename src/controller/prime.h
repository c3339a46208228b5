/* The prime PVC: the claim that the populator pod fills, whose volume is
 * then handed to the user's PVC.
 *
 * prime-<uid of the user's PVC>, in the user's namespace, with the user's
 * access modes, storage class and volume mode, a controller owner
 * reference to the user's PVC (the garbage collector deletes it with the
 * user's PVC; no finalizer), hoist's labels, and the user's selected node
 * (volume.kubernetes.io/selected-node) when it has one.
 *
 * Its size: the user's request, rounded up to a MiB; with the annotation
 * hoist.io/disk-size (bytes of the disk to come), at least what KubeVirt
 * and CDI need for it: the disk rounded up to a MiB, and in Filesystem
 * mode divided by (1 - 5.5%) for the filesystem's overhead
 * (kv_pvc_request_mib). The populator gets the bytes a disk image may use
 * in it (--pvc-size): the request, less the overhead in Filesystem mode.
 */
#ifndef HOIST_CONTROLLER_PRIME_H
#define HOIST_CONTROLLER_PRIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define CTL_SELECTED_NODE "volume.kubernetes.io/selected-node"
#define CTL_DISK_SIZE_ANN "hoist.io/disk-size"

/* A Kubernetes quantity ("8Mi", "1.5G", "100", "1e9") in bytes, rounded
 * up; -EINVAL if it is not one (or negative), -ERANGE past 2^63. */
int ctl_quantity_bytes(const char *q, uint64_t *ret);

/* What the populator is told about its target, from the user's PVC. */
struct ctl_target {
  const char *ns, *name, *uid;
  bool block;         /* volumeMode Block */
  uint64_t request;   /* bytes the prime PVC requests */
  uint64_t usable;    /* bytes a disk image may take in it */
  const char *node;   /* the selected node, or NULL */
  const char *sclass; /* storage class name, or NULL */
};

/* Reads pvc into t (its strings point into pvc). -EINVAL with the error
 * set if something is missing or not valid. */
int ctl_target_parse(const json_t *pvc, struct ctl_target *t);

/* "prime-<uid>" / "populate-<uid>" into buf (at least 80 bytes). */
void ctl_prime_name(const char *uid, char *buf, size_t len);

/* The owner reference to the user's PVC (controller: true). */
json_t *ctl_owner_ref(const json_t *pvc);

/* The prime PVC for the user's pvc; labels are copied. NULL on out of
 * memory or an invalid pvc (error set). */
json_t *ctl_prime_build(const json_t *pvc, const json_t *labels);

#endif
