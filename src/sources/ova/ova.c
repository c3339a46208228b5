/* OVA packages: a tar archive (or an unpacked directory) holding an OVF
 * descriptor, an optional manifest and the disk files. */
#include "sources/ova/ova.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sources/ova/manifest.h"
#include "sources/ova/ovf.h"
#include "sources/ova/tar.h"
#include "util/cleanup.h"
#include "util/error.h"

struct ova {
  char *path;                 /* as given */
  char *dir;                  /* unpacked export: its directory */
  struct bytesource *archive; /* archive: the tar file */
  struct tar_member_list members;
  char *prefix;             /* archive: the folder of the .ovf, or "" */
  char *ovf_name, *mf_name; /* relative to it */
  struct manifest_entry_list manifest;
  struct ovf ovf;
  char **files;
  size_t nfiles;
};

const struct vm_list *ova_vms(const struct ova *ova)
{
  return &ova->ovf.vms;
}

const char *ova_path(const struct ova *ova)
{
  return ova->path;
}

bool ova_has_manifest(const struct ova *ova)
{
  return ova->mf_name != NULL;
}

const char *ova_ovf_name(const struct ova *ova)
{
  return ova->ovf_name;
}

const char *ova_manifest_name(const struct ova *ova)
{
  return ova->mf_name;
}

size_t ova_file_count(const struct ova *ova)
{
  return ova->nfiles;
}

const char *ova_file_name(const struct ova *ova, size_t i)
{
  return i < ova->nfiles ? ova->files[i] : NULL;
}

void ova_close(struct ova *ova)
{
  size_t i;

  if (!ova)
    return;
  bytesource_close(ova->archive);
  tar_member_list_free(&ova->members);
  manifest_entry_list_free(&ova->manifest);
  ovf_free(&ova->ovf);
  for (i = 0; i < ova->nfiles; i++)
    free(ova->files[i]);
  free(ova->files);
  free(ova->path);
  free(ova->dir);
  free(ova->prefix);
  free(ova->ovf_name);
  free(ova->mf_name);
  free(ova);
}
DEFINE_CLEANUP_FUNC(struct ova, ova_close)

static bool has_suffix(const char *s, const char *suffix)
{
  size_t l = strlen(s), n = strlen(suffix);

  return l > n && strcasecmp(s + l - n, suffix) == 0;
}

/* Names inside a package are relative and stay inside it. */
static bool name_is_safe(const char *name)
{
  const char *p;

  if (!*name || name[0] == '/' || strstr(name, "://"))
    return false;
  for (p = name; p; p = strchr(p, '/')) {
    if (*p == '/')
      p++;
    if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == 0))
      return false;
  }
  return true;
}

/* ---- members: archive slices or files next to the .ovf ---- */

static const struct tar_member *find_member(const struct ova *ova,
                                            const char *name)
{
  char full[2 * TAR_MAX_NAME + 2];
  const struct tar_member *m;

  if ((size_t)snprintf(full, sizeof full, "%s%s", ova->prefix, name) >=
      sizeof full)
    return NULL;
  m = tar_find(&ova->members, full);
  return m && m->kind != TAR_DIRECTORY ? m : NULL;
}

