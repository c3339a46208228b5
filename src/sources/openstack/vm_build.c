/* An OpenStack server as a VM of the neutral model (see inventory.h).
 *
 * The hw_* properties come from the server's image, or for a server
 * booted from a volume from that volume's volume_image_metadata (what
 * Nova itself reads); flavor extra specs (hw:…) add CPU topology, NUMA,
 * CPU shares and PCI passthrough. Concerns follow Forklift's OpenStack
 * rules. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/names.h"
#include "sources/openstack/inventory.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/json_path.h"

#define GiB (1024ull * 1024 * 1024)
#define MiB (1024ull * 1024)
#define P(s) names_printable((s), (char[128]){0}, 128)

/* A property from the image (or boot volume's image metadata), else the
 * flavor's extra spec of the same name with "hw:" for "hw_". */
static const char *prop(json_t *props, json_t *specs, const char *key)
{
  const char *v = json_string_value(json_object_get(props, key));
  char spec[96];

  if (v && *v)
    return v;
  if (strncmp(key, "hw_", 3) == 0) {
    snprintf(spec, sizeof spec, "hw:%s", key + 3);
    v = json_string_value(json_object_get(specs, spec));
  }
  return v && *v ? v : NULL;
}

static bool is_true(const char *s)
{
  return s && (!strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
               streq(s, "1") || !strcasecmp(s, "required"));
}

static int dupto(char **dst, const char *s)
{
  if (!s)
    return 0;
  *dst = strdup(s);
  return *dst ? 0 : -ENOMEM;
}

/* hw_disk_bus -> the KubeVirt bus (KubeVirt's builder raises the concern
 * of a bus it lacks, seeing source_controller). */
static enum vm_disk_bus disk_bus(const char *bus, const char *device)
{
  if (!bus && device) {
    /* No property: the device name Nova gave tells. */
    const char *b = strrchr(device, '/');
    b = b ? b + 1 : device;
    if (!strncmp(b, "sd", 2))
      return DISK_BUS_SCSI;
    if (!strncmp(b, "hd", 2))
      return DISK_BUS_SATA;
    return DISK_BUS_VIRTIO;
  }
  if (!bus || !strcasecmp(bus, "virtio"))
    return DISK_BUS_VIRTIO;
  if (!strcasecmp(bus, "scsi"))
    return DISK_BUS_SCSI;
  return DISK_BUS_SATA; /* sata, ide; others with a concern */
}

/* hw_vif_model -> KubeVirt's model (VMware names as Forklift maps them). */
static const char *nic_model(const char *m)
{
  static const struct {
    const char *from, *to;
  } map[] = {
      {"virtio", "virtio"},         {"e1000", "e1000"},
      {"e1000e", "e1000e"},         {"rtl8139", "rtl8139"},
      {"ne2k_pci", "ne2k_pci"},     {"pcnet", "pcnet"},
      {"VirtualE1000", "e1000"},    {"VirtualE1000e", "e1000e"},
      {"VirtualPCNet32", "pcnet"},  {"VirtualVmxnet", "virtio"},
      {"VirtualVmxnet3", "virtio"}, {"VirtualSriovEthernetCard", "virtio"},
  };
  size_t i;

  if (!m)
    return "virtio";
  for (i = 0; i < ARRAY_SIZE(map); i++)
    if (streq(m, map[i].from))
      return map[i].to;
  return m; /* unknown: the builder's nic-model concern */
}

static int add_root_disk(struct vm *vm, const struct os_server *srv,
                         json_t *image, const char *bus)
{
  struct vm_disk d = {0};
  uint64_t vsize = jp_u64_or(image, "virtual_size", 0);
  uint64_t min = jp_u64_or(image, "min_disk", 0) * GiB;
  int r = 0;

  d.capacity = srv->disk_gb ? srv->disk_gb * GiB : MAX(vsize, min);
  d.bus = disk_bus(bus, NULL);
  d.boot_order = 1;
  if (dupto(&d.id, srv->id) < 0 || dupto(&d.name, "root") < 0 ||
      dupto(&d.source_controller, bus ? bus : "virtio") < 0 ||
      dupto(&d.storage, "glance") < 0 ||
      asprintf(&d.locator, OS_LOCATOR_SERVER "%s", srv->id) < 0 ||
      dupto(&d.format, jp_str(image, "disk_format")) < 0 ||
      vm_disk_list_append(&vm->disks, d) < 0) {
    free(d.id);
    free(d.name);
    free(d.source_controller);
    free(d.storage);
    free(d.format);
    return -ENOMEM;
  }
  if (!d.capacity)
    r = vm_add_concern(vm, CONCERN_WARNING, "disk-capacity",
                       "the root disk's size is unknown (a flavor without "
                       "disk, an image without virtual_size); the PVC gets "
                       "the size of the snapshot");
  return r;
}

