/* qcow2 decoder internals, shared by its files:
 *
 *   qcow2.c       open: header checks, refusals, the L1 table, close
 *   qcow2_map.c   the L2 cache and the mapping of virtual ranges to runs
 *   qcow2_read.c  extents() and pread(), compressed clusters
 *
 * On-disk layout (docs/interop/qcow2.txt in QEMU): a big-endian header in
 * the first cluster; a two-level table maps each guest cluster. The L1
 * table (loaded whole, it is small) points to L2 tables of one cluster
 * each (read on demand through a small cache, so memory stays bounded
 * whatever the virtual size); an L2 entry says whether the cluster is
 * unallocated, zero, stored at a host offset, or compressed. With
 * extended L2 entries (incompatible bit 4) each entry adds a 64-bit bitmap
 * of 32 subclusters: bit n allocated, bit 32+n reads as zeros.
 */
#ifndef HOIST_DISK_QCOW2_IMPL_H
#define HOIST_DISK_QCOW2_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "disk/disk.h"

#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
/* Larger virtual disks are refused: 64 TiB is past what the hypervisors
 * hoist migrates from allow (vSphere: 62 TiB), and it bounds every
 * computation on offsets. */
#define QCOW2_MAX_VIRTUAL_SIZE (64ull << 40)
/* QEMU's own limit on the active L1 table (QCOW_MAX_L1_SIZE): an image
 * needing a bigger one cannot have been written by QEMU. */
#define QCOW2_MAX_L1_BYTES (32u << 20)
/* Memory for cached L2 tables, and the bounds on the number of tables. */
#define QCOW2_L2_CACHE_BYTES (8u << 20)
#define QCOW2_L2_CACHE_MIN 4
#define QCOW2_L2_CACHE_MAX 64
/* Bytes of L2 entries a cursor copies out of the cache at a time. */
#define QCOW2_CURSOR_BYTES 8192
/* Compressed data is stored in 512-byte sectors. */
#define QCOW2_SECTOR 512

#define QCOW_OFLAG_COPIED (1ull << 63)
#define QCOW_OFLAG_COMPRESSED (1ull << 62)
#define QCOW_OFLAG_ZERO 1ull
#define L1E_OFFSET_MASK 0x00fffffffffffe00ull
#define L2E_OFFSET_MASK 0x00fffffffffffe00ull

struct qcow2_l2_slot {
  uint64_t offset; /* host offset of the table; 0 when the slot is free */
  uint8_t *table;  /* cluster_size bytes, as on disk */
  uint64_t used;   /* LRU clock */
};

struct qcow2_scratch;

struct qcow2 {
  struct disk d;
  unsigned version;
  unsigned cluster_bits;
  uint32_t cluster_size;
  unsigned l2_bits;    /* log2 of the entries in an L2 table */
  unsigned entry_size; /* 8, or 16 with extended L2 entries */
  bool extended_l2;
  unsigned subcluster_bits;
  uint64_t file_size;

  /* Compressed cluster descriptors: offset bits and sector count. */
  unsigned csize_shift;
  uint64_t csize_mask, coffset_mask;

  /* The active L1 entries that cover the virtual size (offsets only). */
  uint64_t *l1;
  uint64_t l1_entries;
  uint64_t l1_offset;
  /* The refcount table, for overlap checks (0 bytes when unusable). */
  uint64_t reftable_offset, reftable_bytes;

  pthread_mutex_t lock; /* guards the cache and the scratch pool */
  struct qcow2_l2_slot *slots;
  unsigned nslots;
  uint64_t clock;
  struct qcow2_scratch *scratch_pool;
};

enum qcow2_kind {
  QCOW2_ZERO,       /* unallocated, zero cluster or zero subcluster */
  QCOW2_DATA,       /* stored uncompressed at `host` */
  QCOW2_COMPRESSED, /* one cluster's compressed bytes at `host` */
};

/* A run of the virtual disk of one kind: for QCOW2_DATA, host-contiguous;
 * for QCOW2_COMPRESSED, (part of) one cluster. */
struct qcow2_run {
  enum qcow2_kind kind;
  uint64_t offset, length; /* virtual */
  uint64_t host;           /* DATA: host offset of `offset`;
                              COMPRESSED: where the compressed bytes start */
  uint32_t csize;          /* COMPRESSED: bytes to read at `host` */
};

/* A window of L2 entries copied out of the cache, so that mapping runs
 * without the lock. Lives on the caller's stack. */
struct qcow2_cursor {
  uint64_t first;     /* index of the first cluster held */
  uint64_t count;     /* clusters held; 0 when empty */
  uint64_t l2_offset; /* their table; 0: unallocated, all entries zero */
  uint8_t entries[QCOW2_CURSOR_BYTES];
};

/* Maps the run that starts at virtual `offset` and ends at or before
 * `end` (offset < end <= disk size). Checks every entry it uses; an error
 * names the file and the virtual offset. */
int qcow2_map(struct qcow2 *q, struct qcow2_cursor *c, uint64_t offset,
              uint64_t end, struct qcow2_run *run);

/* The L2 cache. */
int qcow2_cache_init(struct qcow2 *q);
void qcow2_cache_free(struct qcow2 *q);

/* Which metadata [host, host+len) overlaps ("the header", …), or NULL.
 * l2_offset is the L2 table the reference comes from (0: none). */
const char *qcow2_overlaps_metadata(const struct qcow2 *q, uint64_t host,
                                    uint64_t len, uint64_t l2_offset);

/* extents() and pread(), and the scratch buffers behind them. */
int qcow2_extents(struct disk *d, uint64_t offset, uint64_t length,
                  struct extent_list *out);
int qcow2_pread(struct disk *d, void *buf, size_t len, uint64_t offset);
void qcow2_scratch_free_all(struct qcow2 *q);

#endif
