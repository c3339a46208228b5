/* Concerns of oVirt VMs (see concerns.h). */
#include "sources/ovirt/concerns.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "model/names.h"
#include "sources/ovirt/ovirt_json.h"
#include "util/cleanup.h"

#define P(s) names_printable((s), (char[96]){0}, 96)
#define MiB ((uint64_t)1024 * 1024)

/* Adds a concern and goes on with the next check unless out of memory. */
#define ADD(...)                                                               \
  do {                                                                         \
    if (vm_add_concern(vm, __VA_ARGS__) < 0)                                   \
      return -ENOMEM;                                                          \
  } while (0)

static bool is_one_of(const char *s, const char *const *set, size_t n)
{
  size_t i;

  for (i = 0; s && i < n; i++)
    if (streq(s, set[i]))
      return true;
  return false;
}

static int status_concerns(json_t *o, struct vm *vm)
{
  const char *status = jp_str(o, "status");

  if (status && !streq(status, "down"))
    ADD(CONCERN_CRITICAL, "vm-not-down",
        "the VM is %s; shut it down in oVirt first: the disks of a VM that "
        "runs cannot be copied consistently",
        P(status));
  if (jp_bool(o, "has_illegal_images", false))
    ADD(CONCERN_CRITICAL, "illegal-images",
        "the VM has illegal disk images (a failed snapshot operation); fix "
        "them in oVirt first");
  return 0;
}

static int device_concerns(json_t *o, struct vm *vm)
{
  json_t *list, *item;
  size_t i;

  list = ovj_list(o, "host_devices", "host_device");
  json_array_foreach(list, i, item)
  {
    const char *name = jp_str(item, "name");
    const char *product = jp_str(item, "product.name");
    ADD(CONCERN_CRITICAL, "host-device",
        "host device %s%s%s%s is passed through to the VM; the target has "
        "no such device (remove it in oVirt, or --force to migrate without "
        "it)",
        name ? P(name) : "?", product ? " (" : "", product ? P(product) : "",
        product ? ")" : "");
  }
  list = ovj_list(o, "watchdogs", "watchdog");
  json_array_foreach(list, i, item)
  {
    const char *model = jp_str(item, "model");
    ADD(CONCERN_WARNING, "watchdog",
        "the VM has a %s watchdog; it is not migrated", model ? P(model) : "");
  }
  if (jp_bool(o, "usb.enabled", false))
    ADD(CONCERN_WARNING, "usb",
        "USB is enabled; USB devices and redirection are not migrated");
  if (jp_bool(o, "tpm_enabled", false))
    ADD(CONCERN_WARNING, "tpm",
        "the VM has a TPM; its contents (keys, sealed secrets) are not "
        "migrated");
  if (jp_str(o, "display.type") && streq(jp_str(o, "display.type"), "spice"))
    ADD(CONCERN_INFO, "display", "the SPICE display becomes VNC");
  return 0;
}

static int snapshot_concerns(json_t *o, struct vm *vm)
{
  json_t *list = ovj_list(o, "snapshots", "snapshot"), *item;
  size_t i, others = 0;

  json_array_foreach(list, i, item)
  {
    const char *type = jp_str(item, "snapshot_type");
    const char *desc = jp_str(item, "description");

    if (type && streq(type, "active"))
      continue;
    others++;
    if (jp_bool(item, "persist_memorystate", false))
      ADD(CONCERN_WARNING, "memory-snapshot",
          "snapshot \"%s\" holds the VM's memory; memory state is not "
          "migrated, only the disks' current state",
          P(desc ? desc : jp_str(item, "id")));
  }
  if (others)
    ADD(CONCERN_INFO, "snapshots",
        "the VM has %zu snapshot(s); only its current state is migrated",
        others);
  return 0;
}

static int memory_concerns(json_t *o, struct vm *vm)
{
  uint64_t guaranteed;

  if (jp_bool(o, "memory_policy.ballooning", false))
    ADD(CONCERN_INFO, "ballooning",
        "memory ballooning is on; KubeVirt gives the VM its whole memory");
  if (jp_u64(o, "memory_policy.guaranteed", &guaranteed) == 0 && vm->memory &&
      guaranteed < vm->memory)
    ADD(CONCERN_INFO, "guaranteed-memory",
        "only %" PRIu64 " MiB of %" PRIu64 " MiB are guaranteed in oVirt; "
        "the VM gets all of its memory",
        guaranteed / MiB, vm->memory / MiB);
  return 0;
}

static int cpu_concerns(json_t *o, struct vm *vm)
{
  static const char *const pinning[] = {"manual", "resize_and_pin_numa",
                                        "dedicated", "isolate_threads"};
  const char *policy = jp_str(o, "cpu_pinning_policy");
  const char *mode = jp_str(o, "cpu.mode");
  const char *custom = jp_str(o, "custom_cpu_model");
  const char *numa = jp_str(o, "numa_tune_mode");
  json_t *pins = ovj_list(o, "cpu.cpu_tune.vcpu_pins", "vcpu_pin");
  uint64_t shares;

  if (json_array_size(pins) > 0 ||
      is_one_of(policy, pinning, ARRAY_SIZE(pinning)))
    ADD(CONCERN_WARNING, "cpu-pinning",
        "the VM's vCPUs are pinned to host CPUs (policy %s); the pinning is "
        "not migrated",
        policy ? P(policy) : "manual");
  if (mode && (streq(mode, "host_passthrough") || streq(mode, "host_model")))
    ADD(CONCERN_WARNING, "cpu-host-passthrough",
        "the VM's CPU mode is %s; on KubeVirt it gets the cluster's default "
        "CPU model, which may lack features the guest uses",
        P(mode));
  if (custom)
    ADD(CONCERN_WARNING, "custom-cpu-model",
        "the VM has the custom CPU model %s; it is not migrated", P(custom));
  if (jp_u64(o, "cpu_shares", &shares) == 0 && shares > 0)
    ADD(CONCERN_WARNING, "cpu-shares",
        "the VM has CPU shares (%" PRIu64 "); they are not migrated", shares);
  if (json_array_size(ovj_list(o, "numa_nodes", "vm_numa_node")) > 0)
    ADD(CONCERN_WARNING, "numa",
        "the VM has virtual NUMA nodes%s%s; NUMA tuning is not migrated",
        numa ? " with tune mode " : "", numa ? P(numa) : "");
  if (jp_u64(o, "io.threads", &shares) == 0 && shares > 0)
    ADD(CONCERN_INFO, "io-threads",
        "the VM has %" PRIu64 " IO threads; KubeVirt decides its own", shares);
  return 0;
}

