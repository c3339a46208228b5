/* Checkpoints: which work units of a copy are safely on the destination,
 * so that a copy restarted after a crash, a kill or a pod restart resumes
 * instead of starting over.
 *
 * The disk is cut into fixed work units (the unit size is chosen from the
 * virtual size when the checkpoint is created and stored in it). The copy
 * engine skips the units a loaded checkpoint marks done and reports each
 * unit it finishes. A finished unit becomes durable in two steps: every
 * few seconds, one worker takes the units finished since the last save,
 * flushes the destination (so their data is on stable storage), and only
 * then writes the checkpoint file atomically (a temporary file, fsync,
 * rename, fsync of the directory). A unit is therefore never marked done
 * before its data is flushed; at worst, work since the last save is done
 * again.
 *
 * The file names the source and the target (struct checkpoint_identity),
 * so a checkpoint never applies to another copy: a checkpoint that does
 * not parse, fails its digest, or names another source or target is
 * discarded (the caller is told why, and starts over). Format, one JSON
 * object on the first line and its digest on the second:
 *
 *   {"format":"hoist-checkpoint","version":1,
 *    "source":{"id":"ovirt:engine.example.com/disks/UUID","size":N},
 *    "target":{"kind":"file","size":N,"dev":0,"ino":I},
 *    "unit_size":U,"units":M,"done":[[first,last],…]}
 *   sha256 HEX-OF-THE-FIRST-LINE
 *
 * "done" lists inclusive ranges of unit indexes, in order, not touching.
 */
#ifndef HOIST_COPY_CHECKPOINT_H
#define HOIST_COPY_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dest;

/* Caps on what a checkpoint may describe, so that a damaged file cannot
 * make the reader allocate without bound. */
#define CHECKPOINT_FILE_MAX (64u * 1024 * 1024)
#define CHECKPOINT_UNITS_MAX (1u << 26)
#define CHECKPOINT_ID_MAX 1024

/* What a checkpoint belongs to. The source id names the source without
 * secrets (never a ticket or a password). The target is a regular file
 * (identified by its inode number: the checkpoint lives beside it) or a
 * block device (by its device number). */
struct checkpoint_identity {
  const char *source_id;
  uint64_t source_size;    /* virtual size */
  const char *target_kind; /* "file" or "block" */
  uint64_t target_size;
  uint64_t target_dev; /* block: st_rdev; file: 0 */
  uint64_t target_ino; /* file: st_ino; block: 0 */
};

struct checkpoint;

/* The unit size a new checkpoint uses for a disk of `size` bytes: at
 * least 64 units (so that several workers share the disk), each 1 to 64
 * MiB. */
uint64_t checkpoint_default_unit_size(uint64_t size);

/* A new checkpoint (nothing done) for `id`, to be saved at `path`; saves
 * happen at most every `interval` seconds (0: 5). Nothing is written
 * until checkpoint_write() or a save. */
int checkpoint_new(const char *path, const struct checkpoint_identity *id,
                   double interval, struct checkpoint **ret);

/* Loads the checkpoint at `path` if there is one that applies to `id`.
 * Returns 1 with *ret set when it does; 0 when there is none or it does
 * not apply: then *ret_why (caller frees) says why it was discarded
 * ("does not parse …", "was made for another source …"), or is NULL when
 * there was no file. A negative errno when the file cannot be read. */
int checkpoint_load(const char *path, const struct checkpoint_identity *id,
                    double interval, struct checkpoint **ret, char **ret_why);

/* Parses checkpoint text (both lines). With `id`, refuses a checkpoint
 * that belongs to something else. Returns 0, or a negative errno with the
 * reason as the error message. `path` is for messages. */
int checkpoint_parse(const char *text, size_t len, const char *path,
                     const struct checkpoint_identity *id, double interval,
                     struct checkpoint **ret);

/* The checkpoint's text (both lines); caller frees. */
int checkpoint_format(struct checkpoint *cp, char **ret, size_t *ret_len);

/* Writes the durable state to the file atomically (without flushing a
 * destination): used at the start, before the first write to the
 * target, so that a partly written target always has its checkpoint. */
int checkpoint_write(struct checkpoint *cp);

uint64_t checkpoint_unit_size(const struct checkpoint *cp);
uint64_t checkpoint_units(const struct checkpoint *cp);
/* Units that were done when the checkpoint was loaded: the engine skips
 * them. Thread-safe (this set never changes). */
bool checkpoint_was_done(const struct checkpoint *cp, uint64_t unit);
/* Units done and durable now (loaded plus saved since). */
uint64_t checkpoint_done_units(struct checkpoint *cp);

/* Called by a worker when a unit's data is written. When the interval
 * has passed since the last save and no other worker is saving, this
 * worker saves (flushes dst, then writes the file). Thread-safe. */
int checkpoint_unit_done(struct checkpoint *cp, uint64_t unit,
                         struct dest *dst);

/* Flushes dst and saves every finished unit now. */
int checkpoint_save(struct checkpoint *cp, struct dest *dst);

/* Removes the file (the copy is complete). */
int checkpoint_remove(struct checkpoint *cp);

const char *checkpoint_path(const struct checkpoint *cp);

void checkpoint_free(struct checkpoint *cp);

#endif
