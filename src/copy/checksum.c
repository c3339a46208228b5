/* End-to-end checksum: read back what was written, in order. */
#include "copy/checksum.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"

#define CHECKSUM_BUF (1024 * 1024)

int checksum_known(const char *algo)
{
  return streq(algo, "sha256") || streq(algo, "sha1") || streq(algo, "sha512");
}

static int hash_zeros(EVP_MD_CTX *ctx, const char *zeros, uint64_t len)
{
  while (len > 0) {
    size_t n = MIN(len, CHECKSUM_BUF);
    if (!EVP_DigestUpdate(ctx, zeros, n))
      return -EIO;
    len -= n;
  }
  return 0;
}

int checksum_fd(int fd, const char *name, uint64_t size, const char *algo,
                char hex[CHECKSUM_HEX_MAX])
{
  _cleanup_free_ char *buf = NULL, *zeros = NULL;
  const EVP_MD *md = EVP_get_digestbyname(algo);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0, i;
  EVP_MD_CTX *ctx = NULL;
  uint64_t pos = 0;
  int r = 0;

  if (!md || !checksum_known(algo))
    return error_set(EINVAL,
                     "unknown checksum \"%s\" (use sha256, sha1 or "
                     "sha512)",
                     algo);
  buf = malloc(CHECKSUM_BUF);
  zeros = calloc(1, CHECKSUM_BUF);
  ctx = EVP_MD_CTX_new();
  if (!buf || !zeros || !ctx || !EVP_DigestInit_ex(ctx, md, NULL)) {
    EVP_MD_CTX_free(ctx);
    return error_set(ENOMEM, "out of memory");
  }
  while (r == 0 && pos < size) {
    off_t data = lseek(fd, pos, SEEK_DATA);
    uint64_t data_end;

    /* No more data (ENXIO) or no SEEK_DATA support: treat accordingly. */
    if (data < 0 && errno == ENXIO)
      data = size;
    else if (data < 0)
      data = pos;
    if ((uint64_t)data > size)
      data = size;
    r = hash_zeros(ctx, zeros, data - pos);
    pos = data;
    if (r < 0 || pos >= size)
      break;
    {
      off_t hole = lseek(fd, pos, SEEK_HOLE);
      data_end = hole < 0 ? size : MIN((uint64_t)hole, size);
    }
    while (r == 0 && pos < data_end) {
      size_t n = MIN(data_end - pos, CHECKSUM_BUF);
      ssize_t got = pread(fd, buf, n, pos);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0) {
        r = got < 0 ? error_errno("%s: reading back for the checksum", name)
                    : error_set(EIO, "%s: short read for the checksum", name);
        break;
      }
      if (!EVP_DigestUpdate(ctx, buf, got))
        r = -EIO;
      posix_fadvise(fd, pos, got, POSIX_FADV_DONTNEED);
      pos += got;
    }
  }
  if (r == 0 && !EVP_DigestFinal_ex(ctx, digest, &dlen))
    r = -EIO;
  EVP_MD_CTX_free(ctx);
  if (r < 0)
    return error_is_set() ? r : error_set(EIO, "%s: checksum failed", name);
  for (i = 0; i < dlen; i++)
    snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  hex[2 * dlen] = 0;
  return 0;
}
