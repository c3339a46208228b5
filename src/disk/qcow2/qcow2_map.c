/* qcow2: the L2 cache, and the mapping of virtual offsets to runs.
 *
 * L2 tables are read on demand into a small LRU cache (at most
 * QCOW2_L2_CACHE_BYTES). Readers copy the entries they need into a cursor
 * on their own stack under the lock, then map without it; a table is read
 * from the file with the lock released, so workers never wait on each
 * other's I/O. Every entry is checked where it is used, so a corrupt entry
 * fails the range that needs it, with the virtual offset in the message.
 */
#include "disk/qcow2/qcow2_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/endian.h"
#include "util/error.h"

int qcow2_cache_init(struct qcow2 *q)
{
  unsigned n = QCOW2_L2_CACHE_BYTES / q->cluster_size;

  n = MIN(MAX(n, QCOW2_L2_CACHE_MIN), QCOW2_L2_CACHE_MAX);
  q->slots = calloc(n, sizeof *q->slots);
  if (!q->slots)
    return error_set(ENOMEM, "out of memory");
  q->nslots = n;
  return 0;
}

void qcow2_cache_free(struct qcow2 *q)
{
  unsigned i;

  for (i = 0; q->slots && i < q->nslots; i++)
    free(q->slots[i].table);
  free(q->slots);
  q->slots = NULL;
}

/* With the lock held. */
static struct qcow2_l2_slot *cache_find(struct qcow2 *q, uint64_t l2_offset)
{
  unsigned i;

  for (i = 0; i < q->nslots; i++)
    if (q->slots[i].offset == l2_offset)
      return &q->slots[i];
  return NULL;
}

/* With the lock held: a free slot, or the least recently used one. */
static struct qcow2_l2_slot *cache_victim(struct qcow2 *q)
{
  struct qcow2_l2_slot *v = &q->slots[0];
  unsigned i;

  for (i = 0; i < q->nslots; i++) {
    if (!q->slots[i].offset)
      return &q->slots[i];
    if (q->slots[i].used < v->used)
      v = &q->slots[i];
  }
  return v;
}

/* Copies len bytes at byte `at` of the L2 table at l2_offset to out. */
static int cache_copy(struct qcow2 *q, uint64_t l2_offset, size_t at,
                      size_t len, void *out)
{
  struct qcow2_l2_slot *s;
  _cleanup_free_ uint8_t *table = NULL;
  int r;

  pthread_mutex_lock(&q->lock);
  s = cache_find(q, l2_offset);
  if (s) {
    memcpy(out, s->table + at, len);
    s->used = ++q->clock;
    pthread_mutex_unlock(&q->lock);
    return 0;
  }
  pthread_mutex_unlock(&q->lock);

  table = malloc(q->cluster_size);
  if (!table)
    return error_set(ENOMEM, "out of memory");
  r = bytesource_pread(q->d.bs, table, q->cluster_size, l2_offset);
  if (r < 0)
    return r;

  pthread_mutex_lock(&q->lock);
  s = cache_find(q, l2_offset); /* another worker may have been faster */
  if (!s) {
    s = cache_victim(q);
    free(s->table);
    s->table = TAKE_PTR(table);
    s->offset = l2_offset;
  }
  memcpy(out, s->table + at, len);
  s->used = ++q->clock;
  pthread_mutex_unlock(&q->lock);
  return 0;
}

/* Loads the entries of `cluster` and those after it in its L2 table. */
static int cursor_fill(struct qcow2 *q, struct qcow2_cursor *c,
                       uint64_t cluster)
{
  uint64_t l2_entries = 1ull << q->l2_bits;
  uint64_t l1_index = cluster >> q->l2_bits;
  uint64_t index = cluster & (l2_entries - 1);
  uint64_t count = l2_entries - index;
  int r;

  if (l1_index >= q->l1_entries) /* offsets are checked against the size */
    return error_set(EINVAL,
                     "%s: internal error: cluster %llu is outside "
                     "the L1 table",
                     q->d.name, (unsigned long long)cluster);
  c->count = 0;
  c->first = cluster;
  c->l2_offset = q->l1[l1_index];
  if (c->l2_offset) {
    count = MIN(count, QCOW2_CURSOR_BYTES / q->entry_size);
    r = cache_copy(q, c->l2_offset, index * q->entry_size,
                   count * q->entry_size, c->entries);
    if (r < 0)
      return r;
  }
  c->count = count;
  return 0;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
  return alen && blen && a < b + blen && b < a + alen;
}

const char *qcow2_overlaps_metadata(const struct qcow2 *q, uint64_t host,
                                    uint64_t len, uint64_t l2_offset)
{
  if (host < q->cluster_size)
    return "the header";
  if (overlaps(host, len, q->l1_offset, q->l1_entries * 8))
    return "the L1 table";
  if (overlaps(host, len, q->reftable_offset, q->reftable_bytes))
    return "the refcount table";
  if (l2_offset && overlaps(host, len, l2_offset, q->cluster_size))
    return "its own L2 table";
  return NULL;
}

/* One granule (a cluster, or a subcluster with extended L2 entries). */
struct granule {
  enum qcow2_kind kind;
  uint64_t host; /* DATA: host offset of the granule's first byte asked */
  uint32_t csize;
  uint64_t end; /* virtual end of the granule, at most the range's end */
};

static int corrupt(const struct qcow2 *q, uint64_t pos, const char *what)
{
  return error_set(EIO,
                   "%s: corrupt qcow2 image: the L2 entry for virtual "
                   "offset %llu %s",
                   q->d.name, (unsigned long long)pos, what);
}

