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
  struct dest *dst;
  struct checkpoint *cp; /* NULL: no resume */
  bool is_block;
  bool resumed;
  int lock_fd;
};

int pop_target_open(const struct pop_args *a, const char *source_id,
                    const struct disk *src, struct pop_target *t);
/* After a complete, flushed copy: the checkpoint goes, the target is in
 * place. */
int pop_target_finish(struct pop_target *t);
void pop_target_close(struct pop_target *t);

#endif
