/* Pinned scrapes of /metrics (see scrape.h). */
#include "controller/scrape.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "controller/promtext.h"
#include "util/cleanup.h"
#include "util/error.h"

int scrape_fingerprint_from_log(const char *log, size_t len,
                                char fp[SCRAPE_FINGERPRINT_MAX])
{
  static const char mark[] = "SHA-256 ";
  const char *p = log, *end = log + len;

  while (p < end) {
    const char *hit = memmem(p, (size_t)(end - p), mark, sizeof mark - 1);
    size_t n = 0;

    if (!hit)
      break;
    p = hit + sizeof mark - 1;
    while (p < end && n < SCRAPE_FINGERPRINT_MAX - 1 &&
           (isxdigit((unsigned char)*p) || *p == ':'))
      fp[n++] = (char)toupper((unsigned char)*p++);
    fp[n] = 0;
    if (n == 95) /* 32 bytes as XX:…:XX */
      return 0;
  }
  return -ENOENT;
}

static void hex_fingerprint(X509 *x, char out[SCRAPE_FINGERPRINT_MAX])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0, i;

  out[0] = 0;
  if (!X509_digest(x, EVP_sha256(), md, &len))
    return;
  for (i = 0; i < len && 3 * i + 3 <= SCRAPE_FINGERPRINT_MAX; i++)
    snprintf(out + 3 * i, 4, i + 1 < len ? "%02X:" : "%02X", md[i]);
}

/* Replaces chain verification: the leaf must be the pinned one. */
static int verify_pinned(X509_STORE_CTX *store, void *arg)
{
  char got[SCRAPE_FINGERPRINT_MAX];
  X509 *leaf = X509_STORE_CTX_get0_cert(store);

  if (!leaf)
    return 0;
  hex_fingerprint(leaf, got);
  if (strcmp(got, arg) == 0)
    return 1;
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_UNTRUSTED);
  return 0;
}

static CURLcode ssl_ctx_cb(CURL *curl, void *ssl_ctx, void *arg)
{
  (void)curl;
  SSL_CTX_set_cert_verify_callback(ssl_ctx, verify_pinned, arg);
  return CURLE_OK;
}

struct body {
  char *buf;
  size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
  struct body *b = ud;
  size_t add = size * n;
  char *nb;

  if (b->len + add > PROMTEXT_MAX_TEXT)
    return 0;
  nb = realloc(b->buf, b->len + add + 1);
  if (!nb)
    return 0;
  memcpy(nb + b->len, p, add);
  b->buf = nb;
  b->len += add;
  b->buf[b->len] = 0;
  return add;
}

int scrape_get(const char *url, const char *fp, char **ret, size_t *ret_len)
{
  CURL *h = curl_easy_init();
  struct body b = {NULL, 0};
  char errbuf[CURL_ERROR_SIZE] = "";
  long status = 0;
  CURLcode rc;

  if (!h)
    return error_set(ENOMEM, "out of memory");
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  /* the pin names the certificate: its subject need not match the IP */
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
  curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, (void *)fp);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  if (rc != CURLE_OK || status != 200) {
    free(b.buf);
    if (rc == CURLE_PEER_FAILED_VERIFICATION)
      return error_set(EKEYREJECTED,
                       "GET %s: the certificate is not the pinned one", url);
    if (rc != CURLE_OK)
      return error_set(EIO, "GET %s: %s", url,
                       errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return error_set(EPROTO, "GET %s: HTTP %ld", url, status);
  }
  *ret = b.buf ? b.buf : strdup("");
  *ret_len = b.len;
  return *ret ? 0 : error_set(ENOMEM, "out of memory");
}
