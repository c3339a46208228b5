/* Destinations: where the copy engine writes a virtual disk.
 *
 * A destination is a regular file or a block device (later: NBD, HTTP).
 * Zeroing goes down a ladder of ever more expensive methods (punch a hole,
 * zero a range, BLKZEROOUT, write zeros) and each method that turns out
 * unsupported is latched off, so later calls skip it. A regular file is
 * written under a temporary name next to its final path and renamed only
 * by dest_commit(), so a failed copy leaves nothing that looks complete.
 */
#ifndef HOIST_COPY_DEST_H
#define HOIST_COPY_DEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dest;

struct dest_ops {
  int (*pwrite)(struct dest *d, const void *buf, size_t len, uint64_t offset);
  int (*zero)(struct dest *d, uint64_t offset, uint64_t len);
  int (*flush)(struct dest *d);
  /* Makes the result visible under its final name (after flush). */
  int (*commit)(struct dest *d);
  /* Drops pages of [offset, offset+len) from the page cache once written;
   * may be NULL. */
  void (*evict)(struct dest *d, uint64_t offset, uint64_t len, bool wait);
  /* The file descriptor to read the result back from, or -1. */
  int (*fd)(struct dest *d);
  /* Frees; removes an uncommitted temporary file. */
  void (*close)(struct dest *d);
};

struct dest {
  const struct dest_ops *ops;
  char *name;
  uint64_t size;
  bool is_zero;  /* reads as zeros before any write (fresh sparse file) */
  bool is_block; /* a block device, written in place */
  bool sparse;   /* holes are welcome (zeros become unallocated) */
};

struct dest_file_options {
  bool preallocate; /* allocate every block up front (no holes) */
  /* Write the regular file PATH itself (created if missing), not a
   * temporary file renamed by dest_commit(): a copy that is resumed after
   * a restart finds its earlier work there. Whoever sets this marks the
   * file incomplete otherwise (a checkpoint beside it). */
  bool in_place;
  /* With in_place: keep what an existing file holds (resuming a copy);
   * otherwise it is emptied first, so that it reads as zeros. */
  bool keep;
};

/* Opens PATH for a disk of `size` bytes: an existing block device is
 * written in place (it must be at least `size` bytes); anything else is a
 * new regular file, created sparse under a temporary name (or PATH itself,
 * with opts->in_place). */
int dest_open_file(const char *path, uint64_t size,
                   const struct dest_file_options *opts, struct dest **ret);

int dest_pwrite(struct dest *d, const void *buf, size_t len, uint64_t offset);
/* Zeroes a range by the cheapest method that works here. */
int dest_zero(struct dest *d, uint64_t offset, uint64_t len);
int dest_flush(struct dest *d);
int dest_commit(struct dest *d);
void dest_close(struct dest *d);

#endif
