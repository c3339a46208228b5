/* streamOptimized VMDK, read forward as a stream.
 *
 * After the header and the metadata area (descriptor, and in files that
 * qemu writes, the grain directory and tables), the file is a sequence of
 * sector-aligned blocks, each starting with a marker:
 *
 *   grain:     {uint64 lba, uint32 size > 0, size bytes of zlib data}
 *   metadata:  {uint64 sectors, uint32 0, uint32 type} in a whole sector,
 *              then `sectors` sectors (0 end of stream, 1 grain table,
 *              2 grain directory, 3 footer)
 *
 * One reader (next_chunk) walks the blocks with bytesource_read_full and
 * bytesource_skip only, so the source may be a pure stream, and packs the
 * compressed grains of consecutive disk ranges into one chunk; the workers
 * inflate chunks in parallel (decode_chunk). Grains must come in increasing
 * LBA order.
 *
 * Truncation: VMware writes an end-of-stream marker, which is required
 * when the grain directory is at the end. qemu writes no marker but puts
 * the grain directory and tables in the metadata area; then the grains
 * they list are counted on the way, and the stream must hold exactly
 * those.
 */
#include <errno.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "disk/vmdk/internal.h"
#include "util/checked.h"
#include "util/cleanup.h"
#include "util/endian.h"
#include "util/error.h"
#include "util/iszero.h"

/* Decoded bytes per chunk (several grains when they are small). */
#define CHUNK_TARGET (1024u * 1024)
/* A compressed grain may exceed the grain by this much (incompressible
 * data grows a little). */
#define COMPRESSED_SLACK (64u * 1024)
/* Metadata blocks (grain tables, directory, footer) at most this large. */
#define MAX_META_SECTORS (64u * 1024 * 1024 / VMDK_SECTOR)

enum marker_type {
  MARKER_EOS = 0,
  MARKER_GT = 1,
  MARKER_GD = 2,
  MARKER_FOOTER = 3,
};

/* How one grain is kept in a chunk's payload: this header, then the
 * compressed bytes (and the sector padding that followed them), then
 * padding to 8 bytes. */
struct grain_entry {
  uint64_t file_offset; /* of the marker, for messages */
  uint32_t out_offset;  /* in the chunk */
  uint32_t out_len;
  uint32_t comp_len;
  uint32_t stored_len;
};

#define MARKER_HEAD 12 /* lba + size */

struct vmdk_stream {
  struct vmdk_common c;
  uint64_t grain_sectors;
  uint32_t grain; /* bytes */
  uint32_t comp_max;
  bool zero_grain;

  /* The reader's state. */
  unsigned char marker[VMDK_SECTOR];
  uint64_t marker_off;
  bool have_marker;  /* marker holds a grain marker not yet consumed */
  uint64_t next_min; /* the next grain starts at or after this */
  bool done;
  /* Grains the front grain tables list, when they are known. */
  bool expect_known;
  uint64_t expected, seen;
};

static size_t entry_bytes(uint32_t stored_len)
{
  return ROUND_UP(sizeof(struct grain_entry) + (size_t)stored_len, 8);
}

/* ---- opening: the metadata area ---- */

static int skip_to(struct bytesource *bs, uint64_t target)
{
  if (target < bs->stream_pos)
    return error_set(EINVAL, "%s: internal error: stream position", bs->name);
  return bytesource_skip(bs, target - bs->stream_pos);
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

  return x < y ? -1 : x > y;
}

/* Reads the grain directory and the grain tables of the metadata area, in
 * file order, counting the grains they list. Leaves expect_known unset
 * when the layout does not allow it (tables before the directory, or
 * outside the metadata area). */
