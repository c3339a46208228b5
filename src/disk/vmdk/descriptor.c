/* The VMDK descriptor: a text file (or the text embedded in a sparse
 * extent) of key = value lines and extent lines:
 *
 *   # Disk DescriptorFile
 *   version=1
 *   CID=fb8dab77
 *   parentCID=ffffffff
 *   createType="twoGbMaxExtentSparse"
 *   RW 4192256 SPARSE "disk-s001.vmdk"
 *   RW 2048 FLAT "disk-flat.vmdk" 0
 *   RW 1024 ZERO
 *   ddb.adapterType = "lsilogic"
 *
 * Lines end with LF or CRLF; '#' starts a comment line. Anything else is
 * refused, so that no extent line is ever misread.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "disk/vmdk/internal.h"
#include "util/checked.h"
#include "util/cleanup.h"
#include "util/error.h"

#define MAX_FILE_NAME 4096

static const struct {
  const char *name;
  enum vmdk_extent_type type;
} extent_types[] = {
    {"FLAT", VMDK_EXT_FLAT},
    {"SPARSE", VMDK_EXT_SPARSE},
    {"ZERO", VMDK_EXT_ZERO},
    {"VMFS", VMDK_EXT_VMFS},
    {"VMFSSPARSE", VMDK_EXT_VMFSSPARSE},
    {"VMFSRDM", VMDK_EXT_VMFSRDM},
    {"VMFSRAW", VMDK_EXT_VMFSRAW},
    {"SESPARSE", VMDK_EXT_SESPARSE},
};

const char *vmdk_extent_type_name(enum vmdk_extent_type t)
{
  size_t i;

  for (i = 0; i < ARRAY_SIZE(extent_types); i++)
    if (extent_types[i].type == t)
      return extent_types[i].name;
  return "?";
}

void vmdk_descriptor_free(struct vmdk_descriptor *d)
{
  size_t i;

  if (!d)
    return;
  for (i = 0; i < d->n_extents; i++)
    free(d->extents[i].file);
  free(d->extents);
  free(d->create_type);
  free(d->parent_cid);
  free(d->parent_hint);
  free(d->adapter_type);
  free(d->virtual_hw_version);
  free(d->uuid);
  memset(d, 0, sizeof *d);
}

static bool is_blank(char c)
{
  return c == ' ' || c == '\t';
}

static const char *skip_blanks(const char *p, const char *end)
{
  while (p < end && is_blank(*p))
    p++;
  return p;
}

/* Reads a decimal number of sectors; refuses signs, overflow and values
 * above VMDK_MAX_CAPACITY. */
static bool parse_sectors(const char **pp, const char *end, uint64_t *ret)
{
  const char *p = *pp;
  uint64_t v = 0;

  if (p >= end || !isdigit((unsigned char)*p))
    return false;
  while (p < end && isdigit((unsigned char)*p)) {
    if (MUL_OVERFLOW(v, 10, &v) || ADD_OVERFLOW(v, (uint64_t)(*p - '0'), &v))
      return false;
    if (v > VMDK_MAX_CAPACITY / VMDK_SECTOR)
      return false;
    p++;
  }
  *pp = p;
  *ret = v;
  return true;
}

