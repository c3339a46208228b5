/* VMDK disks: opening, and disks made of extents (flat, zero, hosted
 * sparse) mapped one after the other on the virtual disk. A
 * monolithicSparse file is such a disk with one sparse extent; a
 * descriptor file names its extent files, opened through
 * opts->open_sibling. streamOptimized files go to stream.c. */
#include "disk/vmdk/vmdk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "disk/vmdk/internal.h"
#include "util/checked.h"
#include "util/cleanup.h"
#include "util/error.h"

enum vext_kind { VEXT_FLAT, VEXT_ZERO, VEXT_SPARSE };

struct vext {
  enum vext_kind kind;
  uint64_t start, length; /* on the virtual disk, bytes */
  struct bytesource *bs;  /* FLAT, SPARSE */
  bool owns_bs;
  uint64_t file_offset; /* FLAT */
  struct vmdk_sparse *sp;
};

struct vmdk_disk {
  struct vmdk_common c;
  struct vext *ext;
  size_t n_ext;
};

/* ---- common ---- */

int vmdk_common_init(struct vmdk_common *c, const char *variant)
{
  c->disk.variant = strdup(variant);
  if (!c->disk.variant)
    return error_set(ENOMEM, "out of memory");
  c->info.create_type = c->disk.variant;
  c->info.adapter_type = c->desc.adapter_type;
  c->info.virtual_hw_version = c->desc.virtual_hw_version;
  c->info.uuid = c->desc.uuid;
  return 0;
}

void vmdk_common_free(struct vmdk_common *c)
{
  vmdk_descriptor_free(&c->desc);
}

const struct vmdk_info *vmdk_disk_info(const struct disk *d)
{
  if (!d || (d->ops != &vmdk_stream_ops && d->ops != &vmdk_extents_ops))
    return NULL;
  return &((const struct vmdk_common *)d)->info;
}

/* ---- extent disks ---- */

/* The extent holding virtual offset off (< disk size). */
static struct vext *find_extent(struct vmdk_disk *v, uint64_t off)
{
  size_t lo = 0, hi = v->n_ext;

  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (v->ext[mid].start <= off)
      lo = mid;
    else
      hi = mid;
  }
  return &v->ext[lo];
}

static int flat_extents(struct vext *e, uint64_t off, uint64_t len,
                        struct extent_list *out)
{
  struct extent_list tmp = {0};
  uint64_t foff = e->file_offset + (off - e->start);
  size_t i;
  int r;

  if (!e->bs->ops->extents)
    return extent_list_add(out, off, len, false);
  r = e->bs->ops->extents(e->bs, foff, len, &tmp);
  for (i = 0; r == 0 && i < tmp.len; i++) {
    uint64_t a = MAX(tmp.ptr[i].offset, foff);
    uint64_t b = MIN(tmp.ptr[i].offset + tmp.ptr[i].length, foff + len);
    if (b > a)
      r = extent_list_add(out, off + (a - foff), b - a, tmp.ptr[i].zero);
  }
  extent_list_reset(&tmp);
  return r;
}

static int extents_extents(struct disk *d, uint64_t offset, uint64_t length,
                           struct extent_list *out)
{
  struct vmdk_disk *v = (struct vmdk_disk *)d;
  uint64_t end = offset + length;
  int r = 0;

  while (r == 0 && offset < end) {
    struct vext *e = find_extent(v, offset);
    uint64_t n = MIN(end, e->start + e->length) - offset;

    switch (e->kind) {
    case VEXT_ZERO:
      r = extent_list_add(out, offset, n, true);
      break;
    case VEXT_FLAT:
      r = flat_extents(e, offset, n, out);
      break;
    case VEXT_SPARSE:
      r = vmdk_sparse_extents(e->sp, offset - e->start, n, e->start, out);
      break;
    }
    offset += n;
  }
  return r;
}

