/* OVA archives: a tar file holding an OVF descriptor, an optional manifest
 * and the disk files, read in place (never unpacked). */
#ifndef HOIST_SOURCES_OVA_H
#define HOIST_SOURCES_OVA_H

#include "disk/disk.h"
#include "model/vm.h"

/* Opens the disk stored as archive member `member` of the OVA at path,
 * decoding its format (and gzip compression) on the fly. */
int ova_open_disk(const char *path, const char *member, struct disk **ret);

#endif
