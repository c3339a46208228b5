/* A VirtualSystem's hardware: the items of its VirtualHardwareSection
 * (rasd Item, OVF 2.0 StorageItem and EthernetPortItem), VMware's
 * vmw:Config/ExtraConfig/CoresPerSocket/BootOrderSection and VirtualBox's
 * vbox:Machine, mapped onto the neutral model. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/ova/ovf-internal.h"
#include "util/checked.h"
#include "util/cleanup.h"
#include "util/error.h"

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

struct controller {
  const struct item *item;
  enum vm_disk_bus bus;
  const char *source; /* source_controller */
  const char *vmx;    /* VMware's device prefix: "scsi", "sata", … */
  bool known;
};

struct hw {
  struct ovf_ctx *ctx;
  struct vm *vm;
  xmlNodePtr system, section;
  struct item_list items;
  struct kv_list config;
  struct vbox vbox;
};

static void hw_free(struct hw *hw)
{
  size_t i;

  for (i = 0; i < hw->items.len; i++) {
    free(hw->items.ptr[i].id);
    free(hw->items.ptr[i].subtype);
    free(hw->items.ptr[i].name);
  }
  item_list_reset(&hw->items);
  for (i = 0; i < hw->config.len; i++) {
    free(hw->config.ptr[i].key);
    free(hw->config.ptr[i].value);
  }
  kv_list_reset(&hw->config);
  for (i = 0; i < hw->vbox.adapters.len; i++) {
    free(hw->vbox.adapters.ptr[i].mac);
    free(hw->vbox.adapters.ptr[i].type);
  }
  vbox_adapter_list_reset(&hw->vbox.adapters);
  free(hw->vbox.uuid);
  free(hw->vbox.name);
  free(hw->vbox.ostype);
}

/* The first vmw:Config/ExtraConfig value for key (case-insensitive). */
static const char *config_get(const struct hw *hw, const char *key)
{
  size_t i;

  for (i = 0; i < hw->config.len; i++)
    if (strcasecmp(hw->config.ptr[i].key, key) == 0)
      return hw->config.ptr[i].value;
  return NULL;
}

static char *item_prop(struct hw *hw, const struct item *it, const char *name)
{
  return ovf_child_text(hw->ctx, it->node, NS_CIM, name);
}

static const char *item_label(const struct item *it)
{
  return it->name ? it->name : it->id;
}

static const struct item *find_item(const struct hw *hw, const char *id)
{
  size_t i;

  for (i = 0; i < hw->items.len; i++)
    if (streq(hw->items.ptr[i].id, id))
      return &hw->items.ptr[i];
  return NULL;
}

static bool subtype_is(const struct item *it, const char *s)
{
  return it->subtype && strcasecmp(it->subtype, s) == 0;
}

static bool subtype_has(const struct item *it, const char *s)
{
  return it->subtype && strcasestr(it->subtype, s);
}

/* ---- collecting ---- */

static int add_config(struct hw *hw, xmlNodePtr n)
{
  struct kv kv;

  kv.key = ovf_attr_ns(hw->ctx, n, "key", OVF_NS_VMW);
  kv.value = ovf_attr_ns(hw->ctx, n, "value", OVF_NS_VMW);
  if (hw->ctx->oom || !kv.key || !kv.value ||
      kv_list_append(&hw->config, kv) < 0) {
    free(kv.key);
    free(kv.value);
    return hw->ctx->oom ? ovf_oom() : 0;
  }
  return 0;
}

static int add_item(struct hw *hw, xmlNodePtr n)
{
  struct ovf_ctx *ctx = hw->ctx;
  struct item it = {.node = n}, *ip;
  _cleanup_free_ char *type = NULL;
  uint64_t t;

  if (hw->items.len >= OVF_MAX_ITEMS)
    return ovf_error(ctx, n, "more than %d hardware items", OVF_MAX_ITEMS);
  if (item_list_append(&hw->items, it) < 0)
    return ovf_oom();
  ip = &hw->items.ptr[hw->items.len - 1];
  type = ovf_child_text(ctx, n, NS_CIM, "ResourceType");
  ip->id = ovf_child_text(ctx, n, NS_CIM, "InstanceID");
  ip->subtype = ovf_child_text(ctx, n, NS_CIM, "ResourceSubType");
  ip->name = ovf_child_text(ctx, n, NS_CIM, "ElementName");
  if (!ip->name || !*ip->name) {
    free(ip->name);
    ip->name = ovf_child_text(ctx, n, NS_CIM, "Caption");
  }
  if (ctx->oom)
    return ovf_oom();
  if (ip->subtype && !*ip->subtype) {
    free(ip->subtype);
    ip->subtype = NULL;
  }
  if (ip->name && !*ip->name) {
    free(ip->name);
    ip->name = NULL;
  }
  if (!ip->id || !*ip->id)
    return ovf_error(ctx, n, "a hardware item has no InstanceID");
  if (!type)
    return ovf_error(ctx, n, "item %s has no ResourceType", ip->id);
  if (ovf_parse_u64(type, &t) < 0 || t > MAX_RESOURCE_TYPE)
    return ovf_error(ctx, n, "item %s: ResourceType \"%s\" is not valid",
                     ip->id, type);
  ip->type = t;
  if (find_item(hw, ip->id) != ip)
    return ovf_error(ctx, n, "two hardware items have InstanceID %s", ip->id);
  return 0;
}

