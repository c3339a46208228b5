/* The populator pod: hoist-populator with Forklift's flags, the prime PVC
 * as its only claim.
 *
 * populate-<uid> (populate-<uid>-<n> for attempt n > 1: failed pods are
 * kept for their logs, and their number is the attempt count), in the
 * user's namespace, owned by the user's PVC, with hoist's labels:
 *  - command: the populator binary and the mode (ovirt, openstack), args
 *    from the CR (Forklift's: --engine-url, --disk-id, --secret-name /
 *    --endpoint, --image-id; --cr-name, --cr-namespace, --owner-uid,
 *    --pvc-size, --transfer-network), --volume-path /mnt/disk.img with the
 *    volume mounted at /mnt (Filesystem) or /dev/block as a volumeDevice
 *    (Block, with the checkpoint in an emptyDir at /scratch), and
 *    --metrics-addr $(POD_IP):8443 with POD_IP from the downward API;
 *  - credentials: envFrom the CR's Secret only (and its ca.crt key as
 *    env cacert, which envFrom drops), no service account token;
 *  - restartPolicy Never (the controller counts attempts), the
 *    termination message FallbackToLogsOnError;
 *  - securityContext: runAsNonRoot with runAsUser/runAsGroup/fsGroup 107
 *    (qemu, as Forklift and CDI), no privilege escalation, every
 *    capability dropped, seccomp RuntimeDefault;
 *  - the Multus annotation k8s.v1.cni.cncf.io/networks: NS/NAME from the
 *    CR's transferNetwork;
 *  - with a selected node, node affinity to it (the scheduler still
 *    admits the pod, unlike a nodeName pin).
 */
#ifndef HOIST_CONTROLLER_PODSPEC_H
#define HOIST_CONTROLLER_PODSPEC_H

#include <jansson.h>
#include <stdbool.h>

#include "controller/prime.h"

#define CTL_GROUP "forklift.konveyor.io"
#define CTL_VERSION "v1beta1"
#define CTL_METRICS_PORT 8443
#define CTL_MULTUS_ANN "k8s.v1.cni.cncf.io/networks"

enum ctl_kind { CTL_KIND_OVIRT, CTL_KIND_OPENSTACK, CTL_KIND_COUNT };

struct ctl_kind_info {
  const char *kind;   /* OvirtVolumePopulator */
  const char *plural; /* ovirtvolumepopulators */
  const char *mode;   /* hoist-populator's mode */
  const char *secret; /* the spec field naming the Secret */
};

const struct ctl_kind_info *ctl_kind_info(enum ctl_kind k);
/* The kind a PVC's dataSourceRef names, or -1 if not one of hoist's. */
int ctl_kind_of_pvc(const json_t *pvc);

struct ctl_pod_options {
  const char *image;             /* container image */
  const char *populator;         /* the populator's path in the image */
  long run_as_user;              /* the uid; 0: root, without runAsNonRoot */
  const char *const *extra_args; /* NULL-terminated, or NULL */
};

/* "populate-<uid>" for attempt 1, "populate-<uid>-<n>" after. */
void ctl_pod_name(const char *uid, unsigned attempt, char *buf, size_t len);

/* The pod for attempt `attempt` (from 1). NULL with the error set if the
 * CR lacks a required field. */
json_t *ctl_pod_build(const json_t *pvc, const json_t *cr, enum ctl_kind k,
                      const json_t *labels, unsigned attempt,
                      const struct ctl_pod_options *o);

#endif
