/* Hosted sparse extents ("KDMV"): the header, and random access through
 * the grain directory (GD) and grain tables (GT).
 *
 * The GD is read at open (at most VMDK_MAX_GD_ENTRIES entries) and every
 * grain table it names is checked to lie inside the file, clear of the
 * header, the descriptor, the directories and the other tables. Grain
 * tables are read on demand into a small LRU cache; each is checked as it
 * is loaded: a grain must lie after the metadata area and inside the file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "disk/vmdk/internal.h"
#include "util/checked.h"
#include "util/cleanup.h"
#include "util/endian.h"
#include "util/error.h"

#define GT_CACHE_SIZE 16

struct gt_slot {
  uint64_t gd_index;
  uint64_t stamp; /* 0: empty */
  uint32_t *entries;
};

struct vmdk_sparse {
  struct bytesource *bs;
  uint64_t file_size;
  uint64_t size;  /* virtual bytes */
  uint32_t grain; /* bytes */
  unsigned grain_shift;
  uint32_t gtes;    /* entries per grain table */
  uint64_t gt_span; /* virtual bytes one grain table covers */
  uint64_t gd_size;
  uint32_t *gd;        /* sector of each grain table, 0: none */
  uint64_t data_start; /* bytes: grains lie at or after this */
  bool zero_grain;
  uint64_t allocated;
  pthread_mutex_t lock;
  uint64_t clock;
  struct gt_slot cache[GT_CACHE_SIZE];
};

int vmdk_header_parse(const unsigned char *b, const char *name,
                      struct vmdk_header *h)
{
  uint64_t span;

  memset(h, 0, sizeof *h);
  if (memcmp(b, VMDK_MAGIC, 4) != 0)
    return error_set(EINVAL, "%s: not a VMDK sparse extent (no KDMV magic)",
                     name);
  h->version = load_le32(b + 4);
  h->flags = load_le32(b + 8);
  h->capacity = load_le64(b + 12);
  h->grain_sectors = load_le64(b + 20);
  h->desc_offset = load_le64(b + 28);
  h->desc_size = load_le64(b + 36);
  h->gtes_per_gt = load_le32(b + 44);
  h->rgd_offset = load_le64(b + 48);
  h->gd_offset = load_le64(b + 56);
  h->overhead = load_le64(b + 64);
  h->compress_algorithm = load_le16(b + 77);

  if (h->version < 1 || h->version > 3)
    return error_set(ENOTSUP,
                     "%s: VMDK sparse extent version %u is not supported "
                     "(1 to 3 are)",
                     name, h->version);
  if ((h->flags & VMDK_FLAG_NL_DETECT) && memcmp(b + 73, "\n \r\n", 4) != 0)
    return error_set(EINVAL,
                     "%s: the header's line-ending check bytes are damaged: "
                     "the file was probably copied in text mode (FTP ASCII); "
                     "copy it again in binary mode",
                     name);
  if (h->capacity == 0)
    return error_set(ENOTSUP,
                     "%s: the sparse header has a capacity of 0 sectors "
                     "(a descriptor-only header); this layout is not "
                     "supported",
                     name);
  if (h->capacity > VMDK_MAX_CAPACITY / VMDK_SECTOR)
    return error_set(EFBIG,
                     "%s: capacity of %llu sectors is larger than the %llu "
                     "TiB hoist accepts",
                     name, (unsigned long long)h->capacity,
                     (unsigned long long)(VMDK_MAX_CAPACITY >> 40));
  if (h->grain_sectors < VMDK_MIN_GRAIN || h->grain_sectors > VMDK_MAX_GRAIN ||
      (h->grain_sectors & (h->grain_sectors - 1)) != 0)
    return error_set(EINVAL,
                     "%s: grain size of %llu sectors is invalid (a power of "
                     "two from %u to %u)",
                     name, (unsigned long long)h->grain_sectors, VMDK_MIN_GRAIN,
                     VMDK_MAX_GRAIN);
  if (h->gtes_per_gt == 0 || h->gtes_per_gt > VMDK_MAX_GTES)
    return error_set(EINVAL,
                     "%s: %u entries per grain table is invalid (1 to %u)",
                     name, h->gtes_per_gt, VMDK_MAX_GTES);
  h->compressed = (h->flags & VMDK_FLAG_COMPRESSED) ||
                  h->compress_algorithm == VMDK_COMPRESS_DEFLATE;
  if (h->compressed && h->compress_algorithm != VMDK_COMPRESS_DEFLATE)
    return error_set(ENOTSUP,
                     "%s: grains are compressed with unknown algorithm %u",
                     name, h->compress_algorithm);
  h->zero_grain = h->flags & VMDK_FLAG_ZERO_GRAIN;
  if (h->desc_size > VMDK_MAX_EMBEDDED_DESC / VMDK_SECTOR)
    return error_set(EINVAL,
                     "%s: embedded descriptor of %llu sectors is too large",
                     name, (unsigned long long)h->desc_size);
  if (h->desc_size &&
      (h->desc_offset == 0 || h->desc_offset > UINT64_MAX / VMDK_SECTOR - 4096))
    return error_set(EINVAL, "%s: invalid embedded descriptor offset %llu",
                     name, (unsigned long long)h->desc_offset);
  span = h->grain_sectors * h->gtes_per_gt;
  h->gd_size = DIV_ROUND_UP(h->capacity, span);
  if (h->gd_size > VMDK_MAX_GD_ENTRIES)
    return error_set(EFBIG,
                     "%s: needs a grain directory of %llu entries, more "
                     "than the %u hoist holds",
                     name, (unsigned long long)h->gd_size, VMDK_MAX_GD_ENTRIES);
  return 0;
}