static int collect(struct hw *hw)
{
  struct ovf_ctx *ctx = hw->ctx;
  xmlNodePtr c;
  int r = 0;

  for (c = hw->section->children; c && r == 0; c = c->next) {
    if (ovf_is(ctx, c, NS_OVF, "Item") ||
        ovf_is(ctx, c, NS_OVF, "StorageItem") ||
        ovf_is(ctx, c, NS_OVF, "EthernetPortItem")) {
      if (ovf_item_applies(ctx, c))
        r = add_item(hw, c);
    } else if (ovf_is(ctx, c, NS_VMW, "Config") ||
               ovf_is(ctx, c, NS_VMW, "ExtraConfig")) {
      r = add_config(hw, c);
    }
  }
  return r;
}

/* ---- VirtualBox ---- */

static xmlNodePtr any_child(struct hw *hw, xmlNodePtr parent, const char *name)
{
  return ovf_child(hw->ctx, parent, NS_ANY, name);
}

static int vbox_number(struct hw *hw, xmlNodePtr n, const char *attr,
                       uint64_t max, uint64_t *ret)
{
  _cleanup_free_ char *v = n ? ovf_attr(hw->ctx, n, attr) : NULL;

  if (hw->ctx->oom)
    return ovf_oom();
  if (!v)
    return 0;
  if (ovf_parse_u64(v, ret) < 0 || *ret > max)
    return ovf_error(hw->ctx, n, "vbox:Machine: %s=\"%s\" is not valid", attr,
                     v);
  return 0;
}

static int parse_vbox(struct hw *hw, xmlNodePtr m)
{
  struct ovf_ctx *ctx = hw->ctx;
  struct vbox *vb = &hw->vbox;
  xmlNodePtr hwn, net, a, fw;
  int r;

  if (!m)
    return 0;
  vb->present = true;
  vb->firmware = FIRMWARE_BIOS; /* VirtualBox omits the default */
  vb->uuid = ovf_attr(ctx, m, "uuid");
  vb->name = ovf_attr(ctx, m, "name");
  vb->ostype = ovf_attr(ctx, m, "OSType");
  hwn = any_child(hw, m, "Hardware");
  r = vbox_number(hw, any_child(hw, hwn, "CPU"), "count", OVF_MAX_CPUS,
                  &vb->cpus);
  if (r == 0 && !vb->cpus) /* VirtualBox 7.1 moved it to Platform */
    r = vbox_number(hw, any_child(hw, any_child(hw, m, "Platform"), "CPU"),
                    "count", OVF_MAX_CPUS, &vb->cpus);
  if (r == 0)
    r = vbox_number(hw, any_child(hw, hwn, "Memory"), "RAMSize",
                    OVF_MAX_MEMORY >> 20, &vb->ram_mib);
  if (r < 0)
    return r;
  fw = any_child(hw, hwn, "Firmware");
  if (fw) {
    _cleanup_free_ char *type = ovf_attr(ctx, fw, "type");
    if (type && strncasecmp(type, "EFI", 3) == 0)
      vb->firmware = FIRMWARE_EFI;
    else if (type && strcasecmp(type, "BIOS") != 0)
      vb->firmware = FIRMWARE_UNKNOWN;
  }
  net = any_child(hw, hwn, "Network");
  for (a = net ? net->children : NULL; a; a = a->next) {
    struct vbox_adapter ad = {0};
    _cleanup_free_ char *enabled = NULL, *slot = NULL;
    uint64_t s;
    if (!ovf_is(ctx, a, NS_ANY, "Adapter"))
      continue;
    enabled = ovf_attr(ctx, a, "enabled");
    slot = ovf_attr(ctx, a, "slot");
    if (!ovf_true(enabled))
      continue;
    if (!slot || ovf_parse_u64(slot, &s) < 0 || s > 1000)
      return ovf_error(ctx, a,
                       "vbox:Machine: a network adapter has no "
                       "valid slot");
    if (vb->adapters.len >= MAX_NICS)
      return ovf_error(ctx, a,
                       "vbox:Machine: more than %d network "
                       "adapters",
                       MAX_NICS);
    ad.slot = s;
    ad.mac = ovf_attr(ctx, a, "MACAddress");
    ad.type = ovf_attr(ctx, a, "type");
    if (vbox_adapter_list_append(&vb->adapters, ad) < 0) {
      free(ad.mac);
      free(ad.type);
      return ovf_oom();
    }
  }
  if (ctx->oom)
    return ovf_oom();
  /* In slot order (insertion sort: at most MAX_NICS). */
  for (size_t i = 1; i < vb->adapters.len; i++) {
    struct vbox_adapter t = vb->adapters.ptr[i];
    size_t j = i;
    for (; j > 0 && vb->adapters.ptr[j - 1].slot > t.slot; j--)
      vb->adapters.ptr[j] = vb->adapters.ptr[j - 1];
    vb->adapters.ptr[j] = t;
  }
  return 0;
}

