/* TLS 1.3 records read and decrypted outside OpenSSL (see tls_records.h;
 * the record layer is RFC 8446 section 5, the key derivation section 7). */
#include "net/tls_records.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/cleanup.h"

#define HEADER 5
#define TAG 16
#define IV_LEN 12
/* A record's ciphertext: at most 2^14 bytes of content, 256 of overhead. */
#define CIPHERTEXT_MAX (16384 + 256)
/* One recv() takes many records. */
#define IN_BUFFER (256 * 1024)

enum { CONTENT_ALERT = 21, CONTENT_HANDSHAKE = 22, CONTENT_DATA = 23 };
enum { NEW_SESSION_TICKET = 4 };

struct tls_records {
  int fd;
  EVP_CIPHER_CTX *ctx; /* the server's write key */
  unsigned char iv[IV_LEN];
  uint64_t seq;     /* of the next record */
  uint32_t hs_left; /* bytes of a session ticket that go on in a record */
  /* Ciphertext read: [ipos, ilen) is not taken yet. */
  unsigned char *in;
  size_t ipos, ilen;
  /* The content of a record that did not fit the caller's buffer:
   * [ppos, plen) is not taken yet. */
  unsigned char plain[CIPHERTEXT_MAX];
  size_t ppos, plen;
};

static int hex_value(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* "SERVER_TRAFFIC_SECRET_0 <client random> <secret>", in hex. */
void tls_records_keylog(const SSL *ssl, const char *line)
{
  static const char label[] = "SERVER_TRAFFIC_SECRET_0 ";
  struct tls_secret *s = SSL_get_app_data(ssl);
  const char *hex;
  size_t n, i;

  if (!s || strncmp(line, label, sizeof label - 1) != 0)
    return;
  hex = strchr(line + sizeof label - 1, ' ');
  if (!hex)
    return;
  hex++;
  n = strlen(hex);
  s->len = 0;
  if (n % 2 || n / 2 > sizeof s->bytes)
    return;
  for (i = 0; i < n / 2; i++) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return;
    s->bytes[i] = (unsigned char)(hi << 4 | lo);
  }
  s->len = n / 2;
}

/* HKDF-Expand-Label(secret, label, "", len) for len up to the hash's
 * size: one HMAC block. */
static int expand_label(const EVP_MD *md, const struct tls_secret *s,
                        const char *label, unsigned char *out, size_t len)
{
  unsigned char info[2 + 1 + 6 + 8 + 1 + 1], mac[EVP_MAX_MD_SIZE];
  size_t llen = strlen(label), n = 0, maclen = 0;
  int r = 0;

  if (llen > 8 || len > 255)
    return -EINVAL;
  info[n++] = 0;
  info[n++] = (unsigned char)len;
  info[n++] = (unsigned char)(6 + llen);
  memcpy(info + n, "tls13 ", 6);
  n += 6;
  memcpy(info + n, label, llen);
  n += llen;
  info[n++] = 0; /* no context */
  info[n++] = 1; /* HKDF-Expand's first block */
  if (!EVP_Q_mac(NULL, "HMAC", NULL, EVP_MD_get0_name(md), NULL, s->bytes,
                 s->len, info, n, mac, sizeof mac, &maclen) ||
      maclen < len)
    r = -EPROTO;
  else
    memcpy(out, mac, len);
  OPENSSL_cleanse(mac, sizeof mac);
  return r;
}

void tls_records_free(struct tls_records *t)
{
  if (!t)
    return;
  EVP_CIPHER_CTX_free(t->ctx);
  free(t->in);
  OPENSSL_cleanse(t->iv, sizeof t->iv);
  free(t);
}

int tls_records_open(int fd, unsigned suite, struct tls_secret *secret,
                     struct tls_records **ret)
{
  const EVP_CIPHER *cipher;
  const EVP_MD *md;
  struct tls_records *t = NULL;
  unsigned char key[32];
  int r = -ENOTSUP;

  switch (suite) {
  case 0x1301: /* TLS_AES_128_GCM_SHA256 */
    cipher = EVP_aes_128_gcm();
    md = EVP_sha256();
    break;
  case 0x1302: /* TLS_AES_256_GCM_SHA384 */
    cipher = EVP_aes_256_gcm();
    md = EVP_sha384();
    break;
  case 0x1303: /* TLS_CHACHA20_POLY1305_SHA256 */
    cipher = EVP_chacha20_poly1305();
    md = EVP_sha256();
    break;
  default:
    goto out;
  }
  if ((size_t)EVP_MD_get_size(md) != secret->len)
    goto out;
  t = calloc(1, sizeof *t);
  if (!t || !(t->in = malloc(IN_BUFFER)) || !(t->ctx = EVP_CIPHER_CTX_new())) {
    r = -ENOMEM;
    goto out;
  }
  if (expand_label(md, secret, "key", key,
                   (size_t)EVP_CIPHER_get_key_length(cipher)) < 0 ||
      expand_label(md, secret, "iv", t->iv, IV_LEN) < 0 ||
      EVP_DecryptInit_ex(t->ctx, cipher, NULL, NULL, NULL) != 1 ||
      EVP_CIPHER_CTX_ctrl(t->ctx, EVP_CTRL_AEAD_SET_IVLEN, IV_LEN, NULL) != 1 ||
      EVP_DecryptInit_ex(t->ctx, NULL, NULL, key, NULL) != 1) {
    r = -EPROTO;
    goto out;
  }
  t->fd = fd;
  *ret = TAKE_PTR(t);
  r = 0;
out:
  OPENSSL_cleanse(key, sizeof key);
  OPENSSL_cleanse(secret->bytes, sizeof secret->bytes);
  secret->len = 0;
  tls_records_free(t);
  return r;
}

