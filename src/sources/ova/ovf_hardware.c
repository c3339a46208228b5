/* A VirtualSystem's hardware: the items of its VirtualHardwareSection
 * (rasd Item, OVF 2.0 StorageItem and EthernetPortItem), VMware's
 * vmw:Config/ExtraConfig/CoresPerSocket/BootOrderSection and VirtualBox's
 * vbox:Machine, mapped onto the neutral model. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/ova/ovf-hardware.h"
#include "util/checked.h"
#include "util/cleanup.h"
#include "util/error.h"

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
const char *hw_config(const struct hw *hw, const char *key)
{
  size_t i;

  for (i = 0; i < hw->config.len; i++)
    if (strcasecmp(hw->config.ptr[i].key, key) == 0)
      return hw->config.ptr[i].value;
  return NULL;
}

char *hw_item_prop(struct hw *hw, const struct item *it, const char *name)
{
  return ovf_child_text(hw->ctx, it->node, NS_CIM, name);
}

const char *hw_item_label(const struct item *it)
{
  return it->name ? it->name : it->id;
}

const struct item *hw_find_item(const struct hw *hw, const char *id)
{
  size_t i;

  for (i = 0; i < hw->items.len; i++)
    if (streq(hw->items.ptr[i].id, id))
      return &hw->items.ptr[i];
  return NULL;
}

bool hw_subtype_is(const struct item *it, const char *s)
{
  return it->subtype && strcasecmp(it->subtype, s) == 0;
}

bool hw_subtype_has(const struct item *it, const char *s)
{
  return it->subtype && strcasestr(it->subtype, s);
}

/* VirtualBox adapter types as the OVF's ResourceSubType would name them. */
const char *hw_vbox_nic_model(const char *type)
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
  if (hw_find_item(hw, ip->id) != ip)
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
    qty = hw_item_prop(hw, it, "VirtualQuantity");
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
  smt = hw_config(hw, "simultaneousThreads");
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
  qty = hw_item_prop(hw, it, "VirtualQuantity");
  units = hw_item_prop(hw, it, "AllocationUnits");
  if (!units)
    units = hw_item_prop(hw, it, "VirtualQuantityUnits");
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

/* ---- firmware and VM-wide settings ---- */

static int firmware_and_config(struct hw *hw)
{
  struct vm *vm = hw->vm;
  const char *fw = hw_config(hw, "firmware");
  const char *sb1 = hw_config(hw, "bootOptions.efiSecureBootEnabled");
  const char *sb2 = hw_config(hw, "uefi.secureBoot.enabled");
  const char *uuid = hw_config(hw, "uuid.bios");
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
  if ((ovf_true(hw_config(hw, "cpuHotAddEnabled")) ||
       ovf_true(hw_config(hw, "memoryHotAddEnabled"))) &&
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
    r = ovf_hw_disks(&hw);
  if (r == 0)
    r = ovf_hw_nics(&hw);
  if (r == 0)
    r = ovf_hw_other_devices(&hw);
  if (r == 0)
    r = vbox_fallbacks(&hw);
  hw_free(&hw);
  return r;
}
