/* Opening disks: format detection from the content, and the raw format. */
#include "disk/disk.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk/qcow2/qcow2.h"
#include "disk/vmdk/vmdk.h"
#include "util/cleanup.h"
#include "util/error.h"

struct disk *disk_new(const struct disk_ops *ops, size_t size_of_impl,
                      struct bytesource *bs, const char *format)
{
  struct disk *d = calloc(1, size_of_impl);

  if (!d)
    return NULL;
  d->name = strdup(bs->name);
  if (!d->name) {
    free(d);
    return NULL;
  }
  d->ops = ops;
  d->bs = bs;
  d->format = format;
  d->allocated = DISK_UNKNOWN;
  d->request_size = 1024 * 1024;
  return d;
}

int disk_verify(struct disk *d)
{
  return bytesource_verify(d->bs);
}

void disk_close(struct disk *d)
{
  if (!d)
    return;
  if (d->ops->close)
    d->ops->close(d);
  bytesource_close(d->bs);
  free(d->variant);
  free(d->name);
  free(d);
}

int extent_list_add(struct extent_list *l, uint64_t offset, uint64_t length,
                    bool zero)
{
  struct extent *last = l->len ? &l->ptr[l->len - 1] : NULL;

  if (length == 0)
    return 0;
  if (last && last->zero == zero && last->offset + last->length == offset) {
    last->length += length;
    return 0;
  }
  if (extent_list_append(l, (struct extent){offset, length, zero}) < 0)
    return error_set(ENOMEM, "out of memory");
  return 0;
}

int disk_extents_all_data(struct disk *d, uint64_t offset, uint64_t length,
                          struct extent_list *out)
{
  (void)d;
  return extent_list_add(out, offset, length, false);
}

/* ---- raw ---- */

static int raw_pread(struct disk *d, void *buf, size_t len, uint64_t offset)
{
  return bytesource_pread(d->bs, buf, len, offset);
}

static int raw_extents(struct disk *d, uint64_t offset, uint64_t length,
                       struct extent_list *out)
{
  if (d->bs->ops->extents)
    return d->bs->ops->extents(d->bs, offset, length, out);
  return extent_list_add(out, offset, length, false);
}

static const struct disk_ops raw_ops = {
    .extents = raw_extents,
    .pread = raw_pread,
};

int raw_open(struct bytesource *bs, struct disk **ret)
{
  struct disk *d;

  if (!bytesource_can_pread(bs) || bs->size == BYTESOURCE_SIZE_UNKNOWN) {
    int r = error_set(ENOTSUP,
                      "%s: a raw image must be read at random offsets, but "
                      "this %s source is a stream",
                      bs->name, bs->ops->kind);
    bytesource_close(bs);
    return r;
  }
  d = disk_new(&raw_ops, sizeof *d, bs, "raw");
  if (!d) {
    bytesource_close(bs);
    return error_set(ENOMEM, "out of memory");
  }
  d->size = bs->size;
  d->thread_safe = bs->thread_safe;
  *ret = d;
  return 0;
}

/* ---- detection ---- */

/* A VMDK text descriptor: comments and key=value lines, with a createType.
 * Detected by its first line or by a createType within the first sector. */
static bool looks_like_vmdk_descriptor(const unsigned char *buf, size_t len)
{
  static const char sig[] = "# Disk DescriptorFile";
  size_t i;

  if (len >= sizeof sig - 1 && memcmp(buf, sig, sizeof sig - 1) == 0)
    return true;
  for (i = 0; i < len; i++)
    if (buf[i] == 0)
      return false;
  return memmem(buf, len, "createType", 10) != NULL &&
         memmem(buf, len, "version", 7) != NULL;
}

/* A gzip member header: magic, deflate, no reserved flag bits. */
static bool looks_like_gzip(const unsigned char *buf, size_t len)
{
  return len >= 10 && buf[0] == 0x1f && buf[1] == 0x8b && buf[2] == 8 &&
         (buf[3] & 0xe0) == 0;
}

