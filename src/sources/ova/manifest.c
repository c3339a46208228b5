/* OVF manifests. */
#include "sources/ova/manifest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/error.h"

#define DIGEST_CHUNK (1024 * 1024)

static const struct {
  const char *name;
  size_t hexlen;
} algos[] = {
    {"SHA1", 40},
    {"SHA256", 64},
    {"SHA512", 128},
};

static const EVP_MD *md_of(const char *algo)
{
  if (streq(algo, "SHA1"))
    return EVP_sha1();
  if (streq(algo, "SHA256"))
    return EVP_sha256();
  if (streq(algo, "SHA512"))
    return EVP_sha512();
  return NULL;
}

static int hex_of(const unsigned char *md, unsigned len, char *out)
{
  static const char digits[] = "0123456789abcdef";
  unsigned i;

  for (i = 0; i < len; i++) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 15];
  }
  out[2 * len] = 0;
  return 0;
}

static bool is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\r';
}

/* One line: ALGO(NAME)= HEX. The name runs to the last ")=" so that
 * names holding parentheses work. */
static int parse_line(const char *line, size_t len, const char *where,
                      int lineno, struct manifest_entry *e)
{
  const char *open, *close = NULL, *p, *end;
  size_t i, algolen, hexlen;

  while (len > 0 && is_space(line[len - 1]))
    len--;
  end = line + len;
  open = memchr(line, '(', len);
  for (p = line; p + 1 < end; p++)
    if (p[0] == ')' && p[1] == '=')
      close = p;
  if (!open || !close || close <= open + 1)
    return error_set(EINVAL,
                     "%s line %d: not a manifest line (expected "
                     "\"SHA256(FILE)= DIGEST\")",
                     where, lineno);
  algolen = open - line;
  for (i = 0; i < ARRAY_SIZE(algos); i++)
    if (strlen(algos[i].name) == algolen &&
        strncasecmp(line, algos[i].name, algolen) == 0)
      break;
  if (i == ARRAY_SIZE(algos))
    return error_set(EINVAL,
                     "%s line %d: unknown digest algorithm \"%.*s\" (hoist "
                     "knows SHA1, SHA256 and SHA512)",
                     where, lineno, (int)MIN(algolen, 32), line);
  e->algo = algos[i].name;
  p = close + 2;
  while (p < end && is_space(*p))
    p++;
  hexlen = end - p;
  if (hexlen != algos[i].hexlen)
    return error_set(EINVAL,
                     "%s line %d: the %s digest has %zu characters instead "
                     "of %zu",
                     where, lineno, e->algo, hexlen, algos[i].hexlen);
  for (i = 0; i < hexlen; i++) {
    char c = p[i];
    if (c >= 'A' && c <= 'F')
      c += 'a' - 'A';
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return error_set(EINVAL, "%s line %d: the digest is not hexadecimal",
                       where, lineno);
    e->hex[i] = c;
  }
  e->hex[hexlen] = 0;
  if (memchr(open + 1, 0, close - open - 1))
    return error_set(EINVAL, "%s line %d: a NUL byte in the file name", where,
                     lineno);
  e->name = strndup(open + 1, close - open - 1);
  if (!e->name)
    return error_set(ENOMEM, "out of memory");
  e->line = lineno;
  return 0;
}

int manifest_parse(const char *text, size_t len, const char *where,
                   struct manifest_entry_list *out)
{
  size_t pos = 0;
  int lineno = 0;

  if (len > MANIFEST_MAX_SIZE)
    return error_set(EINVAL, "%s: %zu bytes; a manifest may have at most %d",
                     where, len, MANIFEST_MAX_SIZE);
  while (pos < len) {
    const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
    size_t linelen = nl ? (size_t)(nl - line) : len - pos, i;
    struct manifest_entry e = {0};
    bool blank = true;
    int r;

    pos += linelen + (nl ? 1 : 0);
    lineno++;
    for (i = 0; i < linelen; i++)
      if (!is_space(line[i]))
        blank = false;
    if (blank)
      continue;
    if (out->len >= MANIFEST_MAX_ENTRIES)
      return error_set(EINVAL, "%s: more than %d entries", where,
                       MANIFEST_MAX_ENTRIES);
    r = parse_line(line, linelen, where, lineno, &e);
    if (r < 0)
      return r;
    if (manifest_find(out, e.name)) {
      r = error_set(EINVAL, "%s line %d: %s is listed twice", where, lineno,
                    e.name);
      free(e.name);
      return r;
    }
    if (manifest_entry_list_append(out, e) < 0) {
      free(e.name);
      return error_set(ENOMEM, "out of memory");
    }
  }
  return 0;
}

const struct manifest_entry *manifest_find(const struct manifest_entry_list *l,
                                           const char *name)
{
  size_t i;

  for (i = 0; i < l->len; i++)
    if (streq(l->ptr[i].name, name))
      return &l->ptr[i];
  return NULL;
}

void manifest_entry_list_free(struct manifest_entry_list *l)
{
  size_t i;

  for (i = 0; i < l->len; i++)
    free(l->ptr[i].name);
  manifest_entry_list_reset(l);
}

int manifest_digest_buffer(const char *algo, const void *data, size_t len,
                           char *out)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen;
  const EVP_MD *type = md_of(algo);

  if (!type || !EVP_Digest(data, len, md, &mdlen, type, NULL))
    return error_set(EIO, "cannot compute a %s digest", algo);
  return hex_of(md, mdlen, out);
}

int manifest_digest_source(const char *algo, struct bytesource *bs, char *out)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen;
  const EVP_MD *type = md_of(algo);
  EVP_MD_CTX *ctx;
  _cleanup_free_ char *buf = malloc(DIGEST_CHUNK);
  uint64_t pos = bs->stream_pos;
  int r = 0;

  if (!buf)
    return error_set(ENOMEM, "out of memory");
  if (!type || !(ctx = EVP_MD_CTX_new()))
    return error_set(EIO, "cannot compute a %s digest", algo);
  if (!EVP_DigestInit_ex(ctx, type, NULL)) {
    r = error_set(EIO, "cannot compute a %s digest", algo);
    goto out;
  }
  if (bs->size == BYTESOURCE_SIZE_UNKNOWN) {
    r = error_set(EINVAL,
                  "%s: internal error: digest of a stream of "
                  "unknown size",
                  bs->name);
    goto out;
  }
  while (bs->stream_pos < bs->size) {
    size_t n = MIN((uint64_t)DIGEST_CHUNK, bs->size - bs->stream_pos);
    r = bytesource_read_full(bs, buf, n, false);
    if (r < 0)
      goto out;
    if (!EVP_DigestUpdate(ctx, buf, n)) {
      r = error_set(EIO, "cannot compute a %s digest", algo);
      goto out;
    }
    bytesource_done_with(bs, pos, n);
    pos += n;
  }
  if (!EVP_DigestFinal_ex(ctx, md, &mdlen)) {
    r = error_set(EIO, "cannot compute a %s digest", algo);
    goto out;
  }
  r = hex_of(md, mdlen, out);
out:
  EVP_MD_CTX_free(ctx);
  return r;
}