/* VirtualBox adapter types as the OVF's ResourceSubType would name them. */
static const char *vbox_nic_model(const char *type)
{
  if (!type)
    return NULL;
  if (strncasecmp(type, "8254", 4) == 0)
    return "E1000";
  if (strncasecmp(type, "Am79C9", 6) == 0)
    return "PCNet32";
  if (strcasecmp(type, "virtio") == 0)
    return "virtio";
  return type;
}

/* ---- CPU and memory ---- */

static const struct item *single_item(struct hw *hw, unsigned type,
                                      const char *what, int *r)
{
  const struct item *found = NULL;
  size_t i;

  *r = 0;
  for (i = 0; i < hw->items.len; i++) {
    if (hw->items.ptr[i].type != type)
      continue;
    if (found) {
      *r = ovf_error(hw->ctx, hw->items.ptr[i].node,
                     "more than one %s item (InstanceID %s and %s)", what,
                     found->id, hw->items.ptr[i].id);
      return NULL;
    }
    found = &hw->items.ptr[i];
  }
  return found;
}

static int parse_cpu(struct hw *hw)
{
  struct ovf_ctx *ctx = hw->ctx;
  struct vm *vm = hw->vm;
  _cleanup_free_ char *qty = NULL, *cps_s = NULL;
  const struct item *it;
  uint64_t total = 0, cps = 1, threads = 1;
  const char *smt;
  int r;

  it = single_item(hw, RT_CPU, "CPU", &r);
  if (r < 0)
    return r;
  if (it) {
    qty = item_prop(hw, it, "VirtualQuantity");
    cps_s = ovf_child_text(ctx, it->node, NS_VMW, "CoresPerSocket");
    if (ctx->oom)
      return ovf_oom();
    if (!qty || ovf_parse_u64(qty, &total) < 0 || total == 0 ||
        total > OVF_MAX_CPUS)
      return ovf_error(ctx, it->node,
                       "the CPU count \"%s\" is not valid (1 to %d)",
                       qty ? qty : "", OVF_MAX_CPUS);
  } else if (hw->vbox.cpus) {
    total = hw->vbox.cpus;
  } else {
    total = 1;
    if (vm_add_concern(vm, CONCERN_WARNING, "no-cpu",
                       "the OVF gives no CPU count; 1 CPU is assumed") < 0)
      return ovf_oom();
  }
  if (cps_s &&
      (ovf_parse_u64(cps_s, &cps) < 0 || cps == 0 || total % cps != 0)) {
    if (vm_add_concern(vm, CONCERN_WARNING, "cpu-topology",
                       "%llu CPUs cannot be split into sockets of %s "
                       "cores; one core per socket is used",
                       (unsigned long long)total, cps_s) < 0)
      return ovf_oom();
    cps = 1;
  }
  /* VMware counts logical CPUs; simultaneousThreads of them share a
   * core. */
  smt = config_get(hw, "simultaneousThreads");
  if (smt && ovf_parse_u64(smt, &threads) == 0 && threads > 1 &&
      cps % threads == 0)
    cps /= threads;
  else
    threads = 1;
  vm->sockets = total / (cps * threads);
  vm->cores_per_socket = cps;
  vm->threads_per_core = threads;
  return 0;
}

static int parse_memory(struct hw *hw)
{
  struct ovf_ctx *ctx = hw->ctx;
  struct vm *vm = hw->vm;
  _cleanup_free_ char *qty = NULL, *units = NULL;
  const struct item *it;
  uint64_t v, mult = 1ull << 20;
  int r;

  it = single_item(hw, RT_MEMORY, "memory", &r);
  if (r < 0)
    return r;
  if (!it) {
    if (hw->vbox.ram_mib) {
      vm->memory = hw->vbox.ram_mib << 20;
      return 0;
    }
    return vm_add_concern(vm, CONCERN_CRITICAL, "no-memory",
                          "the OVF gives no memory size") < 0
               ? ovf_oom()
               : 0;
  }
  qty = item_prop(hw, it, "VirtualQuantity");
  units = item_prop(hw, it, "AllocationUnits");
  if (!units)
    units = item_prop(hw, it, "VirtualQuantityUnits");
  if (ctx->oom)
    return ovf_oom();
  if (!qty || ovf_parse_u64(qty, &v) < 0)
    return ovf_error(ctx, it->node, "the memory size \"%s\" is not a number",
                     qty ? qty : "");
  if (units && *units && ovf_parse_units(units, &mult) < 0)
    return ovf_error(ctx, it->node,
                     "memory units \"%s\" are not valid (expected e.g. "
                     "\"byte * 2^20\")",
                     units);
  if (MUL_OVERFLOW(v, mult, &vm->memory) || vm->memory > OVF_MAX_MEMORY)
    return ovf_error(ctx, it->node,
                     "the memory size %s %s is absurd (hoist accepts up to "
                     "64 TiB)",
                     qty, units && *units ? units : "MiB");
  if (!units || !*units) {
    if (vm_add_concern(vm, CONCERN_WARNING, "memory-units",
                       "the memory item gives no units; %s MiB is assumed",
                       qty) < 0)
      return ovf_oom();
  }
  if (vm->memory == 0 && vm_add_concern(vm, CONCERN_CRITICAL, "no-memory",
                                        "the OVF gives a memory size of 0") < 0)
    return ovf_oom();
  return 0;
}

