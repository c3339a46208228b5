/* hoist migrate --source ova:PATH|ovirt://ENGINE|openstack:// --target
 * dir:OUT
 *
 * One pipeline for every source: a source gives a list of VMs (the neutral
 * model) and opens their disks as copy-engine sources; from there on
 * (names, networks, concerns, copies, manifests) nothing knows which
 * source it was. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/openstack_cli.h"
#include "cli/ovirt_cli.h"
#include "cli/progress.h"
#include "copy/dest.h"
#include "copy/engine.h"
#include "kubevirt/builder.h"
#include "model/mapping.h"
#include "model/names.h"
#include "model/storagemap.h"
#include "net/http.h"
#include "sources/openstack/cloud.h"
#include "sources/openstack/keystone.h"
#include "sources/ova/ova.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/human.h"

/* Image transfers of one VM's disks at once: each has its own ticket and
 * connections on the host, so disks go in parallel, bounded. */
#define MIGRATE_PARALLEL_DISKS 4

#define P(s) names_printable((s), (char[128]){0}, 128)

static void migrate_usage(FILE *f)
{
  fprintf(
      f,
      "Usage: hoist migrate --source ova:PATH --target dir:OUT [OPTIONS]\n"
      "       hoist migrate --source ovirt://ENGINE-HOST --vm NAME… "
      "--target dir:OUT\n"
      "                     --user USER --password-file FILE "
      "[--cacert FILE] [OPTIONS]\n"
      "       hoist migrate --source openstack://[KEYSTONE-HOST[:PORT]] "
      "--vm NAME…\n"
      "                     --target dir:OUT [--os-* options] [OPTIONS]\n"
      "\n"
      "Migrates VMs into KubeVirt manifests and raw disks. For each VM it\n"
      "writes OUT/VM-NAME/ with one raw disk per PVC (VM-NAME-disk-N.raw),\n"
      "virtualmachine.yaml (a halted KubeVirt VirtualMachine), pvcs.yaml and\n"
      "kustomization.yaml.\n"
      "\n"
      "Every concern is listed first. A VM with a critical concern is skipped\n"
      "unless --force is given. A VM that fails leaves no output. The exit\n"
      "status is 1 if any VM was skipped or failed.\n"
      "\n"
      "Sources:\n"
      "  ova:PATH   an OVA archive, an .ovf file or an unpacked export. Each\n"
      "             disk is verified against the OVA's manifest before it is\n"
      "             copied; a mismatch stops that VM. Default: all its VMs.\n"
      "  ovirt://ENGINE-HOST[:PORT]\n"
      "             an oVirt/RHV engine (https). Name the VMs with --vm (see\n"
      "             'hoist inventory vms'); they must be shut down. Each disk\n"
      "             is read through an image transfer (format raw, from the\n"
      "             host's imageio daemon, or the engine's proxy when the\n"
      "             host cannot be reached), finalized after the copy and\n"
      "             cancelled on any failure or interrupt (SIGINT, SIGTERM),\n"
      "             so no transfer or disk lock stays behind. The VM keeps\n"
      "             its id as SMBIOS UUID, its serial number, firmware (EFI,\n"
      "             secure boot with SMM), MACs, disk buses (virtio, "
      "virtio_scsi\n"
      "             -> scsi, sata and ide -> sata) and time zone (Windows "
      "zone\n"
      "             names become their IANA zone). No guest conversion: oVirt\n"
      "             guests already run on KVM with virtio.\n"
      "  openstack://[KEYSTONE-HOST[:PORT][/PATH]]\n"
      "             an OpenStack project: Keystone (https://HOST:PORT/PATH,\n"
      "             or --os-auth-url / OS_AUTH_URL when no host is given),\n"
      "             Nova, Cinder, Neutron and Glance from its catalog. Name\n"
      "             the servers with --vm (see 'hoist inventory openstack\n"
      "             vms'). As Forklift does: the root disk of a server booted\n"
      "             from an image is a Nova snapshot (createImage); each\n"
      "             volume is snapshotted, a volume made from the snapshot\n"
      "             and uploaded to a raw Glance image; the images are read\n"
      "             with parallel range GETs, verified against Glance's\n"
      "             checksum, and every temporary is deleted afterwards. The\n"
      "             temporaries are named hoist-ID-… and tagged\n"
      "             hoist.io/migration=ID: 'hoist inventory openstack\n"
      "             leftovers --delete' removes those a crashed run left.\n"
      "             Firmware (hw_firmware_type, os_secure_boot), machine\n"
      "             type, disk bus, NIC model and CPU topology come from the\n"
      "             image's (or boot volume's) hw_* properties and the "
      "flavor;\n"
      "             NICs keep their ports' MAC addresses; a NIC's network is\n"
      "             its Neutron network's name.\n"
      "\n"
      "Options:\n"
      "  -s, --source SOURCE        ova:PATH or ovirt://ENGINE-HOST\n"
      "  -t, --target dir:OUT       the output directory (created if missing)\n"
      "      --vm NAME              migrate only this VM (by name or id; may\n"
      "                             be repeated); default (OVA): all VMs\n"
      "      --network-map FILE     where each source network goes: a "
      "Forklift\n"
      "                             NetworkMap manifest (spec.map[] of source\n"
      "                             {name|id} -> destination {type: "
      "pod|multus|\n"
      "                             ignored, namespace, name}), or lines\n"
      "                               SOURCE-NETWORK=pod\n"
      "                               SOURCE-NETWORK=multus:NAMESPACE/NAME\n"
      "                               SOURCE-NETWORK=ignored\n"
      "                             (# starts a comment). An oVirt NIC's\n"
      "                             network is its vNIC profile's network\n"
      "      --storage-class NAME   storage class of every PVC (default: the\n"
      "                             cluster's default class)\n"
      "      --storage-map FILE     the storage class (and volume and access\n"
      "                             mode) of the disks on each source "
      "storage:\n"
      "                             a Forklift StorageMap manifest "
      "(spec.map[]\n"
      "                             of source {name|id} -> destination\n"
      "                             {storageClass, volumeMode, accessMode}),\n"
      "                             or lines SOURCE-STORAGE=CLASS[,Block]\n"
      "                             [,ReadWriteMany]. Sources: oVirt storage\n"
      "                             domains, OpenStack volume types, glance\n"
      "                             (image-booted disks); other disks, and\n"
      "                             modes not given, take the options above\n"
      "      --namespace NS         namespace of the VM and its PVCs\n"
      "      --volume-mode MODE     Filesystem (default) or Block\n"
      "      --access-mode MODE     ReadWriteOnce (default), ReadWriteMany or\n"
      "                             ReadOnlyMany\n"
      "      --force                migrate VMs with critical concerns too\n"
      "  -w, --workers N            parallel copy workers (default %d)\n"
      "      --progress             show progress\n"
      "      --no-progress          show no progress\n"
      "  -h, --help                 this help\n"
      "\n"
      "oVirt options (or the same from --provider FILE):\n" CLI_OVIRT_HELP
      "      --transfer-timeout S   how long an image transfer may take to\n"
      "                             become ready or to finish (default %d;\n"
      "                             OpenStack: snapshots, volumes, images)\n"
      "\n"
      "OpenStack options (--cacert and --insecure as "
      "above):\n" CLI_OPENSTACK_HELP "\n"
      "Networks: KubeVirt gives a VM at most one NIC on the pod network. A "
      "NIC\n"
      "whose network the map sends to the pod network takes it; a second one\n"
      "is a critical concern. A NIC whose network is not in the map (all of\n"
      "them without --network-map) is a warning and goes to the pod network\n"
      "if no NIC has it, else it is a critical concern. With --force, a NIC\n"
      "that has no place is left out. Pod network NICs use masquerade, multus\n"
      "ones bridge; MAC addresses are kept.\n"
      "\n"
      "Names: VM names become DNS-1123 labels (lower case [a-z0-9-], at most\n"
      "63 characters, unique: -2, -3, … on collisions); a renamed VM is a\n"
      "warning and keeps its name in the annotation hoist.io/original-name.\n"
      "\n"
      "Storage: each PVC requests the disk's size rounded up to a MiB; in\n"
      "Filesystem mode, size / (1 - 0.055) to leave CDI's default filesystem\n"
      "overhead. A disk whose storage is not in --storage-map is a warning\n"
      "and gets --storage-class.\n"
      "\n"
      "Afterwards, for each VM: kubectl apply -k OUT/VM-NAME (creates the\n"
      "PVCs and the halted VM), upload each raw disk into its PVC (virtctl\n"
      "image-upload pvc PVC --no-create --image-path OUT/VM-NAME/PVC.raw),\n"
      "then start the VM (virtctl start VM-NAME).\n",
      COPY_DEFAULT_WORKERS, OVIRT_DEFAULT_TRANSFER_TIMEOUT);
}

