/* The copy engine: copies a decoded disk to a destination.
 *
 * Random-access disks are cut into work units that several workers take in
 * turn; each asks the disk for the extents of its unit first, never reads
 * what is known to be zero, and splits what it read into data and zero
 * runs at 4 KiB granularity. Stream disks are read by one reader that
 * hands encoded chunks to the workers, which decode them in parallel.
 * Zero runs cost nothing on a fresh destination and the cheapest zeroing
 * call otherwise. Written ranges are pushed out of the page cache behind
 * the copy, and the destination is flushed once, at the end.
 */
#ifndef HOIST_COPY_ENGINE_H
#define HOIST_COPY_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "copy/dest.h"
#include "disk/disk.h"

struct checkpoint;

#define COPY_DEFAULT_WORKERS 4
#define COPY_MAX_WORKERS 64
#define COPY_ZERO_GRANULE 4096

struct copy_options {
  unsigned workers;      /* 0: COPY_DEFAULT_WORKERS */
  uint32_t request_size; /* 0: the disk's preference */
  bool keep_zeros;       /* write zero blocks found in data as data */
  bool no_flush;
  /* Resume (random-access disks; ignored for streams): the work units
   * are the checkpoint's, units it had done are skipped (and counted as
   * done), and each finished unit is reported to it. NULL: none. */
  struct checkpoint *checkpoint;
  /* When it becomes true (a signal handler sets it), workers stop between
   * requests and the copy fails with -EINTR. May be NULL. */
  const _Atomic bool *stop;
};

/* Progress, in bytes; updated by the workers, read by anyone. */
struct copy_progress {
  uint64_t total;           /* virtual size */
  uint64_t data_total;      /* data the source holds, or DISK_UNKNOWN */
  _Atomic uint64_t done;    /* virtual bytes finished (data and zeros) */
  _Atomic uint64_t read;    /* bytes read and decoded from the source */
  _Atomic uint64_t written; /* bytes written as data */
  /* Skipped because a checkpoint had them done (part of `done`): */
  _Atomic uint64_t resumed;      /* virtual bytes */
  _Atomic uint64_t resumed_data; /* of which data (by the extents) */
};

void copy_progress_init(struct copy_progress *p, const struct disk *src);

/* Copies src to dst, all of it. Returns 0 or a negative errno, with the
 * first error's message set. Does not commit dst. */
int copy_disk(struct disk *src, struct dest *dst,
              const struct copy_options *opts, struct copy_progress *progress);

#endif
