/* qcow2: opening an image (header checks, refusals, the L1 table) and
 * closing it. What is supported and refused is listed in qcow2.h; the
 * layout and the other files in qcow2_impl.h. The dirty bit concerns
 * refcounts only, which reading never uses, so it is no reason to refuse.
 */
#include "disk/qcow2/qcow2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk/qcow2/qcow2_impl.h"
#include "util/checked.h"
#include "util/cleanup.h"
#include "util/endian.h"
#include "util/error.h"

/* The header fields hoist reads end with compression_type at byte 104. */
#define HEADER_V2_SIZE 72
#define HEADER_V3_SIZE 104
#define HEADER_READ 112

#define INCOMPAT_DIRTY (1ull << 0)
#define INCOMPAT_CORRUPT (1ull << 1)
#define INCOMPAT_DATA_FILE (1ull << 2)
#define INCOMPAT_COMPRESSION (1ull << 3)
#define INCOMPAT_EXTL2 (1ull << 4)
#define INCOMPAT_KNOWN 0x1full

/* QEMU's limit on the refcount table (QCOW_MAX_REFTABLE_SIZE). */
#define MAX_REFTABLE_BYTES (8u << 20)
/* The exact count of allocated bytes reads every L2 table; done at open
 * only while they add up to no more than this. */
#define SCAN_L2_BYTES (4u << 20)

struct header {
  uint32_t version;
  uint64_t backing_offset;
  uint32_t backing_size;
  uint32_t cluster_bits;
  uint64_t size;
  uint32_t crypt_method;
  uint32_t l1_size;
  uint64_t l1_offset;
  uint64_t reftable_offset;
  uint32_t reftable_clusters;
  uint64_t incompat;
  uint32_t header_length;
  uint8_t compression_type;
};

static int refuse(const struct qcow2 *q, int errnum, const char *what)
{
  return error_set(errnum, "%s: %s", q->d.name, what);
}

static int read_header(struct qcow2 *q, struct header *h)
{
  uint8_t b[HEADER_READ] = {0};
  size_t n = MIN(q->file_size, sizeof b);
  int r;

  if (q->file_size < HEADER_V2_SIZE)
    return refuse(q, EIO, "truncated: too short for a qcow2 header");
  r = bytesource_pread(q->d.bs, b, n, 0);
  if (r < 0)
    return r;
  h->version = load_be32(b + 4);
  h->backing_offset = load_be64(b + 8);
  h->backing_size = load_be32(b + 16);
  h->cluster_bits = load_be32(b + 20);
  h->size = load_be64(b + 24);
  h->crypt_method = load_be32(b + 32);
  h->l1_size = load_be32(b + 36);
  h->l1_offset = load_be64(b + 40);
  h->reftable_offset = load_be64(b + 48);
  h->reftable_clusters = load_be32(b + 56);
  if (h->version != 2 && h->version != 3)
    return error_set(ENOTSUP,
                     "%s: qcow2 version %u is not supported (only "
                     "versions 2 and 3 are)",
                     q->d.name, h->version);
  if (h->version == 2)
    return 0;
  if (q->file_size < HEADER_V3_SIZE)
    return refuse(q, EIO, "truncated: too short for a qcow2 v3 header");
  h->incompat = load_be64(b + 72);
  h->header_length = load_be32(b + 100);
  if (h->header_length < HEADER_V3_SIZE)
    return error_set(EIO,
                     "%s: corrupt qcow2 image: header length %u is "
                     "below the 104 bytes of a v3 header",
                     q->d.name, h->header_length);
  if (h->header_length > HEADER_V3_SIZE && n > HEADER_V3_SIZE)
    h->compression_type = b[104];
  return 0;
}

/* The backing file's name, made printable, for the refusal message. */
static void backing_name(struct qcow2 *q, const struct header *h, char *out,
                         size_t size)
{
  size_t n = MIN(h->backing_size, size - 1), i;

  out[0] = 0;
  if (h->backing_offset >= q->file_size || n > q->file_size - h->backing_offset)
    return;
  if (bytesource_pread(q->d.bs, out, n, h->backing_offset) < 0) {
    error_clear(); /* only decoration for the message that follows */
    out[0] = 0;
    return;
  }
  out[n] = 0;
  for (i = 0; i < n; i++)
    if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
      out[i] = '?';
}