static int parse_extent_line(const char *p, const char *end, const char *name,
                             unsigned line, struct vmdk_descriptor *d)
{
  struct vmdk_desc_extent e = {.line = line};
  const char *tok;
  size_t i, n;
  bool found = false;
  struct vmdk_desc_extent *grown;

  /* Access: already known to start the line. */
  if (strncmp(p, "RW", 2) == 0 && is_blank(p[2])) {
    e.access = VMDK_RW;
    p += 2;
  } else if (strncmp(p, "RDONLY", 6) == 0 && is_blank(p[6])) {
    e.access = VMDK_RDONLY;
    p += 6;
  } else {
    e.access = VMDK_NOACCESS;
    p += 8;
  }
  p = skip_blanks(p, end);
  if (!parse_sectors(&p, end, &e.sectors) || e.sectors == 0 ||
      (p < end && !is_blank(*p)))
    return error_set(EINVAL,
                     "%s: line %u: the extent size is not a number of "
                     "sectors from 1 to %llu",
                     name, line,
                     (unsigned long long)(VMDK_MAX_CAPACITY / VMDK_SECTOR));
  p = skip_blanks(p, end);
  tok = p;
  while (p < end && !is_blank(*p))
    p++;
  n = p - tok;
  for (i = 0; i < ARRAY_SIZE(extent_types); i++)
    if (strlen(extent_types[i].name) == n &&
        memcmp(extent_types[i].name, tok, n) == 0) {
      e.type = extent_types[i].type;
      found = true;
    }
  if (!found)
    return error_set(ENOTSUP, "%s: line %u: unknown extent type \"%.*s\"", name,
                     line, (int)MIN(n, 32), tok);
  p = skip_blanks(p, end);
  if (e.type == VMDK_EXT_ZERO) {
    if (p != end)
      return error_set(EINVAL, "%s: line %u: a ZERO extent takes no file name",
                       name, line);
  } else {
    const char *q;
    if (p >= end || *p != '"')
      return error_set(EINVAL,
                       "%s: line %u: the extent's file name is missing or "
                       "not quoted",
                       name, line);
    q = memchr(p + 1, '"', end - p - 1);
    if (!q)
      return error_set(EINVAL, "%s: line %u: unterminated file name", name,
                       line);
    n = q - p - 1;
    if (n == 0 || n > MAX_FILE_NAME || memchr(p + 1, 0, n))
      return error_set(EINVAL, "%s: line %u: invalid extent file name", name,
                       line);
    e.file = strndup(p + 1, n);
    if (!e.file)
      return error_set(ENOMEM, "out of memory");
    p = skip_blanks(q + 1, end);
    if (p < end) {
      if ((e.type != VMDK_EXT_FLAT && e.type != VMDK_EXT_VMFS) ||
          !parse_sectors(&p, end, &e.offset) || skip_blanks(p, end) != end) {
        free(e.file);
        return error_set(EINVAL,
                         "%s: line %u: unexpected text after the extent's "
                         "file name",
                         name, line);
      }
    }
  }
  if (d->n_extents >= VMDK_MAX_EXTENTS) {
    free(e.file);
    return error_set(EINVAL, "%s: more than %u extents", name,
                     VMDK_MAX_EXTENTS);
  }
  grown = realloc(d->extents, (d->n_extents + 1) * sizeof *grown);
  if (!grown) {
    free(e.file);
    return error_set(ENOMEM, "out of memory");
  }
  d->extents = grown;
  d->extents[d->n_extents++] = e;
  return 0;
}

/* Stores value (unquoted) in *slot; a key given twice is refused. */
static int set_value(char **slot, const char *key, const char *v, size_t n,
                     const char *name, unsigned line)
{
  if (*slot)
    return error_set(EINVAL, "%s: line %u: \"%s\" appears twice", name, line,
                     key);
  *slot = strndup(v, n);
  if (!*slot)
    return error_set(ENOMEM, "out of memory");
  return 0;
}

static int parse_key_value(const char *p, const char *end, const char *eq,
                           const char *name, unsigned line,
                           struct vmdk_descriptor *d)
{
  static const struct {
    const char *key;
    size_t field;
  } keys[] = {
      {"createType", offsetof(struct vmdk_descriptor, create_type)},
      {"parentCID", offsetof(struct vmdk_descriptor, parent_cid)},
      {"parentFileNameHint", offsetof(struct vmdk_descriptor, parent_hint)},
      {"ddb.adapterType", offsetof(struct vmdk_descriptor, adapter_type)},
      {"ddb.virtualHWVersion",
       offsetof(struct vmdk_descriptor, virtual_hw_version)},
      {"ddb.uuid", offsetof(struct vmdk_descriptor, uuid)},
  };
  const char *kend = eq, *v = eq + 1, *vend = end;
  size_t i, klen;

