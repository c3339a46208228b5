#include "kubevirt/builder.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kubevirt/yaml.h"
#include "model/names.h"
#include "util/checked.h"
#include "util/cleanup.h"
#include "util/error.h"

#define MiB (1024ull * 1024)
#define DEFAULT_MEMORY_MIB 1024
#define SERIAL_MAX 20
#define DESCRIPTION_MAX 4096

static const char *const nic_models[] = {
    "virtio", "e1000", "e1000e", "igb", "ne2k_pci", "pcnet", "rtl8139",
};

const char *kv_volume_mode_name(enum kv_volume_mode mode)
{
  return mode == KV_VOLUME_BLOCK ? "Block" : "Filesystem";
}

const char *kv_access_mode_name(enum kv_access_mode mode)
{
  switch (mode) {
  case KV_ACCESS_RWX:
    return "ReadWriteMany";
  case KV_ACCESS_ROX:
    return "ReadOnlyMany";
  case KV_ACCESS_RWO:
    break;
  }
  return "ReadWriteOnce";
}

int kv_parse_volume_mode(const char *s, enum kv_volume_mode *ret)
{
  if (strcasecmp(s, "Filesystem") == 0)
    *ret = KV_VOLUME_FILESYSTEM;
  else if (strcasecmp(s, "Block") == 0)
    *ret = KV_VOLUME_BLOCK;
  else
    return -EINVAL;
  return 0;
}

int kv_parse_access_mode(const char *s, enum kv_access_mode *ret)
{
  if (strcasecmp(s, "ReadWriteOnce") == 0 || strcasecmp(s, "RWO") == 0)
    *ret = KV_ACCESS_RWO;
  else if (strcasecmp(s, "ReadWriteMany") == 0 || strcasecmp(s, "RWX") == 0)
    *ret = KV_ACCESS_RWX;
  else if (strcasecmp(s, "ReadOnlyMany") == 0 || strcasecmp(s, "ROX") == 0)
    *ret = KV_ACCESS_ROX;
  else
    return -EINVAL;
  return 0;
}

const char *kv_nic_model(const struct vm_nic *nic)
{
  size_t i;

  for (i = 0; nic->model && i < ARRAY_SIZE(nic_models); i++)
    if (streq(nic->model, nic_models[i]))
      return nic_models[i];
  return "virtio";
}

bool kv_mac_ok(const char *mac)
{
  size_t i;

  if (!mac || strlen(mac) != 17)
    return false;
  for (i = 0; i < 17; i++)
    if (i % 3 == 2 ? mac[i] != ':' : !isxdigit((unsigned char)mac[i]))
      return false;
  return true;
}

/* The KubeVirt bus that the source controller lands on, and whether it
 * is really that kind of controller. */
static bool controller_matches(const char *ctrl, enum vm_disk_bus bus)
{
  _cleanup_free_ char *low = NULL;
  char *p;

  if (!ctrl || !*ctrl)
    return true;
  low = strdup(ctrl);
  if (!low)
    return true;
  for (p = low; *p; p++)
    *p = tolower((unsigned char)*p);
  switch (bus) {
  case DISK_BUS_VIRTIO:
    return strstr(low, "virtio") != NULL;
  case DISK_BUS_SCSI:
    return strstr(low, "scsi") || strstr(low, "lsilogic") ||
           strstr(low, "buslogic") || strstr(low, "sas");
  case DISK_BUS_SATA:
    return strstr(low, "sata") || strstr(low, "ahci");
  }
  return false;
}

static bool machine_ok(const char *m)
{
  return streq(m, "q35") || strncmp(m, "pc-q35", 6) == 0;
}

static bool has_concern(const struct vm *vm, const char *category)
{
  size_t i;

  for (i = 0; i < vm->concerns.len; i++)
    if (streq(vm->concerns.ptr[i].category, category))
      return true;
  return false;
}