struct migrate_args {
  const char *source; /* ova: the path; ovirt: the engine URL (or NULL) */
  bool ovirt;
  struct cli_ovirt ovirt_opts;
  bool openstack; /* source: the Keystone URL, or NULL for OS_AUTH_URL */
  struct cli_openstack os_opts;
  const char *out;
  const char *netmap_path;
  const char *storagemap_path;
  struct storagemap *storage_map;
  struct kv_options kv;
  char **vms;
  size_t n_vms;
  bool force;
  struct copy_options copts;
  int progress_mode;
};

/* One VM to migrate and its target. */
struct plan {
  struct vm *vm;
  char *name;
  struct nic_target *nics;
  struct kv_disk_target *disks;
  struct kv_options *pvc_opts; /* per disk, from the storage map */
  char **pvc_names;
};

/* Where the VMs and their disks come from. open_disk() opens disk i of a
 * VM as a copy-engine source, with a handle that finish_disk() is always
 * given afterwards: ok after a complete copy (an oVirt transfer is then
 * finalized), else to give up (it is cancelled). */
struct migrate_source {
  const char *name; /* for messages */
  int (*open_disk)(struct migrate_source *s, const struct migrate_args *a,
                   const struct vm *vm, size_t i, struct disk **ret,
                   void **ret_handle);
  int (*finish_disk)(struct migrate_source *s, void *handle, bool ok);
  /* Disks of a VM copied at once (0: one after another). */
  unsigned parallel_disks;
  struct ova *ova;
  struct ovirt_engine *engine;
  struct os_cloud *cloud;
  char migration[9];
  bool progress; /* print progress lines */
};

static void plan_free_fields(struct plan *p)
{
  size_t i;

  free(p->name);
  free(p->nics);
  free(p->disks);
  free(p->pvc_opts);
  for (i = 0; p->pvc_names && i < p->vm->disks.len; i++)
    free(p->pvc_names[i]);
  free(p->pvc_names);
}

static const char *vm_label(const struct vm *vm)
{
  return vm->name && *vm->name ? vm->name : vm->id ? vm->id : "(unnamed)";
}

/* Removes a directory that holds only files (our partial output). */
static void remove_tree(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;

  if (d) {
    while ((e = readdir(d))) {
      _cleanup_free_ char *path = NULL;
      if (streq(e->d_name, ".") || streq(e->d_name, ".."))
        continue;
      if (asprintf(&path, "%s/%s", dir, e->d_name) >= 0)
        unlink(path);
    }
    closedir(d);
  }
  rmdir(dir);
}