static bool member_exists(const struct ova *ova, const char *name)
{
  struct stat st;
  _cleanup_free_ char *path = NULL;

  if (!ova->dir)
    return find_member(ova, name) != NULL;
  if (!name_is_safe(name) || asprintf(&path, "%s/%s", ova->dir, name) < 0)
    return false;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Opens a member's bytes. With own_handle the source opens the archive
 * again, so that it outlives the ova. */
static int open_member(struct ova *ova, const char *name, bool own_handle,
                       struct bytesource **ret)
{
  const struct tar_member *m;
  struct bytesource *parent;
  _cleanup_free_ char *display = NULL;
  int r;

  if (!name_is_safe(name))
    return error_set(EINVAL,
                     "%s: \"%s\" leaves the package; hoist only reads files "
                     "inside it",
                     ova->path, name);
  if (ova->dir) {
    if (asprintf(&display, "%s/%s", ova->dir, name) < 0)
      return error_set(ENOMEM, "out of memory");
    return bytesource_open_file(display, ret);
  }
  m = find_member(ova, name);
  if (!m)
    return error_set(ENOENT, "%s: the archive holds no file \"%s\"", ova->path,
                     name);
  if (m->kind == TAR_SPARSE)
    return error_set(ENOTSUP,
                     "%s: %s is stored as a GNU sparse file, which hoist "
                     "does not read; repack the OVA without --sparse",
                     ova->path, name);
  if (m->kind != TAR_FILE)
    return error_set(EINVAL, "%s: %s is not a regular file of the archive",
                     ova->path, name);
  if (asprintf(&display, "%s#%s", ova->path, name) < 0)
    return error_set(ENOMEM, "out of memory");
  if (!own_handle)
    return bytesource_open_slice(ova->archive, false, m->offset, m->size,
                                 display, ret);
  r = bytesource_open_file(ova->path, &parent);
  if (r < 0)
    return r;
  if (parent->size != ova->archive->size) {
    bytesource_close(parent);
    return error_set(EIO, "%s: the archive changed while it was read",
                     ova->path);
  }
  r = bytesource_open_slice(parent, true, m->offset, m->size, display, ret);
  if (r < 0)
    bytesource_close(parent);
  return r;
}

/* Reads a whole small member (the OVF, the manifest) into memory. */
static int read_member(struct ova *ova, const char *name, size_t max,
                       char **ret, size_t *len)
{
  struct bytesource *bs = NULL;
  char *buf;
  int r;

  r = open_member(ova, name, false, &bs);
  if (r < 0)
    return r;
  if (bs->size > max) {
    r = error_set(EINVAL, "%s: %s is %llu bytes; hoist accepts at most %zu",
                  ova->path, name, (unsigned long long)bs->size, max);
    bytesource_close(bs);
    return r;
  }
  buf = malloc(bs->size + 1);
  if (!buf) {
    bytesource_close(bs);
    return error_set(ENOMEM, "out of memory");
  }
  r = bytesource_pread(bs, buf, bs->size, 0);
  if (r < 0) {
    free(buf);
    bytesource_close(bs);
    return r;
  }
  buf[bs->size] = 0;
  *len = bs->size;
  *ret = buf;
  bytesource_close(bs);
  return 0;
}

static int add_file_name(struct ova *ova, const char *name)
{
  char **n = realloc(ova->files, (ova->nfiles + 1) * sizeof *n);

  if (!n)
    return error_set(ENOMEM, "out of memory");
  ova->files = n;
  if (!(n[ova->nfiles] = strdup(name)))
    return error_set(ENOMEM, "out of memory");
  ova->nfiles++;
  return 0;
}

/* ---- finding the descriptor ---- */

/* The .ovf may sit in a folder of the archive (tar cf x.ova folder/): the
 * names it uses are relative to that folder, as are the package's file
 * names hoist reports. */
static int find_ovf_in_archive(struct ova *ova)
{
  const char *ovf = NULL, *slash;
  size_t i, plen;

  for (i = 0; i < ova->members.len; i++) {
    const struct tar_member *m = &ova->members.ptr[i];
    if ((m->kind != TAR_FILE && m->kind != TAR_SPARSE) ||
        !has_suffix(m->name, ".ovf"))
      continue;
    if (ovf)
      return error_set(EINVAL,
                       "%s: the archive holds two .ovf files (%s and %s); "
                       "an OVA has one",
                       ova->path, ovf, m->name);
    ovf = m->name;
  }
  if (!ovf)
    return error_set(EINVAL, "%s: the archive holds no .ovf descriptor",
                     ova->path);
  slash = strrchr(ovf, '/');
  plen = slash ? (size_t)(slash - ovf + 1) : 0;
  if (!(ova->prefix = strndup(ovf, plen)) ||
      !(ova->ovf_name = strdup(ovf + plen)))
    return error_set(ENOMEM, "out of memory");

  for (i = 0; i < ova->members.len; i++) {
    const struct tar_member *m = &ova->members.ptr[i];
    const char *rel = m->name + plen;

    if ((m->kind != TAR_FILE && m->kind != TAR_SPARSE) ||
        strncmp(m->name, ovf, plen) != 0)
      continue;
    if (has_suffix(rel, ".mf") && !strchr(rel, '/')) {
      if (ova->mf_name)
        return error_set(EINVAL,
                         "%s: the archive holds two .mf files (%s and %s); "
                         "an OVA has one",
                         ova->path, ova->mf_name, rel);
      if (!(ova->mf_name = strdup(rel)))
        return error_set(ENOMEM, "out of memory");
    }
    if (add_file_name(ova, rel) < 0)
      return -ENOMEM;
  }
  return 0;
}

static int find_ovf_in_dir(struct ova *ova)
{
  DIR *d = opendir(ova->dir);
  struct dirent *e;
  int r = 0;

  if (!d)
    return error_errno("%s: cannot open the directory", ova->dir);
  while ((e = readdir(d))) {
    char **slot = NULL;
    if (has_suffix(e->d_name, ".ovf"))
      slot = &ova->ovf_name;
    else if (has_suffix(e->d_name, ".mf"))
      slot = &ova->mf_name;
    if (!slot)
      continue;
    if (*slot) {
      r = error_set(EINVAL,
                    "%s: the directory holds two %s files (%s and %s); "
                    "name the one to use",
                    ova->dir, slot == &ova->ovf_name ? ".ovf" : ".mf", *slot,
                    e->d_name);
      break;
    }
    if (!(*slot = strdup(e->d_name))) {
      r = error_set(ENOMEM, "out of memory");
      break;
    }
  }
  closedir(d);
  if (r == 0 && !ova->ovf_name)
    r = error_set(EINVAL, "%s: the directory holds no .ovf descriptor",
                  ova->dir);
  return r;
}

/* An .ovf given directly: its directory is the package; a manifest next
 * to it is the one of the same base name. */
static int use_ovf_file(struct ova *ova)
{
  _cleanup_free_ char *c1 = strdup(ova->path), *c2 = strdup(ova->path);
  _cleanup_free_ char *mf = NULL;
  const char *base;
  size_t l;

  if (!c1 || !c2)
    return error_set(ENOMEM, "out of memory");
  ova->dir = strdup(dirname(c1));
  base = basename(c2);
  ova->ovf_name = strdup(base);
  if (!ova->dir || !ova->ovf_name)
    return error_set(ENOMEM, "out of memory");
  l = strlen(base);
  if (has_suffix(base, ".ovf"))
    l -= 4;
  if (asprintf(&mf, "%.*s.mf", (int)l, base) < 0)
    return error_set(ENOMEM, "out of memory");
  if (member_exists(ova, mf))
    ova->mf_name = TAKE_PTR(mf);
  return 0;
}

/* Is the file an XML document (an .ovf) rather than a tar archive? */
static bool looks_like_xml(struct bytesource *bs)
{
  unsigned char head[64];
  size_t n = MIN(sizeof head, bs->size), i = 0;

  if (n == 0 || bytesource_pread(bs, head, n, 0) < 0) {
    error_clear();
    return false;
  }
  if (n >= 3 && memcmp(head, "\xef\xbb\xbf", 3) == 0)
    i = 3;
  while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' ||
                   head[i] == '\n'))
    i++;
  return i < n && head[i] == '<';
}