static int extents_pread(struct disk *d, void *buf, size_t len, uint64_t offset)
{
  struct vmdk_disk *v = (struct vmdk_disk *)d;
  char *p = buf;
  int r = 0;

  if (offset > d->size || len > d->size - offset)
    return error_set(EINVAL, "%s: read past the end of the disk", d->name);
  while (r == 0 && len > 0) {
    struct vext *e = find_extent(v, offset);
    size_t n = MIN(len, e->start + e->length - offset);

    switch (e->kind) {
    case VEXT_ZERO:
      memset(p, 0, n);
      break;
    case VEXT_FLAT:
      r = bytesource_pread(e->bs, p, n, e->file_offset + (offset - e->start));
      break;
    case VEXT_SPARSE:
      r = vmdk_sparse_pread(e->sp, p, n, offset - e->start);
      break;
    }
    p += n;
    offset += n;
    len -= n;
  }
  return r;
}

static void extents_close(struct disk *d)
{
  struct vmdk_disk *v = (struct vmdk_disk *)d;
  size_t i;

  for (i = 0; i < v->n_ext; i++) {
    vmdk_sparse_close(v->ext[i].sp);
    if (v->ext[i].owns_bs)
      bytesource_close(v->ext[i].bs);
  }
  free(v->ext);
  vmdk_common_free(&v->c);
}

const struct disk_ops vmdk_extents_ops = {
    .extents = extents_extents,
    .pread = extents_pread,
    .close = extents_close,
};

static struct vmdk_disk *new_extents_disk(struct bytesource *bs, size_t n_ext)
{
  struct vmdk_disk *v;

  v = (struct vmdk_disk *)disk_new(&vmdk_extents_ops, sizeof *v, bs, "vmdk");
  if (!v)
    return NULL;
  v->ext = calloc(n_ext ? n_ext : 1, sizeof *v->ext);
  if (!v->ext) {
    free(v->c.disk.name);
    free(v);
    return NULL;
  }
  v->c.disk.thread_safe = true;
  v->c.disk.allocated = 0;
  return v;
}

/* ---- monolithic sparse files ---- */

static int open_monolithic(struct bytesource *bs, const struct vmdk_header *h,
                           struct disk **ret)
{
  struct vmdk_disk *v = new_extents_disk(bs, 1);
  struct vext *e;
  int r = 0;

  if (!v) {
    bytesource_close(bs);
    return error_set(ENOMEM, "out of memory");
  }
  if (h->desc_size) {
    uint64_t doff = h->desc_offset * VMDK_SECTOR;
    uint64_t dlen = h->desc_size * VMDK_SECTOR;
    _cleanup_free_ char *text = NULL;

    if (doff < VMDK_SECTOR)
      r = error_set(EINVAL, "%s: invalid embedded descriptor offset %llu",
                    bs->name, (unsigned long long)doff);
    else if (doff > bs->size || dlen > bs->size - doff)
      r = error_set(EIO,
                    "%s: truncated: the embedded descriptor (%llu bytes at "
                    "offset %llu) ends past the end of the file (size %llu)",
                    bs->name, (unsigned long long)dlen,
                    (unsigned long long)doff, (unsigned long long)bs->size);
    else if (!(text = malloc(dlen)))
      r = error_set(ENOMEM, "out of memory");
    else if ((r = bytesource_pread(bs, text, dlen, doff)) == 0)
      r = vmdk_read_embedded_descriptor(bs, text, dlen, &v->c.desc);
  }
  e = &v->ext[0];
  if (r == 0)
    r = vmdk_sparse_open(bs, h, &e->sp);
  if (r == 0) {
    v->n_ext = 1;
    e->kind = VEXT_SPARSE;
    e->bs = bs;
    e->length = h->capacity * VMDK_SECTOR;
    v->c.disk.size = e->length;
    v->c.disk.thread_safe = bs->thread_safe;
    v->c.disk.allocated = vmdk_sparse_allocated(e->sp);
    r = vmdk_common_init(&v->c, "monolithicSparse");
  }
  if (r < 0) {
    disk_close(&v->c.disk);
    return r;
  }
  *ret = &v->c.disk;
  return 0;
}

int vmdk_open_sparse(struct bytesource *bs, const struct disk_open_opts *opts,
                     struct disk **ret)
{
  unsigned char buf[VMDK_SECTOR];
  struct vmdk_header h;
  int r;

