/* Concerns of oVirt VMs, after Forklift's validation rules for oVirt
 * (its policies' labels; the level is Forklift's unless noted):
 *
 * critical: the VM is not down (its disks cannot be read consistently,
 *   and the engine refuses transfers of disks of a running VM; hoist
 *   does not power VMs off); illegal images; a disk in status illegal or
 *   locked; host devices (passthrough: the target has no such device;
 *   Forklift warns, hoist stops); unsupported disk storage type and
 *   invalid capacity (vm_parse.c).
 * warning: shared disk; SCSI reservation; inactive disk attachment;
 *   memory (online) snapshot; USB; watchdog; NUMA tuning; CPU pinning
 *   (vCPU pins or a pinning policy); host-passthrough or host-model CPU,
 *   custom CPU model; CPU shares; BIOS boot menu; high availability; VM
 *   custom properties; placement policy (pinned to hosts); UEFI secure
 *   boot (the NVRAM, with its keys and boot entries, is not migrated);
 *   TPM; unplugged NIC; PCI passthrough vNIC profile; port mirroring;
 *   vNIC custom properties; i440fx chipset, IDE disks, unknown NIC
 *   interfaces (vm_parse.c); time zones that cannot be kept (timezone.c).
 * info: memory ballooning; guaranteed memory below the memory size;
 *   snapshots (only the current state is copied); IO threads; display
 *   type SPICE; storage-error resume behaviour; NIC QoS; rtl8139 NIC (an
 *   emulated 100 Mbit/s model).
 * Not a concern: a vNIC profile's network filter. Every default profile
 * has one (vdsm-no-mac-spoofing), and KubeVirt's bindings guard against
 * MAC spoofing themselves.
 */
#ifndef HOIST_SOURCES_OVIRT_CONCERNS_H
#define HOIST_SOURCES_OVIRT_CONCERNS_H

#include <jansson.h>
#include <stddef.h>

#include "model/vm.h"
#include "sources/ovirt/engine.h"

/* Each returns 0 or -ENOMEM. */
int ovirt_vm_concerns(json_t *vm_json, const struct ovirt_inventory *inv,
                      struct vm *vm);
int ovirt_disk_concerns(json_t *attachment, json_t *disk, const char *label,
                        struct vm *vm);
int ovirt_nic_concerns(json_t *nic, const struct ovirt_vnic_profile *profile,
                       const char *label, size_t index, struct vm *vm);

#endif
