/* Internals shared by the VMDK decoders (not for use outside
 * src/disk/vmdk/). */
#ifndef HOIST_DISK_VMDK_INTERNAL_H
#define HOIST_DISK_VMDK_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disk/disk.h"
#include "disk/vmdk/vmdk.h"

#define VMDK_SECTOR 512u
#define VMDK_MAGIC "KDMV"
#define VMDK_COWD_MAGIC "COWD"
/* The largest virtual disk accepted (VMware's own limit is 62 TiB). */
#define VMDK_MAX_CAPACITY (64ull << 40)
/* Grain size limits, in sectors (4 KiB .. 1 MiB). */
#define VMDK_MIN_GRAIN 8u
#define VMDK_MAX_GRAIN 2048u
#define VMDK_MAX_GTES 512u
/* At most this many grain directory entries are held in memory (16 MiB). */
#define VMDK_MAX_GD_ENTRIES (4u << 20)
/* An embedded descriptor, and a descriptor file, at most this large. */
#define VMDK_MAX_EMBEDDED_DESC (1u << 20)
#define VMDK_MAX_DESC_FILE (4u << 20)
#define VMDK_MAX_EXTENTS 65536u
#define VMDK_GD_AT_END UINT64_MAX

/* Header flags. */
#define VMDK_FLAG_NL_DETECT (1u << 0)
#define VMDK_FLAG_RGD (1u << 1)
#define VMDK_FLAG_ZERO_GRAIN (1u << 2)
#define VMDK_FLAG_COMPRESSED (1u << 16)
#define VMDK_FLAG_MARKERS (1u << 17)
#define VMDK_COMPRESS_DEFLATE 1

/* The sparse extent header (512 bytes, little-endian), decoded. Sizes and
 * offsets are in sectors as in the file. */
struct vmdk_header {
  uint32_t version;
  uint32_t flags;
  uint64_t capacity;
  uint64_t grain_sectors;
  uint64_t desc_offset, desc_size;
  uint32_t gtes_per_gt;
  uint64_t rgd_offset, gd_offset;
  uint64_t overhead;
  uint16_t compress_algorithm;
  bool compressed;  /* grains are deflate-compressed */
  bool zero_grain;  /* GTE 1 means a zeroed grain */
  uint64_t gd_size; /* grain directory entries (from capacity) */
};

/* Decodes and checks the 512-byte header in buf; name is for messages. */
int vmdk_header_parse(const unsigned char *buf, const char *name,
                      struct vmdk_header *h);

/* ---- descriptor ---- */

enum vmdk_access { VMDK_RW, VMDK_RDONLY, VMDK_NOACCESS };

enum vmdk_extent_type {
  VMDK_EXT_FLAT,
  VMDK_EXT_SPARSE,
  VMDK_EXT_ZERO,
  VMDK_EXT_VMFS,
  VMDK_EXT_VMFSSPARSE,
  VMDK_EXT_VMFSRDM,
  VMDK_EXT_VMFSRAW,
  VMDK_EXT_SESPARSE,
};

struct vmdk_desc_extent {
  enum vmdk_access access;
  enum vmdk_extent_type type;
  uint64_t sectors;
  char *file;      /* NULL for ZERO */
  uint64_t offset; /* FLAT/VMFS: first sector in the file */
  unsigned line;
};

struct vmdk_descriptor {
  char *create_type;
  char *parent_cid;
  char *parent_hint; /* parentFileNameHint */
  char *adapter_type, *virtual_hw_version, *uuid;
  struct vmdk_desc_extent *extents;
  size_t n_extents;
};

/* Parses descriptor text (len bytes, stops at a NUL). name is the file
 * for messages. An embedded descriptor (in a sparse file) maps nothing: its
 * extent lines and lines not understood are skipped. */
int vmdk_descriptor_parse(const char *text, size_t len, const char *name,
                          bool embedded, struct vmdk_descriptor *d);
void vmdk_descriptor_free(struct vmdk_descriptor *d);

/* Parses the descriptor embedded in sparse file bs and refuses what a
 * sparse file may not be (a delta, one extent of a split disk …). */
int vmdk_read_embedded_descriptor(struct bytesource *bs, const char *text,
                                  size_t len, struct vmdk_descriptor *d);

/* Refuses a descriptor that names a parent disk. */
int vmdk_descriptor_check_parent(const struct vmdk_descriptor *d,
                                 const char *name);

const char *vmdk_extent_type_name(enum vmdk_extent_type t);

/* ---- hosted sparse extents (random access) ---- */

struct vmdk_sparse;

/* Opens the hosted sparse extent of bs (a random-access source) whose
 * header h was read already. Does not take ownership of bs. */
int vmdk_sparse_open(struct bytesource *bs, const struct vmdk_header *h,
                     struct vmdk_sparse **ret);
void vmdk_sparse_close(struct vmdk_sparse *sp);
/* Offsets relative to the extent. */
int vmdk_sparse_extents(struct vmdk_sparse *sp, uint64_t offset,
                        uint64_t length, uint64_t base,
                        struct extent_list *out);
int vmdk_sparse_pread(struct vmdk_sparse *sp, void *buf, size_t len,
                      uint64_t offset);
uint64_t vmdk_sparse_allocated(const struct vmdk_sparse *sp);

/* ---- the disk ---- */

/* What the VMDK disks share: the descriptor facts. */
struct vmdk_common {
  struct disk disk;
  struct vmdk_info info;
  struct vmdk_descriptor desc;
};

/* Fills c->info from c->desc and sets the variant. */
int vmdk_common_init(struct vmdk_common *c, const char *variant);
void vmdk_common_free(struct vmdk_common *c);

/* Opens a streamOptimized disk from bs, whose header h was consumed from
 * the stream already (bs->stream_pos is 512). Takes ownership of bs. */
int vmdk_stream_open(struct bytesource *bs, const struct vmdk_header *h,
                     struct disk **ret);
extern const struct disk_ops vmdk_stream_ops;
extern const struct disk_ops vmdk_extents_ops;

#endif