int kv_check_vm(struct vm *vm)
{
  size_t i;
  int r = 0;

  if (vm->secure_boot && vm->firmware != FIRMWARE_EFI)
    r = vm_add_concern(vm, CONCERN_WARNING, "secure-boot-without-efi",
                       "secure boot is on but the firmware is %s; the VM "
                       "gets EFI firmware with secure boot (and SMM)",
                       vm_firmware_name(vm->firmware));
  /* The source may have said so already (as critical): then only tell
   * what --force does. */
  if (r == 0 && vm->memory == 0 && has_concern(vm, "no-memory"))
    r = vm_add_concern(vm, CONCERN_INFO, "memory-unknown",
                       "with --force the VM gets %d MiB of memory",
                       DEFAULT_MEMORY_MIB);
  else if (r == 0 && vm->memory == 0)
    r = vm_add_concern(vm, CONCERN_CRITICAL, "memory-unknown",
                       "the source gives no memory size; with --force the "
                       "VM gets %d MiB",
                       DEFAULT_MEMORY_MIB);
  if (r == 0 && vm->machine_type && !machine_ok(vm->machine_type)) {
    char m[96];
    r = vm_add_concern(vm, CONCERN_WARNING, "machine-type",
                       "machine type \"%s\" does not exist in KubeVirt; the "
                       "VM gets %s",
                       names_printable(vm->machine_type, m, sizeof m),
                       KV_DEFAULT_MACHINE);
  }
  for (i = 0; r == 0 && i < vm->disks.len; i++) {
    const struct vm_disk *d = &vm->disks.ptr[i];
    char c[96];

    /* Sources that map controllers themselves report it (model/vm.h). */
    if (controller_matches(d->source_controller, d->bus) ||
        has_concern(vm, "ide-disk") || has_concern(vm, "nvme-disk") ||
        has_concern(vm, "unknown-controller"))
      continue;
    r = vm_add_concern(vm, CONCERN_WARNING, "disk-bus",
                       "disk-%zu is on controller \"%s\", which KubeVirt "
                       "does not have; it is attached to the %s bus",
                       i, names_printable(d->source_controller, c, sizeof c),
                       vm_disk_bus_name(d->bus));
  }
  for (i = 0; r == 0 && i < vm->nics.len; i++) {
    const struct vm_nic *n = &vm->nics.ptr[i];
    char a[96];

    if (n->model && !streq(kv_nic_model(n), n->model))
      r = vm_add_concern(vm, CONCERN_WARNING, "nic-model",
                         "NIC net-%zu has model \"%s\", which KubeVirt does "
                         "not have; it gets virtio",
                         i, names_printable(n->model, a, sizeof a));
    if (r == 0 && n->mac && !kv_mac_ok(n->mac))
      r = vm_add_concern(vm, CONCERN_WARNING, "nic-mac",
                         "NIC net-%zu has MAC address \"%s\", which is not "
                         "valid; KubeVirt will assign one",
                         i, names_printable(n->mac, a, sizeof a));
  }
  return r < 0 ? error_set(ENOMEM, "out of memory") : 0;
}

int kv_pvc_name(const char *vm_name, size_t index, char **ret)
{
  if (asprintf(ret, "%s-disk-%zu", vm_name, index) < 0)
    return error_set(ENOMEM, "out of memory");
  return 0;
}

uint64_t kv_pvc_request_mib(uint64_t size, enum kv_volume_mode mode)
{
  unsigned __int128 bytes = size;

  if (mode == KV_VOLUME_FILESYSTEM) {
    /* size / (1 - overhead), rounded up */
    bytes = (bytes * 1000 + (1000 - KV_FS_OVERHEAD_PERMILLE) - 1) /
            (1000 - KV_FS_OVERHEAD_PERMILLE);
  }
  return (uint64_t)((bytes + MiB - 1) / MiB);
}

/* Boot orders 1, 2, … for the disks that the model gives one (in that
 * order, ties by position); the first disk when none has one. */
static void boot_orders(const struct vm *vm, int *orders)
{
  size_t i, j, next = 1;

  for (i = 0; i < vm->disks.len; i++)
    orders[i] = 0;
  for (;;) {
    ssize_t best = -1;
    for (j = 0; j < vm->disks.len; j++) {
      int b = vm->disks.ptr[j].boot_order;
      if (b > 0 && orders[j] == 0 &&
          (best < 0 || b < vm->disks.ptr[best].boot_order))
        best = j;
    }
    if (best < 0)
      break;
    orders[best] = next++;
  }
  if (next == 1 && vm->disks.len > 0)
    orders[0] = 1;
}

