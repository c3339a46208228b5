/* The reading side of a TLS 1.3 connection, done outside OpenSSL.
 *
 * OpenSSL 3.0 decrypts each record in its own buffer, moves whatever it
 * read ahead to the front of that buffer before each record, then copies
 * the plaintext out: for a bulk download that is two to three copies of
 * every byte. Here one recv() fills a large buffer with many records, and
 * each record is decrypted (OpenSSL's EVP AEAD, which also checks its tag)
 * straight into the caller's buffer.
 *
 * OpenSSL still does the handshake, the certificate checks and every
 * write; this takes over reading once the handshake is done, with the
 * server's application traffic secret that OpenSSL's key log hands over.
 * Only the plain case is taken: TLS 1.3, one of its three AEAD suites,
 * nothing read ahead by OpenSSL. New session tickets are skipped; a key
 * update, an alert or anything malformed ends the connection (the caller
 * then goes on with another client), never data accepted unverified.
 */
#ifndef HOIST_NET_TLS_RECORDS_H
#define HOIST_NET_TLS_RECORDS_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <sys/types.h>

/* What the key log callback keeps: set as the SSL's app data before the
 * handshake. */
struct tls_secret {
  unsigned char bytes[EVP_MAX_MD_SIZE];
  size_t len; /* 0: none logged */
};

/* For SSL_CTX_set_keylog_callback(): keeps the server's application
 * traffic secret in the SSL's struct tls_secret. */
void tls_records_keylog(const SSL *ssl, const char *line);

struct tls_records;

/* Takes over reading ssl's connection on fd after its handshake, or
 * -ENOTSUP where it cannot (the caller reads with SSL_read then). The
 * secret is wiped either way. */
int tls_records_new(SSL *ssl, int fd, struct tls_secret *secret,
                    struct tls_records **ret);

/* The same for a TLS 1.3 cipher suite (0x1301 AES-128-GCM, 0x1302
 * AES-256-GCM, 0x1303 ChaCha20-Poly1305) and the server's application
 * traffic secret, however they were had (the fuzz target makes its own). */
int tls_records_open(int fd, unsigned suite, struct tls_secret *secret,
                     struct tls_records **ret);
void tls_records_free(struct tls_records *t);

/* Up to len bytes of plaintext into buf: how many (> 0), or -1 when the
 * connection cannot go on (closed, a record that does not verify, a key
 * update, a timeout). */
ssize_t tls_records_read(struct tls_records *t, void *buf, size_t len);

#endif
