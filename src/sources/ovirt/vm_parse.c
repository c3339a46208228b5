/* oVirt VMs into the neutral model (see inventory.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/names.h"
#include "sources/ovirt/concerns.h"
#include "sources/ovirt/inventory.h"
#include "sources/ovirt/ovirt_json.h"
#include "sources/ovirt/timezone.h"
#include "util/cleanup.h"
#include "util/error.h"

#define P(s) names_printable((s), (char[96]){0}, 96)
#define ID_CHARS "0123456789abcdefABCDEF-"
/* KubeVirt refuses topologies beyond this; an engine never sends more. */
#define CPU_MAX 4096

static enum vm_power power_of(const char *status)
{
  static const char *const on[] = {
      "up",
      "powering_up",
      "powering_down",
      "reboot_in_progress",
      "migrating",
      "paused",
      "suspended",
      "saving_state",
      "restoring_state",
      "wait_for_launch",
      "not_responding",
  };
  size_t i;

  if (!status)
    return POWER_UNKNOWN;
  if (streq(status, "down"))
    return POWER_OFF;
  for (i = 0; i < ARRAY_SIZE(on); i++)
    if (streq(status, on[i]))
      return POWER_ON;
  return POWER_UNKNOWN;
}

/* bios.type, with cluster_default resolved through the cluster. */
static const char *bios_type(json_t *o, const struct ovirt_inventory *inv,
                             bool *from_cluster)
{
  const char *t = jp_str(o, "bios.type");
  const struct ovirt_cluster *c;

  *from_cluster = false;
  if (t && !streq(t, "cluster_default"))
    return t;
  c = ovirt_find_cluster(inv, jp_str(o, "cluster.id"));
  *from_cluster = true;
  if (c && c->bios_type && !streq(c->bios_type, "cluster_default"))
    return c->bios_type;
  return NULL;
}

static int set_firmware(json_t *o, const struct ovirt_inventory *inv,
                        struct vm *vm)
{
  bool from_cluster;
  const char *t = bios_type(o, inv, &from_cluster);

  if (t && streq(t, "q35_ovmf")) {
    vm->firmware = FIRMWARE_EFI;
  } else if (t && streq(t, "q35_secure_boot")) {
    vm->firmware = FIRMWARE_EFI;
    vm->secure_boot = true;
  } else if (t && streq(t, "q35_sea_bios")) {
    vm->firmware = FIRMWARE_BIOS;
  } else if (t && streq(t, "i440fx_sea_bios")) {
    vm->firmware = FIRMWARE_BIOS;
    return vm_add_concern(vm, CONCERN_WARNING, "i440fx",
                          "the VM has the i440fx chipset%s; KubeVirt has only "
                          "q35, so the guest sees a different chipset (and "
                          "its disks and NICs at other PCI addresses)",
                          from_cluster ? " (the cluster's default)" : "");
  } else {
    vm->firmware = FIRMWARE_BIOS;
    return vm_add_concern(vm, CONCERN_WARNING, "firmware-unknown",
                          "BIOS type \"%s\" is not known; the VM gets BIOS "
                          "firmware on q35",
                          t ? P(t) : "(none given)");
  }
  return 0;
}

/* serial_number {policy, value}: custom keeps the value, anything else
 * gets the VM id (as Forklift does). */
static int set_serial(json_t *o, struct vm *vm)
{
  const char *policy = jp_str(o, "serial_number.policy");
  const char *value = jp_str(o, "serial_number.value");
  const char *serial = vm->id;

  if (policy && streq(policy, "custom") && value)
    serial = value;
  if (serial && !(vm->serial = strdup(serial)))
    return -ENOMEM;
  if (policy && streq(policy, "host"))
    return vm_add_concern(vm, CONCERN_INFO, "serial-number",
                          "the guest saw its host's serial number; it gets "
                          "the VM id as serial number instead");
  return 0;
}

