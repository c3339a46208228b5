/* Glance v2: image metadata, and an image's data as a disk.
 *
 * GET /v2/images/{id} gives the size, disk and container formats, the
 * legacy md5 `checksum` and the multihash (os_hash_algo, os_hash_value).
 * The data, GET /v2/images/{id}/file, is read in one of two ways:
 *
 *  - raw content (what the bytes hold, detected as disk_open() does, never
 *    from disk_format): a stream disk. Several connections fetch 64 MiB
 *    spans with range GETs ahead of the copy into a bounded ring of
 *    buffers (8 MiB per connection); a hasher thread hashes the chunks in
 *    order as they arrive while the copy workers detect zeros and write
 *    them in parallel, straight from the ring. When Glance ignores Range
 *    (200 instead of 206) one connection streams the whole file.
 *  - any other format (qcow2, VMDK): a random-access byte source under
 *    disk_open(), whose decoder reads only what it needs with parallel
 *    range GETs; a separate connection reads the whole file once, in
 *    order, to hash it meanwhile. Without Range support such an image is
 *    refused (it cannot be decoded from a stream).
 *
 * Either way the digest (os_hash_value with os_hash_algo, else the md5
 * checksum) is checked before the copy counts as done (the stream's end,
 * or bytesource verify); a mismatch fails the copy. Every request sends
 * the session's current token; a 401 gets a new one and one more try.
 */
#ifndef HOIST_SOURCES_OPENSTACK_GLANCE_H
#define HOIST_SOURCES_OPENSTACK_GLANCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disk/disk.h"
#include "util/vector.h"

struct os_session;

/* One range GET per span: each request costs Glance milliseconds of
 * Python (policy, database, token), so spans are long. */
#define GLANCE_SPAN (64u * 1024 * 1024)
#define GLANCE_CHUNK (2u * 1024 * 1024)

struct glance_image {
  char *id, *name, *status;
  char *disk_format, *container_format;
  uint64_t size;         /* bytes of the file; 0 if unknown */
  uint64_t virtual_size; /* 0 if unknown */
  char *checksum;        /* md5 hex, or NULL */
  char *hash_algo;       /* "sha512", … or NULL */
  char *hash_value;      /* hex, or NULL */
  json_t *json;          /* the whole object (properties: hw_*, …) */
};
DEFINE_VECTOR_TYPE(glance_image_list, struct glance_image)

/* Parses the JSON of one image (GET /v2/images/{id}); `name` is for
 * messages. Needs an id; every other field may be missing. */
int glance_parse_image(const char *buf, size_t len, const char *name,
                       struct glance_image *out);
/* The same from a parsed object (a member of GET /v2/images's list). */
int glance_image_from_json(json_t *obj, const char *name,
                           struct glance_image *out);
void glance_image_clear(struct glance_image *img);
void glance_image_list_free(struct glance_image_list *l);

/* An image property as a string (NULL when missing). */
const char *glance_image_prop(const struct glance_image *img, const char *key);

/* True for a plausible image id (a UUID or other [A-Za-z0-9-_.]). */
bool glance_id_ok(const char *id);

struct glance;

int glance_open(struct os_session *s, struct glance **ret);
void glance_close(struct glance *g);

int glance_get_image(struct glance *g, const char *id,
                     struct glance_image *out);
/* All images the project sees (following `next`), at most `max`. */
int glance_list_images(struct glance *g, size_t max,
                       struct glance_image_list *out);
int glance_delete_image(struct glance *g, const char *id);

struct glance_disk_options {
  unsigned connections; /* parallel range GETs; 0: 4 */
  bool owns_session;    /* the disk frees the session when closed (also
                           when opening fails) */
  /* When set (by a signal handler's thread, say), reads fail at once
   * with -EINTR. May be NULL. */
  const _Atomic bool *cancel;
};

/* Opens the image's data as a disk (see above). The session must outlive
 * the disk, unless the disk owns it. */
int glance_open_disk(struct os_session *s, const char *image_id,
                     const struct glance_disk_options *o, struct disk **ret);

#endif
