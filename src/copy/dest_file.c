/* Files and block devices as destinations. */
#include "copy/dest.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/checked.h"
#include "util/cleanup.h"
#include "util/error.h"

#define ZERO_BUF_SIZE (1024 * 1024)
/* What O_DIRECT asks of buffer, offset and length on any device we meet
 * (logical blocks are 512 or 4096 bytes). */
#define DIRECT_ALIGN 4096

struct file_dest {
  struct dest d;
  int fd;
  /* The same file opened O_DIRECT, or -1: aligned writes skip the page
   * cache (the copy into it and its writeback cost more CPU than the
   * rest of a copy); whatever is not aligned goes through fd. */
  _Atomic int dfd;
  int dfd_opened;
  char *tmp_path; /* set while the result is not yet in place */
  char *final_path;
  /* Rungs of the zeroing ladder still worth trying. */
  bool can_punch_hole, can_zero_range, can_blkzeroout;
};

static bool is_enotsup(int e)
{
  return e == EOPNOTSUPP || e == ENOTSUP || e == ENOSYS || e == EINVAL ||
         e == ENOTTY;
}

static int write_all(struct file_dest *f, int fd, const char *buf, size_t len,
                     uint64_t offset)
{
  size_t done = 0;

  while (done < len) {
    ssize_t r = pwrite(fd, buf + done, len - done, offset + done);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return error_errno("%s: write at offset %llu", f->d.name,
                         (unsigned long long)(offset + done));
    }
    done += r;
  }
  return 0;
}

/* Writes the aligned head of [buf, buf+len) with O_DIRECT; returns how
 * many bytes it wrote (0: none, the rest goes through the page cache), or
 * a negative errno. A filesystem that opens O_DIRECT but refuses the
 * write turns it off for good. */
static ssize_t write_direct(struct file_dest *f, const char *buf, size_t len,
                            uint64_t offset)
{
  int dfd = atomic_load(&f->dfd);
  size_t n = ROUND_DOWN(len, DIRECT_ALIGN);
  size_t done = 0;

  if (dfd < 0 || n == 0 || !IS_ALIGNED((uintptr_t)buf | offset, DIRECT_ALIGN))
    return 0;
  while (done < n) {
    ssize_t r = pwrite(dfd, buf + done, n - done, offset + done);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && done == 0 && errno == EINVAL) {
      atomic_store(&f->dfd, -1); /* closed with the dest */
      return 0;
    }
    if (r < 0)
      return error_errno("%s: write at offset %llu", f->d.name,
                         (unsigned long long)(offset + done));
    /* A short direct write leaves the rest to the page cache. */
    if (r == 0 || !IS_ALIGNED((size_t)r, DIRECT_ALIGN))
      return done + r;
    done += r;
  }
  return done;
}

static int file_pwrite(struct dest *dst, const void *buf, size_t len,
                       uint64_t offset)
{
  struct file_dest *f = (struct file_dest *)dst;
  ssize_t n = write_direct(f, buf, len, offset);

  if (n < 0)
    return n;
  return write_all(f, f->fd, (const char *)buf + n, len - n, offset + n);
}

static int write_zeros(struct file_dest *f, uint64_t offset, uint64_t len)
{
  static const char zeros[ZERO_BUF_SIZE];

  while (len > 0) {
    size_t n = MIN(len, sizeof zeros);
    int r = write_all(f, f->fd, zeros, n, offset);
    if (r < 0)
      return r;
    offset += n;
    len -= n;
  }
  return 0;
}

static int file_zero(struct dest *dst, uint64_t offset, uint64_t len)
{
  struct file_dest *f = (struct file_dest *)dst;

  if (len == 0)
    return 0;
  if (f->can_punch_hole) {
    if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset,
                  len) == 0)
      return 0;
    if (!is_enotsup(errno))
      return error_errno("%s: punching a hole at offset %llu", dst->name,
                         (unsigned long long)offset);
    f->can_punch_hole = false;
  }
  if (f->can_zero_range) {
    if (fallocate(f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset,
                  len) == 0)
      return 0;
    if (!is_enotsup(errno))
      return error_errno("%s: zeroing a range at offset %llu", dst->name,
                         (unsigned long long)offset);
    f->can_zero_range = false;
  }
  if (f->can_blkzeroout && IS_ALIGNED(offset | len, 512)) {
    uint64_t range[2] = {offset, len};
    if (ioctl(f->fd, BLKZEROOUT, range) == 0)
      return 0;
    if (!is_enotsup(errno))
      return error_errno("%s: BLKZEROOUT at offset %llu", dst->name,
                         (unsigned long long)offset);
    f->can_blkzeroout = false;
  }
  return write_zeros(f, offset, len);
}

