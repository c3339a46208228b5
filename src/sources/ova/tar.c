/* tar archives indexed in place. */
#include "sources/ova/tar.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/checked.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/iszero.h"

/* The USTAR header (POSIX.1-1988), with the GNU variant's magic. */
struct tar_header {
  char name[100];
  char mode[8];
  char uid[8];
  char gid[8];
  char size[12];
  char mtime[12];
  char chksum[8];
  char typeflag;
  char linkname[100];
  char magic[6];
  char version[2];
  char uname[32];
  char gname[32];
  char devmajor[8];
  char devminor[8];
  char prefix[155];
  char pad[12];
};
_Static_assert(sizeof(struct tar_header) == TAR_BLOCK, "tar header size");

/* What pax and GNU extension headers say about the next member. */
struct pending {
  char *name;
  bool has_size;
  uint64_t size;
  bool sparse;
  uint64_t ext_offset; /* of the first extension header, for messages */
  bool active;
};

static void pending_reset(struct pending *p)
{
  free(p->name);
  *p = (struct pending){0};
}

/* A numeric header field: octal digits, optionally led by spaces and ended
 * by a space or NUL; or, when its first byte has the high bit set, a
 * big-endian base-256 number (GNU, star). */
static int parse_number(const char *field, size_t len, uint64_t *ret)
{
  const unsigned char *f = (const unsigned char *)field;
  uint64_t v = 0;
  size_t i = 0;

  if (f[0] & 0x80) {
    if (f[0] == 0xff) /* negative */
      return -1;
    v = f[0] & 0x7f;
    for (i = 1; i < len; i++) {
      if (v > (UINT64_MAX >> 8))
        return -1;
      v = (v << 8) | f[i];
    }
    *ret = v;
    return 0;
  }
  while (i < len && f[i] == ' ')
    i++;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
    if (v > (UINT64_MAX >> 3))
      return -1;
    v = (v << 3) | (f[i] - '0');
  }
  /* What follows the digits must be terminators only. */
  for (; i < len; i++)
    if (f[i] != ' ' && f[i] != 0)
      return -1;
  *ret = v;
  return 0;
}

/* The checksum is the sum of the header's bytes with the checksum field
 * taken as spaces. Historic tars summed signed chars; accept both. */
static bool checksum_ok(const struct tar_header *h)
{
  const unsigned char *u = (const unsigned char *)h;
  const signed char *s = (const signed char *)h;
  uint64_t stored;
  unsigned long usum = 0;
  long ssum = 0;
  size_t i;

  if (parse_number(h->chksum, sizeof h->chksum, &stored) < 0)
    return false;
  for (i = 0; i < TAR_BLOCK; i++) {
    bool in_field = i >= offsetof(struct tar_header, chksum) &&
                    i < offsetof(struct tar_header, chksum) + 8;
    usum += in_field ? ' ' : u[i];
    ssum += in_field ? ' ' : s[i];
  }
  return stored == usum || (ssum >= 0 && stored == (uint64_t)ssum);
}

/* Strips "./" and "/" prefixes and trailing slashes, as tar readers do. */
static void normalise_name(char *name)
{
  size_t len;
  char *p = name;

  for (;;) {
    if (p[0] == '/')
      p++;
    else if (p[0] == '.' && p[1] == '/')
      p += 2;
    else
      break;
  }
  memmove(name, p, strlen(p) + 1);
  len = strlen(name);
  while (len > 0 && name[len - 1] == '/')
    name[--len] = 0;
}

/* The name in the header itself: prefix "/" name for POSIX ustar, the name
 * field alone for GNU and old tars (GNU keeps other data in the prefix
 * area). */
static char *header_name(const struct tar_header *h)
{
  size_t nlen = strnlen(h->name, sizeof h->name);
  size_t plen = 0;
  char *name;

  if (memcmp(h->magic, "ustar\0", 6) == 0)
    plen = strnlen(h->prefix, sizeof h->prefix);
  name = malloc(plen + nlen + 2);
  if (!name)
    return NULL;
  if (plen) {
    memcpy(name, h->prefix, plen);
    name[plen] = '/';
    memcpy(name + plen + 1, h->name, nlen);
    name[plen + 1 + nlen] = 0;
  } else {
    memcpy(name, h->name, nlen);
    name[nlen] = 0;
  }
  return name;
}

/* Reads the data of an extension header (pax or GNU long name) into a
 * NUL-terminated buffer. */
