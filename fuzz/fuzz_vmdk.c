/* Fuzz target: the input is a VMDK (a sparse or streamOptimized file when
 * it starts with "KDMV", a text descriptor otherwise), read from memory.
 * Extent files named by a descriptor cannot be opened (ZERO extents work).
 * The whole disk is then walked as the copy engine walks it, up to
 * WALK_MAX bytes, and the decoders' contracts are checked: extents cover
 * exactly what was asked, in order; stream chunks come in order, inside
 * the disk, within the announced sizes. A streamOptimized input is also
 * read from a pure stream (no pread), which must decode the same. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disk/bytesource.h"
#include "disk/disk.h"
#include "disk/vmdk/vmdk.h"
#include "util/error.h"

#define WALK_MAX (64ull * 1024 * 1024)
#define STEP (1024 * 1024)

static int refuse_sibling(void *opaque, const char *name,
                          struct bytesource **ret)
{
  (void)opaque;
  (void)ret;
  return error_set(ENOENT, "%s: extent files are not available here", name);
}

static void walk_random(struct disk *d, unsigned char *buf)
{
  uint64_t pos = 0, end = d->size < WALK_MAX ? d->size : WALK_MAX;

  while (pos < end) {
    struct extent_list l = {0};
    uint64_t len = end - pos < STEP ? end - pos : STEP, at = pos;
    size_t i;

    if (d->ops->extents(d, pos, len, &l) < 0) {
      extent_list_reset(&l);
      return;
    }
    for (i = 0; i < l.len; i++) {
      const struct extent *e = &l.ptr[i];
      if (e->offset != at || e->length == 0 || e->length > pos + len - at)
        abort(); /* extents must cover the range exactly, in order */
      at += e->length;
      if (!e->zero && d->ops->pread(d, buf, e->length, e->offset) < 0) {
        extent_list_reset(&l);
        return;
      }
    }
    extent_list_reset(&l);
    if (at != pos + len)
      abort();
    pos += len;
  }
  /* An unaligned read across grains. */
  if (d->size > 2) {
    uint64_t off = d->size / 3 + 1, n = d->size - off;
    d->ops->pread(d, buf, n < STEP - 7 ? n : STEP - 7, off);
  }
}

/* FNV-1a over what a walk decoded, and how it ended. */
static uint64_t hash(uint64_t h, const void *p, size_t n)
{
  const unsigned char *b = p;

  while (n--)
    h = (h ^ *b++) * 0x100000001b3ull;
  return h;
}

static uint64_t walk_stream(struct disk *d)
{
  unsigned char *payload = malloc(d->chunk_payload_max);
  unsigned char *out = malloc(d->chunk_size);
  uint64_t covered = 0, decoded = 0, h = 0xcbf29ce484222325ull;
  struct disk_chunk c;
  int r = -ENOMEM;

  if (!payload || !out)
    goto done;
  while (decoded < WALK_MAX) {
    memset(&c, 0, sizeof c);
    r = d->ops->next_chunk(d, &c, payload);
    if (r != 1)
      break;
    if (c.offset < covered || c.length == 0 || c.length > d->chunk_size ||
        c.offset > d->size || c.length > d->size - c.offset ||
        c.payload_len > d->chunk_payload_max)
      abort(); /* the stream contract */
    covered = c.offset + c.length;
    r = d->ops->decode_chunk(d, &c, out);
    if (r < 0)
      break;
    h = hash(h, &c.offset, sizeof c.offset);
    h = hash(h, out, c.length);
    decoded += c.length;
  }
done:
  free(payload);
  free(out);
  r = r < 0 ? -1 : r;
  return hash(h, &r, sizeof r);
}

/* A stream-only source over a buffer, as a gzip member would be. */
struct mem_stream {
  struct bytesource bs;
  const uint8_t *data;
  size_t len, pos;
};

static ssize_t mem_stream_read(struct bytesource *bs, void *buf, size_t len)
{
  struct mem_stream *m = (struct mem_stream *)bs;
  size_t n = m->len - m->pos;

  if (n > len)
    n = len;
  if (n > 3000) /* short reads, as real streams do */
    n = 3000;
  memcpy(buf, m->data + m->pos, n);
  m->pos += n;
  return n;
}

static const struct bytesource_ops mem_stream_ops = {
    .kind = "fuzz stream",
    .read = mem_stream_read,
};

/* The same input read from a pure stream must decode the same. */
static void check_pure_stream(const uint8_t *data, size_t size,
                              uint64_t expected)
{
  struct mem_stream *m;
  struct disk *d = NULL;

  m = (struct mem_stream *)bytesource_new(&mem_stream_ops, sizeof *m,
                                          "fuzz.vmdk");
  if (!m)
    return;
  m->data = data;
  m->len = size;
  if (vmdk_open_sparse(&m->bs, NULL, &d) < 0)
    abort(); /* the random-access source opened it */
  if (!d->stream || walk_stream(d) != expected)
    abort();
  disk_close(d);
  error_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct disk_open_opts opts = {.open_sibling = refuse_sibling};
  struct bytesource *bs;
  struct disk *d = NULL;
  int r;

  if (bytesource_open_memory(data, size, "fuzz.vmdk", &bs) < 0) {
    error_clear();
    return 0;
  }
  if (size >= 4 && memcmp(data, "KDMV", 4) == 0)
    r = vmdk_open_sparse(bs, &opts, &d);
  else
    r = vmdk_open_descriptor(bs, &opts, &d);
  if (r == 0) {
    if (!vmdk_disk_info(d))
      abort();
    if (d->stream) {
      uint64_t h = walk_stream(d);
      disk_close(d);
      error_clear();
      check_pure_stream(data, size, h);
    } else {
      unsigned char *buf = malloc(STEP);
      if (buf)
        walk_random(d, buf);
      free(buf);
      disk_close(d);
    }
  }
  error_clear();
  return 0;
}