/* mkdir -p */
static int make_dirs(const char *path)
{
  _cleanup_free_ char *p = strdup(path);
  char *s;

  if (!p)
    return error_set(ENOMEM, "out of memory");
  for (s = p + 1; *s; s++) {
    if (*s != '/')
      continue;
    *s = 0;
    if (mkdir(p, 0777) < 0 && errno != EEXIST)
      return error_errno("%s: cannot create directory", p);
    *s = '/';
  }
  if (mkdir(p, 0777) < 0 && errno != EEXIST)
    return error_errno("%s: cannot create directory", p);
  return 0;
}

static int write_file(const char *dir, const char *name, const char *text)
{
  _cleanup_free_ char *path = NULL;
  _cleanup_close_ int fd = -1;
  size_t len = strlen(text), done = 0;

  if (asprintf(&path, "%s/%s", dir, name) < 0)
    return error_set(ENOMEM, "out of memory");
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0)
    return error_errno("%s", path);
  while (done < len) {
    ssize_t n = write(fd, text + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return error_errno("%s: write", path);
    done += n;
  }
  if (fsync(fd) < 0)
    return error_errno("%s: fsync", path);
  return 0;
}

/* ---- OVA ---- */

static int ova_source_open(struct migrate_source *s,
                           const struct migrate_args *a, const struct vm *vm,
                           size_t i, struct disk **ret, void **ret_handle)
{
  const struct vm_disk *vd = &vm->disks.ptr[i];
  bool listed = false;
  int r;

  (void)a;
  *ret_handle = NULL;
  if (!vd->locator)
    return error_set(EINVAL,
                     "%s: disk-%zu of VM \"%s\" has no file in the "
                     "archive",
                     ova_path(s->ova), i, P(vm_label(vm)));
  r = ova_verify_member(s->ova, vd->locator, &listed);
  if (r < 0)
    return r;
  if (!listed && ova_has_manifest(s->ova))
    fprintf(stderr,
            "%s migrate: warning: %s: %s is not listed in the "
            "manifest; copied without verification\n",
            cli_program, ova_path(s->ova), P(vd->locator));
  return ova_open_member_disk(s->ova, vd->locator, ret);
}

static int ova_source_finish(struct migrate_source *s, void *handle, bool ok)
{
  (void)s;
  (void)handle;
  (void)ok;
  return 0;
}

/* ---- oVirt ---- */

static int ovirt_source_open(struct migrate_source *s,
                             const struct migrate_args *a, const struct vm *vm,
                             size_t i, struct disk **ret, void **ret_handle)
{
  const struct vm_disk *vd = &vm->disks.ptr[i];
  struct ovirt_transfer *t = NULL;
  int r;

  *ret_handle = NULL;
  if (!vd->locator)
    return error_set(EINVAL, "disk-%zu of VM \"%s\" has no disk id", i,
                     P(vm_label(vm)));
  if (a->progress_mode != 0)
    fprintf(stderr,
            "%s migrate: VM \"%s\": starting an image transfer of "
            "disk %s\n",
            cli_program, P(vm_label(vm)), P(vd->locator));
  r = ovirt_transfer_start(s->engine, vd->locator, NULL, &t);
  if (r < 0)
    return r;
  /* From here on, a signal cancels the transfer; and a signal that came
   * while it started is seen now. */
  *ret_handle = t;
  r = cli_interrupts_register(t);
  if (r < 0)
    return r;
  if (cli_interrupts_signal())
    return error_set(EINTR, "interrupted");
  r = ovirt_transfer_open_disk(t, ret);
  if (r == 0 && a->progress_mode != 0) {
    _cleanup_free_ char *origin = http_origin(ovirt_transfer_data_url(t));
    fprintf(stderr,
            "%s migrate: VM \"%s\": image transfer %s ready; "
            "reading from %s%s\n",
            cli_program, P(vm_label(vm)), ovirt_transfer_id(t),
            origin ? origin : "?",
            ovirt_transfer_data_url(t) == ovirt_transfer_proxy_url(t)
                ? " (the engine's proxy)"
                : "");
  }
  return r;
}

static int ovirt_source_finish(struct migrate_source *s, void *handle, bool ok)
{
  struct ovirt_transfer *t = handle;
  int r = 0;

  /* A signal after the copy: the transfer is cancelled, not finalized. */
  if (ok && cli_interrupts_signal()) {
    ok = false;
    r = error_set(EINTR, "interrupted");
  }
  if (ok)
    r = ovirt_transfer_finalize(t);
  if (ok && r == 0 && s->progress)
    fprintf(stderr, "%s migrate: image transfer %s finalized\n", cli_program,
            ovirt_transfer_id(t));
  cli_interrupts_unregister(t);
  ovirt_transfer_close(t);
  return r;
}

/* ---- OpenStack ---- */

static int openstack_source_open(struct migrate_source *s,
                                 const struct migrate_args *a,
                                 const struct vm *vm, size_t i,
                                 struct disk **ret, void **ret_handle)
{
  const struct vm_disk *vd = &vm->disks.ptr[i];
  struct os_export *e = NULL;
  int r;

  if (a->progress_mode != 0)
    fprintf(stderr,
            "%s migrate: VM \"%s\": exporting disk-%zu (%s) through "
            "Glance (migration %s)\n",
            cli_program, P(vm_label(vm)), i, P(vd->locator), s->migration);
  r = os_export_start(s->cloud, vd, s->migration, &e);
  *ret_handle = e;
  if (r < 0)
    return r;
  if (cli_interrupts_signal())
    return error_set(EINTR, "interrupted");
  return os_export_open_disk(e, a->copts.workers, ret);
}

static int openstack_source_finish(struct migrate_source *s, void *handle,
                                   bool ok)
{
  int r = os_export_finish(handle);

  (void)s;
  (void)ok;
  return r;
}

/* ---- the pipeline ---- */

/* Set by the interrupt thread on SIGINT/SIGTERM. */
static atomic_bool migrate_stop;

