/* The KubeVirt builder: turns a neutral VM (model/vm.h) into a KubeVirt
 * VirtualMachine (kubevirt.io/v1) and one PersistentVolumeClaim per disk,
 * as YAML.
 *
 * The VirtualMachine is created Halted (runStrategy: Halted): its disks
 * must be filled before it first boots. What it holds:
 *  - metadata: the DNS-1123 name, the namespace, labels
 *    hoist.io/source-kind, hoist.io/source-vm-id (as a label value),
 *    app.kubernetes.io/managed-by; annotations hoist.io/original-name,
 *    hoist.io/source-ref, hoist.io/source-vm-id (verbatim), and
 *    hoist.io/description (the first 4 KiB);
 *  - domain: cpu {sockets, cores, threads}; memory.guest in Mi (rounded
 *    up); firmware bios, or efi with secureBoot (and features.smm, which
 *    KubeVirt requires for secure boot); firmware.uuid and
 *    firmware.serial from the model; clock.timezone from the model's
 *    timezone (or clock.utc.offsetSeconds from its fixed UTC offset);
 *    machine type q35 (or the model's q35 variant);
 *  - disks disk-<n> {disk {bus}, bootOrder, serial} with volumes of the
 *    same name on the PVCs; interfaces net-<n> {model, macAddress,
 *    masquerade {} on the pod network, bridge {} on multus} with networks
 *    of the same name (NICs that the network map ignores are left out).
 *
 * Each PVC requests the disk's size rounded up to a MiB. In Filesystem
 * mode the disk image is a file on a filesystem inside the volume, and CDI
 * reserves part of it for the filesystem: by default 5.5%
 * (CDI's global filesystemOverhead of "0.055"), and it refuses an image
 * larger than the volume's size times (1 - overhead). So the request is
 * capacity / (1 - 0.055), rounded up to a MiB. Block mode requests the
 * capacity rounded up to a MiB.
 *
 * Each PVC carries the annotation cdi.kubevirt.io/storage.upload.target,
 * so that `virtctl image-upload pvc NAME --no-create` can fill it.
 */
#ifndef HOIST_KUBEVIRT_BUILDER_H
#define HOIST_KUBEVIRT_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/mapping.h"
#include "model/vm.h"

/* CDI's default filesystem overhead, in thousandths (0.055). */
#define KV_FS_OVERHEAD_PERMILLE 55
#define KV_DEFAULT_MACHINE "q35"

enum kv_volume_mode { KV_VOLUME_FILESYSTEM, KV_VOLUME_BLOCK };
enum kv_access_mode { KV_ACCESS_RWO, KV_ACCESS_RWX, KV_ACCESS_ROX };

struct kv_options {
  const char *ns;            /* namespace, or NULL to leave it out */
  const char *storage_class; /* NULL: the cluster's default class */
  enum kv_volume_mode volume_mode;
  enum kv_access_mode access_mode;
};

/* What the target looks like for one VM, decided before building. */
struct kv_disk_target {
  const char *pvc_name;
  uint64_t size; /* bytes the volume must hold; 0: the disk's capacity */
  /* The storage class and modes of its PVC (a storage map's choice);
   * NULL: the VM's options. */
  const struct kv_options *pvc;
};

struct kv_vm_target {
  const char *name;                   /* DNS-1123 label */
  const struct kv_disk_target *disks; /* one per vm->disks */
  const struct nic_target *nics;      /* one per vm->nics */
};

/* Adds the concerns of what KubeVirt cannot take as is: secure boot
 * without EFI (the VM gets EFI), disks on controllers KubeVirt lacks (IDE,
 * NVMe, …), NIC models it lacks, MAC addresses that are not valid, machine
 * types other than q35, an unknown memory size. Where the source already
 * raised the concern (categories ide-disk, nvme-disk, unknown-controller,
 * no-memory) it is not repeated. Returns 0 or -ENOMEM. */
int kv_check_vm(struct vm *vm);

/* "<vm-name>-disk-<n>" (n from 0). */
int kv_pvc_name(const char *vm_name, size_t index, char **ret);

/* The storage request in MiB for a disk of `size` bytes (see above). */
uint64_t kv_pvc_request_mib(uint64_t size, enum kv_volume_mode mode);

/* Render the manifests as YAML strings (caller frees). Return 0 or a
 * negative errno with the error set. */
int kv_render_vm(const struct vm *vm, const struct kv_vm_target *t,
                 const struct kv_options *o, char **ret);
/* All the VM's PVCs, as documents separated by "---". */
int kv_render_pvcs(const struct vm *vm, const struct kv_vm_target *t,
                   const struct kv_options *o, char **ret);
/* A kustomization.yaml listing pvcs.yaml (when with_pvcs) and
 * virtualmachine.yaml. */
int kv_render_kustomization(const struct kv_options *o, bool with_pvcs,
                            char **ret);

const char *kv_volume_mode_name(enum kv_volume_mode mode);
const char *kv_access_mode_name(enum kv_access_mode mode);
/* Parse "Filesystem"/"Block" and "ReadWriteOnce"/"RWO", …; -EINVAL if
 * unknown. */
int kv_parse_volume_mode(const char *s, enum kv_volume_mode *ret);
int kv_parse_access_mode(const char *s, enum kv_access_mode *ret);

/* The KubeVirt NIC model for a model NIC ("virtio" when unknown). */
const char *kv_nic_model(const struct vm_nic *nic);
/* True if mac is "xx:xx:xx:xx:xx:xx" in hex digits. */
bool kv_mac_ok(const char *mac);

#endif