static int set_cpu_memory(json_t *o, struct vm *vm)
{
  uint64_t v;

  if (jp_u64(o, "cpu.topology.sockets", &v) == 0 && v >= 1 && v <= CPU_MAX)
    vm->sockets = v;
  if (jp_u64(o, "cpu.topology.cores", &v) == 0 && v >= 1 && v <= CPU_MAX)
    vm->cores_per_socket = v;
  if (jp_u64(o, "cpu.topology.threads", &v) == 0 && v >= 1 && v <= CPU_MAX)
    vm->threads_per_core = v;
  if (jp_u64(o, "memory", &v) == 0)
    vm->memory = v;
  else
    return vm_add_concern(vm, CONCERN_CRITICAL, "no-memory",
                          "the engine gives no memory size for the VM");
  return 0;
}

/* ---- disks ---- */

static enum vm_disk_bus bus_of(const char *iface, bool *known)
{
  *known = true;
  if (iface && streq(iface, "virtio"))
    return DISK_BUS_VIRTIO;
  if (iface && streq(iface, "virtio_scsi"))
    return DISK_BUS_SCSI;
  if (iface && (streq(iface, "sata") || streq(iface, "ide")))
    return DISK_BUS_SATA;
  *known = false;
  return DISK_BUS_VIRTIO;
}

static void disk_clear(struct vm_disk *d)
{
  free(d->id);
  free(d->name);
  free(d->format);
  free(d->source_controller);
  free(d->locator);
  free(d->storage);
}

static int add_disk(json_t *att, size_t index,
                    const struct ovirt_inventory *inv, struct vm *vm,
                    bool *boot_taken)
{
  json_t *disk = jp_get(att, "disk");
  const char *id = jp_str(disk, "id"), *iface = jp_str(att, "interface");
  const char *storage_type = jp_str(disk, "storage_type");
  const char *fmt = jp_str(disk, "format");
  const char *alias = jp_str(disk, "alias");
  json_t *domains = ovj_list(disk, "storage_domains", "storage_domain");
  const struct ovirt_storage_domain *sd =
      ovirt_find_storage(inv, jp_str(json_array_get(domains, 0), "id"));
  struct vm_disk d = {0};
  char label[128];
  bool known, oom = false;
  int r;

  if (!id)
    id = jp_str(att, "id");
  if (!alias)
    alias = jp_str(disk, "name");
  snprintf(label, sizeof label, "disk \"%s\"",
           P(alias ? alias
             : id  ? id
                   : "?"));
  /* The id goes into URLs: oVirt's are UUIDs, anything else is refused. */
  if (!id || strspn(id, ID_CHARS) != strlen(id))
    return vm_add_concern(vm, CONCERN_CRITICAL, "disk-unknown",
                          "disk attachment %zu names no disk with a valid "
                          "id; it cannot be copied",
                          index);
  if (storage_type && !streq(storage_type, "image"))
    return vm_add_concern(vm, CONCERN_CRITICAL, "disk-storage-type",
                          "%s has storage type %s, which image transfers "
                          "cannot read (direct LUNs, Cinder and managed "
                          "block storage are not copied); with --force the "
                          "VM is migrated without it",
                          label, P(storage_type));
  d.id = strdup(id);
  d.locator = strdup(id);
  d.name = alias ? strdup(alias) : NULL;
  d.format = strdup(fmt && streq(fmt, "cow") ? "qcow2" : "raw");
  d.source_controller = iface ? strdup(iface) : NULL;
  if (sd && sd->name)
    d.storage = strdup(sd->name);
  oom = !d.id || !d.locator || (alias && !d.name) || !d.format ||
        (iface && !d.source_controller) || (sd && sd->name && !d.storage);
  d.bus = bus_of(iface, &known);
  d.shareable = jp_bool(disk, "shareable", false);
  d.populated = jp_u64_or(disk, "actual_size", 0);
  if (jp_u64(disk, "provisioned_size", &d.capacity) < 0)
    d.capacity = 0;
  if (jp_bool(att, "bootable", false) && !*boot_taken) {
    d.boot_order = 1;
    *boot_taken = true;
  }
  if (oom || vm_disk_list_append(&vm->disks, d) < 0) {
    disk_clear(&d);
    return -ENOMEM;
  }
  r = 0;
  if (d.capacity == 0)
    r = vm_add_concern(vm, CONCERN_CRITICAL, "disk-capacity",
                       "%s has no valid provisioned size", label);
  if (r == 0 && !known)
    r = vm_add_concern(vm, CONCERN_WARNING, "unknown-controller",
                       "%s has interface \"%s\", which KubeVirt does not "
                       "have; it is attached to the virtio bus",
                       label, iface ? P(iface) : "(none)");
  if (r == 0 && iface && streq(iface, "ide"))
    r = vm_add_concern(vm, CONCERN_WARNING, "ide-disk",
                       "%s is on IDE, which KubeVirt does not have; it is "
                       "attached to the SATA bus (the guest needs an AHCI "
                       "driver)",
                       label);
  if (r == 0)
    r = ovirt_disk_concerns(att, disk, label, vm);
  return r;
}