/* ---- controllers and disks ---- */

static void controller_of(const struct item *it, struct controller *c)
{
  *c = (struct controller){.item = it, .bus = DISK_BUS_VIRTIO};
  if (subtype_is(it, "virtio") || subtype_is(it, "virtio-blk")) {
    c->source = "virtio";
    c->known = true;
    return;
  }
  switch (it->type) {
  case RT_IDE:
    c->bus = DISK_BUS_SATA;
    c->source = "ide";
    c->vmx = "ide";
    c->known = true;
    break;
  case RT_SCSI:
    c->bus = DISK_BUS_SCSI;
    c->vmx = "scsi";
    c->known = true;
    if (subtype_is(it, "lsilogic"))
      c->source = "lsilogic";
    else if (subtype_is(it, "lsilogicsas"))
      c->source = "lsilogicsas";
    else if (subtype_is(it, "buslogic"))
      c->source = "buslogic";
    else if (subtype_is(it, "VirtualSCSI"))
      c->source = "pvscsi";
    else if (subtype_has(it, "virtio"))
      c->source = "virtio-scsi";
    else
      c->source = it->subtype ? it->subtype : "scsi";
    break;
  case RT_OTHER_STORAGE:
    if (subtype_is(it, "vmware.sata.ahci") || subtype_is(it, "AHCI") ||
        subtype_has(it, "sata")) {
      c->bus = DISK_BUS_SATA;
      c->source = "sata";
      c->vmx = "sata";
      c->known = true;
    } else if (subtype_has(it, "nvme")) {
      c->source = "nvme";
      c->vmx = "nvme";
      c->known = true;
    }
    break;
  default:
    break;
  }
}

/* "ovf:/disk/ID", "/disk/ID" (VirtualBox), "ovf://disk/ID". */
static const char *disk_ref(const char *host_resource)
{
  static const char *const prefixes[] = {"ovf:/disk/", "ovf://disk/", "/disk/"};
  size_t i;

  for (i = 0; i < ARRAY_SIZE(prefixes); i++)
    if (strncmp(host_resource, prefixes[i], strlen(prefixes[i])) == 0)
      return host_resource + strlen(prefixes[i]);
  return NULL;
}

/* Sort key for "the first disk on the first controller". */
struct boot_key {
  size_t controller; /* document position of the controller */
  uint64_t unit;     /* AddressOnParent */
};

static int disk_serial(struct hw *hw, const struct controller *c,
                       const char *unit, struct vm_disk *d)
{
  _cleanup_free_ char *bus = NULL;
  char key[96];
  const char *v;

  /* VMware keeps device settings in .vmx keys such as
   * "scsi0:1.serialNumber", which exports carry as vmw:ExtraConfig. */
  if (!c || !c->vmx || !unit)
    return 0;
  bus = item_prop(hw, c->item, "Address");
  if (hw->ctx->oom)
    return ovf_oom();
  snprintf(key, sizeof key, "%s%s:%s.serialNumber", c->vmx,
           bus && *bus ? bus : "0", unit);
  v = config_get(hw, key);
  if (v && *v && !(d->serial = strdup(v)))
    return ovf_oom();
  return 0;
}

