/* Disks of a VirtualSystem: the controllers they hang off, the bus each
 * becomes on the target, serials and the boot order. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/ova/ovf-hardware.h"
#include "util/checked.h"
#include "util/cleanup.h"
#include "util/error.h"

struct controller {
  const struct item *item;
  enum vm_disk_bus bus;
  const char *source; /* source_controller */
  const char *vmx;    /* VMware's device prefix: "scsi", "sata", … */
  bool known;
};

/* ---- controllers and disks ---- */

static void controller_of(const struct item *it, struct controller *c)
{
  *c = (struct controller){.item = it, .bus = DISK_BUS_VIRTIO};
  if (hw_subtype_is(it, "virtio") || hw_subtype_is(it, "virtio-blk")) {
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
    if (hw_subtype_is(it, "lsilogic"))
      c->source = "lsilogic";
    else if (hw_subtype_is(it, "lsilogicsas"))
      c->source = "lsilogicsas";
    else if (hw_subtype_is(it, "buslogic"))
      c->source = "buslogic";
    else if (hw_subtype_is(it, "VirtualSCSI"))
      c->source = "pvscsi";
    else if (hw_subtype_has(it, "virtio"))
      c->source = "virtio-scsi";
    else
      c->source = it->subtype ? it->subtype : "scsi";
    break;
  case RT_OTHER_STORAGE:
    if (hw_subtype_is(it, "vmware.sata.ahci") || hw_subtype_is(it, "AHCI") ||
        hw_subtype_has(it, "sata")) {
      c->bus = DISK_BUS_SATA;
      c->source = "sata";
      c->vmx = "sata";
      c->known = true;
    } else if (hw_subtype_has(it, "nvme")) {
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
  bus = hw_item_prop(hw, c->item, "Address");
  if (hw->ctx->oom)
    return ovf_oom();
  snprintf(key, sizeof key, "%s%s:%s.serialNumber", c->vmx,
           bus && *bus ? bus : "0", unit);
  v = hw_config(hw, key);
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

  res = hw_item_prop(hw, it, "HostResource");
  parent = hw_item_prop(hw, it, "Parent");
  unit = hw_item_prop(hw, it, "AddressOnParent");
  if (ctx->oom)
    return ovf_oom();
  if (!res || !*res)
    return vm_add_concern(vm, CONCERN_WARNING, "empty-drive",
                          "disk drive \"%s\" has no disk (no HostResource); "
                          "it is not migrated",
                          hw_item_label(it)) < 0
               ? ovf_oom()
               : 1;
  if (strncmp(res, "ovf:/file/", 10) == 0)
    return ovf_error(ctx, it->node,
                     "disk drive %s refers to a file directly (%s); hoist "
                     "needs a Disk of the DiskSection",
                     hw_item_label(it), res);
  ref = disk_ref(res);
  if (!ref || !*ref)
    return ovf_error(ctx, it->node,
                     "disk drive %s: HostResource \"%s\" does not name a "
                     "disk (expected ovf:/disk/ID)",
                     hw_item_label(it), res);
  def = ovf_find_disk(ctx, ref);
  if (!def)
    return ovf_error(ctx, it->node,
                     "disk drive %s refers to disk %s, which the "
                     "DiskSection does not list",
                     hw_item_label(it), ref);
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
    pit = hw_find_item(hw, parent);
  if (pit)
    controller_of(pit, &c);
  key->controller = pit ? (size_t)(pit - hw->items.ptr) : SIZE_MAX;
  if (!unit || ovf_parse_u64(unit, &key->unit) < 0)
    key->unit = UINT64_MAX;

  d.capacity = def->capacity;
  d.populated = def->populated;
  d.bus = c.known ? c.bus : DISK_BUS_VIRTIO;
  d.id = strdup(def->id);
  d.name = strdup(hw_item_label(it));
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
                       def->id, hw_item_label(pit), pit->type,
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
    it = id ? hw_find_item(hw, id) : NULL;
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

int ovf_hw_disks(struct hw *hw)
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