static int placement_concerns(json_t *o, struct vm *vm)
{
  const char *affinity = jp_str(o, "placement_policy.affinity");
  const char *resume = jp_str(o, "storage_error_resume_behaviour");

  if (affinity && !streq(affinity, "migratable"))
    ADD(CONCERN_WARNING, "placement-policy",
        "the VM's placement policy is %s (tied to hosts); node placement is "
        "not migrated",
        P(affinity));
  else if (json_array_size(ovj_list(o, "placement_policy.hosts", "host")))
    ADD(CONCERN_WARNING, "placement-policy",
        "the VM prefers particular hosts; node placement is not migrated");
  if (jp_bool(o, "high_availability.enabled", false))
    ADD(CONCERN_WARNING, "high-availability",
        "the VM is highly available in oVirt; set a run strategy and "
        "eviction strategy for it in KubeVirt");
  if (jp_bool(o, "bios.boot_menu.enabled", false))
    ADD(CONCERN_WARNING, "boot-menu", "the BIOS boot menu is not migrated");
  if (json_array_size(ovj_list(o, "custom_properties", "custom_property")))
    ADD(CONCERN_WARNING, "custom-properties",
        "the VM has custom properties (hooks); they are not migrated");
  if (resume && !streq(resume, "auto_resume"))
    ADD(CONCERN_INFO, "storage-error-resume",
        "storage-error resume behaviour \"%s\" is not migrated", P(resume));
  return 0;
}

static int firmware_concerns(struct vm *vm)
{
  if (vm->secure_boot)
    ADD(CONCERN_WARNING, "secure-boot",
        "UEFI secure boot stays on, but the VM's NVRAM (enrolled keys and "
        "boot entries) is not migrated: the guest must boot from the "
        "default path (\\EFI\\BOOT\\BOOTX64.EFI) with Microsoft's keys");
  return 0;
}

int ovirt_vm_concerns(json_t *o, const struct ovirt_inventory *inv,
                      struct vm *vm)
{
  (void)inv;
  if (status_concerns(o, vm) < 0 || device_concerns(o, vm) < 0 ||
      snapshot_concerns(o, vm) < 0 || memory_concerns(o, vm) < 0 ||
      cpu_concerns(o, vm) < 0 || placement_concerns(o, vm) < 0 ||
      firmware_concerns(vm) < 0)
    return -ENOMEM;
  return 0;
}

int ovirt_disk_concerns(json_t *att, json_t *disk, const char *label,
                        struct vm *vm)
{
  const char *status = jp_str(disk, "status");

  if (status && (streq(status, "illegal") || streq(status, "locked")))
    ADD(CONCERN_CRITICAL, "disk-status",
        "%s is %s; it cannot be copied until oVirt reports it ok", label,
        status);
  else if (status && !streq(status, "ok"))
    ADD(CONCERN_WARNING, "disk-status", "%s is in status %s", label, P(status));
  if (jp_bool(disk, "shareable", false))
    ADD(CONCERN_WARNING, "shared-disk",
        "%s is shared with other VMs; it is copied with this VM only, and "
        "marked shareable",
        label);
  if (jp_bool(att, "uses_scsi_reservation", false))
    ADD(CONCERN_WARNING, "scsi-reservation",
        "%s uses SCSI reservation; it is not migrated", label);
  if (!jp_bool(att, "active", true))
    ADD(CONCERN_WARNING, "inactive-disk",
        "%s is deactivated in oVirt; it is attached on the target", label);
  return 0;
}

int ovirt_nic_concerns(json_t *nic, const struct ovirt_vnic_profile *p,
                       const char *label, size_t index, struct vm *vm)
{
  const char *iface = jp_str(nic, "interface");

  (void)index;
  if (!jp_bool(nic, "plugged", true))
    ADD(CONCERN_WARNING, "nic-unplugged",
        "%s is unplugged in oVirt; it is plugged on the target", label);
  if (iface && streq(iface, "rtl8139"))
    ADD(CONCERN_INFO, "nic-rtl8139",
        "%s keeps the emulated rtl8139 model (100 Mbit/s); virtio is much "
        "faster once the guest has its driver",
        label);
  if (!p)
    return 0;
  if (p->pass_through)
    ADD(CONCERN_WARNING, "nic-passthrough",
        "%s uses a PCI passthrough (SR-IOV) profile; it becomes a virtio "
        "NIC on the network it is mapped to",
        label);
  if (p->port_mirroring)
    ADD(CONCERN_WARNING, "nic-port-mirroring",
        "%s has port mirroring; it is not migrated", label);
  if (p->custom_properties)
    ADD(CONCERN_WARNING, "nic-custom-properties",
        "%s has vNIC custom properties; they are not migrated", label);
  if (p->qos)
    ADD(CONCERN_INFO, "nic-qos", "%s has a QoS; it is not migrated", label);
  return 0;
}
