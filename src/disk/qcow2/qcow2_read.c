/* qcow2: extents() and pread().
 *
 * extents() reads only L1/L2 metadata (and asks the file system where the
 * file has holes under data clusters). pread() turns a range into runs:
 * zero runs are memset, host-contiguous data runs (across clusters and L2
 * tables) become one read each, and compressed clusters are read and
 * inflated with libdeflate (raw deflate, no zlib header), straight into
 * the caller's buffer when the whole cluster is asked for. Scratch buffers
 * and decompressors come from a small pool, one per concurrent caller.
 */
#include "disk/qcow2/qcow2_impl.h"

#include <errno.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/error.h"

struct qcow2_scratch {
  struct qcow2_scratch *next;
  struct libdeflate_decompressor *inflater;
  uint8_t *in; /* compressed bytes */
  size_t in_size;
  uint8_t *cluster; /* one decompressed cluster, when only part is asked */
};

static struct qcow2_scratch *scratch_get(struct qcow2 *q)
{
  struct qcow2_scratch *s;

  pthread_mutex_lock(&q->lock);
  s = q->scratch_pool;
  if (s)
    q->scratch_pool = s->next;
  pthread_mutex_unlock(&q->lock);
  if (s)
    return s;
  s = calloc(1, sizeof *s);
  if (s)
    s->inflater = libdeflate_alloc_decompressor();
  if (!s || !s->inflater) {
    free(s);
    error_set(ENOMEM, "out of memory");
    return NULL;
  }
  return s;
}

static void scratch_put(struct qcow2 *q, struct qcow2_scratch *s)
{
  if (!s)
    return;
  pthread_mutex_lock(&q->lock);
  s->next = q->scratch_pool;
  q->scratch_pool = s;
  pthread_mutex_unlock(&q->lock);
}

void qcow2_scratch_free_all(struct qcow2 *q)
{
  while (q->scratch_pool) {
    struct qcow2_scratch *s = q->scratch_pool;
    q->scratch_pool = s->next;
    libdeflate_free_decompressor(s->inflater);
    free(s->in);
    free(s->cluster);
    free(s);
  }
}

/* Appends the extents of a data run, with the holes of the file under it
 * (images preallocated with preallocation=metadata, or punched) as zeros,
 * as the file system reports them without reading. */
static int add_data_run(struct qcow2 *q, const struct qcow2_run *run,
                        struct extent_list *host, struct extent_list *out)
{
  struct bytesource *bs = q->d.bs;
  size_t i;
  int r;

  if (!bs->ops->extents)
    return extent_list_add(out, run->offset, run->length, false);
  extent_list_clear(host);
  r = bs->ops->extents(bs, run->host, run->length, host);
  for (i = 0; r == 0 && i < host->len; i++)
    r = extent_list_add(out, run->offset + (host->ptr[i].offset - run->host),
                        host->ptr[i].length, host->ptr[i].zero);
  return r;
}

int qcow2_extents(struct disk *d, uint64_t offset, uint64_t length,
                  struct extent_list *out)
{
  struct qcow2 *q = (struct qcow2 *)d;
  struct qcow2_cursor c = {.count = 0};
  struct extent_list host = {0};
  uint64_t pos = offset, end = offset + length;
  int r = 0;

  if (offset > d->size || length > d->size - offset)
    return error_set(EINVAL, "%s: extents asked past the end of the disk",
                     d->name);
  while (r == 0 && pos < end) {
    struct qcow2_run run;
    r = qcow2_map(q, &c, pos, end, &run);
    if (r < 0)
      break;
    if (run.kind == QCOW2_DATA)
      r = add_data_run(q, &run, &host, out);
    else
      r = extent_list_add(out, run.offset, run.length, run.kind == QCOW2_ZERO);
    pos += run.length;
  }
  extent_list_reset(&host);
  return r;
}

/* Reads and inflates the compressed cluster behind run into dst. */
static int read_compressed(struct qcow2 *q, struct qcow2_scratch *s,
                           const struct qcow2_run *run, uint8_t *dst)
{
  uint64_t in_cluster = run->offset & (q->cluster_size - 1);
  bool whole = in_cluster == 0 && run->length == q->cluster_size;
  uint8_t *out;
  enum libdeflate_result res;
  int r;

  if (s->in_size < run->csize) {
    free(s->in);
    s->in_size = 0;
    s->in = malloc(run->csize);
    if (!s->in)
      return error_set(ENOMEM, "out of memory");
    s->in_size = run->csize;
  }
  if (!whole && !s->cluster) {
    s->cluster = malloc(q->cluster_size);
    if (!s->cluster)
      return error_set(ENOMEM, "out of memory");
  }
  r = bytesource_pread(q->d.bs, s->in, run->csize, run->host);
  if (r < 0)
    return r;
  out = whole ? dst : s->cluster;
  res = libdeflate_deflate_decompress(s->inflater, s->in, run->csize, out,
                                      q->cluster_size, NULL);
  if (res != LIBDEFLATE_SUCCESS)
    return error_set(EIO,
                     "%s: corrupt qcow2 image: the compressed cluster at "
                     "virtual offset %llu (host offset %llu) %s",
                     q->d.name, (unsigned long long)(run->offset - in_cluster),
                     (unsigned long long)run->host,
                     res == LIBDEFLATE_SHORT_OUTPUT
                         ? "inflates to less than a cluster"
                     : res == LIBDEFLATE_INSUFFICIENT_SPACE
                         ? "inflates to more than a cluster"
                         : "is not a valid deflate stream");
  if (!whole)
    memcpy(dst, s->cluster + in_cluster, run->length);
  return 0;
}

int qcow2_pread(struct disk *d, void *buf, size_t len, uint64_t offset)
{
  struct qcow2 *q = (struct qcow2 *)d;
  struct qcow2_cursor c = {.count = 0};
  struct qcow2_scratch *s = NULL;
  uint64_t pos = offset, end = offset + len;
  /* Data not read yet: host-contiguous, and contiguous in buf. */
  uint64_t pend_host = 0, pend_len = 0;
  uint8_t *pend_dst = NULL;
  int r = 0;

  if (offset > d->size || len > d->size - offset)
    return error_set(EINVAL, "%s: read past the end of the disk", d->name);
  while (r == 0 && pos < end) {
    uint8_t *dst = (uint8_t *)buf + (pos - offset);
    struct qcow2_run run;

    r = qcow2_map(q, &c, pos, end, &run);
    if (r < 0)
      break;
    switch (run.kind) {
    case QCOW2_ZERO:
      memset(dst, 0, run.length);
      break;
    case QCOW2_DATA:
      if (pend_len && pend_host + pend_len == run.host &&
          pend_dst + pend_len == dst) {
        pend_len += run.length;
        break;
      }
      if (pend_len)
        r = bytesource_pread(d->bs, pend_dst, pend_len, pend_host);
      pend_host = run.host;
      pend_dst = dst;
      pend_len = run.length;
      break;
    case QCOW2_COMPRESSED:
      if (!s && !(s = scratch_get(q)))
        r = -ENOMEM;
      else
        r = read_compressed(q, s, &run, dst);
      break;
    }
    pos += run.length;
  }
  if (r == 0 && pend_len)
    r = bytesource_pread(d->bs, pend_dst, pend_len, pend_host);
  scratch_put(q, s);
  return r;
}