/* A disk serial KubeVirt accepts: [A-Za-z0-9_.+-], at most 20. */
static void disk_serial(const struct vm_disk *d, char *buf)
{
  const char *s = d->serial && *d->serial ? d->serial : d->id;
  size_t n = 0;

  for (; s && *s && n < SERIAL_MAX; s++)
    if (isalnum((unsigned char)*s) || strchr("_.+-", *s))
      buf[n++] = *s;
  buf[n] = 0;
}

static void add_source_labels(struct ynode *labels, const struct vm *vm)
{
  _cleanup_free_ char *id = NULL;

  ymap_str(labels, "app.kubernetes.io/managed-by", "hoist");
  if (vm->source_kind) {
    _cleanup_free_ char *kind = NULL;
    if (names_label_value(vm->source_kind, &kind) == 0 && *kind)
      ymap_str(labels, "hoist.io/source-kind", kind);
  }
  if (vm->id && names_label_value(vm->id, &id) == 0 && *id)
    ymap_str(labels, "hoist.io/source-vm-id", id);
}

static struct ynode *add_metadata(struct ynode *root, const char *name,
                                  const struct kv_options *o)
{
  struct ynode *md = ymap_map(root, "metadata");

  ymap_str(md, "name", name);
  ymap_str(md, "namespace", o->ns);
  return md;
}

static void build_domain(struct ynode *domain, const struct vm *vm)
{
  bool efi = vm->firmware == FIRMWARE_EFI || vm->secure_boot;
  uint64_t mem_mib = DIV_ROUND_UP(vm->memory, MiB);
  struct ynode *cpu, *fw, *boot;

  cpu = ymap_map(domain, "cpu");
  ymap_int(cpu, "sockets", vm->sockets ? vm->sockets : 1);
  ymap_int(cpu, "cores", vm->cores_per_socket ? vm->cores_per_socket : 1);
  ymap_int(cpu, "threads", vm->threads_per_core ? vm->threads_per_core : 1);
  ymap_strf(ymap_map(domain, "memory"), "guest", "%lluMi",
            (unsigned long long)(mem_mib ? mem_mib : DEFAULT_MEMORY_MIB));
  fw = ymap_map(domain, "firmware");
  boot = ymap_map(fw, "bootloader");
  if (efi)
    ymap_bool(ymap_map(boot, "efi"), "secureBoot", vm->secure_boot);
  else
    ymap_map(boot, "bios");
  ymap_str(fw, "uuid", vm->uuid);
  ymap_str(fw, "serial", vm->serial);
  if (vm->timezone)
    ymap_str(ymap_map(domain, "clock"), "timezone", vm->timezone);
  else if (vm->utc_offset_set)
    ymap_int(ymap_map(ymap_map(domain, "clock"), "utc"), "offsetSeconds",
             vm->utc_offset);
  /* KubeVirt refuses secure boot without SMM. */
  if (efi && vm->secure_boot)
    ymap_bool(ymap_map(ymap_map(domain, "features"), "smm"), "enabled", true);
  ymap_str(ymap_map(domain, "machine"), "type",
           vm->machine_type && machine_ok(vm->machine_type)
               ? vm->machine_type
               : KV_DEFAULT_MACHINE);
}