/* ---- manifest and references ---- */

static int all_vms_concern(struct ova *ova, enum vm_concern_level level,
                           const char *category, const char *msg)
{
  size_t i;

  for (i = 0; i < ova->ovf.vms.len; i++)
    if (vm_add_concern(ova->ovf.vms.ptr[i], level, category, "%s", msg) < 0)
      return error_set(ENOMEM, "out of memory");
  return 0;
}

static int load_manifest(struct ova *ova, const char *ovf, size_t ovf_len,
                         bool *ovf_listed)
{
  _cleanup_free_ char *text = NULL, *where = NULL;
  const struct manifest_entry *e;
  char got[MANIFEST_MAX_HEX + 1];
  size_t len, i;
  int r;

  *ovf_listed = false;
  if (!ova->mf_name)
    return 0;
  if (asprintf(&where, "%s: %s", ova->dir ? ova->dir : ova->path,
               ova->mf_name) < 0)
    return error_set(ENOMEM, "out of memory");
  r = read_member(ova, ova->mf_name, MANIFEST_MAX_SIZE, &text, &len);
  if (r == 0)
    r = manifest_parse(text, len, where, &ova->manifest);
  if (r < 0)
    return r;
  for (i = 0; i < ova->manifest.len; i++) {
    e = &ova->manifest.ptr[i];
    if (!name_is_safe(e->name) || !member_exists(ova, e->name))
      return error_set(EINVAL,
                       "%s line %d lists %s, which the %s does not hold", where,
                       e->line, e->name, ova->dir ? "directory" : "archive");
  }
  e = manifest_find(&ova->manifest, ova->ovf_name);
  if (!e)
    return 0;
  *ovf_listed = true;
  r = manifest_digest_buffer(e->algo, ovf, ovf_len, got);
  if (r < 0)
    return r;
  if (!streq(got, e->hex))
    return error_set(EINVAL,
                     "%s: %s does not match its %s digest in the manifest "
                     "(expected %s, got %s)",
                     ova->path, ova->ovf_name, e->algo, e->hex, got);
  return 0;
}