static int disk_open_depth(struct bytesource *bs,
                           const struct disk_open_opts *opts, struct disk **ret,
                           int depth)
{
  unsigned char head[1024];
  ssize_t n;

  n = bytesource_peek(bs, head, sizeof head);
  if (n < 0) {
    bytesource_close(bs);
    return -error_code();
  }
  /* A gzip-compressed image (disk.vmdk.gz, an OVF member with
   * ovf:compression="gzip") is decoded on the fly, as a stream: only
   * formats that can be read forward (streamOptimized VMDK) work so. */
  if (depth == 0 && looks_like_gzip(head, n)) {
    struct bytesource *gz;
    int r = bytesource_open_gunzip(bs, &gz);
    if (r < 0)
      return r;
    return disk_open_depth(gz, opts, ret, depth + 1);
  }
  if (n >= 4 && memcmp(head, "QFI\xfb", 4) == 0) {
    if (!bytesource_can_pread(bs)) {
      int r = error_set(ENOTSUP,
                        "%s: a qcow2 image must be read at random offsets, "
                        "but this %s source is a stream",
                        bs->name, bs->ops->kind);
      bytesource_close(bs);
      return r;
    }
    return qcow2_open(bs, ret);
  }
  if (n >= 4 && memcmp(head, "KDMV", 4) == 0)
    return vmdk_open_sparse(bs, opts, ret);
  if (n >= 4 && memcmp(head, "COWD", 4) == 0) {
    int r = error_set(ENOTSUP,
                      "%s: VMDK ESX Server sparse (COWD) extents are not "
                      "supported; convert the disk to monolithicSparse or "
                      "streamOptimized first",
                      bs->name);
    bytesource_close(bs);
    return r;
  }
  if (n > 0 && looks_like_vmdk_descriptor(head, n))
    return vmdk_open_descriptor(bs, opts, ret);
  return raw_open(bs, ret);
}

int disk_open(struct bytesource *bs, const struct disk_open_opts *opts,
              struct disk **ret)
{
  uint32_t request_size = bs->request_size;
  unsigned max_readers = bs->max_readers;
  int r = disk_open_depth(bs, opts, ret, 0);

  /* The source's hints hold for whatever decoder reads it. */
  if (r == 0 && request_size > (*ret)->request_size)
    (*ret)->request_size = request_size;
  if (r == 0 && max_readers &&
      (!(*ret)->max_workers || (*ret)->max_workers > max_readers))
    (*ret)->max_workers = max_readers;
  return r;
}

/* Siblings of a local file live in the same directory. */
static int open_sibling_in_dir(void *opaque, const char *name,
                               struct bytesource **ret)
{
  const char *dir = opaque;
  _cleanup_free_ char *path = NULL;

  /* Extents are named relative to their descriptor; never wander off. */
  if (name[0] == '/' || strstr(name, "../") || streq(name, ".."))
    return error_set(EINVAL,
                     "extent file name \"%s\" leaves the descriptor's "
                     "directory; hoist only opens extents next to it",
                     name);
  if (asprintf(&path, "%s/%s", dir, name) < 0)
    return error_set(ENOMEM, "out of memory");
  return bytesource_open_file(path, ret);
}

int disk_open_path(const char *path, struct disk **ret)
{
  static _Thread_local char dir[4096];
  _cleanup_free_ char *copy = strdup(path);
  struct bytesource *bs;
  struct disk_open_opts opts;
  int r;

  if (!copy)
    return error_set(ENOMEM, "out of memory");
  snprintf(dir, sizeof dir, "%s", dirname(copy));
  r = bytesource_open_file(path, &bs);
  if (r < 0)
    return r;
  opts = (struct disk_open_opts){.open_sibling = open_sibling_in_dir,
                                 .opaque = dir};
  return disk_open(bs, &opts, ret);
}

int disk_refuse_sibling(void *transport, const char *name,
                        struct bytesource **ret)
{
  (void)ret;
  return error_set(ENOTSUP,
                   "the image refers to another file (\"%s\"), which "
                   "cannot be read over %s",
                   name, (const char *)transport);
}