/* ---- NICs ---- */

static const char *nic_model(const char *iface, bool *known)
{
  static const char *const kept[] = {"virtio", "e1000", "e1000e", "rtl8139"};
  size_t i;

  *known = true;
  for (i = 0; iface && i < ARRAY_SIZE(kept); i++)
    if (streq(iface, kept[i]))
      return kept[i];
  *known = false;
  return "virtio";
}

static void nic_clear(struct vm_nic *n)
{
  free(n->name);
  free(n->mac);
  free(n->network);
  free(n->source_model);
  free(n->model);
}

static int add_nic(json_t *nic, size_t index, const struct ovirt_inventory *inv,
                   struct vm *vm)
{
  const char *name = jp_str(nic, "name"), *iface = jp_str(nic, "interface");
  const char *mac = jp_str(nic, "mac.address");
  json_t *pj = jp_get(nic, "vnic_profile");
  struct ovirt_vnic_profile inline_p = {0};
  const struct ovirt_vnic_profile *p = NULL;
  const struct ovirt_network *net = NULL;
  struct vm_nic n = {0};
  const char *model;
  char label[128];
  bool known;
  char *c;
  int r;

  snprintf(label, sizeof label, "NIC \"%s\"",
           P(name                ? name
             : jp_str(nic, "id") ? jp_str(nic, "id")
                                 : "?"));
  /* The profile inline (followed), else the one listed with that id. */
  if (jp_str(pj, "network.id")) {
    r = ovirt_vnic_profile_from_json(pj, &inline_p);
    if (r < 0)
      return -ENOMEM;
    p = &inline_p;
  } else {
    p = ovirt_find_profile(inv, jp_str(pj, "id"));
  }
  if (p)
    net = ovirt_find_network(inv, p->network_id);
  model = nic_model(iface, &known);
  n.name = name ? strdup(name) : NULL;
  n.mac = mac ? strdup(mac) : NULL;
  n.source_model = iface ? strdup(iface) : NULL;
  n.model = strdup(model);
  /* The network's name; its id when the engine did not list it. */
  if (net && net->name)
    n.network = strdup(net->name);
  else if (p && p->network_id)
    n.network = strdup(p->network_id);
  for (c = n.mac; c && *c; c++)
    *c = tolower((unsigned char)*c);
  if ((name && !n.name) || (mac && !n.mac) || (iface && !n.source_model) ||
      !n.model ||
      (((net && net->name) || (p && p->network_id)) && !n.network) ||
      vm_nic_list_append(&vm->nics, n) < 0) {
    nic_clear(&n);
    ovirt_vnic_profile_free(&inline_p);
    return -ENOMEM;
  }
  r = 0;
  if (!known)
    r = vm_add_concern(vm, CONCERN_WARNING, "nic-interface",
                       "%s has interface \"%s\", which KubeVirt does not "
                       "have; it becomes a virtio NIC",
                       label, iface ? P(iface) : "(none)");
  if (r == 0 && !pj)
    r = vm_add_concern(vm, CONCERN_WARNING, "nic-no-network",
                       "%s has no vNIC profile (it is not connected to a "
                       "network)",
                       label);
  if (r == 0)
    r = ovirt_nic_concerns(nic, p, label, index, vm);
  ovirt_vnic_profile_free(&inline_p);
  return r;
}