/* Every file a disk uses must be in the package; the others (NVRAM,
 * ISO images) may be missing. */
static int check_references(struct ova *ova, const char *where)
{
  size_t i;

  for (i = 0; i < ova->ovf.files.len; i++) {
    const struct ovf_file *f = &ova->ovf.files.ptr[i];
    const struct tar_member *m = ova->dir ? NULL : find_member(ova, f->href);
    _cleanup_free_ char *msg = NULL;
    bool exists = name_is_safe(f->href) && member_exists(ova, f->href);

    if (f->referenced && !name_is_safe(f->href))
      return error_set(EINVAL,
                       "%s line %d: file %s (%s) lies outside the package; "
                       "hoist only reads files inside it",
                       where, f->line, f->id, f->href);
    if (f->referenced && !exists)
      return error_set(ENOENT, "%s line %d: file %s (%s) is not in the %s",
                       where, f->line, f->id, f->href,
                       ova->dir ? "directory" : "archive");
    if (!exists) {
      if (asprintf(&msg,
                   "file %s (%s) of the References section is not "
                   "in the package",
                   f->id, f->href) < 0 ||
          all_vms_concern(ova, CONCERN_INFO, "missing-file", msg) < 0)
        return error_set(ENOMEM, "out of memory");
      continue;
    }
    if (ova->dir && add_file_name(ova, f->href) < 0)
      return -ENOMEM;
    if (m && f->has_size && m->size != f->size) {
      if (asprintf(&msg,
                   "%s holds %llu bytes but the OVF says %llu: the "
                   "file may be truncated or replaced",
                   f->href, (unsigned long long)m->size,
                   (unsigned long long)f->size) < 0 ||
          all_vms_concern(ova, CONCERN_WARNING, "file-size", msg) < 0)
        return error_set(ENOMEM, "out of memory");
    }
  }
  return 0;
}

static int note_certificates(struct ova *ova)
{
  size_t i;

  for (i = 0; i < ova->members.len; i++) {
    _cleanup_free_ char *msg = NULL;
    if (!has_suffix(ova->members.ptr[i].name, ".cert"))
      continue;
    if (asprintf(&msg,
                 "the package is signed (%s); hoist does not check "
                 "the signature",
                 ova->members.ptr[i].name) < 0 ||
        all_vms_concern(ova, CONCERN_INFO, "certificate", msg) < 0)
      return error_set(ENOMEM, "out of memory");
  }
  return 0;
}