static int file_flush(struct dest *dst)
{
  struct file_dest *f = (struct file_dest *)dst;

  if (fsync(f->fd) < 0)
    return error_errno("%s: flush", dst->name);
  return 0;
}

static int file_commit(struct dest *dst)
{
  struct file_dest *f = (struct file_dest *)dst;

  if (!f->tmp_path)
    return 0;
  if (rename(f->tmp_path, f->final_path) < 0)
    return error_errno("%s: cannot move the finished copy into place",
                       f->final_path);
  free(f->tmp_path);
  f->tmp_path = NULL;
  return 0;
}

static void file_evict(struct dest *dst, uint64_t offset, uint64_t len,
                       bool wait)
{
  struct file_dest *f = (struct file_dest *)dst;

  if (!wait) {
    sync_file_range(f->fd, offset, len, SYNC_FILE_RANGE_WRITE);
    return;
  }
  sync_file_range(f->fd, offset, len,
                  SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                      SYNC_FILE_RANGE_WAIT_AFTER);
  posix_fadvise(f->fd, offset, len, POSIX_FADV_DONTNEED);
}

static int file_fd(struct dest *dst)
{
  return ((struct file_dest *)dst)->fd;
}

static void file_close(struct dest *dst)
{
  struct file_dest *f = (struct file_dest *)dst;

  if (f->fd >= 0)
    close(f->fd);
  if (f->dfd_opened >= 0)
    close(f->dfd_opened);
  if (f->tmp_path)
    unlink(f->tmp_path);
  free(f->tmp_path);
  free(f->final_path);
}

static const struct dest_ops file_dest_ops = {
    .pwrite = file_pwrite,
    .zero = file_zero,
    .flush = file_flush,
    .commit = file_commit,
    .evict = file_evict,
    .fd = file_fd,
    .close = file_close,
};

static struct file_dest *file_dest_new(const char *path)
{
  struct file_dest *f = calloc(1, sizeof *f);

  if (!f)
    return NULL;
  f->d.ops = &file_dest_ops;
  f->fd = f->dfd_opened = -1;
  atomic_init(&f->dfd, -1);
  f->d.name = strdup(path);
  f->final_path = strdup(path);
  if (!f->d.name || !f->final_path) {
    free(f->d.name);
    free(f->final_path);
    free(f);
    return NULL;
  }
  f->can_punch_hole = f->can_zero_range = true;
  return f;
}

static int open_block_device(struct file_dest *f, const char *path,
                             uint64_t size)
{
  uint64_t dev_size;

  f->fd = open(path, O_RDWR | O_CLOEXEC);
  if (f->fd < 0)
    return error_errno("%s: cannot open the block device", path);
  if (ioctl(f->fd, BLKGETSIZE64, &dev_size) < 0)
    return error_errno("%s: cannot get the size of the block device", path);
  if (dev_size < size)
    return error_set(ENOSPC,
                     "%s: the block device holds %llu bytes, but the disk "
                     "needs %llu",
                     path, (unsigned long long)dev_size,
                     (unsigned long long)size);
  f->d.is_block = true;
  f->can_blkzeroout = true;
  return 0;
}

