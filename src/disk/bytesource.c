/* Byte sources: the common part, local files and slices. */
#include "disk/bytesource.h"
#include "disk/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"

struct bytesource *bytesource_new(const struct bytesource_ops *ops,
                                  size_t size_of_impl, const char *name)
{
  struct bytesource *bs = calloc(1, size_of_impl);

  if (!bs)
    return NULL;
  bs->ops = ops;
  bs->size = BYTESOURCE_SIZE_UNKNOWN;
  bs->name = strdup(name);
  if (!bs->name) {
    free(bs);
    return NULL;
  }
  return bs;
}

int bytesource_verify(struct bytesource *bs)
{
  return bs && bs->ops->verify ? bs->ops->verify(bs) : 0;
}

void bytesource_close(struct bytesource *bs)
{
  if (!bs)
    return;
  if (bs->ops->close)
    bs->ops->close(bs);
  free(bs->peeked);
  free(bs->name);
  free(bs);
}

int bytesource_pread(struct bytesource *bs, void *buf, size_t len,
                     uint64_t offset)
{
  if (!bs->ops->pread)
    return error_set(ESPIPE,
                     "%s: cannot read at an offset: the %s source "
                     "is a stream",
                     bs->name, bs->ops->kind);
  if (len == 0)
    return 0;
  if (bs->size != BYTESOURCE_SIZE_UNKNOWN &&
      (offset > bs->size || len > bs->size - offset))
    return error_set(EIO,
                     "%s: truncated: needs %zu bytes at offset %llu but the "
                     "file ends at %llu",
                     bs->name, len, (unsigned long long)offset,
                     (unsigned long long)bs->size);
  return bs->ops->pread(bs, buf, len, offset);
}

/* One read from the stream, serving peeked bytes first. */
static ssize_t stream_read_some(struct bytesource *bs, void *buf, size_t len)
{
  if (bs->peeked_pos < bs->peeked_len) {
    size_t n = MIN(len, bs->peeked_len - bs->peeked_pos);
    memcpy(buf, bs->peeked + bs->peeked_pos, n);
    bs->peeked_pos += n;
    return n;
  }
  if (bs->ops->read)
    return bs->ops->read(bs, buf, len);

  /* A random-access source read as a stream. */
  if (bs->stream_pos >= bs->size)
    return 0;
  len = MIN(len, bs->size - bs->stream_pos);
  if (bs->ops->pread(bs, buf, len, bs->stream_pos) < 0)
    return -1;
  return len;
}

int bytesource_read_full(struct bytesource *bs, void *buf, size_t len,
                         bool allow_eof)
{
  size_t got = 0;

  while (got < len) {
    ssize_t r = stream_read_some(bs, (char *)buf + got, len - got);
    if (r < 0)
      return error_is_set() ? -error_code() : error_errno("%s", bs->name);
    if (r == 0) {
      if (got == 0 && allow_eof)
        return 0;
      return error_set(EIO,
                       "%s: truncated: the stream ends at byte %llu, "
                       "inside a block of %zu bytes",
                       bs->name, (unsigned long long)bs->stream_pos, len);
    }
    got += r;
    /* Advanced as we go: a random-access source read as a stream reads
     * at stream_pos. */
    bs->stream_pos += r;
  }
  return 1;
}

ssize_t bytesource_read_some(struct bytesource *bs, void *buf, size_t len)
{
  ssize_t r = stream_read_some(bs, buf, len);

  if (r < 0)
    return error_is_set() ? -error_code() : error_errno("%s", bs->name);
  bs->stream_pos += r;
  return r;
}

int bytesource_skip(struct bytesource *bs, uint64_t n)
{
  char buf[65536];

  if (bs->ops->pread && bs->peeked_pos >= bs->peeked_len) {
    if (bs->size != BYTESOURCE_SIZE_UNKNOWN && n > bs->size - bs->stream_pos)
      return error_set(EIO, "%s: truncated: the stream ends at byte %llu",
                       bs->name, (unsigned long long)bs->size);
    bs->stream_pos += n;
    return 0;
  }
  while (n > 0) {
    size_t chunk = MIN(n, sizeof buf);
    int r = bytesource_read_full(bs, buf, chunk, false);
    if (r < 0)
      return r;
    n -= chunk;
  }
  return 0;
}