/* Copies disk i of the plan into dir/<pvc>.raw; with parallel, other
 * disks are copied at the same time (progress shows as lines). */
static int copy_one_disk(struct migrate_source *s, const struct migrate_args *a,
                         struct plan *p, size_t i, const char *dir,
                         bool parallel)
{
  const struct vm_disk *vd = &p->vm->disks.ptr[i];
  _cleanup_free_ char *path = NULL, *label = NULL;
  struct progress_display pd;
  struct copy_progress progress;
  struct disk *src = NULL;
  struct dest *dst = NULL;
  void *handle = NULL;
  int r, f;

  r = s->open_disk(s, a, p->vm, i, &src, &handle);
  if (r == 0 && (asprintf(&path, "%s/%s.raw", dir, p->pvc_names[i]) < 0 ||
                 asprintf(&label, "%s/%s", p->name, p->pvc_names[i]) < 0))
    r = error_set(ENOMEM, "out of memory");
  if (r == 0)
    r = dest_open_file(path, src->size, NULL, &dst);
  if (r == 0) {
    copy_progress_init(&progress, src);
    progress_start(&pd, &progress, label,
                   parallel ? a->progress_mode * 2 : a->progress_mode);
    r = copy_disk(src, dst, &a->copts, &progress);
    progress_stop(&pd, r == 0);
  }
  if (r == 0)
    r = dest_commit(dst);
  if (src)
    p->disks[i].size = MAX(src->size, vd->capacity);
  dest_close(dst);
  disk_close(src);
  f = s->finish_disk(s, handle, r == 0);
  return r < 0 ? r : f;
}

/* The disks of one VM, copied by up to src->parallel_disks threads. */
struct disk_jobs {
  struct migrate_source *src;
  const struct migrate_args *a;
  struct plan *p;
  const char *dir;
  pthread_mutex_t lock;
  size_t next;
  bool failed;
  char *error; /* the first failure's message */
  int errnum;
};

static void *disk_worker(void *arg)
{
  struct disk_jobs *j = arg;

  for (;;) {
    size_t i;
    int r, errnum;
    char *msg;

    pthread_mutex_lock(&j->lock);
    i = j->failed ? j->p->vm->disks.len : j->next++;
    pthread_mutex_unlock(&j->lock);
    if (i >= j->p->vm->disks.len)
      break;
    r = copy_one_disk(j->src, j->a, j->p, i, j->dir, true);
    if (r == 0)
      continue;
    if (!error_is_set())
      error_set(-r, "disk-%zu: %s", i, strerror(-r));
    msg = error_take(&errnum);
    pthread_mutex_lock(&j->lock);
    if (!j->failed) {
      j->failed = true;
      j->error = TAKE_PTR(msg);
      j->errnum = errnum ? errnum : EIO;
    }
    pthread_mutex_unlock(&j->lock);
    free(msg);
    break;
  }
  return NULL;
}

/* Copies the disks of the plan into dir: one after another, or several
 * at once where the source allows it (each transfer has its own ticket
 * and connections). A failure lets the copies in flight end (their
 * transfers are finalized or cancelled as usual) and starts no more. */
static int copy_disks(struct migrate_source *src, const struct migrate_args *a,
                      struct plan *p, const char *dir)
{
  struct disk_jobs j = {.src = src, .a = a, .p = p, .dir = dir};
  size_t n = MIN(p->vm->disks.len, MAX(src->parallel_disks, 1)), i, started;
  pthread_t threads[16];
  int r = 0;

  n = MIN(n, ARRAY_SIZE(threads));
  if (n <= 1) {
    for (i = 0; r == 0 && i < p->vm->disks.len; i++)
      r = copy_one_disk(src, a, p, i, dir, false);
    return r;
  }
  pthread_mutex_init(&j.lock, NULL);
  for (started = 0; started < n; started++)
    if (pthread_create(&threads[started], NULL, disk_worker, &j) != 0)
      break;
  if (started == 0)
    disk_worker(&j);
  for (i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
  pthread_mutex_destroy(&j.lock);
  if (j.failed) {
    error_put(j.error, j.errnum);
    r = -j.errnum;
  }
  return r;
}

static int migrate_vm(struct migrate_source *src, const struct migrate_args *a,
                      struct plan *p)
{
  const struct kv_vm_target t = {p->name, p->disks, p->nics};
  _cleanup_free_ char *final = NULL, *tmp = NULL, *vm_yaml = NULL;
  _cleanup_free_ char *pvcs_yaml = NULL, *kust_yaml = NULL;
  struct stat st;
  mode_t mask;
  int r;

  if (asprintf(&final, "%s/%s", a->out, p->name) < 0 ||
      asprintf(&tmp, "%s/.%s.XXXXXX", a->out, p->name) < 0)
    return error_set(ENOMEM, "out of memory");
  if (lstat(final, &st) == 0)
    return error_set(EEXIST,
                     "%s already exists; remove it or choose "
                     "another --target",
                     final);
  if (!mkdtemp(tmp))
    return error_errno("%s: cannot create a directory", a->out);