static void build_devices(struct ynode *tspec, struct ynode *devices,
                          const struct vm *vm, const struct kv_vm_target *t,
                          const int *orders)
{
  struct ynode *disks = ymap_seq(devices, "disks");
  struct ynode *ifaces = NULL, *networks = NULL, *volumes;
  size_t i, attached = 0;

  for (i = 0; i < vm->nics.len; i++)
    if (t->nics[i].type != NETMAP_IGNORED)
      attached++;
  if (attached) {
    ifaces = ymap_seq(devices, "interfaces");
    networks = ymap_seq(tspec, "networks");
  } else {
    /* No NIC: no pod network added behind our back either. */
    ymap_bool(devices, "autoattachPodInterface", false);
  }

  for (i = 0; i < vm->disks.len; i++) {
    const struct vm_disk *d = &vm->disks.ptr[i];
    struct ynode *disk = yseq_map(disks);
    char serial[SERIAL_MAX + 1];

    ymap_strf(disk, "name", "disk-%zu", i);
    ymap_str(ymap_map(disk, "disk"), "bus", vm_disk_bus_name(d->bus));
    if (orders[i] > 0)
      ymap_int(disk, "bootOrder", orders[i]);
    disk_serial(d, serial);
    if (*serial)
      ymap_str(disk, "serial", serial);
    if (d->shareable) {
      ymap_bool(disk, "shareable", true);
      ymap_str(disk, "cache", "none");
    }
  }
  for (i = 0; i < vm->nics.len; i++) {
    const struct vm_nic *n = &vm->nics.ptr[i];
    struct ynode *iface;

    if (t->nics[i].type == NETMAP_IGNORED)
      continue;
    iface = yseq_map(ifaces);
    ymap_strf(iface, "name", "net-%zu", i);
    ymap_str(iface, "model", kv_nic_model(n));
    if (kv_mac_ok(n->mac))
      ymap_str(iface, "macAddress", n->mac);
    ymap_map(iface, t->nics[i].type == NETMAP_POD ? "masquerade" : "bridge");
  }
  for (i = 0; i < vm->nics.len; i++) {
    const struct nic_target *nt = &t->nics[i];
    struct ynode *net;

    if (nt->type == NETMAP_IGNORED)
      continue;
    net = yseq_map(networks);
    ymap_strf(net, "name", "net-%zu", i);
    if (nt->type == NETMAP_POD)
      ymap_map(net, "pod");
    else if (nt->ns)
      ymap_strf(ymap_map(net, "multus"), "networkName", "%s/%s", nt->ns,
                nt->name);
    else
      ymap_str(ymap_map(net, "multus"), "networkName", nt->name);
  }
  volumes = ymap_seq(tspec, "volumes");
  for (i = 0; i < vm->disks.len; i++) {
    struct ynode *vol = yseq_map(volumes);
    ymap_strf(vol, "name", "disk-%zu", i);
    ymap_str(ymap_map(vol, "persistentVolumeClaim"), "claimName",
             t->disks[i].pvc_name);
  }
}

static struct ydoc *build_vm(const struct vm *vm, const struct kv_vm_target *t,
                             const struct kv_options *o, const int *orders)
{
  struct ydoc *doc = ydoc_new();
  struct ynode *root = ydoc_root(doc), *md, *ann, *spec, *tmpl, *tmd;
  struct ynode *tlabels, *tspec, *domain;

  ymap_str(root, "apiVersion", "kubevirt.io/v1");
  ymap_str(root, "kind", "VirtualMachine");
  md = add_metadata(root, t->name, o);
  add_source_labels(ymap_map(md, "labels"), vm);
  ann = ymap_map(md, "annotations");
  ymap_str(ann, "hoist.io/original-name", vm->name ? vm->name : "");
  ymap_str(ann, "hoist.io/source-ref", vm->source_ref);
  ymap_str(ann, "hoist.io/source-vm-id", vm->id);
  if (vm->description) {
    /* Annotations share 256 KiB: keep a long description's start, cut
     * on a UTF-8 character boundary. */
    size_t len = strlen(vm->description);
    if (len > DESCRIPTION_MAX) {
      len = DESCRIPTION_MAX;
      while (len > 0 && (vm->description[len] & 0xc0) == 0x80)
        len--;
    }
    ymap_strf(ann, "hoist.io/description", "%.*s", (int)len, vm->description);
  }

  spec = ymap_map(root, "spec");
  ymap_str(spec, "runStrategy", "Halted");
  tmpl = ymap_map(spec, "template");
  tmd = ymap_map(tmpl, "metadata");
  tlabels = ymap_map(tmd, "labels");
  ymap_str(tlabels, "kubevirt.io/domain", t->name);
  ymap_str(tlabels, "hoist.io/vm", t->name);
  tspec = ymap_map(tmpl, "spec");
  domain = ymap_map(tspec, "domain");
  build_domain(domain, vm);
  build_devices(tspec, ymap_map(domain, "devices"), vm, t, orders);
  return doc;
}