int ova_open(const char *path, struct ova **ret)
{
  _cleanup_(ova_closep) struct ova *ova = calloc(1, sizeof *ova);
  _cleanup_free_ char *ovf = NULL, *where = NULL;
  struct stat st;
  size_t len;
  bool ovf_listed;
  int r;

  if (!ova || !(ova->path = strdup(path)))
    return error_set(ENOMEM, "out of memory");
  if (stat(path, &st) < 0)
    return error_errno("%s: cannot open", path);
  if (S_ISDIR(st.st_mode)) {
    if (!(ova->dir = strdup(path)))
      return error_set(ENOMEM, "out of memory");
    r = find_ovf_in_dir(ova);
  } else {
    r = bytesource_open_file(path, &ova->archive);
    if (r < 0)
      return r;
    if (looks_like_xml(ova->archive)) {
      bytesource_close(TAKE_PTR(ova->archive));
      r = use_ovf_file(ova);
    } else {
      r = tar_index(ova->archive, &ova->members);
      if (r == 0)
        r = find_ovf_in_archive(ova);
    }
  }
  if (r < 0)
    return r;
  if (ova->dir && add_file_name(ova, ova->ovf_name) < 0)
    return -ENOMEM;
  if (ova->dir && ova->mf_name && add_file_name(ova, ova->mf_name) < 0)
    return -ENOMEM;

  r = read_member(ova, ova->ovf_name, OVF_MAX_SIZE, &ovf, &len);
  if (r < 0)
    return r;
  /* The descriptor is checked against the manifest before it is
   * trusted. */
  r = load_manifest(ova, ovf, len, &ovf_listed);
  if (r < 0)
    return r;
  if (ova->dir)
    r = asprintf(&where, "%s/%s", ova->dir, ova->ovf_name);
  else
    r = asprintf(&where, "%s: %s", ova->path, ova->ovf_name);
  if (r < 0)
    return error_set(ENOMEM, "out of memory");
  r = ovf_parse(ovf, len, where, ova->path, &ova->ovf);
  if (r == 0)
    r = check_references(ova, where);
  if (r == 0)
    r = note_certificates(ova);
  if (r == 0 && ova->mf_name && !ovf_listed)
    r = all_vms_concern(ova, CONCERN_WARNING, "manifest",
                        "the manifest does not list the OVF descriptor, so "
                        "the descriptor is not verified");
  if (r < 0)
    return r;
  *ret = TAKE_PTR(ova);
  return 0;
}

/* ---- verification ---- */

int ova_verify_member(struct ova *ova, const char *member, bool *listed)
{
  const struct manifest_entry *e = manifest_find(&ova->manifest, member);
  char got[MANIFEST_MAX_HEX + 1];
  struct bytesource *bs;
  int r;

  if (listed)
    *listed = e != NULL;
  if (!e)
    return 0;
  r = open_member(ova, member, false, &bs);
  if (r < 0)
    return r;
  r = manifest_digest_source(e->algo, bs, got);
  bytesource_close(bs);
  if (r < 0)
    return r;
  if (!streq(got, e->hex))
    return error_set(EINVAL,
                     "%s: %s does not match its %s digest in the manifest "
                     "(expected %s, got %s)",
                     ova->path, member, e->algo, e->hex, got);
  return 0;
}

/* ---- disks ---- */

static const struct vm_disk *find_disk(const struct ova *ova,
                                       const char *member)
{
  size_t i, j;

  for (i = 0; i < ova->ovf.vms.len; i++) {
    const struct vm *vm = ova->ovf.vms.ptr[i];
    for (j = 0; j < vm->disks.len; j++)
      if (vm->disks.ptr[j].locator && streq(vm->disks.ptr[j].locator, member))
        return &vm->disks.ptr[j];
  }
  return NULL;
}

static const struct ovf_file *find_file(const struct ova *ova, const char *href)
{
  size_t i;

  for (i = 0; i < ova->ovf.files.len; i++)
    if (streq(ova->ovf.files.ptr[i].href, href))
      return &ova->ovf.files.ptr[i];
  return NULL;
}

