/* A self-signed TLS certificate for the metrics endpoint, made at start
 * (as Forklift's populators do): a P-256 key and a certificate valid for a
 * year, both kept in memory only. */
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "populator/metrics.h"
#include "util/cleanup.h"
#include "util/error.h"

#define VALID_DAYS 365

static char *bio_to_string(BIO *bio)
{
  char *data;
  long len = BIO_get_mem_data(bio, &data);

  return len > 0 ? strndup(data, (size_t)len) : NULL;
}

static bool add_ext(X509 *x, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509_EXTENSION *ext;
  bool ok;

  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (!ext)
    return false;
  ok = X509_add_ext(x, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

static bool set_serial(X509 *x)
{
  unsigned char bytes[16];
  BIGNUM *bn;
  bool ok;

  if (RAND_bytes(bytes, sizeof bytes) != 1)
    return false;
  bytes[0] &= 0x7f; /* positive */
  bn = BN_bin2bn(bytes, sizeof bytes, NULL);
  ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  return ok;
}

static bool fill_cert(X509 *x, EVP_PKEY *key)
{
  char host[256] = "localhost", san[600];
  X509_NAME *name = X509_get_subject_name(x);

  if (gethostname(host, sizeof host - 1) != 0 || !*host)
    strcpy(host, "localhost");
  host[sizeof host - 1] = 0;
  snprintf(san, sizeof san, "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", host);
  return X509_set_version(x, 2) && set_serial(x) &&
         X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
         X509_gmtime_adj(X509_getm_notAfter(x), 86400L * VALID_DAYS) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)"hoist-populator",
                                    -1, -1, 0) &&
         X509_set_issuer_name(x, name) && X509_set_pubkey(x, key) &&
         add_ext(x, NID_basic_constraints, "critical,CA:FALSE") &&
         add_ext(x, NID_key_usage, "critical,digitalSignature") &&
         add_ext(x, NID_ext_key_usage, "serverAuth") &&
         add_ext(x, NID_subject_alt_name, san) &&
         X509_sign(x, key, EVP_sha256()) > 0;
}

static void fingerprint(X509 *x, char out[METRICS_FINGERPRINT_MAX])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0, i;

  out[0] = 0;
  if (!X509_digest(x, EVP_sha256(), md, &len))
    return;
  for (i = 0; i < len && 3 * i + 3 <= METRICS_FINGERPRINT_MAX; i++)
    snprintf(out + 3 * i, 4, i + 1 < len ? "%02X:" : "%02X", md[i]);
}

int metrics_make_certificate(char **ret_cert, char **ret_key,
                             char fp[METRICS_FINGERPRINT_MAX])
{
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
  int r = 0;

  *ret_cert = *ret_key = NULL;
  if (!key || !x || !cb || !kb || !fill_cert(x, key) ||
      !PEM_write_bio_X509(cb, x) ||
      !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) ||
      !(*ret_cert = bio_to_string(cb)) || !(*ret_key = bio_to_string(kb))) {
    free(*ret_cert);
    free(*ret_key);
    *ret_cert = *ret_key = NULL;
    r = error_set(EIO, "cannot make a self-signed certificate for the "
                       "metrics endpoint (OpenSSL failed); use "
                       "--metrics-insecure-http");
  } else {
    fingerprint(x, fp);
  }
  BIO_free(cb);
  BIO_free(kb);
  X509_free(x);
  EVP_PKEY_free(key);
  return r;
}