  (void)opts;
  if (bytesource_can_pread(bs))
    r = bytesource_pread(bs, buf, sizeof buf, 0);
  else
    r = bytesource_read_full(bs, buf, sizeof buf, false);
  if (r >= 0)
    r = vmdk_header_parse(buf, bs->name, &h);
  if (r < 0) {
    bytesource_close(bs);
    return r;
  }
  if (h.compressed) {
    if (bytesource_can_pread(bs) && (r = bytesource_skip(bs, 512)) < 0) {
      bytesource_close(bs);
      return r;
    }
    return vmdk_stream_open(bs, &h, ret);
  }
  if (!bytesource_can_pread(bs) || bs->size == BYTESOURCE_SIZE_UNKNOWN) {
    r = error_set(ENOTSUP,
                  "%s: a monolithicSparse VMDK must be read at random "
                  "offsets, but this %s source is a stream",
                  bs->name, bs->ops->kind);
    bytesource_close(bs);
    return r;
  }
  return open_monolithic(bs, &h, ret);
}

/* ---- descriptor files ---- */

/* Create types whose extents hoist reads. */
static bool create_type_supported(const char *t)
{
  static const char *const ok[] = {
      "monolithicFlat",
      "twoGbMaxExtentFlat",
      "twoGbMaxExtentSparse",
      "vmfs",
      /* ESXi flat disks by provisioning type (VMFS extents). */
      "vmfsPreallocated",
      "vmfsEagerZeroedThick",
      "vmfsThin",
  };
  size_t i;

  for (i = 0; i < ARRAY_SIZE(ok); i++)
    if (streq(t, ok[i]))
      return true;
  return false;
}

static int refuse_create_type(const char *name, const char *t)
{
  const char *why = "";

  if (streq(t, "vmfsSparse") || streq(t, "seSparse"))
    why = " (a snapshot delta: consolidate the snapshots first)";
  else if (strncmp(t, "vmfsRaw", 7) == 0 ||
           streq(t, "vmfsPassthroughRawDeviceMap") || streq(t, "fullDevice") ||
           streq(t, "partitionedDevice"))
    why = " (a raw device, not a disk file: copy the device itself)";
  else if (streq(t, "monolithicSparse") || streq(t, "streamOptimized"))
    why = " (in a separate descriptor file: open the sparse file itself)";
  return error_set(ENOTSUP, "%s: unsupported VMDK createType \"%.64s\"%s", name,
                   t, why);
}

/* Reads the whole descriptor file (a stream read, so any source works). */
static int read_descriptor_text(struct bytesource *bs, char **ret,
                                size_t *ret_len)
{
  _cleanup_free_ char *buf = NULL;
  size_t len = 0, cap;
  int r;

  if (bs->size != BYTESOURCE_SIZE_UNKNOWN) {
    if (bs->size > VMDK_MAX_DESC_FILE)
      return error_set(EFBIG,
                       "%s: a VMDK descriptor larger than %u bytes is not "
                       "supported",
                       bs->name, VMDK_MAX_DESC_FILE);
    len = bs->size;
    buf = malloc(len + 1);
    if (!buf)
      return error_set(ENOMEM, "out of memory");
    if (len && (r = bytesource_read_full(bs, buf, len, false)) < 0)
      return r;
  } else {
    /* A stream of unknown length: byte by byte, never reading past the
     * end. Descriptors are a few KiB. */
    cap = 4096;
    buf = malloc(cap);
    if (!buf)
      return error_set(ENOMEM, "out of memory");
    for (;;) {
      if (len == cap) {
        char *grown;
        if (cap >= VMDK_MAX_DESC_FILE)
          return error_set(EFBIG,
                           "%s: a VMDK descriptor larger than %u bytes is "
                           "not supported",
                           bs->name, VMDK_MAX_DESC_FILE);
        grown = realloc(buf, cap * 2);
        if (!grown)
          return error_set(ENOMEM, "out of memory");
        buf = grown;
        cap *= 2;
      }
      r = bytesource_read_full(bs, buf + len, 1, true);
      if (r < 0)
        return r;
      if (r == 0)
        break;
      len++;
    }
  }
  *ret = TAKE_PTR(buf);
  *ret_len = len;
  return 0;
}

