/* Byte sources: where the bytes of a disk image come from.
 *
 * A byte source is a file, a member of a tar archive, a gzip stream, or (in
 * later layers) an HTTP range reader. Format decoders (qcow2, VMDK, raw)
 * stack on top of one. Two access styles:
 *
 *  - random access (ops->pread != NULL): read exactly `len` bytes at
 *    `offset`; reading past the end is an error that names the source
 *    ("truncated"). pread is thread-safe when bs->thread_safe is set, so
 *    several copy workers may share the source.
 *  - stream only (ops->pread == NULL): ops->read returns the next bytes in
 *    order (short reads allowed, 0 at the end).
 *
 * Every source has a display name (bs->name) that error messages use.
 */
#ifndef HOIST_DISK_BYTESOURCE_H
#define HOIST_DISK_BYTESOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BYTESOURCE_SIZE_UNKNOWN UINT64_MAX

struct bytesource;
struct extent_list;

struct bytesource_ops {
  const char *kind; /* "file", "tar-member", "gzip", … */
  int (*pread)(struct bytesource *bs, void *buf, size_t len, uint64_t offset);
  ssize_t (*read)(struct bytesource *bs, void *buf, size_t len);
  /* Optional: appends to `out` (a struct extent_list, see disk.h) the
   * data and hole runs of [offset, offset+len), as the file system knows
   * them (SEEK_DATA/SEEK_HOLE). */
  int (*extents)(struct bytesource *bs, uint64_t offset, uint64_t len,
                 struct extent_list *out);
  /* Optional: hint that [offset, offset+len) will not be read again soon,
   * so cached pages may be dropped. */
  void (*done_with)(struct bytesource *bs, uint64_t offset, uint64_t len);
  /* Optional: after a complete copy, checks what only the whole source
   * can show (a checksum its server published for its bytes); 0, or a
   * negative errno with the error set. */
  int (*verify)(struct bytesource *bs);
  void (*close)(struct bytesource *bs);
};

struct bytesource {
  const struct bytesource_ops *ops;
  char *name;          /* for messages, e.g. "disk.vmdk" or "a.ova#d1.vmdk" */
  uint64_t size;       /* BYTESOURCE_SIZE_UNKNOWN for some streams */
  bool thread_safe;    /* pread may be called from several threads */
  uint64_t stream_pos; /* bytes consumed so far by read_full/skip */
  /* Bytes peeked from a stream, handed out again by the next reads. */
  unsigned char *peeked;
  size_t peeked_len, peeked_pos;
  /* Hints for the layers above (0: no preference): a preferred read size
   * (MiB-sized for HTTP) and how many preads may run at once (an imageio
   * ticket's max_readers). disk_open() hands them on to the disk. */
  uint32_t request_size;
  unsigned max_readers;
};

/* Opens a local file (or block device) read-only as a random-access,
 * thread-safe byte source. */
int bytesource_open_file(const char *path, struct bytesource **ret);

/* A caller-owned buffer as a random-access, thread-safe source (no copy:
 * the buffer must outlive the source). Used by the fuzz targets. */
int bytesource_open_memory(const void *data, size_t len, const char *name,
                           struct bytesource **ret);

/* A window [offset, offset+length) of another source, which it takes
 * ownership of when `owns_parent` is set (used for tar members). */
int bytesource_open_slice(struct bytesource *parent, bool owns_parent,
                          uint64_t offset, uint64_t length, const char *name,
                          struct bytesource **ret);

/* A gzip stream decoded on the fly from another source (takes ownership).
 * The result is stream only. */
int bytesource_open_gunzip(struct bytesource *parent, struct bytesource **ret);

static inline bool bytesource_can_pread(const struct bytesource *bs)
{
  return bs->ops->pread != NULL;
}

/* Random-access read; fails with a message naming the source. */
int bytesource_pread(struct bytesource *bs, void *buf, size_t len,
                     uint64_t offset);

/* Stream read of exactly len bytes (fails on a short stream unless
 * allow_eof and nothing was read: then returns 0; else returns 1). Works
 * on random-access sources too, tracking bs->stream_pos. */
int bytesource_read_full(struct bytesource *bs, void *buf, size_t len,
                         bool allow_eof);

/* Stream read of at most len bytes: returns how many were read (0 at the
 * end of the stream) or a negative errno. Tracks bs->stream_pos. */
ssize_t bytesource_read_some(struct bytesource *bs, void *buf, size_t len);

/* Reads up to len bytes from the start of the source without consuming
 * them (stream sources keep them for the next read). Returns the number of
 * bytes available (less than len for a short source). Only valid before
 * the first read. */
ssize_t bytesource_peek(struct bytesource *bs, void *buf, size_t len);

/* Skips n bytes of a stream. */
int bytesource_skip(struct bytesource *bs, uint64_t n);

/* ops->verify, if the source has one; else 0. */
int bytesource_verify(struct bytesource *bs);

void bytesource_done_with(struct bytesource *bs, uint64_t offset, uint64_t len);
void bytesource_close(struct bytesource *bs);

/* Helpers for implementations: allocate/free the common part. */
struct bytesource *bytesource_new(const struct bytesource_ops *ops,
                                  size_t size_of_impl, const char *name);

#endif
