/* qcow2 decoder (v2 and v3): random access, thread-safe. */
#ifndef HOIST_DISK_QCOW2_H
#define HOIST_DISK_QCOW2_H

#include "disk/disk.h"

/* Opens a qcow2 image on bs (takes ownership, also on failure). */
int qcow2_open(struct bytesource *bs, struct disk **ret);

#endif