/* The attachment of volume v to server srv, if any. */
static const struct os_attachment *attachment(const struct os_volume *v,
                                              const char *server)
{
  size_t i;

  for (i = 0; i < v->attachments.len; i++)
    if (v->attachments.ptr[i].server_id &&
        streq(v->attachments.ptr[i].server_id, server))
      return &v->attachments.ptr[i];
  return NULL;
}

static int add_volume_disk(struct vm *vm, const struct os_volume *v,
                           const char *device, const char *bus, bool boot)
{
  struct vm_disk d = {0};
  int r;

  d.capacity = v->size_gb * GiB;
  d.bus = disk_bus(bus, device);
  d.boot_order = boot ? 1 : 0;
  d.shareable = v->multiattach;
  if (dupto(&d.id, v->id) < 0 || dupto(&d.name, v->name ? v->name : device) ||
      dupto(&d.source_controller, bus                      ? bus
                                  : d.bus == DISK_BUS_SCSI ? "scsi"
                                  : d.bus == DISK_BUS_SATA ? "sata"
                                                           : "virtio") < 0 ||
      dupto(&d.storage, v->type) < 0 || dupto(&d.format, "raw") < 0 ||
      asprintf(&d.serial, "%.20s", v->id) < 0 ||
      asprintf(&d.locator, OS_LOCATOR_VOLUME "%s", v->id) < 0 ||
      vm_disk_list_append(&vm->disks, d) < 0)
    return -ENOMEM;
  r = 0;
  if (!v->size_gb)
    r = vm_add_concern(vm, CONCERN_CRITICAL, "disk-capacity",
                       "volume %s has no valid size", P(v->id));
  if (r == 0 && v->status && !streq(v->status, "in-use") &&
      !streq(v->status, "available"))
    r = vm_add_concern(vm, CONCERN_CRITICAL, "disk-status",
                       "volume %s is %s (not in-use or available): it "
                       "cannot be snapshotted",
                       P(v->id), P(v->status));
  if (r == 0 && v->multiattach)
    r = vm_add_concern(vm, CONCERN_WARNING, "shared-disk",
                       "volume %s is multi-attach (shared); the copy is a "
                       "separate disk of this VM",
                       P(v->id));
  if (r == 0 && v->encrypted)
    r = vm_add_concern(vm, CONCERN_CRITICAL, "encrypted-volume",
                       "volume %s is encrypted; its image would hold the "
                       "encrypted bytes",
                       P(v->id));
  return r;
}

static int add_volumes(struct vm *vm, const struct os_inventory *inv,
                       const struct os_server *srv, const char *bus,
                       const struct os_volume *boot)
{
  _cleanup_free_ const struct os_volume **vols =
      calloc(srv->volume_ids.len + 1, sizeof *vols);
  size_t i, n = 0;
  int r = 0;

  if (!vols)
    return -ENOMEM;
  for (i = 0; i < srv->volume_ids.len; i++) {
    const struct os_volume *v =
        os_inventory_volume(inv, srv->volume_ids.ptr[i]);
    bool seen = false;
    size_t k;

    for (k = 0; v && k < n; k++)
      seen = seen || vols[k] == v;
    if (seen)
      continue; /* listed twice: one disk */
    if (!v) {
      r = vm_add_concern(vm, CONCERN_CRITICAL, "disk-unknown",
                         "attached volume %s is not in Cinder's list",
                         P(srv->volume_ids.ptr[i]));
      if (r < 0)
        return r;
      continue;
    }
    vols[n++] = v;
  }
  /* The boot volume first, the others in the order of their devices. */
  for (i = 0; i < n; i++) {
    size_t j;
    for (j = i + 1; j < n; j++) {
      const struct os_attachment *a = attachment(vols[i], srv->id);
      const struct os_attachment *b = attachment(vols[j], srv->id);
      bool swap =
          vols[j] == boot || (vols[i] != boot && a && b && a->device &&
                              b->device && strcmp(a->device, b->device) > 0);
      if (swap) {
        const struct os_volume *t = vols[i];
        vols[i] = vols[j];
        vols[j] = t;
      }
    }
  }
  for (i = 0; r == 0 && i < n; i++) {
    const struct os_attachment *a = attachment(vols[i], srv->id);
    r = add_volume_disk(vm, vols[i], a ? a->device : NULL, bus,
                        vols[i] == boot);
  }
  return r;
}

/* The boot volume of a server booted from a volume: bootable, on the
 * first device. */
