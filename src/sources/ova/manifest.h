/* OVF manifests (.mf): one digest per file of the package,
 *   SHA256(disk1.vmdk)= 3f5a…
 * (SHA1 in older exports, SHA512 on request; the space after ')=' is
 * optional). */
#ifndef HOIST_SOURCES_OVA_MANIFEST_H
#define HOIST_SOURCES_OVA_MANIFEST_H

#include <stddef.h>

#include "disk/bytesource.h"
#include "util/vector.h"

#define MANIFEST_MAX_SIZE (1024 * 1024)
#define MANIFEST_MAX_ENTRIES 10000
#define MANIFEST_MAX_HEX 128 /* SHA-512 */

struct manifest_entry {
  char *name;
  const char *algo;               /* "SHA1", "SHA256", "SHA512" (static) */
  char hex[MANIFEST_MAX_HEX + 1]; /* lower case */
  int line;
};
DEFINE_VECTOR_TYPE(manifest_entry_list, struct manifest_entry)

/* Parses a manifest. `where` names it in messages (e.g. "vm.ova: vm.mf").
 * A malformed line, an unknown algorithm, a digest of the wrong length or
 * a file listed twice is an error. */
int manifest_parse(const char *text, size_t len, const char *where,
                   struct manifest_entry_list *out);

const struct manifest_entry *manifest_find(const struct manifest_entry_list *l,
                                           const char *name);

void manifest_entry_list_free(struct manifest_entry_list *l);

/* Digest of a buffer, as lower-case hex into out (MANIFEST_MAX_HEX + 1). */
int manifest_digest_buffer(const char *algo, const void *data, size_t len,
                           char *out);

/* Digest of a byte source of known size, read as a stream from its
 * current position to its end. */
int manifest_digest_source(const char *algo, struct bytesource *bs, char *out);

#endif