static int open_flat_extent(struct vmdk_disk *v, struct vext *e,
                            const struct vmdk_desc_extent *de)
{
  uint64_t need;

  if (de->offset > UINT64_MAX / VMDK_SECTOR ||
      ADD_OVERFLOW(de->offset * VMDK_SECTOR, e->length, &need))
    return error_set(EINVAL, "%s: line %u: invalid extent offset",
                     v->c.disk.name, de->line);
  if (!bytesource_can_pread(e->bs) || e->bs->size == BYTESOURCE_SIZE_UNKNOWN)
    return error_set(ENOTSUP,
                     "%s: a flat extent must be read at random offsets, but "
                     "this %s source is a stream",
                     e->bs->name, e->bs->ops->kind);
  if (e->bs->size < need)
    return error_set(EIO,
                     "%s: truncated: the descriptor %s maps %llu bytes at "
                     "offset %llu from it, but the file holds %llu",
                     e->bs->name, v->c.disk.name, (unsigned long long)e->length,
                     (unsigned long long)de->offset * VMDK_SECTOR,
                     (unsigned long long)e->bs->size);
  e->kind = VEXT_FLAT;
  e->file_offset = de->offset * VMDK_SECTOR;
  v->c.disk.allocated += e->length;
  return 0;
}

static int open_sparse_extent(struct vmdk_disk *v, struct vext *e,
                              const struct vmdk_desc_extent *de)
{
  unsigned char buf[VMDK_SECTOR];
  struct vmdk_header h;
  int r;

  if (!bytesource_can_pread(e->bs) || e->bs->size == BYTESOURCE_SIZE_UNKNOWN)
    return error_set(ENOTSUP,
                     "%s: a sparse extent must be read at random offsets, "
                     "but this %s source is a stream",
                     e->bs->name, e->bs->ops->kind);
  if (e->bs->size < VMDK_SECTOR)
    return error_set(EIO,
                     "%s: truncated: %llu bytes, too short for a "
                     "sparse extent header",
                     e->bs->name, (unsigned long long)e->bs->size);
  r = bytesource_pread(e->bs, buf, sizeof buf, 0);
  if (r < 0)
    return r;
  if (memcmp(buf, VMDK_COWD_MAGIC, 4) == 0)
    return error_set(ENOTSUP,
                     "%s: VMDK ESX Server sparse (COWD) extents are not "
                     "supported; convert the disk to monolithicSparse or "
                     "streamOptimized first",
                     e->bs->name);
  r = vmdk_header_parse(buf, e->bs->name, &h);
  if (r < 0)
    return r;
  if (h.capacity != de->sectors)
    return error_set(EINVAL,
                     "%s: line %u: the extent is %llu sectors but %s holds "
                     "%llu",
                     v->c.disk.name, de->line, (unsigned long long)de->sectors,
                     e->bs->name, (unsigned long long)h.capacity);
  r = vmdk_sparse_open(e->bs, &h, &e->sp);
  if (r < 0)
    return r;
  e->kind = VEXT_SPARSE;
  v->c.disk.allocated += vmdk_sparse_allocated(e->sp);
  return 0;
}

/* Extent files are named relative to the descriptor: no absolute path, no
 * ".." component (with either kind of slash). */
static bool name_stays_in_dir(const char *file)
{
  const char *p = file;

  if (file[0] == '/' || file[0] == '\\')
    return false;
  while (*p) {
    size_t n = strcspn(p, "/\\");
    if (n == 2 && p[0] == '.' && p[1] == '.')
      return false;
    p += n;
    if (*p)
      p++;
  }
  return true;
}

