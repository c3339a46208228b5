/* Fuzz target: the input is a VMDK (a sparse or streamOptimized file when
 * it starts with "KDMV", a text descriptor otherwise), read from memory.
 * Extent files named by a descriptor cannot be opened (ZERO extents work).
 * The whole disk is then walked as the copy engine walks it, up to
 * WALK_MAX bytes, and the decoders' contracts are checked: extents cover
 * exactly what was asked, in order; stream chunks come in order, inside
 * the disk, within the announced sizes. */
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

static void walk_stream(struct disk *d)
{
  unsigned char *payload = malloc(d->chunk_payload_max);
  unsigned char *out = malloc(d->chunk_size);
  uint64_t covered = 0, decoded = 0;
  struct disk_chunk c;

  if (!payload || !out)
    goto done;
  while (decoded < WALK_MAX) {
    memset(&c, 0, sizeof c);
    if (d->ops->next_chunk(d, &c, payload) != 1)
      break;
    if (c.offset < covered || c.length == 0 || c.length > d->chunk_size ||
        c.offset > d->size || c.length > d->size - c.offset ||
        c.payload_len > d->chunk_payload_max)
      abort(); /* the stream contract */
    covered = c.offset + c.length;
    if (d->ops->decode_chunk(d, &c, out) < 0)
      break;
    decoded += c.length;
  }
done:
  free(payload);
  free(out);
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
      walk_stream(d);
    } else {
      unsigned char *buf = malloc(STEP);
      if (buf)
        walk_random(d, buf);
      free(buf);
    }
    disk_close(d);
  }
  error_clear();
  return 0;
}
