/* Fuzz target: the qcow2 decoder, on an image held in memory.
 *
 * Opens the input, then walks the disk the way the copy engine does:
 * extents of each step, a read of the whole step, plus a read that starts
 * and ends inside clusters. Checks that the extents tile the step exactly
 * and that zero extents read as zeros. Images over FUZZ_MAX_SIZE are
 * opened (so the header checks are fuzzed) but not walked, to stay fast.
 */
#include <stdint.h>
#include <stdlib.h>

#include "disk/disk.h"
#include "disk/qcow2/qcow2.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/iszero.h"

#define FUZZ_MAX_SIZE (16ull << 20)
#define STEP (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_step(struct disk *d, uint8_t *buf, uint64_t pos, uint64_t n)
{
  struct extent_list l = {0};
  uint64_t at = pos, skew;
  size_t i;

  if (d->ops->extents(d, pos, n, &l) == 0) {
    for (i = 0; i < l.len; i++) {
      if (l.ptr[i].offset != at || l.ptr[i].length == 0)
        abort(); /* extents must tile the range in order */
      at += l.ptr[i].length;
    }
    if (at != pos + n)
      abort();
  }
  error_clear();
  if (d->ops->pread(d, buf, n, pos) == 0) {
    for (i = 0; i < l.len; i++)
      if (l.ptr[i].zero &&
          !is_zero(buf + (l.ptr[i].offset - pos), l.ptr[i].length))
        abort(); /* a zero extent read as data */
  }
  error_clear();
  extent_list_reset(&l);

  /* A read starting and ending inside clusters (partial compressed
   * clusters, subclusters, runs cut short). */
  skew = MIN(n / 3, 4095);
  if (n > 2 * skew + 1 &&
      d->ops->pread(d, buf, n - 2 * skew - 1, pos + skew) < 0)
    error_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct bytesource *bs;
  struct disk *d;
  uint8_t *buf;
  uint64_t pos;

  if (bytesource_open_memory(data, size, "fuzz.qcow2", &bs) < 0 ||
      qcow2_open(bs, &d) < 0) {
    error_clear();
    return 0;
  }
  buf = d->size <= FUZZ_MAX_SIZE ? malloc(STEP) : NULL;
  for (pos = 0; buf && pos < d->size; pos += STEP)
    walk_step(d, buf, pos, MIN(STEP, d->size - pos));
  free(buf);
  disk_close(d);
  error_clear();
  return 0;
}