static int add_disk(struct hw *hw, const struct item *it, struct boot_key *key)
{
  struct ovf_ctx *ctx = hw->ctx;
  struct vm *vm = hw->vm;
  _cleanup_free_ char *res = NULL, *parent = NULL, *unit = NULL;
  const struct item *pit = NULL;
  struct controller c = {0};
  struct ovf_disk_def *def;
  struct vm_disk d = {0};
  const char *ref;
  size_t i;

  res = item_prop(hw, it, "HostResource");
  parent = item_prop(hw, it, "Parent");
  unit = item_prop(hw, it, "AddressOnParent");
  if (ctx->oom)
    return ovf_oom();
  if (!res || !*res)
    return vm_add_concern(vm, CONCERN_WARNING, "empty-drive",
                          "disk drive \"%s\" has no disk (no HostResource); "
                          "it is not migrated",
                          item_label(it)) < 0
               ? ovf_oom()
               : 1;
  if (strncmp(res, "ovf:/file/", 10) == 0)
    return ovf_error(ctx, it->node,
                     "disk drive %s refers to a file directly (%s); hoist "
                     "needs a Disk of the DiskSection",
                     item_label(it), res);
  ref = disk_ref(res);
  if (!ref || !*ref)
    return ovf_error(ctx, it->node,
                     "disk drive %s: HostResource \"%s\" does not name a "
                     "disk (expected ovf:/disk/ID)",
                     item_label(it), res);
  def = ovf_find_disk(ctx, ref);
  if (!def)
    return ovf_error(ctx, it->node,
                     "disk drive %s refers to disk %s, which the "
                     "DiskSection does not list",
                     item_label(it), ref);
  if (vm->disks.len >= OVF_MAX_VM_DISKS)
    return ovf_error(ctx, it->node, "more than %d disks", OVF_MAX_VM_DISKS);
  for (i = 0; i < vm->disks.len; i++)
    if (streq(vm->disks.ptr[i].id, def->id))
      return ovf_error(ctx, it->node,
                       "disk %s is attached twice to the same virtual "
                       "system",
                       def->id);
  def->used_by++;

  if (parent && *parent)
    pit = find_item(hw, parent);
  if (pit)
    controller_of(pit, &c);
  key->controller = pit ? (size_t)(pit - hw->items.ptr) : SIZE_MAX;
  if (!unit || ovf_parse_u64(unit, &key->unit) < 0)
    key->unit = UINT64_MAX;

  d.capacity = def->capacity;
  d.populated = def->populated;
  d.bus = c.known ? c.bus : DISK_BUS_VIRTIO;
  d.id = strdup(def->id);
  d.name = strdup(item_label(it));
  d.source_controller = c.source ? strdup(c.source) : NULL;
  d.format = def->format ? strdup(def->format) : NULL;
  if (def->file_ref) {
    const struct ovf_file *f = &ctx->out->files.ptr[def->file];
    ctx->out->files.ptr[def->file].referenced = true;
    d.locator = strdup(f->href);
    d.compression = f->compression ? strdup(f->compression) : NULL;
  }
  if (vm_disk_list_append(&vm->disks, d) < 0) {
    free(d.id);
    free(d.name);
    free(d.source_controller);
    free(d.format);
    free(d.locator);
    free(d.compression);
    return ovf_oom();
  }
  {
    struct vm_disk *dp = &vm->disks.ptr[vm->disks.len - 1];
    if (!dp->id || !dp->name || (c.source && !dp->source_controller) ||
        (def->format && !dp->format) || (def->file_ref && !dp->locator))
      return ovf_oom();
    if (disk_serial(hw, &c, unit, dp) < 0)
      return ovf_oom();
  }

  /* What the user should know about this disk. */
  if (!def->file_ref &&
      vm_add_concern(vm, CONCERN_INFO, "empty-disk",
                     "disk %s has no file: it is created empty (%llu "
                     "bytes)",
                     def->id, (unsigned long long)def->capacity) < 0)
    return ovf_oom();
  if (def->capacity == 0 &&
      vm_add_concern(vm, CONCERN_CRITICAL, "invalid-capacity",
                     "disk %s has a capacity of 0 bytes", def->id) < 0)
    return ovf_oom();
  if (def->format && !def->format_known &&
      vm_add_concern(vm, CONCERN_WARNING, "unknown-disk-format",
                     "disk %s has format \"%s\", which hoist does not "
                     "know",
                     def->id, def->format) < 0)
    return ovf_oom();
  if (!pit && parent && *parent) {
    if (vm_add_concern(vm, CONCERN_WARNING, "unknown-controller",
                       "disk %s hangs off item %s, which the hardware "
                       "section does not list; it is attached as virtio",
                       def->id, parent) < 0)
      return ovf_oom();
  } else if (!pit) {
    if (vm_add_concern(vm, CONCERN_WARNING, "unknown-controller",
                       "disk %s names no controller; it is attached as "
                       "virtio",
                       def->id) < 0)
      return ovf_oom();
  } else if (!c.known) {
    if (vm_add_concern(vm, CONCERN_WARNING, "unknown-controller",
                       "disk %s is on controller \"%s\" (ResourceType %u%s%s"
                       "), which hoist does not know; it is attached as "
                       "virtio",
                       def->id, item_label(pit), pit->type,
                       pit->subtype ? ", " : "",
                       pit->subtype ? pit->subtype : "") < 0)
      return ovf_oom();
  } else if (pit->type == RT_IDE) {
    if (vm_add_concern(vm, CONCERN_INFO, "ide-disk",
                       "disk %s is on an IDE controller; KubeVirt has no "
                       "IDE, so it is attached as SATA",
                       def->id) < 0)
      return ovf_oom();
  } else if (c.vmx && streq(c.vmx, "nvme")) {
    if (vm_add_concern(vm, CONCERN_WARNING, "nvme-disk",
                       "disk %s is on an NVMe controller; it is attached as "
                       "virtio, so the guest needs virtio-blk drivers and "
                       "sees a new device name",
                       def->id) < 0)
      return ovf_oom();
  }
  return 0;
}

/* Boot order: VMware's vmw:BootOrderSection entries where present, else
 * the first disk on the first controller (in document order) boots. */
