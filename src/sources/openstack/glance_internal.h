/* Internals shared by the Glance files: the image file as a byte source
 * (glance_source.c), the raw stream disk (glance_stream.c) and the
 * digest check. Not for use outside src/sources/openstack. */
#ifndef HOIST_SOURCES_OPENSTACK_GLANCE_INTERNAL_H
#define HOIST_SOURCES_OPENSTACK_GLANCE_INTERNAL_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "disk/bytesource.h"
#include "disk/disk.h"

struct os_session;
struct http_conn;
struct range_client;
struct range_conn;

/* Advice for Glance's HTTP statuses. */
const char *glance_advice(long status);

/* The image's base URL from the catalog (no /v2). */
int glance_endpoint(struct os_session *s, char **ret);

/* A connection: the fast range reader (net/range_reader.h) where it
 * can be used, and the full client, which takes over where the fast path
 * stops (a 401, a reply cut short…); each with the token generation it
 * sends. */
struct glance_conn {
  struct range_conn *fast;
  unsigned fast_gen;
  struct http_conn *conn;
  unsigned gen;
};

/* The digest the image's bytes must have. */
struct glance_digest {
  const EVP_MD *md;
  char *algo;     /* as Glance names it: "sha512", "md5" */
  char *expected; /* lower-case hex */
};

struct glance_source {
  struct bytesource bs;
  struct os_session *session;
  bool owns_session;
  struct http_client *client;
  char *url;                 /* …/v2/images/ID/file */
  bool ranges;               /* Glance answered 206 to a Range request */
  struct range_client *fast; /* NULL: the full client only */
  unsigned char head[1024];  /* the file's first bytes (ranges only) */
  size_t head_len;
  struct glance_digest digest; /* md NULL: nothing to check */
  const _Atomic bool *cancel;  /* see glance_disk_options */

  pthread_mutex_t lock; /* the idle connections */
  struct glance_conn **idle;
  unsigned nidle, idle_cap;

  /* Random access: a thread that hashes the whole file in order. */
  pthread_t verifier;
  bool verifier_running;
  atomic_bool stop;
  int verify_result;
  char *verify_error;
};

int glance_source_open(struct os_session *s, const char *image_id,
                       const char *display, uint64_t size,
                       struct glance_source **ret);
struct glance_conn *glance_conn_get(struct glance_source *g);
void glance_conn_put(struct glance_source *g, struct glance_conn *c);
void glance_conn_free(struct glance_conn *c);

/* GET of [offset, offset+len) as part of a GET running on to `end` (see
 * http_get_stream()), with the session's token; a 401 gets a new token
 * and one more try. */
int glance_get(struct glance_source *g, struct glance_conn *c, void *buf,
               size_t len, uint64_t offset, uint64_t end);

/* Starts the thread that hashes the whole file (random-access mode);
 * bs->ops->verify then waits for it and compares. */
int glance_source_start_verifier(struct glance_source *g);

/* Sets up g->digest from what the image published (NULL hex: nothing to
 * check). */
int glance_digest_init(struct glance_digest *d, const char *algo,
                       const char *hex, const char *name);
void glance_digest_clear(struct glance_digest *d);
/* Compares a finished EVP context with the expected digest. */
int glance_digest_check(const struct glance_digest *d, EVP_MD_CTX *ctx,
                        const char *name);

/* The raw stream disk over g (takes ownership of g). */
int glance_stream_open(struct glance_source *g, unsigned connections,
                       struct disk **ret);

#endif