/* The features hoist does not decode. */
static int check_features(struct qcow2 *q, const struct header *h)
{
  uint64_t unknown = h->incompat & ~INCOMPAT_KNOWN;

  if (h->backing_offset) {
    char name[256];
    backing_name(q, h, name, sizeof name);
    return error_set(ENOTSUP,
                     "%s: the qcow2 image has a backing file%s%s%s; "
                     "hoist copies standalone images only (merge "
                     "it with qemu-img convert first)",
                     q->d.name, name[0] ? " (\"" : "", name,
                     name[0] ? "\")" : "");
  }
  if (h->crypt_method)
    return error_set(ENOTSUP,
                     "%s: the qcow2 image is encrypted (%s); hoist "
                     "does not decrypt images",
                     q->d.name,
                     h->crypt_method == 1   ? "AES"
                     : h->crypt_method == 2 ? "LUKS"
                                            : "unknown method");
  if (h->incompat & INCOMPAT_DATA_FILE)
    return refuse(q, ENOTSUP,
                  "the qcow2 image keeps its data in an "
                  "external data file, which hoist does not "
                  "support");
  if (h->incompat & INCOMPAT_CORRUPT)
    return refuse(q, EIO,
                  "the qcow2 image is marked corrupt (QEMU found "
                  "inconsistent metadata); repair it with "
                  "'qemu-img check -r all' first");
  if (unknown)
    return error_set(ENOTSUP,
                     "%s: the qcow2 image uses unknown incompatible "
                     "features (bits 0x%llx); hoist cannot read it "
                     "safely",
                     q->d.name, (unsigned long long)unknown);
  if (h->compression_type == 1)
    return refuse(q, ENOTSUP,
                  "the qcow2 image uses zstd compression, which "
                  "hoist does not support (only deflate)");
  if (h->compression_type != 0)
    return error_set(ENOTSUP,
                     "%s: the qcow2 image uses an unknown "
                     "compression type (%u)",
                     q->d.name, h->compression_type);
  if (h->incompat & INCOMPAT_COMPRESSION)
    return refuse(q, EIO,
                  "corrupt qcow2 image: the compression type bit is "
                  "set for deflate");
  if ((h->incompat & INCOMPAT_EXTL2) && h->cluster_bits < 14)
    return refuse(q, EIO,
                  "corrupt qcow2 image: extended L2 entries need "
                  "clusters of 16 KiB or more");
  return 0;
}

