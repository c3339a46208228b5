/* The TLS 1.3 record reader of the fast range reader. The records are
 * sealed here, with keys from OpenSSL's own TLS 1.3 key schedule
 * (TLS13-KDF), so that the input reaches what lies behind the tag check:
 * content types, padding, session tickets split over records, lengths at
 * and past the limits. The input gives, per record: flags (a damaged
 * header or ciphertext), the inner content type, the padding and the
 * content; its first byte picks the cipher suite and the read sizes. */
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/tls_records.h"
#include "util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WRITE_MAX (96 * 1024) /* well under what a socket pair holds */

static const struct {
  unsigned suite;
  const char *cipher, *digest;
  size_t key_len, hash_len;
} suites[] = {
    {0x1301, "AES-128-GCM", "SHA256", 16, 32},
    {0x1302, "AES-256-GCM", "SHA384", 32, 48},
    {0x1303, "ChaCha20-Poly1305", "SHA256", 32, 32},
};

static int expand(const char *digest, const unsigned char *secret,
                  size_t secret_len, const char *label, unsigned char *out,
                  size_t len)
{
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS13-KDF", NULL);
  EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, ok;
  char prefix[] = "tls13 ";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest,
                                       0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret,
                                        secret_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, prefix, 6),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, (void *)label,
                                        strlen(label)),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA, prefix, 0),
      OSSL_PARAM_construct_end(),
  };

  ok = ctx && EVP_KDF_derive(ctx, out, len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return ok ? 0 : -1;
}

/* Seals one record (plaintext already has its type and padding) into
 * rec; its length. */
static size_t seal(EVP_CIPHER_CTX *ctx, const unsigned char iv[12],
                   uint64_t seq, const unsigned char *plain, size_t len,
                   unsigned char *rec)
{
  unsigned char nonce[12];
  int n, i;

  memcpy(nonce, iv, 12);
  for (i = 0; i < 8; i++)
    nonce[11 - i] ^= (unsigned char)(seq >> (8 * i));
  rec[0] = 23;
  rec[1] = rec[2] = 3;
  rec[3] = (unsigned char)((len + 16) >> 8);
  rec[4] = (unsigned char)(len + 16);
  if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
      EVP_EncryptUpdate(ctx, NULL, &n, rec, 5) != 1 ||
      EVP_EncryptUpdate(ctx, rec + 5, &n, plain, (int)len) != 1 ||
      EVP_EncryptFinal_ex(ctx, rec + 5 + n, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, rec + 5 + len) != 1)
    abort();
  return 5 + len + 16;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const size_t reads[] = {1, 1000, 16384, 16385, 20000, 65536};
  unsigned char secret[48], key[32], iv[12];
  static unsigned char plain[17000 + 300], rec[17000 + 300 + 21], buf[65536];
  struct tls_secret ts = {.len = 0};
  struct tls_records *t = NULL;
  EVP_CIPHER_CTX *ctx;
  EVP_CIPHER *cipher;
  size_t pos = 1, written = 0, k;
  /* An intact first record of data must read back as it was sealed:
   * both sides derived the same keys. */
  const uint8_t *first = NULL;
  size_t first_len = 0;
  unsigned sel;
  uint64_t seq = 0;
  int sv[2];

  if (size < 1)
    return 0;
  sel = data[0] % 3;
  for (k = 0; k < sizeof secret; k++)
    secret[k] = (unsigned char)(k * 7 + 1);
  if (expand(suites[sel].digest, secret, suites[sel].hash_len, "key", key,
             suites[sel].key_len) < 0 ||
      expand(suites[sel].digest, secret, suites[sel].hash_len, "iv", iv, 12) <
          0)
    abort();
  cipher = EVP_CIPHER_fetch(NULL, suites[sel].cipher, NULL);
  ctx = EVP_CIPHER_CTX_new();
  if (!cipher || !ctx || EVP_EncryptInit_ex(ctx, cipher, NULL, key, NULL) != 1)
    abort();
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
      fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0)
    abort();

  /* Records: flags, type, padding, a 2-byte length, the content. */
  while (pos + 5 <= size) {
    unsigned flags = data[pos], type = data[pos + 1], pad = data[pos + 2];
    size_t len = ((size_t)data[pos + 3] << 8 | data[pos + 4]) % 17000, n;
    pos += 5;
    len = len < size - pos ? len : size - pos;
    if (len + 1 + pad > sizeof plain)
      pad = 0;
    memcpy(plain, data + pos, len);
    pos += len;
    plain[len] = (unsigned char)type;
    memset(plain + len + 1, 0, pad);
    n = seal(ctx, iv, seq++, plain, len + 1 + pad, rec);
    if (flags & 1)
      rec[flags >> 5] ^= (unsigned char)(flags | 1); /* the header */
    if ((flags & 2) && n > 5)
      rec[5 + (flags >> 2) % (n - 5)] ^= 0x40; /* the ciphertext */
    if (written + n > WRITE_MAX)
      break;
    if (seq == 1 && !(flags & 3) && type == 23 && len > 0 &&
        len + 1 + pad <= 16384 + 256 - 16) {
      first = data + pos - len;
      first_len = len;
    }
    if (write(sv[0], rec, n) != (ssize_t)n)
      break; /* full: the reader gets what is there */
    written += n;
  }
  shutdown(sv[0], SHUT_WR);

  memcpy(ts.bytes, secret, sizeof secret);
  ts.len = suites[sel].hash_len;
  if (tls_records_open(sv[1], suites[sel].suite, &ts, &t) != 0)
    abort();
  if (ts.len != 0)
    abort(); /* the secret is wiped */
  for (k = 0;; k++) {
    size_t want = reads[(data[0] / 3 + k) % 6];
    ssize_t got = tls_records_read(t, buf, want);
    if (k == 0 && first &&
        (got <= 0 || memcmp(buf, first, MIN((size_t)got, first_len)) != 0))
      abort();
    if (got < 0)
      break;
    if (got == 0 || (size_t)got > want)
      abort();
  }
  tls_records_free(t);
  close(sv[0]);
  close(sv[1]);
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(cipher);
  return 0;
}