  while (kend > p && is_blank(kend[-1]))
    kend--;
  klen = kend - p;
  if (klen == 0)
    return error_set(EINVAL, "%s: line %u: a value without a key", name, line);
  v = skip_blanks(v, end);
  while (vend > v && is_blank(vend[-1]))
    vend--;
  if (vend > v && *v == '"') {
    if (vend - v < 2 || vend[-1] != '"')
      return error_set(EINVAL, "%s: line %u: unterminated quoted value", name,
                       line);
    v++;
    vend--;
  }
  if (memchr(v, 0, vend - v))
    return error_set(EINVAL, "%s: line %u: a NUL byte in a value", name, line);
  for (i = 0; i < ARRAY_SIZE(keys); i++)
    if (strlen(keys[i].key) == klen && strncasecmp(keys[i].key, p, klen) == 0)
      return set_value((char **)((char *)d + keys[i].field), keys[i].key, v,
                       vend - v, name, line);
  return 0; /* other keys (CID, geometry, tools version …) are not needed */
}

int vmdk_descriptor_parse(const char *text, size_t len, const char *name,
                          bool embedded, struct vmdk_descriptor *d)
{
  const char *p = text, *stop;
  unsigned line = 0;
  int r;

  memset(d, 0, sizeof *d);
  /* Embedded descriptors are padded with NULs. */
  stop = memchr(text, 0, len);
  if (stop)
    len = stop - text;
  while (p < text + len) {
    const char *eol = memchr(p, '\n', text + len - p);
    const char *end = eol ? eol : text + len;
    const char *next = eol ? eol + 1 : text + len;
    const char *eq;

    line++;
    if (end > p && end[-1] == '\r')
      end--;
    p = skip_blanks(p, end);
    while (end > p && (is_blank(end[-1]) || end[-1] == '\r'))
      end--;
    if (p == end || *p == '#') {
      p = next;
      continue;
    }
    if ((end - p > 3 && strncmp(p, "RW", 2) == 0 && is_blank(p[2])) ||
        (end - p > 7 && strncmp(p, "RDONLY", 6) == 0 && is_blank(p[6])) ||
        (end - p > 9 && strncmp(p, "NOACCESS", 8) == 0 && is_blank(p[8]))) {
      /* The extent lines of an embedded descriptor are not used. */
      r = embedded ? 0 : parse_extent_line(p, end, name, line, d);
    } else if ((eq = memchr(p, '=', end - p))) {
      r = parse_key_value(p, end, eq, name, line, d);
    } else if (embedded) {
      r = 0; /* other tools' oddities, harmless where nothing is mapped */
    } else {
      r = error_set(EINVAL,
                    "%s: line %u of the descriptor is neither a comment, a "
                    "key = value pair nor an extent",
                    name, line);
    }
    if (r < 0) {
      vmdk_descriptor_free(d);
      return r;
    }
    p = next;
  }
  return 0;
}

int vmdk_descriptor_check_parent(const struct vmdk_descriptor *d,
                                 const char *name)
{
  if ((d->parent_cid && strcasecmp(d->parent_cid, "ffffffff") != 0) ||
      d->parent_hint)
    return error_set(ENOTSUP,
                     "%s: has a parent disk (a snapshot delta%s%.200s%s); "
                     "hoist copies standalone disks only: consolidate the "
                     "snapshots first",
                     name, d->parent_hint ? " of \"" : "",
                     d->parent_hint ? d->parent_hint : "",
                     d->parent_hint ? "\"" : "");
  return 0;
}

/* The embedded descriptor of a sparse file: only monolithic types. */
static int check_embedded_type(const struct vmdk_descriptor *d,
                               const char *name)
{
  const char *t = d->create_type;

  if (!t || streq(t, "monolithicSparse") || streq(t, "streamOptimized"))
    return 0;
  if (streq(t, "twoGbMaxExtentSparse"))
    return error_set(ENOTSUP,
                     "%s: is one extent of a split disk "
                     "(twoGbMaxExtentSparse); open the descriptor file that "
                     "names its extents",
                     name);
  return error_set(ENOTSUP,
                   "%s: createType \"%.64s\" in a sparse extent is not "
                   "supported",
                   name, t);
}

int vmdk_read_embedded_descriptor(struct bytesource *bs, const char *text,
                                  size_t len, struct vmdk_descriptor *d)
{
  int r = vmdk_descriptor_parse(text, len, bs->name, true, d);

  if (r == 0)
    r = vmdk_descriptor_check_parent(d, bs->name);
  if (r == 0)
    r = check_embedded_type(d, bs->name);
  return r;
}