static int read_ext_data(struct bytesource *bs, uint64_t offset, uint64_t size,
                         uint64_t hdr_offset, char **ret)
{
  char *buf;
  int r;

  if (size > TAR_MAX_EXT_HEADER)
    return error_set(EINVAL,
                     "%s: the extension header at offset %llu is %llu "
                     "bytes; hoist accepts at most %d",
                     bs->name, (unsigned long long)hdr_offset,
                     (unsigned long long)size, TAR_MAX_EXT_HEADER);
  buf = malloc(size + 1);
  if (!buf)
    return error_set(ENOMEM, "%s: out of memory", bs->name);
  r = bytesource_pread(bs, buf, size, offset);
  if (r < 0) {
    free(buf);
    return r;
  }
  buf[size] = 0;
  *ret = buf;
  return 0;
}

static int set_pending_name(struct bytesource *bs, struct pending *p,
                            const char *name, size_t len, uint64_t hdr_offset)
{
  if (len == 0 || len >= TAR_MAX_NAME || memchr(name, 0, len))
    return error_set(EINVAL,
                     "%s: the extension header at offset %llu gives an "
                     "empty, over-long or malformed path",
                     bs->name, (unsigned long long)hdr_offset);
  free(p->name);
  p->name = strndup(name, len);
  if (!p->name)
    return error_set(ENOMEM, "%s: out of memory", bs->name);
  return 0;
}

/* pax records: "LEN KEY=VALUE\n", LEN counting the whole record. */
static int parse_pax(struct bytesource *bs, const char *data, size_t len,
                     uint64_t hdr_offset, struct pending *p)
{
  size_t pos = 0;

  while (pos < len) {
    const char *rec = data + pos, *eq, *key, *val;
    size_t reclen = 0, i = 0, keylen, vallen;

    if (data[pos] == 0) /* padding after the last record */
      break;
    while (i < len - pos && rec[i] >= '0' && rec[i] <= '9') {
      if (reclen > len)
        break;
      reclen = reclen * 10 + (rec[i] - '0');
      i++;
    }
    if (i == 0 || i >= len - pos || rec[i] != ' ' || reclen <= i + 1 ||
        reclen > len - pos || rec[reclen - 1] != '\n')
      return error_set(EINVAL,
                       "%s: malformed pax extended header at offset %llu "
                       "(record at byte %zu)",
                       bs->name, (unsigned long long)hdr_offset, pos);
    key = rec + i + 1;
    eq = memchr(key, '=', rec + reclen - 1 - key);
    if (!eq || eq == key)
      return error_set(EINVAL,
                       "%s: malformed pax extended header at offset %llu "
                       "(record at byte %zu has no key)",
                       bs->name, (unsigned long long)hdr_offset, pos);
    keylen = eq - key;
    val = eq + 1;
    vallen = rec + reclen - 1 - val;

    if (keylen == 4 && memcmp(key, "path", 4) == 0) {
      int r = set_pending_name(bs, p, val, vallen, hdr_offset);
      if (r < 0)
        return r;
    } else if (keylen == 4 && memcmp(key, "size", 4) == 0) {
      uint64_t v = 0;
      size_t j;
      if (vallen == 0 || vallen > 20)
        goto bad_size;
      for (j = 0; j < vallen; j++) {
        if (val[j] < '0' || val[j] > '9' || MUL_OVERFLOW(v, 10, &v) ||
            ADD_OVERFLOW(v, (uint64_t)(val[j] - '0'), &v))
          goto bad_size;
      }
      p->size = v;
      p->has_size = true;
    } else if (keylen > 11 && memcmp(key, "GNU.sparse.", 11) == 0) {
      p->sparse = true;
    }
    pos += reclen;
  }
  return 0;

bad_size:
  return error_set(EINVAL,
                   "%s: the pax extended header at offset %llu gives a bad "
                   "size",
                   bs->name, (unsigned long long)hdr_offset);
}

static enum tar_kind kind_of(char type, bool sparse)
{
  if (sparse)
    return TAR_SPARSE;
  switch (type) {
  case '0':
  case '\0':
  case '7': /* contiguous file */
    return TAR_FILE;
  case '5':
    return TAR_DIRECTORY;
  case '1':
  case '2':
    return TAR_LINK;
  case 'S':
    return TAR_SPARSE;
  default:
    return TAR_OTHER;
  }
}

/* Types whose size field does not count stored data (POSIX: links,
 * devices, directories and FIFOs have no data blocks). */