/* Cluster geometry, the virtual size and the tables' places. */
static int check_geometry(struct qcow2 *q, const struct header *h)
{
  uint64_t coverage, needed;

  if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
      h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
    return error_set(ENOTSUP,
                     "%s: qcow2 cluster size 2^%u is not supported "
                     "(512 B to 2 MiB are)",
                     q->d.name, h->cluster_bits);
  q->version = h->version;
  q->cluster_bits = h->cluster_bits;
  q->cluster_size = 1u << h->cluster_bits;
  q->extended_l2 = h->incompat & INCOMPAT_EXTL2;
  q->entry_size = q->extended_l2 ? 16 : 8;
  q->l2_bits = q->cluster_bits - (q->extended_l2 ? 4 : 3);
  q->subcluster_bits = q->cluster_bits - 5;
  q->csize_shift = 62 - (q->cluster_bits - 8);
  q->csize_mask = (1ull << (q->cluster_bits - 8)) - 1;
  q->coffset_mask = (1ull << q->csize_shift) - 1;
  if (h->header_length > q->cluster_size)
    return refuse(q, EIO,
                  "corrupt qcow2 image: the header is larger than a "
                  "cluster");

  if (h->size > QCOW2_MAX_VIRTUAL_SIZE)
    return error_set(ENOTSUP,
                     "%s: the qcow2 virtual size (%llu bytes) is "
                     "over hoist's limit of 64 TiB",
                     q->d.name, (unsigned long long)h->size);
  q->d.size = h->size;

  coverage = (uint64_t)q->cluster_size << q->l2_bits;
  needed = DIV_ROUND_UP(h->size, coverage);
  if (h->l1_size < needed)
    return error_set(EIO,
                     "%s: corrupt qcow2 image: the L1 table has %u "
                     "entries but the virtual size needs %llu",
                     q->d.name, h->l1_size, (unsigned long long)needed);
  if (needed * 8 > QCOW2_MAX_L1_BYTES)
    return error_set(ENOTSUP,
                     "%s: the qcow2 image needs an L1 table of "
                     "%llu bytes, over QEMU's limit of 32 MiB",
                     q->d.name, (unsigned long long)needed * 8);
  if (needed &&
      (h->l1_offset & (q->cluster_size - 1) || h->l1_offset < q->cluster_size))
    return error_set(EIO,
                     "%s: corrupt qcow2 image: the L1 table offset "
                     "%llu is not a cluster after the header",
                     q->d.name, (unsigned long long)h->l1_offset);
  if (needed && (h->l1_offset >= q->file_size ||
                 needed * 8 > q->file_size - h->l1_offset))
    return error_set(EIO,
                     "%s: truncated: the L1 table (%llu bytes at offset "
                     "%llu) runs past the end of the file (%llu bytes)",
                     q->d.name, (unsigned long long)needed * 8,
                     (unsigned long long)h->l1_offset,
                     (unsigned long long)q->file_size);
  q->l1_entries = needed;
  q->l1_offset = h->l1_offset;

  /* Not needed to read, but QEMU refuses these, and a sane refcount table
   * is one more region data must not overlap. */
  if (h->reftable_offset & (q->cluster_size - 1))
    return refuse(q, EIO,
                  "corrupt qcow2 image: the refcount table is not "
                  "aligned to a cluster");
  if ((uint64_t)h->reftable_clusters * q->cluster_size > MAX_REFTABLE_BYTES)
    return refuse(q, EIO,
                  "corrupt qcow2 image: the refcount table is "
                  "larger than QEMU allows");
  q->reftable_offset = h->reftable_offset;
  if (h->reftable_offset < q->file_size)
    q->reftable_bytes = MIN((uint64_t)h->reftable_clusters * q->cluster_size,
                            q->file_size - h->reftable_offset);
  return 0;
}

static int load_l1(struct qcow2 *q)
{
  uint64_t i, coverage = (uint64_t)q->cluster_size << q->l2_bits;
  int r;

  if (!q->l1_entries)
    return 0;
  q->l1 = malloc(q->l1_entries * 8);
  if (!q->l1)
    return error_set(ENOMEM, "out of memory");
  r = bytesource_pread(q->d.bs, q->l1, q->l1_entries * 8, q->l1_offset);
  if (r < 0)
    return r;
  for (i = 0; i < q->l1_entries; i++) {
    uint64_t off = load_be64(&q->l1[i]) & L1E_OFFSET_MASK;
    const char *problem = NULL, *meta;
    char what[64];

    q->l1[i] = off;
    if (!off)
      continue;
    if (off & (q->cluster_size - 1)) {
      problem = "is not aligned to a cluster";
    } else if (off >= q->file_size || q->cluster_size > q->file_size - off) {
      problem = "is past the end of the file";
    } else if ((meta = qcow2_overlaps_metadata(q, off, q->cluster_size, 0))) {
      snprintf(what, sizeof what, "is inside %s", meta);
      problem = what;
    }
    if (problem)
      return error_set(
          EIO,
          "%s: corrupt qcow2 image: L1 entry %llu (virtual "
          "offset %llu) points to an L2 table at host "
          "offset %llu, which %s (the file has %llu "
          "bytes)",
          q->d.name, (unsigned long long)i, (unsigned long long)(i * coverage),
          (unsigned long long)off, problem, (unsigned long long)q->file_size);
  }
  return 0;
}

/* Bytes of [cstart, cstart + n) inside the virtual disk. */
static uint64_t in_disk(const struct qcow2 *q, uint64_t cstart, uint64_t n)
{
  return cstart >= q->d.size ? 0 : MIN(n, q->d.size - cstart);
}

/* disk->allocated: the exact count of data bytes when the L2 tables are
 * few (they are read once, SCAN_L2_BYTES at most); otherwise an estimate,
 * the file size less the header, L1, L2 and refcount tables (it counts
 * snapshots' own clusters too, and compressed clusters at their stored
 * size). */
