/* The target volume (see target.h). */
#include "populator/target.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"

/* DIR/.NAME.hoist-checkpoint, DIR being --checkpoint-dir or the target's
 * own directory; NULL path: no checkpoint. */
static int checkpoint_path_for(const struct pop_args *a, bool is_block,
                               char **ret)
{
  _cleanup_free_ char *c1 = strdup(a->volume_path), *c2 = NULL;
  const char *dir;

  *ret = NULL;
  if (a->no_checkpoint || (is_block && !a->checkpoint_dir))
    return 0;
  c2 = strdup(a->volume_path);
  if (!c1 || !c2)
    return error_set(ENOMEM, "out of memory");
  dir = a->checkpoint_dir ? a->checkpoint_dir : dirname(c1);
  if (asprintf(ret, "%s/.%s.hoist-checkpoint", dir, basename(c2)) < 0) {
    *ret = NULL;
    return error_set(ENOMEM, "out of memory");
  }
  return 0;
}

/* Opens and locks the target as it is now (creating a missing file
 * empty), and describes it. */
int pop_target_lock(const struct pop_args *a, struct pop_target *t)
{
  struct checkpoint_identity *id = &t->id;
  const char *path = a->volume_path;
  struct stat st;

  bool exists = stat(path, &st) == 0;

  if (exists && S_ISDIR(st.st_mode))
    return error_set(EISDIR,
                     "%s: is a directory; give the path of the disk "
                     "file to write (e.g. /mnt/disk.img)",
                     path);
  /* Without a checkpoint a new file is made under a temporary name. */
  if (!exists && a->no_checkpoint) {
    id->target_kind = "file";
    return 0;
  }
  t->path = strdup(path);
  if (!t->path)
    return error_set(ENOMEM, "out of memory");
  t->created = !exists;
  t->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (t->lock_fd < 0)
    return error_errno("%s: cannot open the target", path);
  if (flock(t->lock_fd, LOCK_EX | LOCK_NB) < 0)
    return errno == EWOULDBLOCK
               ? error_set(EBUSY,
                           "%s: another hoist-populator is writing "
                           "this target",
                           path)
               : error_errno("%s: cannot lock the target", path);
  if (fstat(t->lock_fd, &st) < 0)
    return error_errno("%s: cannot stat the target", path);
  t->is_block = S_ISBLK(st.st_mode);
  if (!t->is_block && !S_ISREG(st.st_mode))
    return error_set(EINVAL, "%s: neither a regular file nor a block device",
                     path);
  id->target_kind = t->is_block ? "block" : "file";
  id->target_dev = t->is_block ? (uint64_t)st.st_rdev : 0;
  id->target_ino = t->is_block ? 0 : (uint64_t)st.st_ino;
  id->target_size = (uint64_t)st.st_size;
  if (t->is_block && ioctl(t->lock_fd, BLKGETSIZE64, &id->target_size) < 0)
    return error_errno("%s: cannot get the size of the block device", path);
  return 0;
}

static int new_checkpoint(const char *cp_path, struct checkpoint_identity *id,
                          const struct pop_args *a, struct pop_target *t)
{
  struct stat st;
  int r;

  /* The file now has the disk's size. */
  if (!t->is_block) {
    if (fstat(t->lock_fd, &st) < 0)
      return error_errno("%s: cannot stat the target", a->volume_path);
    id->target_size = (uint64_t)st.st_size;
  }
  r = checkpoint_new(cp_path, id, a->checkpoint_interval, &t->cp);
  /* Written before any data: a partly written target always has one. */
  if (r == 0)
    r = checkpoint_write(t->cp);
  t->marked = r == 0;
  return r;
}

int pop_target_open(const struct pop_args *a, const char *source_id,
                    const struct disk *src, struct pop_target *t)
{
  struct checkpoint_identity id = t->id;
  struct dest_file_options dopts = {0};
  _cleanup_free_ char *cp_path = NULL, *why = NULL;
  int r;

  id.source_id = source_id;
  id.source_size = src->size;
  r = checkpoint_path_for(a, t->is_block, &cp_path);
  if (r < 0)
    return r;
  if (cp_path) {
    r = checkpoint_load(cp_path, &id, a->checkpoint_interval, &t->cp, &why);
    if (r < 0)
      return r;
    t->resumed = r == 1;
    t->marked = t->resumed;
    if (why)
      pop_log("checkpoint %s discarded: %s; starting over", cp_path, why);
  } else if (t->is_block && !a->no_checkpoint) {
    pop_log("%s: no --checkpoint-dir for this block device: an interrupted "
            "copy will start over",
            a->volume_path);
  }
  /* Without a checkpoint to mark a partial file, a new file is written
   * under a temporary name and renamed when complete. */
  dopts.in_place = cp_path != NULL;
  dopts.keep = t->resumed;
  r = dest_open_file(a->volume_path, src->size, &dopts, &t->dst);
  if (r < 0)
    return r;
  if (cp_path && !t->resumed)
    r = new_checkpoint(cp_path, &id, a, t);
  return r;
}

int pop_target_finish(struct pop_target *t)
{
  int r = dest_commit(t->dst);

  if (r == 0 && t->cp)
    r = checkpoint_remove(t->cp);
  t->created = false; /* complete: it stays */
  return r;
}

void pop_target_close(struct pop_target *t)
{
  /* A file this run made, with nothing to resume from: it goes. */
  if (t->created && !t->marked && t->lock_fd >= 0 && t->path)
    unlink(t->path);
  free(t->path);
  dest_close(t->dst);
  checkpoint_free(t->cp);
  if (t->lock_fd >= 0)
    close(t->lock_fd);
  *t = (struct pop_target){.lock_fd = -1};
}
