/* A gzip stream decoded on the fly (OVF ovf:compression="gzip"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "disk/bytesource.h"
#include "util/error.h"

#define GUNZIP_INBUF (256 * 1024)

struct gunzip_source {
  struct bytesource bs;
  struct bytesource *parent;
  z_stream z;
  unsigned char *in;
  bool finished;
};

static ssize_t gunzip_read(struct bytesource *bs, void *buf, size_t len)
{
  struct gunzip_source *g = (struct gunzip_source *)bs;

  if (g->finished || len == 0)
    return 0;
  g->z.next_out = buf;
  g->z.avail_out = len > UINT32_MAX ? UINT32_MAX : len;
  while (g->z.avail_out > 0) {
    int r;
    if (g->z.avail_in == 0) {
      /* Whatever the parent has: its size may be unknown (a stream). */
      ssize_t n = bytesource_read_some(g->parent, g->in, GUNZIP_INBUF);
      if (n < 0)
        return n;
      if (n == 0)
        return error_set(EIO, "%s: truncated: the gzip stream ends early",
                         bs->name);
      g->z.next_in = g->in;
      g->z.avail_in = n;
    }
    r = inflate(&g->z, Z_NO_FLUSH);
    if (r == Z_STREAM_END) {
      /* Concatenated gzip members (as gzip -c a b makes) continue; the
       * parent's end after a member's end is the end of the stream. */
      if (g->z.avail_in == 0) {
        ssize_t n = bytesource_read_some(g->parent, g->in, GUNZIP_INBUF);
        if (n < 0)
          return n;
        if (n == 0) {
          g->finished = true;
          break;
        }
        g->z.next_in = g->in;
        g->z.avail_in = n;
      }
      inflateReset(&g->z);
      continue;
    }
    if (r != Z_OK)
      return error_set(EIO, "%s: corrupt gzip data: %s", bs->name,
                       g->z.msg ? g->z.msg : "inflate failed");
  }
  return (char *)g->z.next_out - (char *)buf;
}

static void gunzip_close(struct bytesource *bs)
{
  struct gunzip_source *g = (struct gunzip_source *)bs;

  inflateEnd(&g->z);
  free(g->in);
  bytesource_close(g->parent);
}

static const struct bytesource_ops gunzip_ops = {
    .kind = "gzip",
    .read = gunzip_read,
    .close = gunzip_close,
};

int bytesource_open_gunzip(struct bytesource *parent, struct bytesource **ret)
{
  struct gunzip_source *g;

  g = (struct gunzip_source *)bytesource_new(&gunzip_ops, sizeof *g,
                                             parent->name);
  if (!g) {
    bytesource_close(parent);
    return error_set(ENOMEM, "%s: out of memory", parent->name);
  }
  g->in = malloc(GUNZIP_INBUF);
  /* 16 + MAX_WBITS: expect a gzip header and trailer (CRC is checked). */
  if (!g->in || inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
    free(g->in);
    g->in = NULL;
    g->parent = parent;
    bytesource_close(&g->bs);
    return error_set(ENOMEM, "%s: cannot start gzip decoder", parent->name);
  }
  g->parent = parent;
  *ret = &g->bs;
  return 0;
}