static int open_new_file(struct file_dest *f, const char *path, uint64_t size,
                         const struct dest_file_options *opts)
{
  _cleanup_free_ char *copy1 = strdup(path), *copy2 = strdup(path);

  if (!copy1 || !copy2)
    return error_set(ENOMEM, "out of memory");
  if (asprintf(&f->tmp_path, "%s/.%s.hoist-XXXXXX", dirname(copy1),
               basename(copy2)) < 0) {
    f->tmp_path = NULL;
    return error_set(ENOMEM, "out of memory");
  }
  f->fd = mkostemp(f->tmp_path, O_CLOEXEC); /* opened O_RDWR */
  if (f->fd < 0) {
    int r = error_errno("%s: cannot create the output file", path);
    free(f->tmp_path);
    f->tmp_path = NULL;
    return r;
  }
  fchmod(f->fd, 0644);
  if (ftruncate(f->fd, size) < 0)
    return error_errno("%s: cannot set the size to %llu bytes", path,
                       (unsigned long long)size);
  if (opts && opts->preallocate) {
    int r = posix_fallocate(f->fd, 0, size);
    if (r != 0) {
      errno = r;
      return error_errno("%s: cannot preallocate %llu bytes", path,
                         (unsigned long long)size);
    }
    /* Holes would undo the preallocation. */
    f->can_punch_hole = false;
  } else {
    f->d.sparse = true;
  }
  f->d.is_zero = true;
  return 0;
}

/* The regular file PATH itself, for a copy that may be resumed. */
static int open_in_place(struct file_dest *f, const char *path, uint64_t size,
                         const struct dest_file_options *opts)
{
  struct stat st;

  f->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (f->fd < 0)
    return error_errno("%s: cannot open the output file", path);
  if (fstat(f->fd, &st) < 0)
    return error_errno("%s: cannot stat the output file", path);
  if (!S_ISREG(st.st_mode))
    return error_set(EINVAL, "%s: not a regular file or a block device", path);
  /* Emptied first, so that what is not written reads as zeros. */
  if (!opts->keep && st.st_size != 0 && ftruncate(f->fd, 0) < 0)
    return error_errno("%s: cannot empty the output file", path);
  if ((!opts->keep || (uint64_t)st.st_size != size) &&
      ftruncate(f->fd, size) < 0)
    return error_errno("%s: cannot set the size to %llu bytes", path,
                       (unsigned long long)size);
  f->d.sparse = true;
  f->d.is_zero = !opts->keep;
  return 0;
}

/* The file again, with O_DIRECT, when the filesystem has it (tmpfs has
 * not: then the page cache only) and the path still names the same file. */
static void open_direct(struct file_dest *f, const char *path)
{
  struct stat a, b;
  int fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);

  if (fd < 0)
    return;
  if (fstat(fd, &a) < 0 || fstat(f->fd, &b) < 0 || a.st_dev != b.st_dev ||
      a.st_ino != b.st_ino) {
    close(fd);
    return;
  }
  f->dfd_opened = fd;
  atomic_store(&f->dfd, fd);
}

int dest_open_file(const char *path, uint64_t size,
                   const struct dest_file_options *opts, struct dest **ret)
{
  struct file_dest *f;
  struct stat st;
  int r;

  f = file_dest_new(path);
  if (!f)
    return error_set(ENOMEM, "out of memory");
  f->d.size = size;
  if (stat(path, &st) == 0 && S_ISBLK(st.st_mode))
    r = open_block_device(f, path, size);
  else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    r = error_set(EISDIR,
                  "%s: is a directory; give the path of the disk "
                  "file to write",
                  path);
  else if (opts && opts->in_place)
    r = open_in_place(f, path, size, opts);
  else
    r = open_new_file(f, path, size, opts);
  if (r < 0) {
    dest_close(&f->d);
    return r;
  }
  open_direct(f, f->tmp_path ? f->tmp_path : path);
  *ret = &f->d;
  return 0;
}

int dest_pwrite(struct dest *d, const void *buf, size_t len, uint64_t offset)
{
  return d->ops->pwrite(d, buf, len, offset);
}

int dest_zero(struct dest *d, uint64_t offset, uint64_t len)
{
  return d->ops->zero(d, offset, len);
}

int dest_flush(struct dest *d)
{
  return d->ops->flush(d);
}

int dest_commit(struct dest *d)
{
  return d->ops->commit ? d->ops->commit(d) : 0;
}

void dest_close(struct dest *d)
{
  if (!d)
    return;
  if (d->ops->close)
    d->ops->close(d);
  free(d->name);
  free(d);
}