static int boot_order(struct hw *hw, const struct boot_key *keys,
                      const size_t *disk_item)
{
  struct ovf_ctx *ctx = hw->ctx;
  struct vm *vm = hw->vm;
  xmlNodePtr s;
  int next = 1;
  bool other_first = false;
  size_t i, best = SIZE_MAX;

  for (s = hw->system->children; s; s = s->next) {
    _cleanup_free_ char *id = NULL, *type = NULL;
    const struct item *it;
    if (!ovf_is(ctx, s, NS_VMW, "BootOrderSection"))
      continue;
    id = ovf_attr_ns(ctx, s, "instanceId", OVF_NS_VMW);
    type = ovf_attr_ns(ctx, s, "type", OVF_NS_VMW);
    if (ctx->oom)
      return ovf_oom();
    it = id ? find_item(hw, id) : NULL;
    if (!it || it->type != RT_DISK) {
      if (next == 1)
        other_first = true;
      continue;
    }
    for (i = 0; i < vm->disks.len; i++)
      if (&hw->items.ptr[disk_item[i]] == it && !vm->disks.ptr[i].boot_order)
        vm->disks.ptr[i].boot_order = next++;
  }
  if (other_first &&
      vm_add_concern(vm, CONCERN_INFO, "boot-order",
                     "the VM boots from a network or CD/DVD device before "
                     "its disks; only the disks' boot order is kept") < 0)
    return ovf_oom();
  if (next > 1)
    return 0;
  for (i = 0; i < vm->disks.len; i++)
    if (best == SIZE_MAX || keys[i].controller < keys[best].controller ||
        (keys[i].controller == keys[best].controller &&
         keys[i].unit < keys[best].unit))
      best = i;
  if (best != SIZE_MAX)
    vm->disks.ptr[best].boot_order = 1;
  return 0;
}

static int parse_disks(struct hw *hw)
{
  _cleanup_free_ struct boot_key *keys = NULL;
  _cleanup_free_ size_t *disk_item = NULL;
  size_t i, n = 0;
  int r;

  keys = calloc(hw->items.len + 1, sizeof *keys);
  disk_item = calloc(hw->items.len + 1, sizeof *disk_item);
  if (!keys || !disk_item)
    return ovf_oom();
  for (i = 0; i < hw->items.len; i++) {
    if (hw->items.ptr[i].type != RT_DISK)
      continue;
    r = add_disk(hw, &hw->items.ptr[i], &keys[n]);
    if (r < 0)
      return r;
    if (r == 0)
      disk_item[n++] = i;
  }
  return boot_order(hw, keys, disk_item);
}

/* ---- NICs ---- */

/* "00:50:56:AA:bb:cc", "00-50-56-…" or "005056aabbcc" → lower case with
 * colons; NULL if it is not a unicast MAC. */
static char *normalise_mac(const char *s, bool *bad)
{
  unsigned char b[6];
  size_t n = 0, i;
  char *out;

  *bad = false;
  for (; *s && n < 12; s++) {
    int v;
    if (*s == ':' || *s == '-')
      continue;
    if (!isxdigit((unsigned char)*s))
      break;
    v = isdigit((unsigned char)*s) ? *s - '0'
                                   : tolower((unsigned char)*s) - 'a' + 10;
    if (n % 2 == 0)
      b[n / 2] = v << 4;
    else
      b[n / 2] |= v;
    n++;
  }
  if (*s || n != 12 || (b[0] & 1)) {
    *bad = true;
    return NULL;
  }
  for (i = 0; i < 6 && b[i] == 0; i++)
    ;
  if (i == 6) {
    *bad = true;
    return NULL;
  }
  if (asprintf(&out, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3],
               b[4], b[5]) < 0)
    return NULL;
  return out;
}

/* The KubeVirt model for a source model, and whether the guest will
 * notice the change (a new device, drivers, interface names). */
static const char *nic_model(const char *src, bool *changed)
{
  *changed = false;
  if (src && strcasecmp(src, "E1000") == 0)
    return "e1000";
  if (src && strcasecmp(src, "E1000e") == 0)
    return "e1000e";
  if (!src || strcasecmp(src, "virtio") == 0 ||
      strcasecmp(src, "virtio-net") == 0)
    return "virtio";
  *changed = true;
  return "virtio";
}