static int open_extent(struct vmdk_disk *v, const struct vmdk_desc_extent *de,
                       const struct disk_open_opts *opts)
{
  const char *name = v->c.disk.name;
  struct vext *e = &v->ext[v->n_ext];
  int r;

  switch (de->type) {
  case VMDK_EXT_VMFSSPARSE:
    return error_set(ENOTSUP,
                     "%s: line %u: VMFSSPARSE (ESX COWD) extents are "
                     "snapshot deltas and are not supported",
                     name, de->line);
  case VMDK_EXT_SESPARSE:
    return error_set(ENOTSUP,
                     "%s: line %u: SESPARSE extents (seSparse snapshot "
                     "deltas) are not supported",
                     name, de->line);
  case VMDK_EXT_VMFSRDM:
  case VMDK_EXT_VMFSRAW:
    return error_set(ENOTSUP,
                     "%s: line %u: %s extents (raw device mappings) are not "
                     "supported: copy the device itself",
                     name, de->line, vmdk_extent_type_name(de->type));
  default:
    break;
  }
  if (de->access == VMDK_NOACCESS)
    return error_set(ENOTSUP, "%s: line %u: a NOACCESS extent cannot be read",
                     name, de->line);
  e->start = v->c.disk.size;
  e->length = de->sectors * VMDK_SECTOR;
  if (de->type == VMDK_EXT_ZERO) {
    e->kind = VEXT_ZERO;
    v->n_ext++;
    return 0;
  }
  if (!name_stays_in_dir(de->file))
    return error_set(EINVAL,
                     "%s: line %u: extent file name \"%.200s\" leaves the "
                     "descriptor's directory; hoist only opens extents next "
                     "to it",
                     name, de->line, de->file);
  if (!opts || !opts->open_sibling)
    return error_set(ENOTSUP,
                     "%s: cannot open extent file \"%.200s\" from here", name,
                     de->file);
  r = opts->open_sibling(opts->opaque, de->file, &e->bs);
  if (r < 0) {
    error_prefix("%s: extent file \"%.200s\"", name, de->file);
    return r;
  }
  e->owns_bs = true;
  v->n_ext++; /* closed with the disk from now on */
  if (de->type == VMDK_EXT_SPARSE)
    r = open_sparse_extent(v, e, de);
  else
    r = open_flat_extent(v, e, de);
  if (r == 0 && !e->bs->thread_safe)
    v->c.disk.thread_safe = false;
  return r;
}

int vmdk_open_descriptor(struct bytesource *bs,
                         const struct disk_open_opts *opts, struct disk **ret)
{
  _cleanup_free_ char *text = NULL;
  struct vmdk_descriptor desc;
  struct vmdk_disk *v;
  size_t len = 0, i;
  int r;

  r = read_descriptor_text(bs, &text, &len);
  if (r == 0)
    r = vmdk_descriptor_parse(text, len, bs->name, false, &desc);
  if (r < 0) {
    bytesource_close(bs);
    return r;
  }
  v = new_extents_disk(bs, desc.n_extents);
  if (!v) {
    vmdk_descriptor_free(&desc);
    bytesource_close(bs);
    return error_set(ENOMEM, "out of memory");
  }
  v->c.desc = desc;
  if (!desc.create_type)
    r = error_set(EINVAL, "%s: the VMDK descriptor has no createType",
                  bs->name);
  else if (!create_type_supported(desc.create_type))
    r = refuse_create_type(bs->name, desc.create_type);
  if (r == 0)
    r = vmdk_descriptor_check_parent(&desc, bs->name);
  if (r == 0 && desc.n_extents == 0)
    r = error_set(EINVAL, "%s: the VMDK descriptor names no extents", bs->name);
  for (i = 0; r == 0 && i < desc.n_extents; i++) {
    r = open_extent(v, &desc.extents[i], opts);
    if (r == 0 && (v->c.disk.size += v->ext[i].length) > VMDK_MAX_CAPACITY)
      r = error_set(EFBIG,
                    "%s: the extents add up to more than the %llu TiB "
                    "hoist accepts",
                    bs->name, (unsigned long long)(VMDK_MAX_CAPACITY >> 40));
  }
  if (r == 0)
    r = vmdk_common_init(&v->c, desc.create_type);
  if (r < 0) {
    disk_close(&v->c.disk);
    return r;
  }
  *ret = &v->c.disk;
  return 0;
}