static const struct os_volume *boot_volume(const struct os_inventory *inv,
                                           const struct os_server *srv)
{
  const struct os_volume *best = NULL;
  const char *best_dev = NULL;
  size_t i;

  if (srv->image_id)
    return NULL;
  for (i = 0; i < srv->volume_ids.len; i++) {
    const struct os_volume *v =
        os_inventory_volume(inv, srv->volume_ids.ptr[i]);
    const struct os_attachment *a = v ? attachment(v, srv->id) : NULL;
    const char *dev = a && a->device ? a->device : "~";
    if (!v)
      continue;
    if (!best || (v->bootable && !best->bootable) ||
        (v->bootable == best->bootable && strcmp(dev, best_dev) < 0)) {
      best = v;
      best_dev = dev;
    }
  }
  return best;
}

static int add_nics(struct vm *vm, const struct os_inventory *inv,
                    const struct os_server *srv, const char *model)
{
  size_t i, j, n = 0;
  int r = 0;

  for (i = 0; r == 0 && i < inv->ports.len; i++) {
    const struct os_port *p = &inv->ports.ptr[i];
    const struct os_network *net = os_inventory_network(inv, p->network_id);
    struct vm_nic nic = {0};

    if (!p->device_id || !streq(p->device_id, srv->id))
      continue;
    if (asprintf(&nic.name, "net-%zu", n++) < 0 || dupto(&nic.mac, p->mac) ||
        dupto(&nic.network, net && net->name ? net->name : p->network_id) ||
        dupto(&nic.source_model, model ? model : "virtio") ||
        dupto(&nic.model, nic_model(model)) ||
        vm_nic_list_append(&vm->nics, nic) < 0)
      return -ENOMEM;
    if (p->vnic_type && !streq(p->vnic_type, "normal"))
      r = vm_add_concern(vm, CONCERN_WARNING, "nic-passthrough",
                         "port %s has vnic_type %s (SR-IOV or passthrough); "
                         "it becomes a plain NIC",
                         P(p->id), P(p->vnic_type));
    for (j = 0; r == 0 && j < inv->floating_ips.len; j++)
      if (streq(inv->floating_ips.ptr[j].port_id, p->id))
        r = vm_add_concern(vm, CONCERN_WARNING, "floating-ip",
                           "floating IP %s of port %s is not migrated",
                           P(inv->floating_ips.ptr[j].address), P(p->id));
  }
  return r;
}

/* Forklift's OpenStack rules that are about properties. */
static int property_concerns(struct vm *vm, json_t *props, json_t *specs)
{
  const char *v;
  int r = 0;

  if ((v = prop(props, specs, "hw_boot_menu")) && is_true(v))
    r = vm_add_concern(vm, CONCERN_WARNING, "boot-menu",
                       "the BIOS boot menu is on; KubeVirt has none");
  if (r == 0 && json_object_get(specs, "quota:cpu_shares"))
    r = vm_add_concern(vm, CONCERN_WARNING, "cpu-shares",
                       "the flavor sets CPU shares (quota:cpu_shares), "
                       "which are not migrated");
  if (r == 0 && json_object_get(specs, "pci_passthrough:alias"))
    r = vm_add_concern(vm, CONCERN_WARNING, "host-device",
                       "the flavor passes PCI devices through "
                       "(pci_passthrough:alias); they are not migrated");
  if (r == 0 && (prop(props, specs, "hw_numa_nodes") ||
                 json_object_get(specs, "hw:numa_nodes")))
    r = vm_add_concern(vm, CONCERN_WARNING, "numa",
                       "NUMA tuning (hw:numa_nodes) is not migrated");
  if (r == 0 && (v = prop(props, specs, "hw_watchdog_action")) &&
      strcasecmp(v, "disabled"))
    r = vm_add_concern(vm, CONCERN_WARNING, "watchdog",
                       "the watchdog (action %s) is not migrated", P(v));
  if (r == 0 && (v = prop(props, specs, "hw_scsi_model")) &&
      strcasecmp(v, "virtio-scsi"))
    r = vm_add_concern(vm, CONCERN_WARNING, "scsi-model",
                       "SCSI controller model %s becomes virtio-scsi", P(v));
  return r;
}

