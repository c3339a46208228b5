/* The neutral VM model: the one contract between source adapters (OVA,
 * oVirt, OpenStack, vSphere, KubeVirt) and everything after them (plans,
 * the copy engine, the KubeVirt builder). A source fills it; nothing after
 * it knows which source that was. All strings are owned (heap) and may be
 * NULL when the source did not say.
 */
#ifndef HOIST_MODEL_VM_H
#define HOIST_MODEL_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "util/vector.h"

enum vm_firmware { FIRMWARE_UNKNOWN, FIRMWARE_BIOS, FIRMWARE_EFI };
enum vm_power { POWER_UNKNOWN, POWER_ON, POWER_OFF };

/* The bus a disk is attached to on the target; sources map their
 * controllers to one of these (and raise a concern when unsure). */
enum vm_disk_bus { DISK_BUS_VIRTIO, DISK_BUS_SCSI, DISK_BUS_SATA };

enum vm_concern_level { CONCERN_INFO, CONCERN_WARNING, CONCERN_CRITICAL };

struct vm_concern {
  enum vm_concern_level level;
  char *category; /* short machine-readable id, e.g. "passthrough-device" */
  char *message;  /* one line a user can act on */
};
DEFINE_VECTOR_TYPE(vm_concern_list, struct vm_concern)

struct vm_disk {
  char *id;           /* the source's id (OVF diskId, oVirt disk id, …) */
  char *name;         /* a human name (file name, alias) */
  uint64_t capacity;  /* virtual size in bytes */
  uint64_t populated; /* bytes of data, or 0 if unknown */
  char *format;       /* as declared: "vmdk", "qcow2", "raw", … */
  enum vm_disk_bus bus;
  char *source_controller; /* e.g. "lsilogic", "pvscsi", "ide", "sata" */
  int boot_order;          /* 1 = first; 0 = not bootable/unknown */
  char *serial;
  /* Where the bytes are, in the source's own terms: for an OVA the archive
   * member name; for oVirt the disk id; … */
  char *locator;
  char *compression; /* "gzip" when the source stores the file compressed */
  bool shareable;
  char *storage; /* the source storage it lives on (datastore, storage
                    domain), for messages and storage maps; or NULL */
};
DEFINE_VECTOR_TYPE(vm_disk_list, struct vm_disk)

struct vm_nic {
  char *name;
  char *mac;          /* "aa:bb:cc:dd:ee:ff" lower case, or NULL */
  char *network;      /* the source network's name */
  char *source_model; /* e.g. "VmxNet3", "E1000", "virtio" */
  char *model;        /* the KubeVirt model: "virtio", "e1000", "e1000e" … */
};
DEFINE_VECTOR_TYPE(vm_nic_list, struct vm_nic)

struct vm {
  char *name; /* as the source calls it */
  char *id;   /* source id (UUID where there is one) */
  char *description;
  char *source_kind; /* "ova", "ovirt", … */
  char *source_ref;  /* the provider or file it came from */

  enum vm_firmware firmware;
  bool secure_boot;
  unsigned sockets, cores_per_socket, threads_per_core;
  uint64_t memory; /* bytes */
  char *os_type;   /* the source's OS id (e.g. "rhel8_64Guest") */
  char *os_description;
  char *machine_type; /* e.g. "q35", or NULL */
  char *uuid;         /* SMBIOS UUID to keep, or NULL */
  char *serial;       /* SMBIOS serial number to keep, or NULL */
  /* The guest's hardware clock: an IANA zone name ("Europe/Berlin"), or
   * else a fixed offset from UTC when utc_offset_set; neither: UTC. */
  char *timezone;
  bool utc_offset_set;
  int utc_offset; /* seconds east of UTC */
  enum vm_power power;

  struct vm_disk_list disks;
  struct vm_nic_list nics;
  struct vm_concern_list concerns;
};
DEFINE_VECTOR_TYPE(vm_list, struct vm *)

struct vm *vm_new(void);
void vm_free(struct vm *vm);
void vm_list_free(struct vm_list *l);

/* Adds a concern (printf-style message). Returns 0 or -ENOMEM. */
int vm_add_concern(struct vm *vm, enum vm_concern_level level,
                   const char *category, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

bool vm_has_critical_concern(const struct vm *vm);

const char *vm_concern_level_name(enum vm_concern_level level);
const char *vm_firmware_name(enum vm_firmware fw);
const char *vm_disk_bus_name(enum vm_disk_bus bus);

#endif