int tls_records_new(SSL *ssl, int fd, struct tls_secret *secret,
                    struct tls_records **ret)
{
  const SSL_CIPHER *c = SSL_get_current_cipher(ssl);

  /* Not TLS 1.3, or OpenSSL already holds bytes of the stream. */
  if (SSL_version(ssl) != TLS1_3_VERSION || !c || SSL_has_pending(ssl)) {
    OPENSSL_cleanse(secret, sizeof *secret);
    return -ENOTSUP;
  }
  return tls_records_open(fd, SSL_CIPHER_get_id(c) & 0xffff, secret, ret);
}

/* Makes sure `need` bytes from ipos are read. */
static int fill(struct tls_records *t, size_t need)
{
  while (t->ilen - t->ipos < need) {
    ssize_t n;
    if (t->ipos == t->ilen) {
      t->ipos = t->ilen = 0;
    } else if (IN_BUFFER - t->ipos < CIPHERTEXT_MAX + HEADER) {
      /* Less than a record is left: to the front, so that one fits. */
      memmove(t->in, t->in + t->ipos, t->ilen - t->ipos);
      t->ilen -= t->ipos;
      t->ipos = 0;
    }
    n = recv(t->fd, t->in + t->ilen, IN_BUFFER - t->ilen, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1; /* closed, failed, or the socket's timeout */
    t->ilen += (size_t)n;
  }
  return 0;
}

/* Decrypts and verifies the record at hdr into out; the length of its
 * content and its type, or -1. */
static ssize_t open_record(struct tls_records *t, const unsigned char *hdr,
                           size_t ct_len, unsigned char *out, int *type)
{
  unsigned char nonce[IV_LEN];
  size_t len = ct_len - TAG, i;
  int n;

  memcpy(nonce, t->iv, IV_LEN);
  for (i = 0; i < 8; i++)
    nonce[IV_LEN - 1 - i] ^= (unsigned char)(t->seq >> (8 * i));
  if (EVP_DecryptInit_ex(t->ctx, NULL, NULL, NULL, nonce) != 1 ||
      EVP_DecryptUpdate(t->ctx, NULL, &n, hdr, HEADER) != 1 ||
      EVP_DecryptUpdate(t->ctx, out, &n, hdr + HEADER, (int)len) != 1 ||
      EVP_CIPHER_CTX_ctrl(t->ctx, EVP_CTRL_AEAD_SET_TAG, TAG,
                          (void *)(hdr + HEADER + len)) != 1 ||
      EVP_DecryptFinal_ex(t->ctx, out + n, &n) != 1)
    return -1;
  t->seq++;
  while (len > 0 && out[len - 1] == 0)
    len--; /* the padding */
  if (len == 0)
    return -1; /* no content type */
  *type = out[len - 1];
  return (ssize_t)(len - 1);
}

/* Skips session tickets (a message may go on in the next record); any
 * other handshake message after the handshake (a key update, a request
 * for a client certificate) ends the connection. */
static int skip_handshake(struct tls_records *t, const unsigned char *p,
                          size_t n)
{
  while (n > 0) {
    size_t k;
    if (t->hs_left == 0) {
      if (n < 4 || p[0] != NEW_SESSION_TICKET)
        return -1;
      t->hs_left = 4 + ((uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    }
    k = MIN(n, (size_t)t->hs_left);
    p += k;
    n -= k;
    t->hs_left -= (uint32_t)k;
  }
  return 0;
}

ssize_t tls_records_read(struct tls_records *t, void *buf, size_t len)
{
  if (len == 0)
    return 0;
  for (;;) {
    const unsigned char *hdr;
    unsigned char *out;
    size_t ct_len;
    ssize_t n;
    int type;

    if (t->ppos < t->plen) {
      size_t k = MIN(len, t->plen - t->ppos);
      memcpy(buf, t->plain + t->ppos, k);
      t->ppos += k;
      return (ssize_t)k;
    }
    if (fill(t, HEADER) < 0)
      return -1;
    hdr = t->in + t->ipos;
    ct_len = (size_t)hdr[3] << 8 | hdr[4];
    if (hdr[0] != CONTENT_DATA || hdr[1] != 3 || hdr[2] != 3 || ct_len <= TAG ||
        ct_len > CIPHERTEXT_MAX)
      return -1;
    if (fill(t, HEADER + ct_len) < 0)
      return -1;
    hdr = t->in + t->ipos;
    /* Straight into the caller's buffer where the record's plaintext
     * fits: its content type (and any padding) lands after the content,
     * on bytes the caller has not been given yet. */
    out = len >= ct_len - TAG ? buf : t->plain;
    n = open_record(t, hdr, ct_len, out, &type);
    t->ipos += HEADER + ct_len;
    if (n < 0)
      return -1;
    if (type == CONTENT_HANDSHAKE) {
      if (skip_handshake(t, out, (size_t)n) < 0)
        return -1;
      continue;
    }
    if (type != CONTENT_DATA)
      return -1; /* an alert, close_notify included */
    if (n == 0)
      continue;
    if (out == buf)
      return n;
    t->ppos = 0;
    t->plen = (size_t)n;
  }
}