ssize_t bytesource_peek(struct bytesource *bs, void *buf, size_t len)
{
  size_t got = 0;

  if (bs->ops->pread) {
    size_t n = len;
    if (bs->size != BYTESOURCE_SIZE_UNKNOWN && bs->size < n)
      n = bs->size;
    if (bytesource_pread(bs, buf, n, 0) < 0)
      return -1;
    return n;
  }
  if (bs->peeked || bs->stream_pos)
    return error_set(EINVAL, "%s: internal error: peek after read", bs->name);
  bs->peeked = malloc(len);
  if (!bs->peeked)
    return error_set(ENOMEM, "%s: out of memory", bs->name);
  while (got < len) {
    ssize_t r = bs->ops->read(bs, bs->peeked + got, len - got);
    if (r < 0)
      return error_is_set() ? -error_code() : error_errno("%s", bs->name);
    if (r == 0)
      break;
    got += r;
  }
  bs->peeked_len = got;
  memcpy(buf, bs->peeked, got);
  return got;
}

void bytesource_done_with(struct bytesource *bs, uint64_t offset, uint64_t len)
{
  if (bs->ops->done_with)
    bs->ops->done_with(bs, offset, len);
}

/* ---- local files and block devices ---- */

struct file_source {
  struct bytesource bs;
  int fd;
};

static int file_pread(struct bytesource *bs, void *buf, size_t len,
                      uint64_t offset)
{
  struct file_source *f = (struct file_source *)bs;
  size_t done = 0;

  while (done < len) {
    ssize_t r = pread(f->fd, (char *)buf + done, len - done, offset + done);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return error_errno("%s: read at offset %llu", bs->name,
                         (unsigned long long)(offset + done));
    }
    if (r == 0)
      return error_set(EIO,
                       "%s: truncated: unexpected end of file at "
                       "offset %llu",
                       bs->name, (unsigned long long)(offset + done));
    done += r;
  }
  return 0;
}

/* Holes of sparse files (and of raw images on them) are known without
 * reading them. */
static int file_extents(struct bytesource *bs, uint64_t offset, uint64_t len,
                        struct extent_list *out)
{
  struct file_source *f = (struct file_source *)bs;
  uint64_t pos = offset, end = offset + len;

  while (pos < end) {
    off_t data = lseek(f->fd, pos, SEEK_DATA);
    off_t hole;

    if (data < 0 && errno == ENXIO)
      data = end;
    else if (data < 0) /* no SEEK_DATA here: all data */
      return extent_list_add(out, pos, end - pos, false);
    if ((uint64_t)data > end)
      data = end;
    if (extent_list_add(out, pos, data - pos, true) < 0)
      return -ENOMEM;
    pos = data;
    if (pos >= end)
      break;
    hole = lseek(f->fd, pos, SEEK_HOLE);
    if (hole < 0)
      hole = end;
    if ((uint64_t)hole > end)
      hole = end;
    if (extent_list_add(out, pos, hole - pos, false) < 0)
      return -ENOMEM;
    pos = hole;
  }
  return 0;
}

static void file_done_with(struct bytesource *bs, uint64_t offset, uint64_t len)
{
  struct file_source *f = (struct file_source *)bs;

  /* Keep a large copy from filling the page cache with source pages. */
  posix_fadvise(f->fd, offset, len, POSIX_FADV_DONTNEED);
}

static void file_close(struct bytesource *bs)
{
  struct file_source *f = (struct file_source *)bs;

  if (f->fd >= 0)
    close(f->fd);
}

static const struct bytesource_ops file_ops = {
    .kind = "file",
    .pread = file_pread,
    .extents = file_extents,
    .done_with = file_done_with,
    .close = file_close,
};

int bytesource_open_file(const char *path, struct bytesource **ret)
{
  _cleanup_close_ int fd = -1;
  struct file_source *f;
  struct stat st;

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return error_errno("%s: cannot open", path);
  if (fstat(fd, &st) < 0)
    return error_errno("%s: stat", path);
  f = (struct file_source *)bytesource_new(&file_ops, sizeof *f, path);
  if (!f)
    return error_set(ENOMEM, "%s: out of memory", path);
  if (S_ISBLK(st.st_mode)) {
    uint64_t size;
    if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
      bytesource_close(&f->bs);
      return error_errno("%s: cannot get the size of the block device", path);
    }
    f->bs.size = size;
  } else if (S_ISREG(st.st_mode)) {
    f->bs.size = st.st_size;
  } else {
    bytesource_close(&f->bs);
    return error_set(EINVAL, "%s: not a regular file or block device", path);
  }
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  f->fd = TAKE_FD(fd);
  f->bs.thread_safe = true;
  *ret = &f->bs;
  return 0;
}