  r = copy_disks(src, a, p, tmp);
  if (r < 0)
    goto fail;
  if ((r = kv_render_vm(p->vm, &t, &a->kv, &vm_yaml)) < 0 ||
      (r = kv_render_pvcs(p->vm, &t, &a->kv, &pvcs_yaml)) < 0 ||
      (r = kv_render_kustomization(&a->kv, p->vm->disks.len > 0, &kust_yaml)) <
          0)
    goto fail;
  if ((r = write_file(tmp, "virtualmachine.yaml", vm_yaml)) < 0 ||
      (p->vm->disks.len > 0 &&
       (r = write_file(tmp, "pvcs.yaml", pvcs_yaml)) < 0) ||
      (r = write_file(tmp, "kustomization.yaml", kust_yaml)) < 0)
    goto fail;
  /* A signal that came after the last copy still means no result. */
  if (cli_interrupts_signal()) {
    r = error_set(EINTR, "interrupted");
    goto fail;
  }
  /* mkdtemp() made it 0700; give it the mode mkdir() would have. */
  mask = umask(0);
  umask(mask);
  if (chmod(tmp, 0777 & ~mask) < 0 || rename(tmp, final) < 0) {
    r = error_errno("%s: cannot move the result in place", final);
    goto fail;
  }
  return 0;

fail:
  remove_tree(tmp);
  return r;
}

/* Prints dir/name/file as one shell word (quoted when it must be), so the
 * commands below can be pasted. */
static void print_path(const char *dir, const char *name, const char *file)
{
  _cleanup_free_ char *path = NULL;
  const char *s;

  if (asprintf(&path, "%s/%s%s%s", dir, name, file ? "/" : "",
               file ? file : "") < 0)
    return;
  if (strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789_./:=@%+,-") == strlen(path)) {
    fputs(path, stdout);
    return;
  }
  putchar('\'');
  for (s = path; *s; s++) {
    if (*s == '\'')
      fputs("'\\''", stdout);
    else
      putchar(*s);
  }
  putchar('\'');
}

static void print_next_steps(const struct migrate_args *a, const struct plan *p)
{
  const char *ns = a->kv.ns ? " --namespace " : "";
  size_t i;
  char sz[32];

  printf("VM \"%s\" -> ", P(vm_label(p->vm)));
  print_path(a->out, p->name, NULL);
  printf("/\n");
  for (i = 0; i < p->vm->disks.len; i++)
    printf("  %s.raw: %s, PVC %s (requests %lluMi)\n", p->pvc_names[i],
           human_size(p->disks[i].size, sz, sizeof sz), p->pvc_names[i],
           (unsigned long long)kv_pvc_request_mib(
               p->disks[i].size, p->disks[i].pvc ? p->disks[i].pvc->volume_mode
                                                 : a->kv.volume_mode));
  printf("  next: kubectl apply -k ");
  print_path(a->out, p->name, NULL);
  printf("\n");
  for (i = 0; i < p->vm->disks.len; i++) {
    _cleanup_free_ char *file = NULL;
    if (asprintf(&file, "%s.raw", p->pvc_names[i]) < 0)
      return;
    printf("        virtctl image-upload pvc %s --no-create --image-path ",
           p->pvc_names[i]);
    print_path(a->out, p->name, file);
    printf("%s%s\n", ns, a->kv.ns ? a->kv.ns : "");
  }
  printf("        virtctl start %s%s%s\n", p->name, ns,
         a->kv.ns ? a->kv.ns : "");
}

/* Names, networks and builder checks for one VM; adds its concerns. */
/* Disk i's PVC takes the storage map's class and modes for its source
 * storage, if the map has it. */
static int map_disk_storage(struct plan *p, size_t i,
                            const struct migrate_args *a)
{
  const struct vm_disk *d = &p->vm->disks.ptr[i];
  const struct storagemap_entry *e;
  struct kv_options *o = &p->pvc_opts[i];

  if (!a->storage_map || !d->storage)
    return 0;
  e = storagemap_lookup(a->storage_map, d->storage);
  if (!e) {
    const char *class = a->kv.storage_class;

    if (vm_add_concern(p->vm, CONCERN_WARNING, "storage-unmapped",
                       "disk-%zu is on storage \"%s\", which is not in the "
                       "storage map; its PVC gets %s%s",
                       i, d->storage, class ? "storage class " : "",
                       class ? class : "the cluster's default class") < 0)
      return error_set(ENOMEM, "out of memory");
    return 0;
  }
  *o = a->kv;
  o->storage_class = e->storage_class;
  if (e->volume_mode)
    kv_parse_volume_mode(e->volume_mode, &o->volume_mode);
  if (e->access_mode)
    kv_parse_access_mode(e->access_mode, &o->access_mode);
  p->disks[i].pvc = o;
  return 0;
}

static int plan_vm(struct plan *p, struct name_set *names,
                   const struct netmap *map, const struct migrate_args *a)
{
  size_t i;
  int r;

  r = names_assign_vm(names, p->vm, &p->name);
  if (r < 0)
    return error_set(ENOMEM, "out of memory");
  p->nics = calloc(p->vm->nics.len + 1, sizeof *p->nics);
  p->disks = calloc(p->vm->disks.len + 1, sizeof *p->disks);
  p->pvc_names = calloc(p->vm->disks.len + 1, sizeof *p->pvc_names);
  p->pvc_opts = calloc(p->vm->disks.len + 1, sizeof *p->pvc_opts);
  if (!p->nics || !p->disks || !p->pvc_names || !p->pvc_opts)
    return error_set(ENOMEM, "out of memory");
  for (i = 0; i < p->vm->disks.len; i++) {
    r = kv_pvc_name(p->name, i, &p->pvc_names[i]);
    if (r < 0)
      return r;
    p->disks[i].pvc_name = p->pvc_names[i];
    p->disks[i].size = p->vm->disks.ptr[i].capacity;
    r = map_disk_storage(p, i, a);
    if (r < 0)
      return r;
  }
  r = mapping_assign_networks(p->vm, map, p->nics);
  if (r < 0)
    return r;
  return kv_check_vm(p->vm);
}

/* Writes s with control characters escaped, so a message stays on one
 * line whatever the source put in it. */
static void fputs_oneline(const char *s, FILE *f)
{
  for (; s && *s; s++) {
    unsigned char c = *s;
    if (c < 0x20 || c == 0x7f)
      fprintf(f, "\\x%02x", c);
    else
      fputc(c, f);
  }
}

static void print_concerns(const struct plan *p)
{
  size_t i;

  for (i = 0; i < p->vm->concerns.len; i++) {
    const struct vm_concern *c = &p->vm->concerns.ptr[i];
    fprintf(stderr, "%s migrate: VM \"%s\": %s: ", cli_program,
            P(vm_label(p->vm)), vm_concern_level_name(c->level));
    fputs_oneline(c->message, stderr);
    fputs(" [", stderr);
    fputs_oneline(c->category, stderr);
    fputs("]\n", stderr);
  }
}

/* Picks the VMs named by --vm (all when none); 0, or -1 after printing an
 * error. */
static int select_vms(const struct vm_list *vms, const struct migrate_args *a,
                      const char *path, bool *selected)
{
  size_t i, j;

  for (i = 0; i < vms->len; i++)
    selected[i] = a->n_vms == 0;
  for (j = 0; j < a->n_vms; j++) {
    bool found = false;
    for (i = 0; i < vms->len; i++) {
      const struct vm *vm = vms->ptr[i];
      if ((vm->name && streq(vm->name, a->vms[j])) ||
          (vm->id && streq(vm->id, a->vms[j]))) {
        selected[i] = found = true;
      }
    }
    if (!found) {
      fprintf(stderr, "%s migrate: %s has no VM named \"%s\"\n", cli_program,
              path, P(a->vms[j]));
      return -1;
    }
  }
  return 0;
}

/* Plans, checks and migrates the selected VMs of vms (selected NULL:
 * all). The VMs are ours to annotate with the concerns of the target. */
static int run_migration(struct migrate_source *src, const struct vm_list *vms,
                         const bool *selected, const struct netmap *map,
                         const struct migrate_args *a)
{
  _cleanup_free_ struct plan *plans = calloc(vms->len + 1, sizeof *plans);
  struct name_set names = {0};
  size_t i, n = 0, done = 0, failed = 0;
  bool out_existed, out_ready = false;
  struct stat st;
  int r = 0;

  if (!plans) {
    error_set(ENOMEM, "out of memory");
    cli_report_error(NULL);
    return 1;
  }
  for (i = 0; i < vms->len; i++) {
    if (selected && !selected[i])
      continue;
    plans[n].vm = vms->ptr[i];
    r = plan_vm(&plans[n++], &names, map, a);
    if (r < 0)
      break;
  }
  if (r < 0) {
    cli_report_error(NULL);
    goto out;
  }
  for (i = 0; i < n; i++)
    print_concerns(&plans[i]);
  out_existed = stat(a->out, &st) == 0;
  for (i = 0; i < n; i++) {
    struct plan *p = &plans[i];
    if (cli_interrupts_signal()) {
      failed += n - i;
      break;
    }
    if (vm_has_critical_concern(p->vm) && !a->force) {
      fprintf(stderr,
              "%s migrate: VM \"%s\" skipped: it has critical "
              "concerns (--force migrates it anyway)\n",
              cli_program, P(vm_label(p->vm)));
      failed++;
      continue;
    }
    /* The output directory appears only once there is something to put
     * in it. */
    if (!out_ready && (r = make_dirs(a->out)) < 0) {
      fprintf(stderr, "%s migrate: %s\n", cli_program, error_message());
      error_clear();
      failed += n - i;
      break;
    }
    out_ready = true;
    r = migrate_vm(src, a, p);
    if (r < 0) {
      if (cli_interrupts_signal())
        fprintf(stderr,
                "%s migrate: VM \"%s\" was not migrated: interrupted; %sno "
                "output was left\n",
                cli_program, P(vm_label(p->vm)),
                src->engine ? "its image transfer was cancelled and " : "");
      else {
        fprintf(stderr, "%s migrate: VM \"%s\" failed: ", cli_program,
                P(vm_label(p->vm)));
        fputs_oneline(error_message() ? error_message() : "error", stderr);
        fputc('\n', stderr);
      }
      error_clear();
      failed++;
      continue;
    }
    print_next_steps(a, p);
    done++;
  }
  if (!out_existed && out_ready && done == 0)
    rmdir(a->out);
  r = 0;
  if (done == 0)
    printf("0 of %zu VMs migrated\n", n);
  else if (n > 1 || failed)
    printf("%zu of %zu VMs migrated into %s\n", done, n, a->out);
out:
  for (i = 0; i < n; i++)
    plan_free_fields(&plans[i]);
  name_set_reset(&names);
  if (cli_interrupts_signal())
    return 128 + cli_interrupts_signal();
  return r < 0 || failed ? 1 : 0;
}

static int migrate_ova(const struct netmap *map, const struct migrate_args *a)
{
  struct migrate_source src = {
      .open_disk = ova_source_open,
      .finish_disk = ova_source_finish,
  };
  _cleanup_free_ bool *selected = NULL;
  const struct vm_list *vms;
  int r;

  r = ova_open(a->source, &src.ova);
  if (r < 0) {
    cli_report_error(NULL);
    return 1;
  }
  src.name = ova_path(src.ova);
  vms = ova_vms(src.ova);
  selected = calloc(vms->len + 1, sizeof *selected);
  if (!selected) {
    ova_close(src.ova);
    return 1;
  }
  if (vms->len == 0) {
    fprintf(stderr, "%s migrate: %s: the archive holds no VM\n", cli_program,
            src.name);
    r = 1;
  } else if (select_vms(vms, a, src.name, selected) < 0) {
    r = 1;
  } else {
    r = run_migration(&src, vms, selected, map, a);
  }
  ova_close(src.ova);
  return r;
}

/* Looks up the VMs named on the command line, each once however often it
 * is named; a failure is reported here, and gives the exit code. */
static int
find_vms(int (*find)(void *provider, const char *name, struct vm **ret),
         void *provider, const struct migrate_args *a, struct vm_list *vms)
{
  size_t i, j;
  int r = 0;

  for (i = 0; r == 0 && i < a->n_vms; i++) {
    struct vm *vm = NULL;
    bool dup = false;

    r = find(provider, a->vms[i], &vm);
    for (j = 0; r == 0 && j < vms->len; j++)
      dup = dup || streq(vms->ptr[j]->id, vm->id);
    if (r == 0 && dup)
      vm_free(vm);
    else if (r == 0 && vm_list_append(vms, vm) < 0) {
      vm_free(vm);
      r = error_set(ENOMEM, "out of memory");
    }
  }
  if (r == 0)
    return 0;
  cli_report_error(NULL);
  return cli_interrupts_signal() ? 128 + cli_interrupts_signal() : 1;
}

static int find_ovirt_vm(void *engine, const char *name, struct vm **ret)
{
  return ovirt_find_vm(engine, name, ret);
}

static int find_openstack_vm(void *cloud, const char *name, struct vm **ret)
{
  return os_cloud_find_vm(cloud, name, ret);
}

static int migrate_ovirt(const struct netmap *map, struct migrate_args *a)
{
  struct migrate_source src = {
      .open_disk = ovirt_source_open,
      .finish_disk = ovirt_source_finish,
      .parallel_disks = MIGRATE_PARALLEL_DISKS,
      .progress = a->progress_mode != 0,
  };
  struct vm_list vms = {0};
  struct ovirt_config cfg;
  int r;

  if (cli_ovirt_config(&a->ovirt_opts, "migrate", a->source, &cfg) < 0)
    return 1;
  cfg.stop = &migrate_stop;
  r = ovirt_connect(&cfg, &src.engine);
  if (r < 0) {
    cli_report_error(NULL);
    return cli_interrupts_signal() ? 128 + cli_interrupts_signal() : 1;
  }
  src.name = ovirt_engine_origin(src.engine);
  r = find_vms(find_ovirt_vm, src.engine, a, &vms);
  if (r == 0)
    r = run_migration(&src, &vms, NULL, map, a);
  vm_list_free(&vms);
  ovirt_close(src.engine);
  return r;
}

static int migrate_openstack(const struct netmap *map, struct migrate_args *a)
{
  struct migrate_source src = {
      .open_disk = openstack_source_open,
      .finish_disk = openstack_source_finish,
  };
  struct vm_list vms = {0};
  struct os_session *session = NULL;
  int r;

  if (a->source)
    a->os_opts.opt[OPT_OS_AUTH_URL - OPT_OS_AUTH_URL] = a->source;
  if (os_new_migration_id(src.migration) < 0) {
    cli_report_error(NULL);
    return 1;
  }
  r = cli_openstack_session(&a->os_opts, "migrate", a->ovirt_opts.cacert,
                            a->ovirt_opts.insecure, &session);
  if (r == 0)
    r = os_cloud_open(session, &src.cloud);
  if (r < 0) {
    cli_report_error(NULL);
    return 1;
  }
  os_cloud_set_wait(src.cloud, a->ovirt_opts.transfer_timeout, &migrate_stop);
  src.name = "openstack";
  /* Said first, so that whoever must clean up after a crash knows it. */
  fprintf(stderr,
          "%s migrate: OpenStack migration %s: its temporary snapshots, "
          "volumes and images are named hoist-%s-…\n",
          cli_program, src.migration, src.migration);
  r = find_vms(find_openstack_vm, src.cloud, a, &vms);
  if (r == 0)
    r = run_migration(&src, &vms, NULL, map, a);
  vm_list_free(&vms);
  os_cloud_close(src.cloud);
  return r;
}

static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
  va_list ap;