static int no_such_disk(const struct ova *ova, const char *member)
{
  char list[512] = "";
  size_t i, j, n = 0;

  for (i = 0; i < ova->ovf.vms.len; i++) {
    const struct vm *vm = ova->ovf.vms.ptr[i];
    for (j = 0; j < vm->disks.len; j++) {
      const char *loc = vm->disks.ptr[j].locator;
      size_t used = strlen(list);
      if (!loc || used + strlen(loc) + 8 >= sizeof list)
        continue;
      snprintf(list + used, sizeof list - used, "%s%s", n++ ? ", " : "", loc);
    }
  }
  return error_set(ENOENT, "%s: %s is not a disk of this OVA (its disks: %s)",
                   ova->path, member, n ? list : "none");
}

/* Extents named by a VMDK descriptor are other files of the package,
 * relative to the descriptor's directory. */
struct sibling_ctx {
  struct ova *ova;
  const char *member;
};

static int open_sibling(void *opaque, const char *name, struct bytesource **ret)
{
  struct sibling_ctx *sc = opaque;
  const char *slash = strrchr(sc->member, '/');
  _cleanup_free_ char *full = NULL;
  const struct ovf_file *f;

  if (asprintf(&full, "%.*s%s", slash ? (int)(slash - sc->member + 1) : 0,
               sc->member, name) < 0)
    return error_set(ENOMEM, "out of memory");
  f = find_file(sc->ova, full);
  if (f && f->compression)
    return error_set(ENOTSUP,
                     "%s: extent %s is gzip-compressed; hoist reads "
                     "compressed extents only as whole streamOptimized disks",
                     sc->ova->path, full);
  return open_member(sc->ova, full, true, ret);
}

/* Formats that must be read at random offsets cannot be decoded from a
 * gzip stream. */
static bool needs_random_access(const struct vm_disk *d,
                                const struct ovf_file *f)
{
  if (!d->format)
    return false;
  if (streq(d->format, "vmdk"))
    return f && f->variant && streq(f->variant, "monolithicSparse");
  return true;
}

int ova_open_member_disk(struct ova *ova, const char *member, struct disk **ret)
{
  const struct vm_disk *vd = find_disk(ova, member);
  const struct ovf_file *f = find_file(ova, member);
  struct sibling_ctx sc = {ova, member};
  struct disk_open_opts opts = {.open_sibling = open_sibling, .opaque = &sc};
  const char *declared;
  struct bytesource *bs;
  struct disk *d;
  int r;

  if (!vd)
    return no_such_disk(ova, member);
  declared = vd->format;
  if (declared && !streq(declared, "vmdk") && !streq(declared, "qcow2") &&
      !streq(declared, "raw"))
    return error_set(ENOTSUP,
                     "%s: %s is in %s format, which hoist cannot decode "
                     "(it reads VMDK, qcow2 and raw)",
                     ova->path, member, declared);
  if (vd->compression && needs_random_access(vd, f))
    return error_set(ENOTSUP,
                     "%s: %s is gzip-compressed, but its format (%s%s%s) "
                     "must be read at random offsets, which a gzip stream "
                     "cannot give; only streamOptimized VMDK can be decoded "
                     "from gzip (gunzip the file first)",
                     ova->path, member, declared, f && f->variant ? " " : "",
                     f && f->variant ? f->variant : "");
  r = open_member(ova, member, true, &bs);
  if (r < 0)
    return r;
  if (vd->compression) {
    r = bytesource_open_gunzip(bs, &bs);
    if (r < 0)
      return r;
  }
  r = disk_open(bs, &opts, &d);
  if (r < 0)
    return r;
  if (declared && !streq(declared, d->format)) {
    r = error_set(EINVAL,
                  "%s: the OVF declares %s as %s, but it holds a %s image",
                  ova->path, member, declared, d->format);
    disk_close(d);
    return r;
  }
  *ret = d;
  return 0;
}

int ova_open_disk(const char *path, const char *member, struct disk **ret)
{
  _cleanup_(ova_closep) struct ova *ova = NULL;
  int r;

  r = ova_open(path, &ova);
  if (r < 0)
    return r;
  return ova_open_member_disk(ova, member, ret);
}