static int count_front_grains(struct vmdk_stream *s, struct bytesource *bs,
                              const struct vmdk_header *h, uint64_t meta_end)
{
  uint64_t gd_off = h->gd_offset * VMDK_SECTOR;
  uint64_t gt_bytes = (uint64_t)h->gtes_per_gt * 4;
  uint64_t span = s->grain_sectors * h->gtes_per_gt;
  _cleanup_free_ uint32_t *gd = NULL;
  _cleanup_free_ uint64_t *order = NULL;
  uint32_t gt[VMDK_MAX_GTES];
  uint64_t i, n = 0, expected = 0;
  int r;

  if (h->gd_offset == VMDK_GD_AT_END || h->gd_offset == 0 ||
      gd_off < bs->stream_pos || gd_off > meta_end ||
      h->gd_size * 4 > meta_end - gd_off)
    return 0;
  gd = malloc(h->gd_size * 4 + 1);
  order = malloc(h->gd_size * 8 + 1);
  if (!gd || !order)
    return error_set(ENOMEM, "out of memory");
  if ((r = skip_to(bs, gd_off)) < 0 ||
      (r = bytesource_read_full(bs, gd, h->gd_size * 4, false)) < 0)
    return r;
  /* (table sector << 32 | directory index), in file order. */
  for (i = 0; i < h->gd_size; i++) {
    uint32_t sector = le32toh(gd[i]);
    if (sector)
      order[n++] = (uint64_t)sector << 32 | i;
  }
  qsort(order, n, sizeof *order, cmp_u64);
  for (i = 0; i < n; i++) {
    uint64_t gt_off = (order[i] >> 32) * VMDK_SECTOR;
    uint64_t gdi = order[i] & UINT32_MAX, j;

    if (gt_off < bs->stream_pos || gt_off > meta_end ||
        gt_bytes > meta_end - gt_off)
      return 0; /* cannot be read in order: do without */
    if ((r = skip_to(bs, gt_off)) < 0 ||
        (r = bytesource_read_full(bs, gt, gt_bytes, false)) < 0)
      return r;
    for (j = 0; j < h->gtes_per_gt; j++) {
      uint32_t e = le32toh(gt[j]);
      if (gdi * span + j * s->grain_sectors >= h->capacity)
        break;
      if (e != 0 && !(e == 1 && s->zero_grain))
        expected++;
    }
  }
  s->expect_known = true;
  s->expected = expected;
  return 0;
}

static void stream_close(struct disk *d)
{
  vmdk_common_free((struct vmdk_common *)d);
}

int vmdk_stream_open(struct bytesource *bs, const struct vmdk_header *h,
                     struct disk **ret)
{
  const char *name = bs->name;
  struct vmdk_stream *s;
  uint64_t meta_end, max_entry;
  int r;

  if (!(h->flags & VMDK_FLAG_MARKERS)) {
    r = error_set(ENOTSUP,
                  "%s: compressed grains without grain markers are not "
                  "supported",
                  name);
    bytesource_close(bs);
    return r;
  }
  s = (struct vmdk_stream *)disk_new(&vmdk_stream_ops, sizeof *s, bs, "vmdk");
  if (!s) {
    bytesource_close(bs);
    return error_set(ENOMEM, "out of memory");
  }
  s->grain_sectors = h->grain_sectors;
  s->grain = h->grain_sectors * VMDK_SECTOR;
  s->comp_max = s->grain + COMPRESSED_SLACK;
  s->zero_grain = h->zero_grain;
  s->c.disk.size = h->capacity * VMDK_SECTOR;
  s->c.disk.stream = true;
  s->c.disk.thread_safe = true;
  s->c.disk.chunk_size = MAX(s->grain, CHUNK_TARGET / s->grain * s->grain);
  max_entry = entry_bytes(ROUND_UP(MARKER_HEAD + s->comp_max, VMDK_SECTOR) -
                          MARKER_HEAD);
  s->c.disk.chunk_payload_max =
      s->c.disk.chunk_size + s->c.disk.chunk_size / 8 + max_entry;

  /* The metadata area: header, descriptor, maybe directory and tables. */
  r = 0;
  if (h->overhead > VMDK_MAX_CAPACITY / VMDK_SECTOR || h->overhead < 1)
    r = error_set(EINVAL, "%s: invalid start of grains (sector %llu)", name,
                  (unsigned long long)h->overhead);
  meta_end = h->overhead * VMDK_SECTOR;
  if (r == 0 && h->desc_size) {
    uint64_t doff = h->desc_offset * VMDK_SECTOR;
    uint64_t dlen = h->desc_size * VMDK_SECTOR;
    _cleanup_free_ char *text = NULL;

    if (doff < VMDK_SECTOR || doff > meta_end || dlen > meta_end - doff)
      r = error_set(EINVAL,
                    "%s: the embedded descriptor (sector %llu) lies "
                    "outside the metadata area",
                    name, (unsigned long long)h->desc_offset);
    else if (!(text = malloc(dlen)))
      r = error_set(ENOMEM, "out of memory");
    else if ((r = skip_to(bs, doff)) == 0 &&
             (r = bytesource_read_full(bs, text, dlen, false)) > 0)
      r = vmdk_read_embedded_descriptor(bs, text, dlen, &s->c.desc);
  }
  if (r >= 0)
    r = count_front_grains(s, bs, h, meta_end);
  if (r >= 0)
    r = skip_to(bs, meta_end);
  if (r >= 0)
    r = vmdk_common_init(&s->c, "streamOptimized");
  if (r < 0) {
    disk_close(&s->c.disk);
    return r;
  }
  if (s->expect_known)
    s->c.disk.allocated = MIN(s->c.disk.size, s->expected * s->grain);
  *ret = &s->c.disk;
  return 0;
}