static int check_data(const struct qcow2 *q, const struct qcow2_cursor *c,
                      uint64_t pos, uint64_t cluster_host, uint64_t need_end)
{
  char what[160];
  const char *meta;

  if (cluster_host & (q->cluster_size - 1)) {
    snprintf(what, sizeof what,
             "points to host offset %llu, which is not "
             "aligned to a cluster",
             (unsigned long long)cluster_host);
    return corrupt(q, pos, what);
  }
  if (need_end > q->file_size) {
    snprintf(what, sizeof what,
             "points to host offset %llu, past the end "
             "of the file (%llu bytes)",
             (unsigned long long)cluster_host,
             (unsigned long long)q->file_size);
    return corrupt(q, pos, what);
  }
  meta =
      qcow2_overlaps_metadata(q, cluster_host, q->cluster_size, c->l2_offset);
  if (meta) {
    snprintf(what, sizeof what, "points to host offset %llu, inside %s",
             (unsigned long long)cluster_host, meta);
    return corrupt(q, pos, what);
  }
  return 0;
}

static int check_compressed(const struct qcow2 *q, const struct qcow2_cursor *c,
                            uint64_t pos, struct granule *g)
{
  uint64_t end = g->host + g->csize;
  char what[200];
  const char *meta;

  /* The descriptor counts whole sectors; the last one may end past the end
   * of a file that was not padded (QEMU reads zeros there). */
  if (g->host < q->file_size && end > q->file_size &&
      end - q->file_size < QCOW2_SECTOR) {
    end = q->file_size;
    g->csize = end - g->host;
  }
  if (end > q->file_size) {
    snprintf(what, sizeof what,
             "describes compressed data at host offset "
             "%llu (%u bytes), past the end of the file "
             "(%llu bytes)",
             (unsigned long long)g->host, g->csize,
             (unsigned long long)q->file_size);
    return corrupt(q, pos, what);
  }
  meta = qcow2_overlaps_metadata(q, g->host, g->csize, c->l2_offset);
  if (meta) {
    snprintf(what, sizeof what,
             "describes compressed data at host offset "
             "%llu, inside %s",
             (unsigned long long)g->host, meta);
    return corrupt(q, pos, what);
  }
  return 0;
}

/* Classifies the granule holding virtual offset pos (held by c). */
static int classify(const struct qcow2 *q, const struct qcow2_cursor *c,
                    uint64_t pos, uint64_t end, struct granule *g)
{
  uint64_t cluster = pos >> q->cluster_bits;
  uint64_t cstart = cluster << q->cluster_bits;
  uint64_t entry = 0, bitmap = 0, host;
  unsigned sc;

  if (c->l2_offset) {
    const uint8_t *p = c->entries + (cluster - c->first) * q->entry_size;
    entry = load_be64(p);
    if (q->extended_l2)
      bitmap = load_be64(p + 8);
  }
  g->end = MIN(cstart + q->cluster_size, end);

  if (entry & QCOW_OFLAG_COMPRESSED) {
    uint64_t sectors = ((entry >> q->csize_shift) & q->csize_mask) + 1;
    g->kind = QCOW2_COMPRESSED;
    g->host = entry & q->coffset_mask;
    g->csize = sectors * QCOW2_SECTOR - (g->host & (QCOW2_SECTOR - 1));
    return check_compressed(q, c, pos, g);
  }

  host = entry & L2E_OFFSET_MASK;
  if (!q->extended_l2) {
    if (entry & QCOW_OFLAG_ZERO) {
      if (q->version < 3)
        return corrupt(q, pos,
                       "marks a zero cluster, which a version 2 "
                       "image cannot have");
      g->kind = QCOW2_ZERO;
      return 0;
    }
  } else {
    uint32_t alloc = bitmap, zero = bitmap >> 32;
    sc = (pos - cstart) >> q->subcluster_bits;
    g->end = MIN(cstart + ((uint64_t)(sc + 1) << q->subcluster_bits), end);
    if (alloc & zero)
      return corrupt(q, pos, "marks subclusters both allocated and zero");
    if (!host && alloc)
      return corrupt(q, pos,
                     "marks subclusters allocated in an "
                     "unallocated cluster");
    if ((zero >> sc) & 1 || !((alloc >> sc) & 1))
      host = 0; /* zero, or unallocated (no backing file: zeros too) */
  }
  if (!host) {
    g->kind = QCOW2_ZERO;
    return 0;
  }
  g->kind = QCOW2_DATA;
  g->host = host + (pos - cstart);
  return check_data(q, c, pos, host, host + (g->end - cstart));
}

int qcow2_map(struct qcow2 *q, struct qcow2_cursor *c, uint64_t offset,
              uint64_t end, struct qcow2_run *run)
{
  uint64_t cluster = offset >> q->cluster_bits;
  uint64_t limit, pos;
  struct granule g;
  int r;

  if (!c->count || cluster < c->first || cluster - c->first >= c->count) {
    r = cursor_fill(q, c, cluster);
    if (r < 0)
      return r;
  }
  r = classify(q, c, offset, end, &g);
  if (r < 0)
    return r;
  *run = (struct qcow2_run){
      .kind = g.kind, .offset = offset, .host = g.host, .csize = g.csize};
  limit = MIN(end, (c->first + c->count) << q->cluster_bits);
  if (!c->l2_offset) { /* an unallocated L2 table: zeros to its end */
    run->length = limit - offset;
    return 0;
  }
  pos = g.end;
  while (g.kind != QCOW2_COMPRESSED && pos < limit) {
    struct granule n;
    r = classify(q, c, pos, end, &n);
    if (r < 0)
      return r;
    if (n.kind != g.kind ||
        (n.kind == QCOW2_DATA && n.host != run->host + (pos - offset)))
      break;
    pos = n.end;
  }
  run->length = pos - offset;
  return 0;
}