static int add_nic(struct hw *hw, const struct item *it, size_t index)
{
  struct ovf_ctx *ctx = hw->ctx;
  struct vm *vm = hw->vm;
  _cleanup_free_ char *conn = NULL, *addr = NULL;
  const struct vbox_adapter *ad = NULL;
  struct vm_nic n = {0}, *np;
  const char *src, *mac_in;
  bool changed, bad = false;

  if (vm->nics.len >= MAX_NICS)
    return ovf_error(ctx, it->node, "more than %d network adapters", MAX_NICS);
  conn = item_prop(hw, it, "Connection");
  addr = item_prop(hw, it, "Address");
  if (ctx->oom)
    return ovf_oom();
  /* VirtualBox items carry no MAC; its adapters (enabled, in slot order)
   * match the Ethernet items in order. */
  if (hw->vbox.present && index < hw->vbox.adapters.len)
    ad = &hw->vbox.adapters.ptr[index];
  src = it->subtype ? it->subtype : ad ? vbox_nic_model(ad->type) : NULL;
  mac_in = addr && *addr ? addr : ad && ad->mac ? ad->mac : NULL;

  if (vm_nic_list_append(&vm->nics, n) < 0)
    return ovf_oom();
  np = &vm->nics.ptr[vm->nics.len - 1];
  np->name = strdup(item_label(it));
  np->network = conn && *conn ? strdup(conn) : NULL;
  np->source_model = src ? strdup(src) : NULL;
  np->model = strdup(nic_model(src, &changed));
  if (mac_in)
    np->mac = normalise_mac(mac_in, &bad);
  if (!np->name || (conn && *conn && !np->network) ||
      (src && !np->source_model) || !np->model || (mac_in && !bad && !np->mac))
    return ovf_oom();

  if (mac_in && bad &&
      vm_add_concern(vm, CONCERN_WARNING, "nic-bad-mac",
                     "NIC \"%s\": \"%s\" is not a valid unicast MAC "
                     "address; the target assigns a new one",
                     np->name, mac_in) < 0)
    return ovf_oom();
  if (!mac_in &&
      vm_add_concern(vm, CONCERN_WARNING, "nic-no-mac",
                     "NIC \"%s\" has no MAC address in the OVF; the target "
                     "assigns a new one, so the guest sees a new NIC and "
                     "its network configuration may not apply",
                     np->name) < 0)
    return ovf_oom();
  if (changed &&
      vm_add_concern(vm, CONCERN_WARNING, "nic-model",
                     "NIC \"%s\": the %s adapter becomes virtio; the guest "
                     "needs virtio-net drivers and may name the interface "
                     "differently",
                     np->name, src ? src : "?") < 0)
    return ovf_oom();
  if (!np->network &&
      vm_add_concern(vm, CONCERN_WARNING, "nic-no-network",
                     "NIC \"%s\" names no network (rasd:Connection)",
                     np->name) < 0)
    return ovf_oom();
  if (src && strcasestr(src, "sriov") &&
      vm_add_concern(vm, CONCERN_WARNING, "sriov",
                     "NIC \"%s\" is an SR-IOV adapter; it becomes a virtio "
                     "NIC",
                     np->name) < 0)
    return ovf_oom();
  return 0;
}

static int parse_nics(struct hw *hw)
{
  size_t i, n = 0;
  int r;

  for (i = 0; i < hw->items.len; i++) {
    if (hw->items.ptr[i].type != RT_ETHERNET)
      continue;
    r = add_nic(hw, &hw->items.ptr[i], n++);
    if (r < 0)
      return r;
  }
  return 0;
}

/* ---- other devices ---- */

static bool is_passthrough(const struct item *it)
{
  static const char *const marks[] = {"passthrough", "passthru", "vgpu",
                                      "vmiop",       "vfio",     "hostdev"};
  size_t i;

  for (i = 0; i < ARRAY_SIZE(marks); i++)
    if (subtype_has(it, marks[i]))
      return true;
  return false;
}

static int other_devices(struct hw *hw)
{
  struct vm *vm = hw->vm;
  size_t i;
  int r = 0;

  for (i = 0; i < hw->items.len && r == 0; i++) {
    const struct item *it = &hw->items.ptr[i];
    const char *label = item_label(it);

    /* A CD/DVD or floppy "passthrough" is a host drive backing it: the
     * drive is not migrated either way. */
    if (it->type != RT_CDROM && it->type != RT_DVD && it->type != RT_FLOPPY &&
        is_passthrough(it)) {
      r = vm_add_concern(vm, CONCERN_CRITICAL, "passthrough-device",
                         "\"%s\" (%s) passes a host device through to the "
                         "guest; it cannot be migrated",
                         label, it->subtype);
      continue;
    }
    switch (it->type) {
    case RT_CDROM:
    case RT_DVD:
      r = vm_add_concern(vm, CONCERN_INFO, "cdrom",
                         "CD/DVD drive \"%s\" is not migrated", label);
      break;
    case RT_FLOPPY:
      r = vm_add_concern(vm, CONCERN_WARNING, "floppy",
                         "floppy drive \"%s\" is not migrated", label);
      break;
    case RT_SERIAL:
      r = vm_add_concern(vm, CONCERN_INFO, "serial-port",
                         "serial port \"%s\" is not migrated", label);
      break;
    case RT_PARALLEL:
      r = vm_add_concern(vm, CONCERN_INFO, "parallel-port",
                         "parallel port \"%s\" is not migrated", label);
      break;
    case RT_USB:
      r = vm_add_concern(vm, CONCERN_WARNING, "usb",
                         "USB controller \"%s\" is not migrated; USB "
                         "devices of the guest are lost",
                         label);
      break;
    case RT_SOUND:
      r = vm_add_concern(vm, CONCERN_INFO, "sound",
                         "sound card \"%s\" is not migrated", label);
      break;
    case RT_FC_HBA:
    case RT_ISCSI_HBA:
    case RT_IB_HCA:
    case RT_OTHER_NET:
      r = vm_add_concern(vm, CONCERN_WARNING, "host-adapter",
                         "\"%s\" (ResourceType %u) is not migrated", label,
                         it->type);
      break;
    case RT_OTHER:
      if (subtype_has(it, "sound"))
        r = vm_add_concern(vm, CONCERN_INFO, "sound",
                           "sound card \"%s\" is not migrated", label);
      break;
    default:
      break;
    }
  }
  return r < 0 ? ovf_oom() : 0;
}