/* ---- the reader ---- */

static int finish(struct vmdk_stream *s, bool eos)
{
  struct bytesource *bs = s->c.disk.bs;

  s->done = true;
  if (s->expect_known && s->seen < s->expected)
    return error_set(EIO,
                     "%s: truncated: the stream ends at byte %llu after %llu "
                     "of the %llu grains its grain tables list",
                     bs->name, (unsigned long long)bs->stream_pos,
                     (unsigned long long)s->seen,
                     (unsigned long long)s->expected);
  if (s->expect_known && s->seen > s->expected)
    return error_set(
        EINVAL, "%s: holds %llu grains but its grain tables list %llu",
        bs->name, (unsigned long long)s->seen, (unsigned long long)s->expected);
  if (!eos && !s->expect_known)
    return error_set(EIO,
                     "%s: truncated: the stream ends at byte %llu without "
                     "an end-of-stream marker",
                     bs->name, (unsigned long long)bs->stream_pos);
  return 0;
}

static int metadata(struct vmdk_stream *s, const unsigned char *m, uint64_t off)
{
  struct bytesource *bs = s->c.disk.bs;
  uint64_t sectors = load_le64(m);
  uint32_t type = load_le32(m + 12);
  unsigned char footer[VMDK_SECTOR];
  int r;

  if (type == MARKER_EOS) {
    /* qemu leaves zero sectors where a grain could go: skip them while
     * the grain tables say more grains follow. */
    if (s->expect_known && s->seen < s->expected && is_zero(m, VMDK_SECTOR))
      return 0;
    return finish(s, true);
  }
  if (type != MARKER_GT && type != MARKER_GD && type != MARKER_FOOTER)
    return error_set(EINVAL, "%s: unknown marker type %u at offset 0x%llx",
                     bs->name, type, (unsigned long long)off);
  if (sectors > MAX_META_SECTORS)
    return error_set(EINVAL,
                     "%s: the metadata marker at offset 0x%llx announces "
                     "%llu sectors, more than any VMDK table needs",
                     bs->name, (unsigned long long)off,
                     (unsigned long long)sectors);
  if (type == MARKER_FOOTER && sectors >= 1) {
    r = bytesource_read_full(bs, footer, sizeof footer, false);
    if (r < 0)
      return r;
    if (memcmp(footer, VMDK_MAGIC, 4) != 0)
      return error_set(EINVAL,
                       "%s: the footer at offset 0x%llx is not a VMDK "
                       "header",
                       bs->name, (unsigned long long)off + VMDK_SECTOR);
    sectors--;
  }
  return bytesource_skip(bs, sectors * VMDK_SECTOR);
}

static int stream_next_chunk(struct disk *d, struct disk_chunk *chunk,
                             void *payload)
{
  struct vmdk_stream *s = (struct vmdk_stream *)d;
  struct bytesource *bs = d->bs;
  unsigned char *pl = payload;
  uint64_t cstart = 0, cend = 0;
  size_t used = 0, count = 0;
  int r;

  while (!s->done) {
    struct grain_entry e;
    uint64_t lba, voff;
    uint32_t size;
    size_t need;

    if (!s->have_marker) {
      s->marker_off = bs->stream_pos;
      r = bytesource_read_full(bs, s->marker, VMDK_SECTOR, true);
      if (r < 0)
        return r;
      if (r == 0) {
        if ((r = finish(s, false)) < 0)
          return r;
        break;
      }
    }
    s->have_marker = false;
    lba = load_le64(s->marker);
    size = load_le32(s->marker + 8);
    if (size == 0) {
      if ((r = metadata(s, s->marker, s->marker_off)) < 0)
        return r;
      continue;
    }
    if (size > s->comp_max)
      return error_set(EINVAL,
                       "%s: the grain at offset 0x%llx claims %u compressed "
                       "bytes, more than a grain of %u bytes can take",
                       d->name, (unsigned long long)s->marker_off, size,
                       s->grain);
    if (lba >= d->size / VMDK_SECTOR)
      return error_set(EINVAL,
                       "%s: the grain at offset 0x%llx is at sector %llu, "
                       "beyond the end of the disk (%llu sectors)",
                       d->name, (unsigned long long)s->marker_off,
                       (unsigned long long)lba,
                       (unsigned long long)(d->size / VMDK_SECTOR));
    if (lba % s->grain_sectors)
      return error_set(EINVAL,
                       "%s: the grain at offset 0x%llx starts at sector "
                       "%llu, not on a grain boundary",
                       d->name, (unsigned long long)s->marker_off,
                       (unsigned long long)lba);
    voff = lba * VMDK_SECTOR;
    if (voff < s->next_min)
      return error_set(EINVAL,
                       "%s: the grain at offset 0x%llx (sector %llu) is out "
                       "of order: grains must come in increasing order",
                       d->name, (unsigned long long)s->marker_off,
                       (unsigned long long)lba);
    e.file_offset = s->marker_off;
    e.out_len = MIN(s->grain, d->size - voff);
    e.comp_len = size;
    e.stored_len = ROUND_UP(MARKER_HEAD + size, VMDK_SECTOR) - MARKER_HEAD;
    need = entry_bytes(e.stored_len);
    if (count && (voff + e.out_len - cstart > d->chunk_size ||
                  used + need > d->chunk_payload_max)) {
      s->have_marker = true; /* the next chunk starts with it */
      break;
    }
    if (!count)
      cstart = voff;
    e.out_offset = voff - cstart;
    memcpy(pl + used, &e, sizeof e);
    memcpy(pl + used + sizeof e, s->marker + MARKER_HEAD,
           VMDK_SECTOR - MARKER_HEAD);
    if (e.stored_len > VMDK_SECTOR - MARKER_HEAD) {
      r = bytesource_read_full(
          bs, pl + used + sizeof e + VMDK_SECTOR - MARKER_HEAD,
          e.stored_len - (VMDK_SECTOR - MARKER_HEAD), false);
      if (r < 0)
        return r;
    }
    used += need;
    count++;
    cend = voff + e.out_len;
    s->next_min = voff + s->grain;
    s->seen++;
  }
  if (!count)
    return 0;
  chunk->offset = cstart;
  chunk->length = cend - cstart;
  chunk->payload = payload;
  chunk->payload_len = used;
  return 1;
}

