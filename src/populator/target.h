/* The target volume: a file on a mounted Filesystem volume (written in
 * place, with its checkpoint beside it: /mnt/.disk.img.hoist-checkpoint)
 * or a block device (written in place; its checkpoint in
 * --checkpoint-dir, or none). Opening decides whether the copy resumes:
 * only when a checkpoint matches this source and this target; a damaged
 * or foreign checkpoint is discarded (with a log line) and the copy
 * starts over. The target is locked (flock) against a second populator.
 */
#ifndef HOIST_POPULATOR_TARGET_H
#define HOIST_POPULATOR_TARGET_H

#include "copy/checkpoint.h"
#include "copy/dest.h"
#include "disk/disk.h"
#include "populator/populator.h"

struct pop_target {
  struct checkpoint_identity id; /* the target's part, from the lock */
  struct dest *dst;
  struct checkpoint *cp; /* NULL: no resume */
  bool is_block;
  bool resumed;
  bool created; /* the file did not exist before this run */
  bool marked;  /* its checkpoint is on disk: keep a partial file */
  int lock_fd;
  char *path;
};

/* First of all (before a transfer starts): opens and locks the target. */
int pop_target_lock(const struct pop_args *a, struct pop_target *t);
/* Then, with the source open: decides whether to resume, opens the
 * destination. */
int pop_target_open(const struct pop_args *a, const char *source_id,
                    const struct disk *src, struct pop_target *t);
/* After a complete, flushed copy: the checkpoint goes, the target is in
 * place. */
int pop_target_finish(struct pop_target *t);
void pop_target_close(struct pop_target *t);

#endif