static int render(struct ydoc *doc, char **ret)
{
  int r;

  if (!doc)
    return error_set(ENOMEM, "out of memory");
  r = ydoc_to_string(doc, ret);
  ydoc_free(doc);
  return r < 0 ? error_set(-r, "cannot render YAML: %s", strerror(-r)) : 0;
}

int kv_render_vm(const struct vm *vm, const struct kv_vm_target *t,
                 const struct kv_options *o, char **ret)
{
  _cleanup_free_ int *orders = calloc(vm->disks.len + 1, sizeof *orders);

  if (!orders)
    return error_set(ENOMEM, "out of memory");
  boot_orders(vm, orders);
  return render(build_vm(vm, t, o, orders), ret);
}

static struct ydoc *build_pvc(const struct vm *vm, const struct kv_vm_target *t,
                              size_t i, const struct kv_options *o)
{
  const struct vm_disk *d = &vm->disks.ptr[i];
  const struct kv_options *po = t->disks[i].pvc ? t->disks[i].pvc : o;
  uint64_t size = t->disks[i].size ? t->disks[i].size : d->capacity;
  struct ydoc *doc = ydoc_new();
  struct ynode *root = ydoc_root(doc), *md, *labels, *ann, *spec, *modes;

  ymap_str(root, "apiVersion", "v1");
  ymap_str(root, "kind", "PersistentVolumeClaim");
  md = add_metadata(root, t->disks[i].pvc_name, o);
  labels = ymap_map(md, "labels");
  add_source_labels(labels, vm);
  ymap_str(labels, "hoist.io/vm", t->name);
  ymap_strf(labels, "hoist.io/disk", "disk-%zu", i);
  ann = ymap_map(md, "annotations");
  ymap_str(ann, "hoist.io/source-disk-id", d->id);
  ymap_str(ann, "hoist.io/source-disk-name", d->name);
  ymap_strf(ann, "hoist.io/virtual-size", "%llu", (unsigned long long)size);
  ymap_str(ann, "cdi.kubevirt.io/storage.upload.target", "");

  spec = ymap_map(root, "spec");
  modes = ymap_seq(spec, "accessModes");
  yseq_str(modes, kv_access_mode_name(po->access_mode));
  ymap_str(spec, "volumeMode", kv_volume_mode_name(po->volume_mode));
  ymap_strf(ymap_map(ymap_map(spec, "resources"), "requests"), "storage",
            "%lluMi",
            (unsigned long long)kv_pvc_request_mib(size, po->volume_mode));
  ymap_str(spec, "storageClassName", po->storage_class);
  return doc;
}

int kv_render_pvcs(const struct vm *vm, const struct kv_vm_target *t,
                   const struct kv_options *o, char **ret)
{
  char *buf = NULL;
  size_t len = 0, i;
  FILE *f = open_memstream(&buf, &len);
  int r = 0;

  if (!f)
    return error_set(ENOMEM, "out of memory");
  for (i = 0; r == 0 && i < vm->disks.len; i++) {
    struct ydoc *doc = build_pvc(vm, t, i, o);
    if (i > 0)
      fputs("---\n", f);
    r = doc ? ydoc_write(doc, f) : -ENOMEM;
    ydoc_free(doc);
  }
  if (fclose(f) != 0 && r == 0)
    r = -ENOMEM;
  if (r < 0) {
    free(buf);
    return error_set(-r, "cannot render YAML: %s", strerror(-r));
  }
  *ret = buf;
  return 0;
}

int kv_render_kustomization(const struct kv_options *o, bool with_pvcs,
                            char **ret)
{
  struct ydoc *doc = ydoc_new();
  struct ynode *root = ydoc_root(doc), *res;

  ymap_str(root, "apiVersion", "kustomize.config.k8s.io/v1beta1");
  ymap_str(root, "kind", "Kustomization");
  ymap_str(root, "namespace", o->ns);
  res = ymap_seq(root, "resources");
  if (with_pvcs)
    yseq_str(res, "pvcs.yaml");
  yseq_str(res, "virtualmachine.yaml");
  return render(doc, ret);
}
