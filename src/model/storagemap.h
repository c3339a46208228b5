/* Storage mapping: which storage class (and volume and access mode) the
 * disks of each source storage go to — datastores, oVirt storage domains,
 * OpenStack volume types, and "glance" for disks made from Glance images,
 * as in Forklift.
 *
 * A map file (read by mapfile.h) is Forklift StorageMap manifests
 * (destination: {storageClass, volumeMode: Filesystem | Block,
 * accessMode: ReadWriteOnce | ReadWriteMany | ReadOnlyMany}) or lines of
 * the text form, the modes optional and in any order (RWO, RWX and ROX
 * stand for the access modes):
 *
 *   # comment
 *   data1=fast-ssd
 *   glance=standard,Block,ReadWriteMany
 */
#ifndef HOIST_MODEL_STORAGEMAP_H
#define HOIST_MODEL_STORAGEMAP_H

#include <stddef.h>

#include "util/vector.h"

struct storagemap_entry {
  char *source_name; /* match by name (either may be NULL, not both) */
  char *source_id;   /* match by id */
  char *storage_class;
  const char *volume_mode; /* "Filesystem", "Block", or NULL: not set */
  const char *access_mode; /* "ReadWriteOnce", …, or NULL: not set */
  unsigned line;
};
DEFINE_VECTOR_TYPE(storagemap_entry_list, struct storagemap_entry)

struct storagemap {
  char *file;
  struct storagemap_entry_list entries;
};

/* Parses a map from memory; `file` names it in messages. */
int storagemap_parse(const char *data, size_t len, const char *file,
                     struct storagemap **ret);
/* Reads and parses a map file. */
int storagemap_load(const char *path, struct storagemap **ret);
void storagemap_free(struct storagemap *map);

/* The entry for a source storage (matched by name, then by id), or NULL.
 * map and storage may be NULL. */
const struct storagemap_entry *storagemap_lookup(const struct storagemap *map,
                                                 const char *storage);

#endif