  fprintf(stderr, "%s migrate: ", cli_program);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "; run 'hoist migrate --help'\n");
  return 2;
}

int cmd_migrate(int argc, char **argv)
{
  enum {
    OPT_VM = 256,
    OPT_NETMAP,
    OPT_SC,
    OPT_STORAGEMAP,
    OPT_NS,
    OPT_FORCE,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_VOLUME_MODE,
    OPT_ACCESS_MODE,
  };
  static const struct option long_opts[] = {
      {"source", required_argument, NULL, 's'},
      {"target", required_argument, NULL, 't'},
      {"vm", required_argument, NULL, OPT_VM},
      {"network-map", required_argument, NULL, OPT_NETMAP},
      {"storage-class", required_argument, NULL, OPT_SC},
      {"storage-map", required_argument, NULL, OPT_STORAGEMAP},
      {"namespace", required_argument, NULL, OPT_NS},
      {"force", no_argument, NULL, OPT_FORCE},
      {"workers", required_argument, NULL, 'w'},
      {"progress", no_argument, NULL, OPT_PROGRESS},
      {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
      {"volume-mode", required_argument, NULL, OPT_VOLUME_MODE},
      {"access-mode", required_argument, NULL, OPT_ACCESS_MODE},
      CLI_OVIRT_OPTIONS,
      CLI_OPENSTACK_OPTIONS,
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct migrate_args a = {.progress_mode = -1};
  _cleanup_free_ char **vms = calloc(argc + 1, sizeof *vms);
  _cleanup_free_ char *engine_url = NULL, *keystone_url = NULL;
  struct netmap *map = NULL;
  bool ovirt_opts = false, os_opts = false;
  int c, r;

  if (!vms)
    return 1;
  a.vms = vms;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "s:t:w:h", long_opts, NULL)) != -1) {
    unsigned long long v;
    switch (c) {
    case 's':
      if (strncmp(optarg, "ova:", 4) == 0 && optarg[4]) {
        a.source = optarg + 4;
        a.ovirt = a.openstack = false;
      } else if (strncmp(optarg, "openstack://", 12) == 0) {
        free(keystone_url);
        keystone_url = NULL;
        /* openstack:// alone: --os-auth-url or OS_AUTH_URL. */
        if (optarg[12] &&
            asprintf(&keystone_url, "https://%s", optarg + 12) < 0)
          return 1;
        a.source = keystone_url;
        a.openstack = true;
        a.ovirt = false;
      } else if (strncmp(optarg, "ovirt://", 8) == 0) {
        free(engine_url);
        engine_url = NULL;
        /* ovirt:// alone: the engine of --engine or the provider file. */
        if (optarg[8] && asprintf(&engine_url, "https://%s", optarg + 8) < 0)
          return 1;
        a.source = engine_url;
        a.ovirt = true;
        a.openstack = false;
      } else {
        return usage_error("--source takes ova:PATH, ovirt://ENGINE-HOST or "
                           "openstack://[KEYSTONE-HOST], not \"%s\"",
                           P(optarg));
      }
      break;
    case 't':
      if (strncmp(optarg, "dir:", 4) != 0 || !optarg[4])
        return usage_error("--target takes dir:PATH (the only target so "
                           "far), not \"%s\"",
                           P(optarg));
      a.out = optarg + 4;
      break;
    case OPT_VM:
      a.vms[a.n_vms++] = optarg;
      break;
    case OPT_NETMAP:
      a.netmap_path = optarg;
      break;
    case OPT_STORAGEMAP:
      a.storagemap_path = optarg;
      break;
    case OPT_SC:
      if (!names_is_dns1123_subdomain(optarg))
        return usage_error("--storage-class: \"%s\" is not a valid storage "
                           "class name",
                           P(optarg));
      a.kv.storage_class = optarg;
      break;
    case OPT_NS:
      if (!names_is_dns1123_label(optarg, NAMES_LABEL_MAX))
        return usage_error("--namespace: \"%s\" is not a valid namespace "
                           "(lower case [a-z0-9-], at most 63 characters)",
                           P(optarg));
      a.kv.ns = optarg;
      break;
    case OPT_FORCE:
      a.force = true;
      break;
    case 'w':
      if (cli_parse_uint(optarg, COPY_MAX_WORKERS, &v) < 0 || v == 0)
        return usage_error("--workers takes a number from 1 to 64, not "
                           "\"%s\"",
                           P(optarg));
      a.copts.workers = v;
      break;
    case OPT_PROGRESS:
      a.progress_mode = 1;
      break;
    case OPT_NO_PROGRESS:
      a.progress_mode = 0;
      break;
    case OPT_VOLUME_MODE:
      if (kv_parse_volume_mode(optarg, &a.kv.volume_mode) < 0)
        return usage_error("--volume-mode takes Filesystem or Block, not "
                           "\"%s\"",
                           P(optarg));
      break;
    case OPT_ACCESS_MODE:
      if (kv_parse_access_mode(optarg, &a.kv.access_mode) < 0)
        return usage_error("--access-mode takes ReadWriteOnce, "
                           "ReadWriteMany or ReadOnlyMany, not \"%s\"",
                           P(optarg));
      break;
    case 'h':
      migrate_usage(stdout);
      return 0;
    default:
      r = cli_openstack_option(&a.os_opts, "migrate", c, optarg);
      if (r < 0)
        return 2;
      if (r > 0) {
        os_opts = true;
        break;
      }
      r = cli_ovirt_option(&a.ovirt_opts, "migrate", c, optarg);
      if (r < 0)
        return 2;
      if (r == 0)
        return usage_error("unknown option or missing value: \"%s\"",
                           P(argv[optind - 1]));
      /* --cacert, --insecure and --transfer-timeout serve OpenStack too */
      if (c != OPT_OVIRT_CACERT && c != OPT_OVIRT_INSECURE &&
          c != OPT_OVIRT_TRANSFER_TIMEOUT)
        ovirt_opts = true;
    }
  }
  if (optind < argc)
    return usage_error("unexpected argument \"%s\"", P(argv[optind]));
  if (!a.source && !a.ovirt && !a.openstack)
    return usage_error("%s", "--source ova:PATH, ovirt://ENGINE-HOST or "
                             "openstack:// is required");
  if (!a.out)
    return usage_error("%s", "--target dir:OUT is required");
  if (!a.ovirt && ovirt_opts)
    return usage_error("%s", "the oVirt options (--engine, --user, "
                             "--password-file, --cacert, --insecure, "
                             "--provider, --transfer-timeout) go with "
                             "--source ovirt://ENGINE-HOST");
  if (!a.openstack && os_opts)
    return usage_error("%s", "the --os-* options go with --source "
                             "openstack://");
  if (a.openstack && ovirt_opts)
    return usage_error("%s", "the oVirt options (--engine, --user, "
                             "--password-file, --provider) do not go with "
                             "--source openstack://; use the --os-* options");
  if ((a.ovirt || a.openstack) && a.n_vms == 0)
    return usage_error("%s", "name the VMs to migrate with --vm NAME ('hoist "
                             "inventory vms' lists them)");

  /* SIGINT/SIGTERM stop the copy between requests, so that a VM's
   * temporary directory and a source's temporaries are removed. */
  if ((a.netmap_path && netmap_load(a.netmap_path, &map) < 0) ||
      (a.storagemap_path &&
       storagemap_load(a.storagemap_path, &a.storage_map) < 0) ||
      cli_interrupts_start(&migrate_stop) < 0) {
    cli_report_error(NULL);
    r = 1;
    goto out;
  }
  a.copts.stop = &migrate_stop;
  if (a.openstack)
    r = migrate_openstack(map, &a);
  else if (a.ovirt)
    r = migrate_ovirt(map, &a);
  else
    r = migrate_ova(map, &a);
out:
  cli_ovirt_clear(&a.ovirt_opts);
  netmap_free(map);
  storagemap_free(a.storage_map);
  return r;
}
