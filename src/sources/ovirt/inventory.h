/* The oVirt inventory parsers: the engine's JSON (REST API v4) into the
 * lists of engine.h and the neutral VM model. Pure functions of their
 * input (fuzzed by fuzz/fuzz_ovirt.c); the engine client fetches, these
 * parse.
 *
 * VMs come from GET /vms?follow=disk_attachments.disk,nics.vnic_profile,
 * host_devices,watchdogs,snapshots,numa_nodes: each VM with its disk
 * attachments and their disks, NICs and their vNIC profiles, host
 * devices, watchdogs, snapshots and virtual NUMA nodes inline (an engine
 * that refuses some links gets OVIRT_VM_FOLLOW_MIN, and the other lists
 * are read from each VM's sub-collections into the same places). The
 * inventory (networks, profiles, storage domains, clusters, hosts) names
 * what the VMs refer to by id.
 *
 * What the model gets from a VM:
 *  - id (also the SMBIOS UUID, firmware.uuid), name, description, power
 *    (status), os.type, memory, cpu.topology (sockets, cores, threads);
 *  - firmware from bios.type: q35_ovmf -> EFI, q35_secure_boot -> EFI
 *    with secure boot, q35_sea_bios and i440fx_sea_bios -> BIOS,
 *    cluster_default -> the cluster's bios_type;
 *  - serial: serial_number.value when its policy is custom, else the VM
 *    id (as Forklift does);
 *  - clock: time_zone.name (see timezone.h);
 *  - disks, from the attachments (in order): bus virtio -> virtio,
 *    virtio_scsi -> scsi, sata and ide -> sata; the bootable one boots
 *    first; capacity provisioned_size, populated actual_size, format cow
 *    -> qcow2 / raw, shareable, the storage domain's name; locator and id
 *    are the disk id. Disks whose bytes an image transfer cannot read
 *    (storage_type lun, cinder, managed_block_storage) are left out, with
 *    a critical concern;
 *  - NICs: name, mac.address, interface (virtio, e1000, e1000e, rtl8139
 *    kept; others -> virtio with a concern), network = the name of the
 *    network of the NIC's vNIC profile.
 * Concerns follow Forklift's oVirt rules (see concerns.c).
 */
#ifndef HOIST_SOURCES_OVIRT_INVENTORY_H
#define HOIST_SOURCES_OVIRT_INVENTORY_H

#include <jansson.h>
#include <stddef.h>

#include "model/vm.h"
#include "sources/ovirt/engine.h"

#define OVIRT_VM_FOLLOW                                                        \
  "disk_attachments.disk,nics.vnic_profile,host_devices,watchdogs,"            \
  "snapshots,numa_nodes"
/* What an engine that refuses the above (400) is asked; the other lists
 * are then read from each VM's sub-collections. */
#define OVIRT_VM_FOLLOW_MIN "disk_attachments.disk,nics.vnic_profile"

/* Each reads a collection reply ({"network": [ … ]} …; an empty one is
 * {}) and appends to out. 0 or a negative errno with the error set
 * ("what" names the reply in messages). */
int ovirt_parse_networks(json_t *root, const char *what,
                         struct ovirt_network_list *out);
int ovirt_parse_vnic_profiles(json_t *root, const char *what,
                              struct ovirt_vnic_profile_list *out);
int ovirt_parse_storage_domains(json_t *root, const char *what,
                                struct ovirt_storage_domain_list *out);
int ovirt_parse_clusters(json_t *root, const char *what,
                         struct ovirt_cluster_list *out);
int ovirt_parse_hosts(json_t *root, const char *what,
                      struct ovirt_host_list *out);

/* A reply holding VMs: a collection ({"vm": [ … ]}) or one VM object.
 * Appends one model per VM, with its concerns, to out. source_ref names
 * the engine in the models. */
int ovirt_parse_vms(json_t *root, const char *what,
                    const struct ovirt_inventory *inv, const char *source_ref,
                    struct vm_list *out);

/* A vNIC profile from its JSON (as listed, or inline in a NIC). */
int ovirt_vnic_profile_from_json(json_t *o, struct ovirt_vnic_profile *p);
void ovirt_vnic_profile_free(struct ovirt_vnic_profile *p);

/* Frees the lists' contents; leaves them empty. */
void ovirt_inventory_clear(struct ovirt_inventory *inv);

/* Lookups by id (NULL when unknown). */
const struct ovirt_network *
ovirt_find_network(const struct ovirt_inventory *inv, const char *id);
const struct ovirt_vnic_profile *
ovirt_find_profile(const struct ovirt_inventory *inv, const char *id);
const struct ovirt_storage_domain *
ovirt_find_storage(const struct ovirt_inventory *inv, const char *id);
const struct ovirt_cluster *
ovirt_find_cluster(const struct ovirt_inventory *inv, const char *id);
const struct ovirt_host *ovirt_find_host(const struct ovirt_inventory *inv,
                                         const char *id);

#endif
