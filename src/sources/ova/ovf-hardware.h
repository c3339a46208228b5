/* Shared by the files that map a VirtualSystem's hardware section:
 * ovf_hardware.c (items, CPU, memory, firmware, VirtualBox), ovf_disks.c
 * and ovf_devices.c. */
#ifndef HOIST_SOURCES_OVA_OVF_HARDWARE_H
#define HOIST_SOURCES_OVA_OVF_HARDWARE_H

#include "sources/ova/ovf-internal.h"

/* DMTF CIM_ResourceAllocationSettingData.ResourceType values. */
enum {
  RT_OTHER = 1,
  RT_CPU = 3,
  RT_MEMORY = 4,
  RT_IDE = 5,
  RT_SCSI = 6,
  RT_FC_HBA = 7,
  RT_ISCSI_HBA = 8,
  RT_IB_HCA = 9,
  RT_ETHERNET = 10,
  RT_OTHER_NET = 11,
  RT_FLOPPY = 14,
  RT_CDROM = 15,
  RT_DVD = 16,
  RT_DISK = 17,
  RT_OTHER_STORAGE = 20, /* SATA, NVMe */
  RT_SERIAL = 21,
  RT_PARALLEL = 22,
  RT_USB = 23,
  RT_GRAPHICS = 24,
  RT_SOUND = 35,
};

#define MAX_RESOURCE_TYPE 65535
#define MAX_NICS 64

struct item {
  xmlNodePtr node;
  unsigned type;
  char *id;      /* rasd:InstanceID */
  char *subtype; /* rasd:ResourceSubType, or NULL */
  char *name;    /* rasd:ElementName (or Caption), or NULL */
};
DEFINE_VECTOR_TYPE(item_list, struct item)

/* vmw:Config and vmw:ExtraConfig of the section: key/value pairs. */
struct kv {
  char *key;
  char *value;
};
DEFINE_VECTOR_TYPE(kv_list, struct kv)

struct vbox_adapter {
  unsigned long slot;
  char *mac;
  char *type;
};
DEFINE_VECTOR_TYPE(vbox_adapter_list, struct vbox_adapter)

struct vbox {
  bool present;
  uint64_t cpus, ram_mib;
  enum vm_firmware firmware;
  char *uuid, *name, *ostype;
  struct vbox_adapter_list adapters;
};

struct hw {
  struct ovf_ctx *ctx;
  struct vm *vm;
  xmlNodePtr system, section;
  struct item_list items;
  struct kv_list config;
  struct vbox vbox;
};

/* Helpers on a VirtualHardwareSection being parsed (ovf_hardware.c). */
const char *hw_config(const struct hw *hw, const char *key);
char *hw_item_prop(struct hw *hw, const struct item *it, const char *name);
const char *hw_item_label(const struct item *it);
const struct item *hw_find_item(const struct hw *hw, const char *id);
bool hw_subtype_is(const struct item *it, const char *s);
bool hw_subtype_has(const struct item *it, const char *s);
const char *hw_vbox_nic_model(const char *type);

/* Disks, their controllers and the boot order (ovf_disks.c). */
int ovf_hw_disks(struct hw *hw);
/* NICs and the devices that are not migrated (ovf_devices.c). */
int ovf_hw_nics(struct hw *hw);
int ovf_hw_other_devices(struct hw *hw);

#endif
