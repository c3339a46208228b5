/* NICs of a VirtualSystem (MAC, network, model) and the devices that are
 * not migrated (each a concern). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/ova/ovf-hardware.h"
#include "util/checked.h"
#include "util/cleanup.h"
#include "util/error.h"

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
  conn = hw_item_prop(hw, it, "Connection");
  addr = hw_item_prop(hw, it, "Address");
  if (ctx->oom)
    return ovf_oom();
  /* VirtualBox items carry no MAC; its adapters (enabled, in slot order)
   * match the Ethernet items in order. */
  if (hw->vbox.present && index < hw->vbox.adapters.len)
    ad = &hw->vbox.adapters.ptr[index];
  src = it->subtype ? it->subtype : ad ? hw_vbox_nic_model(ad->type) : NULL;
  mac_in = addr && *addr ? addr : ad && ad->mac ? ad->mac : NULL;

  if (vm_nic_list_append(&vm->nics, n) < 0)
    return ovf_oom();
  np = &vm->nics.ptr[vm->nics.len - 1];
  np->name = strdup(hw_item_label(it));
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

int ovf_hw_nics(struct hw *hw)
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
    if (hw_subtype_has(it, marks[i]))
      return true;
  return false;
}

int ovf_hw_other_devices(struct hw *hw)
{
  struct vm *vm = hw->vm;
  size_t i;
  int r = 0;

  for (i = 0; i < hw->items.len && r == 0; i++) {
    const struct item *it = &hw->items.ptr[i];
    const char *label = hw_item_label(it);

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
      if (hw_subtype_has(it, "sound"))
        r = vm_add_concern(vm, CONCERN_INFO, "sound",
                           "sound card \"%s\" is not migrated", label);
      break;
    default:
      break;
    }
  }
  return r < 0 ? ovf_oom() : 0;
}