static bool has_no_data(char type)
{
  return type == '1' || type == '2' || type == '3' || type == '4' ||
         type == '5' || type == '6';
}

/* Explains what a file that is not a tar archive is, when the first
 * block shows it. */
static int not_a_tar(struct bytesource *bs, const unsigned char *blk)
{
  if (blk[0] == 0x1f && blk[1] == 0x8b)
    return error_set(EINVAL,
                     "%s: the archive is gzip-compressed; an OVA is a plain "
                     "tar archive (gunzip it first)",
                     bs->name);
  if (memcmp(blk, "PK\3\4", 4) == 0)
    return error_set(EINVAL,
                     "%s: a zip archive, not a tar archive; hoist reads OVA "
                     "packages in tar format (unzip it and give the .ovf)",
                     bs->name);
  return error_set(EINVAL,
                   "%s: not a tar archive (bad header checksum at offset 0)",
                   bs->name);
}

static int add_member(struct bytesource *bs, struct tar_member_list *out,
                      const struct tar_header *h, struct pending *p,
                      uint64_t hdr_off, uint64_t data_off, uint64_t size)
{
  struct tar_member m = {0};
  size_t i;

  m.name = p->name ? TAKE_PTR(p->name) : header_name(h);
  if (!m.name)
    return error_set(ENOMEM, "%s: out of memory", bs->name);
  normalise_name(m.name);
  m.type = h->typeflag;
  m.kind = kind_of(h->typeflag, p->sparse);
  m.header_offset = p->active ? p->ext_offset : hdr_off;
  m.offset = data_off;
  m.size = has_no_data(h->typeflag) ? 0 : size;
  pending_reset(p);

  if (m.name[0] == 0 && m.kind != TAR_DIRECTORY) {
    free(m.name);
    return error_set(EINVAL, "%s: the member at offset %llu has no name",
                     bs->name, (unsigned long long)hdr_off);
  }
  /* Two members of one name: tar would let the last win, which would let
   * a manifest check pass on one copy and the copy read the other. */
  if (m.kind == TAR_FILE || m.kind == TAR_SPARSE) {
    for (i = 0; i < out->len; i++) {
      if ((out->ptr[i].kind == TAR_FILE || out->ptr[i].kind == TAR_SPARSE) &&
          streq(out->ptr[i].name, m.name)) {
        int r = error_set(EINVAL,
                          "%s: the archive holds \"%s\" twice (at offsets "
                          "%llu and %llu)",
                          bs->name, m.name,
                          (unsigned long long)out->ptr[i].header_offset,
                          (unsigned long long)hdr_off);
        free(m.name);
        return r;
      }
    }
  }
  if (tar_member_list_append(out, m) < 0) {
    free(m.name);
    return error_set(ENOMEM, "%s: out of memory", bs->name);
  }
  return 0;
}