/* ---- opening ---- */

static int cmp_u32(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

  return x < y ? -1 : x > y;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
  return alen && blen && a < b + blen && b < a + alen;
}

/* Checks where the grain tables lie: in the file, clear of the header, the
 * descriptor, the directories, and each other. */
static int check_grain_tables(struct vmdk_sparse *sp,
                              const struct vmdk_header *h)
{
  const char *name = sp->bs->name;
  uint64_t gt_bytes = (uint64_t)sp->gtes * 4;
  uint64_t gd_off = h->gd_offset * VMDK_SECTOR, gd_len = sp->gd_size * 4;
  uint64_t desc_off = h->desc_offset * VMDK_SECTOR;
  uint64_t desc_len = h->desc_size * VMDK_SECTOR;
  uint64_t rgd_off = 0, rgd_len = 0;
  _cleanup_free_ uint32_t *sorted = NULL;
  uint64_t i, n = 0;

  if ((h->flags & VMDK_FLAG_RGD) && h->rgd_offset &&
      h->rgd_offset <= sp->file_size / VMDK_SECTOR) {
    rgd_off = h->rgd_offset * VMDK_SECTOR;
    rgd_len = gd_len;
  }
  sorted = malloc(sp->gd_size * sizeof *sorted + 1);
  if (!sorted)
    return error_set(ENOMEM, "out of memory");
  for (i = 0; i < sp->gd_size; i++) {
    uint64_t off = (uint64_t)sp->gd[i] * VMDK_SECTOR;
    const char *what = NULL;

    if (sp->gd[i] == 0)
      continue;
    if (off > sp->file_size || gt_bytes > sp->file_size - off)
      return error_set(EINVAL,
                       "%s: grain directory entry %llu points past the end "
                       "of the file (grain table at offset 0x%llx, file size "
                       "%llu)",
                       name, (unsigned long long)i, (unsigned long long)off,
                       (unsigned long long)sp->file_size);
    if (off < VMDK_SECTOR)
      what = "the header";
    else if (overlaps(off, gt_bytes, gd_off, gd_len))
      what = "the grain directory";
    else if (overlaps(off, gt_bytes, rgd_off, rgd_len))
      what = "the redundant grain directory";
    else if (overlaps(off, gt_bytes, desc_off, desc_len))
      what = "the descriptor";
    if (what)
      return error_set(EINVAL,
                       "%s: grain directory entry %llu points into %s "
                       "(grain table at offset 0x%llx)",
                       name, (unsigned long long)i, what,
                       (unsigned long long)off);
    sorted[n++] = sp->gd[i];
  }
  qsort(sorted, n, sizeof *sorted, cmp_u32);
  for (i = 1; i < n; i++)
    if ((uint64_t)(sorted[i] - sorted[i - 1]) * VMDK_SECTOR < gt_bytes)
      return error_set(EINVAL,
                       "%s: grain tables at offsets 0x%llx and 0x%llx "
                       "overlap (a loop in the grain directory)",
                       name, (unsigned long long)sorted[i - 1] * VMDK_SECTOR,
                       (unsigned long long)sorted[i] * VMDK_SECTOR);
  return 0;
}

int vmdk_sparse_open(struct bytesource *bs, const struct vmdk_header *h,
                     struct vmdk_sparse **ret)
{
  const char *name = bs->name;
  struct vmdk_sparse *sp;
  uint64_t gd_off, i;
  int r;