/* ---- the VM ---- */

static int parse_vm(json_t *o, const struct ovirt_inventory *inv,
                    const char *source_ref, struct vm **ret)
{
  struct vm *vm = vm_new();
  json_t *list, *item;
  bool oom = false, boot_taken = false;
  size_t i;
  int r;

  if (!vm)
    return -ENOMEM;
  vm->id = jp_dup(o, "id", &oom);
  vm->uuid = jp_dup(o, "id", &oom);
  vm->name = jp_dup(o, "name", &oom);
  vm->description = jp_dup(o, "description", &oom);
  vm->os_type = jp_dup(o, "os.type", &oom);
  vm->source_kind = strdup("ovirt");
  vm->source_ref = source_ref ? strdup(source_ref) : NULL;
  vm->power = power_of(jp_str(o, "status"));
  if (oom || !vm->source_kind || (source_ref && !vm->source_ref)) {
    vm_free(vm);
    return -ENOMEM;
  }
  if ((r = set_cpu_memory(o, vm)) < 0 || (r = set_firmware(o, inv, vm)) < 0 ||
      (r = set_serial(o, vm)) < 0 ||
      (r = ovirt_tz_apply(vm, jp_str(o, "time_zone.name"),
                          jp_str(o, "time_zone.utc_offset"))) < 0) {
    vm_free(vm);
    return r;
  }
  list = ovj_list(o, "disk_attachments", "disk_attachment");
  json_array_foreach(list, i, item)
  {
    r = add_disk(item, i, inv, vm, &boot_taken);
    if (r < 0) {
      vm_free(vm);
      return r;
    }
  }
  list = ovj_list(o, "nics", "nic");
  json_array_foreach(list, i, item)
  {
    r = add_nic(item, i, inv, vm);
    if (r < 0) {
      vm_free(vm);
      return r;
    }
  }
  r = ovirt_vm_concerns(o, inv, vm);
  if (r < 0) {
    vm_free(vm);
    return r;
  }
  *ret = vm;
  return 0;
}

int ovirt_parse_vms(json_t *root, const char *what,
                    const struct ovirt_inventory *inv, const char *source_ref,
                    struct vm_list *out)
{
  json_t *items, *o;
  size_t i;
  int r;

  if (!json_is_object(root))
    return error_set(EPROTO, "%s: the reply is not a JSON object", what);
  items = json_object_get(root, "vm");
  if (!items && jp_str(root, "id")) {
    /* One VM (GET /vms/ID). */
    items = json_array();
    if (!items || json_array_append(items, root) < 0) {
      json_decref(items);
      return error_set(ENOMEM, "out of memory");
    }
  } else if (items && !json_is_array(items)) {
    return error_set(EPROTO, "%s: \"vm\" is not a list", what);
  } else {
    json_incref(items);
  }
  r = 0;
  json_array_foreach(items, i, o)
  {
    struct vm *vm = NULL;

    if (!json_is_object(o) || !jp_str(o, "id")) {
      r = error_set(EPROTO, "%s: VM %zu has no id", what, i);
      break;
    }
    r = parse_vm(o, inv, source_ref, &vm);
    if (r == 0 && vm_list_append(out, vm) < 0) {
      vm_free(vm);
      r = -ENOMEM;
    }
    if (r < 0) {
      r = r == -ENOMEM ? error_set(ENOMEM, "out of memory") : r;
      break;
    }
  }
  json_decref(items);
  return r;
}