static int vm_fill(struct vm *vm, const struct os_inventory *inv,
                   const struct os_server *srv, json_t *image,
                   const char *source_ref)
{
  const struct os_volume *boot = boot_volume(inv, srv);
  json_t *props = boot ? boot->image_meta : image;
  json_t *specs = srv->extra_specs;
  const char *bus = prop(props, specs, "hw_disk_bus");
  const char *fw = prop(props, specs, "hw_firmware_type");
  const char *sb = prop(props, specs, "os_secure_boot");
  const char *v;
  unsigned long n;
  int r = 0;

  if (dupto(&vm->name, srv->name) || dupto(&vm->id, srv->id) ||
      dupto(&vm->description, srv->description) ||
      dupto(&vm->source_kind, "openstack") ||
      dupto(&vm->source_ref, source_ref) || dupto(&vm->uuid, srv->id) ||
      dupto(&vm->os_type, prop(props, specs, "os_distro")) ||
      dupto(&vm->machine_type, prop(props, specs, "hw_machine_type")))
    return -ENOMEM;
  vm->power = srv->status && streq(srv->status, "SHUTOFF")  ? POWER_OFF
              : srv->status && streq(srv->status, "ACTIVE") ? POWER_ON
                                                            : POWER_UNKNOWN;
  vm->firmware = fw && !strcasecmp(fw, "uefi") ? FIRMWARE_EFI : FIRMWARE_BIOS;
  vm->secure_boot = vm->firmware == FIRMWARE_EFI && is_true(sb);
  vm->sockets = MAX(srv->vcpus, 1);
  vm->cores_per_socket = vm->threads_per_core = 1;
  if ((v = prop(props, specs, "hw_cpu_sockets")) && (n = strtoul(v, NULL, 10)))
    vm->sockets = (unsigned)MIN(n, 1024);
  if ((v = prop(props, specs, "hw_cpu_cores")) && (n = strtoul(v, NULL, 10)))
    vm->cores_per_socket = (unsigned)MIN(n, 1024);
  if ((v = prop(props, specs, "hw_cpu_threads")) && (n = strtoul(v, NULL, 10)))
    vm->threads_per_core = (unsigned)MIN(n, 64);
  vm->memory = srv->ram_mib * MiB;

  if (!srv->flavor_known)
    r = vm_add_concern(vm, CONCERN_CRITICAL, "no-memory",
                       "the server's flavor is not embedded (Nova older than "
                       "microversion 2.47); CPU and memory are unknown");
  if (r == 0 && vm->secure_boot)
    r = vm_add_concern(vm, CONCERN_WARNING, "secure-boot",
                       "UEFI secure boot is required; the VM gets secure "
                       "boot, but the enrolled keys (NVRAM) are not "
                       "migrated");
  if (r == 0 && srv->status && streq(srv->status, "ACTIVE"))
    r = vm_add_concern(vm, CONCERN_WARNING, "vm-status",
                       "the server is running: its disks are copied from "
                       "snapshots taken while it runs (crash-consistent); "
                       "stop it first for a clean copy");
  else if (r == 0 && (!srv->status || !streq(srv->status, "SHUTOFF")))
    r = vm_add_concern(vm, CONCERN_CRITICAL, "vm-status",
                       "the server is %s; migrate servers that are "
                       "SHUTOFF (or ACTIVE)",
                       srv->status ? P(srv->status) : "in no known state");
  if (r == 0 && srv->ephemeral_gb)
    r = vm_add_concern(vm, CONCERN_WARNING, "ephemeral-disk",
                       "the flavor's ephemeral disk (%llu GB) is not "
                       "migrated (Nova snapshots the root disk only)",
                       (unsigned long long)srv->ephemeral_gb);
  if (r == 0 && srv->swap_mib)
    r = vm_add_concern(vm, CONCERN_INFO, "swap-disk",
                       "the flavor's swap disk (%llu MiB) is not migrated",
                       (unsigned long long)srv->swap_mib);
  if (r == 0)
    r = property_concerns(vm, props, specs);
  if (r == 0 && srv->image_id)
    r = add_root_disk(vm, srv, image, bus);
  if (r == 0)
    r = add_volumes(vm, inv, srv, bus, boot);
  if (r == 0 && !boot && !srv->image_id)
    r = vm_add_concern(vm, CONCERN_CRITICAL, "disk-unknown",
                       "the server has neither an image nor a volume to "
                       "boot from");
  if (r == 0)
    r = add_nics(vm, inv, srv, prop(props, specs, "hw_vif_model"));
  return r;
}

int os_vm_build(const struct os_inventory *inv, const struct os_server *srv,
                json_t *image, const char *source_ref, struct vm **ret)
{
  struct vm *vm = vm_new();
  int r;

  if (!vm)
    return error_set(ENOMEM, "out of memory");
  r = vm_fill(vm, inv, srv, image, source_ref);
  if (r < 0) {
    vm_free(vm);
    return error_set(-r, "out of memory");
  }
  *ret = vm;
  return 0;
}