  if (!bytesource_can_pread(bs) || bs->size == BYTESOURCE_SIZE_UNKNOWN)
    return error_set(ENOTSUP,
                     "%s: a sparse VMDK must be read at random offsets, but "
                     "this %s source is a stream",
                     name, bs->ops->kind);
  if (h->compressed)
    return error_set(ENOTSUP,
                     "%s: a compressed sparse extent inside a multi-extent "
                     "disk is not supported",
                     name);
  if (h->gd_offset == VMDK_GD_AT_END)
    return error_set(ENOTSUP,
                     "%s: the grain directory is at the end of the file, "
                     "which only streamOptimized disks use",
                     name);
  if (h->overhead > bs->size / VMDK_SECTOR)
    return error_set(EIO,
                     "%s: truncated: grains start at offset %llu but the "
                     "file ends at %llu",
                     name, (unsigned long long)h->overhead * VMDK_SECTOR,
                     (unsigned long long)bs->size);
  if (h->gd_offset == 0 || h->gd_offset > bs->size / VMDK_SECTOR ||
      h->gd_size * 4 > bs->size - h->gd_offset * VMDK_SECTOR)
    return error_set(EINVAL,
                     "%s: the grain directory (sector %llu, %llu entries) "
                     "lies outside the file (size %llu)",
                     name, (unsigned long long)h->gd_offset,
                     (unsigned long long)h->gd_size,
                     (unsigned long long)bs->size);
  gd_off = h->gd_offset * VMDK_SECTOR;

  sp = calloc(1, sizeof *sp);
  if (!sp)
    return error_set(ENOMEM, "out of memory");
  sp->bs = bs;
  sp->file_size = bs->size;
  sp->size = h->capacity * VMDK_SECTOR;
  sp->grain = h->grain_sectors * VMDK_SECTOR;
  sp->grain_shift = __builtin_ctz(sp->grain);
  sp->gtes = h->gtes_per_gt;
  sp->gt_span = (uint64_t)sp->grain * sp->gtes;
  sp->gd_size = h->gd_size;
  sp->data_start = MAX(h->overhead, 1) * VMDK_SECTOR;
  sp->zero_grain = h->zero_grain;
  sp->allocated =
      MIN(sp->size, sp->file_size - MIN(sp->file_size, sp->data_start));
  pthread_mutex_init(&sp->lock, NULL);
  sp->gd = malloc(sp->gd_size * 4 + 1);
  if (!sp->gd) {
    vmdk_sparse_close(sp);
    return error_set(ENOMEM, "out of memory");
  }
  r = bytesource_pread(bs, sp->gd, sp->gd_size * 4, gd_off);
  for (i = 0; r == 0 && i < sp->gd_size; i++)
    sp->gd[i] = le32toh(sp->gd[i]);
  if (r == 0)
    r = check_grain_tables(sp, h);
  for (i = 0; r == 0 && i < GT_CACHE_SIZE; i++) {
    sp->cache[i].entries = malloc(sp->gtes * sizeof(uint32_t));
    if (!sp->cache[i].entries)
      r = error_set(ENOMEM, "out of memory");
  }
  if (r < 0) {
    vmdk_sparse_close(sp);
    return r;
  }
  *ret = sp;
  return 0;
}

void vmdk_sparse_close(struct vmdk_sparse *sp)
{
  size_t i;

  if (!sp)
    return;
  for (i = 0; i < GT_CACHE_SIZE; i++)
    free(sp->cache[i].entries);
  free(sp->gd);
  pthread_mutex_destroy(&sp->lock);
  free(sp);
}

uint64_t vmdk_sparse_allocated(const struct vmdk_sparse *sp)
{
  return sp->allocated;
}

/* ---- grain tables ---- */

/* Reads grain table gdi into slot s and checks its entries. Entries past
 * the end of the disk are never used; they are cleared. */
static int load_gt(struct vmdk_sparse *sp, uint64_t gdi, struct gt_slot *s)
{
  uint64_t gt_off = (uint64_t)sp->gd[gdi] * VMDK_SECTOR;
  uint32_t i;
  int r;

  r = bytesource_pread(sp->bs, s->entries, (size_t)sp->gtes * 4, gt_off);
  if (r < 0)
    return r;
  for (i = 0; i < sp->gtes; i++) {
    uint64_t vstart = gdi * sp->gt_span + (uint64_t)i * sp->grain;
    uint32_t e = le32toh(s->entries[i]);
    uint64_t off = (uint64_t)e * VMDK_SECTOR, need;

    s->entries[i] = e;
    if (vstart >= sp->size) {
      s->entries[i] = 0;
      continue;
    }
    if (e == 0 || (e == 1 && sp->zero_grain))
      continue;
    need = MIN(sp->grain, sp->size - vstart);
    if (off < sp->data_start)
      return error_set(EINVAL,
                       "%s: grain table at offset 0x%llx: entry %u (disk "
                       "offset %llu) points into the metadata area (offset "
                       "0x%llx, grains start at 0x%llx)",
                       sp->bs->name, (unsigned long long)gt_off, i,
                       (unsigned long long)vstart, (unsigned long long)off,
                       (unsigned long long)sp->data_start);
    if (off > sp->file_size || need > sp->file_size - off)
      return error_set(EINVAL,
                       "%s: grain table at offset 0x%llx: entry %u (disk "
                       "offset %llu) points past the end of the file "
                       "(offset 0x%llx, file size %llu)",
                       sp->bs->name, (unsigned long long)gt_off, i,
                       (unsigned long long)vstart, (unsigned long long)off,
                       (unsigned long long)sp->file_size);
  }
  return 0;
}