int tar_index(struct bytesource *bs, struct tar_member_list *out)
{
  struct pending p = {0};
  uint64_t pos = 0, end = bs->size, entries = 0;
  union {
    struct tar_header h;
    unsigned char b[TAR_BLOCK];
  } blk;
  int r = 0;

  if (!bytesource_can_pread(bs) || end == BYTESOURCE_SIZE_UNKNOWN)
    return error_set(EINVAL,
                     "%s: a tar archive must be read at random "
                     "offsets",
                     bs->name);
  if (end < TAR_BLOCK) {
    if (end == 0)
      return error_set(EINVAL, "%s: empty file, not a tar archive", bs->name);
    return error_set(EINVAL,
                     "%s: truncated: %llu bytes, less than one tar header",
                     bs->name, (unsigned long long)end);
  }

  for (;;) {
    uint64_t size, data_off, next, padded;

    if (pos == end) {
      /* No end-of-archive blocks: tolerated at a member boundary, as GNU
       * tar does, but not in the middle of an extension. */
      if (p.active) {
        r = error_set(EIO,
                      "%s: truncated: the extension header at offset %llu "
                      "is not followed by a member",
                      bs->name, (unsigned long long)p.ext_offset);
        goto out;
      }
      break;
    }
    if (end - pos < TAR_BLOCK) {
      r = error_set(EIO,
                    "%s: truncated: a tar header at offset %llu runs past "
                    "the end of the file (%llu bytes)",
                    bs->name, (unsigned long long)pos, (unsigned long long)end);
      goto out;
    }
    r = bytesource_pread(bs, blk.b, TAR_BLOCK, pos);
    if (r < 0)
      goto out;
    if (is_zero(blk.b, TAR_BLOCK)) {
      if (p.active) {
        r = error_set(EINVAL,
                      "%s: the extension header at offset %llu is not "
                      "followed by a member",
                      bs->name, (unsigned long long)p.ext_offset);
        goto out;
      }
      break; /* end of archive */
    }
    if (!checksum_ok(&blk.h)) {
      if (pos == 0)
        r = not_a_tar(bs, blk.b);
      else
        r = error_set(EINVAL,
                      "%s: corrupt tar header at offset %llu (bad "
                      "checksum)",
                      bs->name, (unsigned long long)pos);
      goto out;
    }
    if (++entries > TAR_MAX_MEMBERS) {
      r = error_set(EINVAL, "%s: more than %d archive members", bs->name,
                    TAR_MAX_MEMBERS);
      goto out;
    }
    /* A pax "size" record overrides the header's size field. */
    if (p.has_size && blk.h.typeflag != 'x' && blk.h.typeflag != 'g' &&
        blk.h.typeflag != 'L' && blk.h.typeflag != 'K') {
      size = p.size;
    } else if (parse_number(blk.h.size, sizeof blk.h.size, &size) < 0) {
      r = error_set(EINVAL,
                    "%s: corrupt tar header at offset %llu (bad size "
                    "field)",
                    bs->name, (unsigned long long)pos);
      goto out;
    }
    /* Old GNU sparse members keep extra map blocks between the header and
     * the data; hoist does not walk them. */
    if (blk.h.typeflag == 'S' && blk.b[482] != 0) {
      _cleanup_free_ char *name = p.name ? strdup(p.name) : header_name(&blk.h);
      r = error_set(ENOTSUP,
                    "%s: member \"%s\" is an old-style GNU sparse file, "
                    "which hoist does not read; repack the archive without "
                    "--sparse",
                    bs->name, name ? name : "?");
      goto out;
    }
    data_off = pos + TAR_BLOCK;
    if (has_no_data(blk.h.typeflag))
      padded = 0;
    else if (size > end - data_off) {
      _cleanup_free_ char *name = p.name ? strdup(p.name) : header_name(&blk.h);
      r = error_set(EIO,
                    "%s: truncated: member \"%s\" needs %llu bytes at "
                    "offset %llu but the archive ends at %llu",
                    bs->name, name ? name : "?", (unsigned long long)size,
                    (unsigned long long)data_off, (unsigned long long)end);
      goto out;
    } else {
      padded = ROUND_UP(size, (uint64_t)TAR_BLOCK);
    }
    /* The padding of the last member may be cut off: its data is whole. */
    next = padded > end - data_off ? end : data_off + padded;

    switch (blk.h.typeflag) {
    case 'x': { /* pax extended header for the next member */
      _cleanup_free_ char *data = NULL;
      if (!p.active)
        p.ext_offset = pos;
      p.active = true;
      r = read_ext_data(bs, data_off, size, pos, &data);
      if (r == 0)
        r = parse_pax(bs, data, size, pos, &p);
      if (r < 0)
        goto out;
      break;
    }
    case 'L': { /* GNU long name for the next member */
      _cleanup_free_ char *data = NULL;
      if (!p.active)
        p.ext_offset = pos;
      p.active = true;
      r = read_ext_data(bs, data_off, size, pos, &data);
      if (r == 0)
        r = set_pending_name(bs, &p, data, strnlen(data, size), pos);
      if (r < 0)
        goto out;
      break;
    }
    case 'g': /* pax global header */
    case 'K': /* GNU long link name */
      if (!p.active && blk.h.typeflag == 'K') {
        p.ext_offset = pos;
        p.active = true;
      }
      break;
    default:
      r = add_member(bs, out, &blk.h, &p, pos, data_off, size);
      if (r < 0)
        goto out;
    }
    pos = next;
  }

out:
  pending_reset(&p);
  return r;
}

const struct tar_member *tar_find(const struct tar_member_list *l,
                                  const char *name)
{
  size_t i;

  for (i = 0; i < l->len; i++)
    if (streq(l->ptr[i].name, name))
      return &l->ptr[i];
  return NULL;
}

void tar_member_list_free(struct tar_member_list *l)
{
  size_t i;

  for (i = 0; i < l->len; i++)
    free(l->ptr[i].name);
  tar_member_list_reset(l);
}