/* ---- slices: a window of another source (tar members) ---- */

struct slice_source {
  struct bytesource bs;
  struct bytesource *parent;
  bool owns_parent;
  uint64_t offset;
};

static int slice_pread(struct bytesource *bs, void *buf, size_t len,
                       uint64_t offset)
{
  struct slice_source *s = (struct slice_source *)bs;

  return bytesource_pread(s->parent, buf, len, s->offset + offset);
}

static int slice_extents(struct bytesource *bs, uint64_t offset, uint64_t len,
                         struct extent_list *out)
{
  struct slice_source *s = (struct slice_source *)bs;
  struct extent_list parent = {0};
  size_t i;
  int r;

  if (!s->parent->ops->extents)
    return extent_list_add(out, offset, len, false);
  r = s->parent->ops->extents(s->parent, s->offset + offset, len, &parent);
  for (i = 0; r == 0 && i < parent.len; i++)
    r = extent_list_add(out, parent.ptr[i].offset - s->offset,
                        parent.ptr[i].length, parent.ptr[i].zero);
  extent_list_reset(&parent);
  return r;
}

static void slice_done_with(struct bytesource *bs, uint64_t offset,
                            uint64_t len)
{
  struct slice_source *s = (struct slice_source *)bs;

  bytesource_done_with(s->parent, s->offset + offset, len);
}

static void slice_close(struct bytesource *bs)
{
  struct slice_source *s = (struct slice_source *)bs;

  if (s->owns_parent)
    bytesource_close(s->parent);
}

static const struct bytesource_ops slice_ops = {
    .kind = "archive member",
    .pread = slice_pread,
    .extents = slice_extents,
    .done_with = slice_done_with,
    .close = slice_close,
};

int bytesource_open_slice(struct bytesource *parent, bool owns_parent,
                          uint64_t offset, uint64_t length, const char *name,
                          struct bytesource **ret)
{
  struct slice_source *s;

  if (!parent->ops->pread)
    return error_set(EINVAL, "%s: an archive member needs random access", name);
  if (parent->size != BYTESOURCE_SIZE_UNKNOWN &&
      (offset > parent->size || length > parent->size - offset))
    return error_set(EIO,
                     "%s: truncated: the member needs %llu bytes at offset "
                     "%llu but %s ends at %llu",
                     name, (unsigned long long)length,
                     (unsigned long long)offset, parent->name,
                     (unsigned long long)parent->size);
  s = (struct slice_source *)bytesource_new(&slice_ops, sizeof *s, name);
  if (!s)
    return error_set(ENOMEM, "%s: out of memory", name);
  s->parent = parent;
  s->owns_parent = owns_parent;
  s->offset = offset;
  s->bs.size = length;
  s->bs.thread_safe = parent->thread_safe;
  *ret = &s->bs;
  return 0;
}

/* ---- memory buffers ---- */

struct memory_source {
  struct bytesource bs;
  const unsigned char *data;
};

static int memory_pread(struct bytesource *bs, void *buf, size_t len,
                        uint64_t offset)
{
  struct memory_source *m = (struct memory_source *)bs;

  memcpy(buf, m->data + offset, len); /* bounds checked by the caller */
  return 0;
}

static const struct bytesource_ops memory_ops = {
    .kind = "memory",
    .pread = memory_pread,
};

int bytesource_open_memory(const void *data, size_t len, const char *name,
                           struct bytesource **ret)
{
  struct memory_source *m;

  m = (struct memory_source *)bytesource_new(&memory_ops, sizeof *m, name);
  if (!m)
    return error_set(ENOMEM, "%s: out of memory", name);
  m->data = data;
  m->bs.size = len;
  m->bs.thread_safe = true;
  *ret = &m->bs;
  return 0;
}