/* Copies grain table gdi (which exists) into out. */
static int get_gt(struct vmdk_sparse *sp, uint64_t gdi, uint32_t *out)
{
  struct gt_slot *victim = NULL;
  size_t i;
  int r = 0;

  pthread_mutex_lock(&sp->lock);
  for (i = 0; i < GT_CACHE_SIZE; i++) {
    struct gt_slot *s = &sp->cache[i];
    if (s->stamp && s->gd_index == gdi) {
      victim = s;
      goto found;
    }
    if (!victim || s->stamp < victim->stamp)
      victim = s;
  }
  victim->stamp = 0;
  r = load_gt(sp, gdi, victim);
  if (r < 0)
    goto out;
  victim->gd_index = gdi;
found:
  victim->stamp = ++sp->clock;
  memcpy(out, victim->entries, (size_t)sp->gtes * 4);
out:
  pthread_mutex_unlock(&sp->lock);
  return r;
}

static bool gte_is_zero(const struct vmdk_sparse *sp, uint32_t e)
{
  return e == 0 || (e == 1 && sp->zero_grain);
}

int vmdk_sparse_extents(struct vmdk_sparse *sp, uint64_t offset,
                        uint64_t length, uint64_t base, struct extent_list *out)
{
  uint32_t gt[VMDK_MAX_GTES];
  uint64_t end = offset + length;
  int r;

  while (offset < end) {
    uint64_t gdi = offset / sp->gt_span;
    uint64_t gt_end = MIN((gdi + 1) * sp->gt_span, end);

    if (sp->gd[gdi] == 0) {
      r = extent_list_add(out, base + offset, gt_end - offset, true);
      if (r < 0)
        return r;
      offset = gt_end;
      continue;
    }
    r = get_gt(sp, gdi, gt);
    if (r < 0)
      return r;
    while (offset < gt_end) {
      uint64_t gi = offset >> sp->grain_shift;
      uint64_t gend = MIN((gi + 1) << sp->grain_shift, gt_end);
      uint32_t e = gt[gi % sp->gtes];

      r = extent_list_add(out, base + offset, gend - offset,
                          gte_is_zero(sp, e));
      if (r < 0)
        return r;
      offset = gend;
    }
  }
  return 0;
}

int vmdk_sparse_pread(struct vmdk_sparse *sp, void *buf, size_t len,
                      uint64_t offset)
{
  uint32_t gt[VMDK_MAX_GTES];
  char *p = buf, *run_buf = NULL;
  uint64_t end = offset + len, run_off = 0;
  size_t run_len = 0;
  int r;

  while (offset < end) {
    uint64_t gdi = offset / sp->gt_span;
    uint64_t gt_end = MIN((gdi + 1) * sp->gt_span, end);
    bool have_gt = sp->gd[gdi] != 0;

    if (have_gt && (r = get_gt(sp, gdi, gt)) < 0)
      return r;
    while (offset < gt_end) {
      uint64_t gi = offset >> sp->grain_shift;
      uint64_t gend =
          have_gt ? MIN((gi + 1) << sp->grain_shift, gt_end) : gt_end;
      size_t n = gend - offset;
      uint32_t e = have_gt ? gt[gi % sp->gtes] : 0;

      if (gte_is_zero(sp, e)) {
        memset(p, 0, n);
      } else {
        uint64_t foff =
            (uint64_t)e * VMDK_SECTOR + (offset - (gi << sp->grain_shift));
        if (run_len && run_off + run_len == foff && run_buf + run_len == p) {
          run_len += n;
        } else {
          if (run_len &&
              (r = bytesource_pread(sp->bs, run_buf, run_len, run_off)) < 0)
            return r;
          run_buf = p;
          run_off = foff;
          run_len = n;
        }
      }
      p += n;
      offset = gend;
    }
  }
  if (run_len)
    return bytesource_pread(sp->bs, run_buf, run_len, run_off);
  return 0;
}