/* ---- firmware and VM-wide settings ---- */

static int firmware_and_config(struct hw *hw)
{
  struct vm *vm = hw->vm;
  const char *fw = config_get(hw, "firmware");
  const char *sb1 = config_get(hw, "bootOptions.efiSecureBootEnabled");
  const char *sb2 = config_get(hw, "uefi.secureBoot.enabled");
  const char *uuid = config_get(hw, "uuid.bios");
  size_t i;

  if (hw->vbox.present)
    vm->firmware = hw->vbox.firmware;
  if (fw && strcasecmp(fw, "efi") == 0)
    vm->firmware = FIRMWARE_EFI;
  else if (fw && strcasecmp(fw, "bios") == 0)
    vm->firmware = FIRMWARE_BIOS;
  else if (fw && vm_add_concern(vm, CONCERN_WARNING, "firmware",
                                "unknown firmware \"%s\"", fw) < 0)
    return ovf_oom();
  if (ovf_true(sb1) || ovf_true(sb2)) {
    if (vm->firmware == FIRMWARE_BIOS) {
      if (vm_add_concern(vm, CONCERN_WARNING, "secure-boot",
                         "secure boot is set but the firmware is BIOS; it "
                         "is ignored") < 0)
        return ovf_oom();
    } else {
      vm->firmware = FIRMWARE_EFI;
      vm->secure_boot = true;
    }
  }
  if (vm->firmware == FIRMWARE_EFI &&
      vm_add_concern(vm, CONCERN_INFO, "efi-nvram",
                     "EFI variables (boot entries%s) are not migrated; the "
                     "guest must boot through its default EFI boot path",
                     vm->secure_boot ? ", enrolled secure boot keys" : "") < 0)
    return ovf_oom();

  for (i = 0; i < hw->config.len; i++) {
    const struct kv *kv = &hw->config.ptr[i];
    if (strncasecmp(kv->key, "pciPassthru", 11) == 0 &&
        strcasestr(kv->key, ".present") && ovf_true(kv->value)) {
      if (vm_add_concern(vm, CONCERN_CRITICAL, "passthrough-device",
                         "the VM passes a host PCI device through (%s); it "
                         "cannot be migrated",
                         kv->key) < 0)
        return ovf_oom();
    }
  }
  if ((ovf_true(config_get(hw, "cpuHotAddEnabled")) ||
       ovf_true(config_get(hw, "memoryHotAddEnabled"))) &&
      vm_add_concern(vm, CONCERN_INFO, "hotplug",
                     "CPU or memory hot-add is enabled; it is not carried "
                     "over") < 0)
    return ovf_oom();

  /* SMBIOS UUID: VMware's "56 4d 1a …-… " or VirtualBox's "{…}". */
  if (uuid || hw->vbox.uuid) {
    char buf[37];
    const char *s = uuid ? uuid : hw->vbox.uuid;
    size_t n = 0;
    for (; *s; s++) {
      if (isxdigit((unsigned char)*s) && n < 32) {
        buf[n + (n >= 8) + (n >= 12) + (n >= 16) + (n >= 20)] =
            tolower((unsigned char)*s);
        n++;
      } else if (!strchr(" -{}", *s)) {
        break;
      }
    }
    if (n == 32 && !*s) {
      buf[8] = buf[13] = buf[18] = buf[23] = '-';
      buf[36] = 0;
      if (!(vm->uuid = strdup(buf)))
        return ovf_oom();
    }
  }
  return 0;
}

static int vbox_fallbacks(struct hw *hw)
{
  struct vm *vm = hw->vm;

  if (!hw->vbox.present)
    return 0;
  if (!vm->name && hw->vbox.name && *hw->vbox.name &&
      !(vm->name = strdup(hw->vbox.name)))
    return ovf_oom();
  if (!vm->os_type && hw->vbox.ostype && *hw->vbox.ostype &&
      !(vm->os_type = strdup(hw->vbox.ostype)))
    return ovf_oom();
  return 0;
}

int ovf_hardware(struct ovf_ctx *ctx, xmlNodePtr system, xmlNodePtr section,
                 xmlNodePtr vbox, struct vm *vm)
{
  struct hw hw = {.ctx = ctx, .vm = vm, .system = system, .section = section};
  int r;

  r = collect(&hw);
  if (r == 0)
    r = parse_vbox(&hw, vbox);
  if (r == 0)
    r = firmware_and_config(&hw);
  if (r == 0)
    r = parse_cpu(&hw);
  if (r == 0)
    r = parse_memory(&hw);
  if (r == 0)
    r = parse_disks(&hw);
  if (r == 0)
    r = parse_nics(&hw);
  if (r == 0)
    r = other_devices(&hw);
  if (r == 0)
    r = vbox_fallbacks(&hw);
  hw_free(&hw);
  return r;
}