static int count_allocated(struct qcow2 *q, bool *compressed)
{
  uint64_t i, j, tables = 0, bytes = 0, meta;
  uint64_t l2_entries = 1ull << q->l2_bits;
  _cleanup_free_ uint8_t *table = NULL;
  int r;

  for (i = 0; i < q->l1_entries; i++)
    tables += q->l1[i] != 0;
  if (tables * q->cluster_size > SCAN_L2_BYTES) {
    meta = (uint64_t)q->cluster_size *
               (1 + tables + DIV_ROUND_UP(q->l1_entries * 8, q->cluster_size)) +
           q->reftable_bytes;
    q->d.allocated =
        q->file_size > meta ? MIN(q->file_size - meta, q->d.size) : 0;
    return 0;
  }
  table = malloc(q->cluster_size);
  if (!table)
    return error_set(ENOMEM, "out of memory");
  for (i = 0; i < q->l1_entries; i++) {
    if (!q->l1[i])
      continue;
    r = bytesource_pread(q->d.bs, table, q->cluster_size, q->l1[i]);
    if (r < 0)
      return r;
    for (j = 0; j < l2_entries; j++) {
      const uint8_t *p = table + j * q->entry_size;
      uint64_t e = load_be64(p);
      uint64_t cstart = ((i << q->l2_bits) + j) << q->cluster_bits;
      uint64_t n = in_disk(q, cstart, q->cluster_size);

      if (e & QCOW_OFLAG_COMPRESSED) {
        *compressed = true;
      } else if (!(e & L2E_OFFSET_MASK)) {
        n = 0;
      } else if (q->extended_l2) {
        uint64_t bm = load_be64(p + 8);
        uint32_t data = (uint32_t)bm & ~(uint32_t)(bm >> 32);
        n = MIN(n, (uint64_t)__builtin_popcount(data) << q->subcluster_bits);
      } else if (e & QCOW_OFLAG_ZERO) {
        n = 0;
      }
      bytes += n;
    }
  }
  q->d.allocated = bytes;
  return 0;
}

static void qcow2_close(struct disk *d)
{
  struct qcow2 *q = (struct qcow2 *)d;

  qcow2_cache_free(q);
  qcow2_scratch_free_all(q);
  free(q->l1);
  pthread_mutex_destroy(&q->lock);
}

static const struct disk_ops qcow2_ops = {
    .extents = qcow2_extents,
    .pread = qcow2_pread,
    .close = qcow2_close,
};

int qcow2_open(struct bytesource *bs, struct disk **ret)
{
  struct header h = {0};
  bool compressed = false;
  struct qcow2 *q;
  int r;

  if (!bytesource_can_pread(bs) || bs->size == BYTESOURCE_SIZE_UNKNOWN) {
    r = error_set(ENOTSUP,
                  "%s: a qcow2 image must be read at random offsets, but "
                  "this %s source is a stream",
                  bs->name, bs->ops->kind);
    bytesource_close(bs);
    return r;
  }
  q = (struct qcow2 *)disk_new(&qcow2_ops, sizeof *q, bs, "qcow2");
  if (!q) {
    bytesource_close(bs);
    return error_set(ENOMEM, "out of memory");
  }
  pthread_mutex_init(&q->lock, NULL);
  q->file_size = bs->size;
  q->d.thread_safe = bs->thread_safe;
  q->d.request_size = 2 * 1024 * 1024;

  r = read_header(q, &h);
  if (r == 0)
    r = check_features(q, &h);
  if (r == 0)
    r = check_geometry(q, &h);
  if (r == 0)
    r = load_l1(q);
  if (r == 0)
    r = qcow2_cache_init(q);
  if (r == 0)
    r = count_allocated(q, &compressed);
  if (r == 0 && asprintf(&q->d.variant, "v%u%s%s", q->version,
                         q->extended_l2 ? ", extended L2" : "",
                         compressed ? ", compressed" : "") < 0) {
    q->d.variant = NULL;
    r = error_set(ENOMEM, "out of memory");
  }
  if (r < 0) {
    disk_close(&q->d);
    return r;
  }
  *ret = &q->d;
  return 0;
}
