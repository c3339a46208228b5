/* Decoded virtual disks: the source side of the copy engine.
 *
 * A disk is a format decoder (raw, qcow2, VMDK …) stacked on a byte
 * source. It presents the guest-visible bytes of the virtual disk and, in
 * one of two styles, tells the engine where data and zeros are:
 *
 *  - random access (ops->extents and ops->pread): the engine asks for the
 *    extents of a range first and reads only data extents, from several
 *    workers at once when disk->thread_safe is set;
 *  - stream (disk->stream, ops->next_chunk and ops->decode_chunk): one
 *    reader calls next_chunk() in order; each chunk carries the encoded
 *    payload of a run of the virtual disk, and decode_chunk(), which must be
 *    thread-safe, turns it into bytes on the workers (parallel inflate of
 *    streamOptimized VMDK grains). Parts of the disk that no chunk covers
 *    read as zeros.
 *
 * Offsets and lengths are bytes of the virtual disk. Whatever the source
 * holds that the decoder does not support (a backing file, an unknown
 * feature bit, an unknown create type) is refused at open with an error
 * that names the file and the feature; nothing is ever decoded wrongly.
 */
#ifndef HOIST_DISK_DISK_H
#define HOIST_DISK_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disk/bytesource.h"
#include "util/vector.h"

struct extent {
  uint64_t offset;
  uint64_t length;
  bool zero; /* reads as zeros (hole, zero cluster, unallocated grain) */
};
DEFINE_VECTOR_TYPE(extent_list, struct extent)

/* One unit of a stream disk, filled by next_chunk(). */
struct disk_chunk {
  uint64_t offset; /* virtual offset of the decoded bytes */
  uint32_t length; /* decoded length in bytes (<= disk->chunk_size) */
  void *payload;   /* encoded bytes (in the engine's buffer) */
  size_t payload_len;
};

struct disk;

struct disk_ops {
  /* Random access. extents() appends extents that exactly cover
   * [offset, offset+length), in order; adjacent extents of the same kind
   * may or may not be merged. */
  int (*extents)(struct disk *d, uint64_t offset, uint64_t length,
                 struct extent_list *out);
  int (*pread)(struct disk *d, void *buf, size_t len, uint64_t offset);

  /* Stream. next_chunk() returns 1 with *chunk filled (payload copied into
   * payload_buf, of size disk->chunk_payload_max), 0 at the end, or a
   * negative errno. decode_chunk() writes chunk->length bytes to out. */
  int (*next_chunk)(struct disk *d, struct disk_chunk *chunk,
                    void *payload_buf);
  int (*decode_chunk)(struct disk *d, const struct disk_chunk *chunk,
                      void *out);
  /* Optional, instead of decode_chunk(), for a source whose chunks are
   * already bytes in its own buffers: the chunk's chunk->length bytes in
   * place (no copy), valid until release_chunk(), which the engine calls
   * once for every chunk it took the data of. Thread-safe. */
  const void *(*chunk_data)(struct disk *d, const struct disk_chunk *chunk);
  void (*release_chunk)(struct disk *d, const struct disk_chunk *chunk);

  void (*close)(struct disk *d);
};

struct disk {
  const struct disk_ops *ops;
  char *name;               /* for messages: the file it was opened from */
  const char *format;       /* "raw", "qcow2", "vmdk" */
  char *variant;            /* "v3", "streamOptimized", … or NULL */
  uint64_t size;            /* virtual size in bytes */
  uint64_t allocated;       /* bytes of data stored, or DISK_UNKNOWN */
  bool thread_safe;         /* extents/pread may run concurrently */
  bool stream;              /* read with next_chunk/decode_chunk in order */
  uint32_t chunk_size;      /* stream: max decoded bytes per chunk */
  size_t chunk_payload_max; /* stream: max payload bytes per chunk */
  uint32_t request_size;    /* preferred read size for random access */
  unsigned max_workers;     /* at most this many readers at once; 0: any */
  struct bytesource *bs;    /* the source it decodes (owned) */
};

#define DISK_UNKNOWN UINT64_MAX

/* How a decoder opens the other files a disk refers to (VMDK extents named
 * in a descriptor): relative to the descriptor's directory for local files,
 * as members of the same archive for an OVA. */
struct disk_open_opts {
  int (*open_sibling)(void *opaque, const char *name, struct bytesource **ret);
  void *opaque;
};

/* An open_sibling for disks read over a network transport, where no file
 * stands beside the image: refuses, naming the transport (opaque, a
 * string such as "imageio"). */
int disk_refuse_sibling(void *transport, const char *name,
                        struct bytesource **ret);

/* Detects the format from the content (never from the name), then opens
 * the matching decoder. Takes ownership of bs, also on failure. */
int disk_open(struct bytesource *bs, const struct disk_open_opts *opts,
              struct disk **ret);

/* Opens a local path (file or block device), with siblings looked up next
 * to it. */
int disk_open_path(const char *path, struct disk **ret);

void disk_close(struct disk *d);

/* After a complete copy: the byte source's verification (see
 * bytesource_verify()), so that a copy whose source fails it does not
 * count as done. */
int disk_verify(struct disk *d);

/* Allocates a disk with the common fields set; decoders embed struct disk
 * first in their own struct and pass its size. */
struct disk *disk_new(const struct disk_ops *ops, size_t size_of_impl,
                      struct bytesource *bs, const char *format);

/* Generic implementation for random-access disks: whole disk as data. */
int disk_extents_all_data(struct disk *d, uint64_t offset, uint64_t length,
                          struct extent_list *out);

/* Appends an extent, merging with the previous one when contiguous and of
 * the same kind. */
int extent_list_add(struct extent_list *l, uint64_t offset, uint64_t length,
                    bool zero);

/* Per-format openers (called by disk_open after detection). */
int raw_open(struct bytesource *bs, struct disk **ret);

#endif