/* ---- the workers ---- */

static int inflate_grain(struct vmdk_stream *s,
                         struct libdeflate_decompressor *dc,
                         const struct grain_entry *e, const void *in, char *out)
{
  enum libdeflate_result res;
  size_t actual = 0;

  res =
      libdeflate_zlib_decompress(dc, in, e->comp_len, out, e->out_len, &actual);
  if (res == LIBDEFLATE_INSUFFICIENT_SPACE && e->out_len < s->grain) {
    /* The last grain, clipped at the capacity, may hold a whole grain. */
    _cleanup_free_ char *tmp = malloc(s->grain);
    if (!tmp)
      return error_set(ENOMEM, "out of memory");
    res =
        libdeflate_zlib_decompress(dc, in, e->comp_len, tmp, s->grain, &actual);
    if (res == LIBDEFLATE_SUCCESS)
      memcpy(out, tmp, MIN(actual, e->out_len));
  }
  if (res == LIBDEFLATE_INSUFFICIENT_SPACE)
    return error_set(EINVAL,
                     "%s: the grain at offset 0x%llx inflates to more than "
                     "a grain (%u bytes)",
                     s->c.disk.name, (unsigned long long)e->file_offset,
                     s->grain);
  if (res != LIBDEFLATE_SUCCESS)
    return error_set(EINVAL,
                     "%s: the compressed grain at offset 0x%llx is corrupt "
                     "(bad zlib data)",
                     s->c.disk.name, (unsigned long long)e->file_offset);
  if (actual < e->out_len)
    return error_set(EINVAL,
                     "%s: the grain at offset 0x%llx inflates to %zu bytes "
                     "instead of %u",
                     s->c.disk.name, (unsigned long long)e->file_offset, actual,
                     e->out_len);
  return 0;
}

static int stream_decode_chunk(struct disk *d, const struct disk_chunk *chunk,
                               void *out)
{
  struct vmdk_stream *s = (struct vmdk_stream *)d;
  const unsigned char *pl = chunk->payload;
  struct libdeflate_decompressor *dc;
  size_t pos = 0;
  uint32_t filled = 0;
  int r = 0;

  dc = libdeflate_alloc_decompressor();
  if (!dc)
    return error_set(ENOMEM, "out of memory");
  while (r == 0 && pos < chunk->payload_len) {
    struct grain_entry e;

    memcpy(&e, pl + pos, sizeof e);
    memset((char *)out + filled, 0, e.out_offset - filled);
    r = inflate_grain(s, dc, &e, pl + pos + sizeof e,
                      (char *)out + e.out_offset);
    filled = e.out_offset + e.out_len;
    pos += entry_bytes(e.stored_len);
  }
  libdeflate_free_decompressor(dc);
  if (r == 0 && filled < chunk->length)
    memset((char *)out + filled, 0, chunk->length - filled);
  return r;
}

const struct disk_ops vmdk_stream_ops = {
    .next_chunk = stream_next_chunk,
    .decode_chunk = stream_decode_chunk,
    .close = stream_close,
};
