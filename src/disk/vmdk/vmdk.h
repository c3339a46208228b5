/* VMDK decoders: monolithicSparse, streamOptimized, monolithicFlat,
 * twoGbMaxExtentSparse and twoGbMaxExtentFlat. */
#ifndef HOIST_DISK_VMDK_H
#define HOIST_DISK_VMDK_H

#include "disk/disk.h"

/* bs starts with a sparse extent header ("KDMV"), with the descriptor
 * embedded (monolithicSparse, streamOptimized). Takes ownership of bs. */
int vmdk_open_sparse(struct bytesource *bs, const struct disk_open_opts *opts,
                     struct disk **ret);

/* bs is a text descriptor naming extent files, opened through
 * opts->open_sibling (monolithicFlat, twoGbMaxExtent*). Takes ownership. */
int vmdk_open_descriptor(struct bytesource *bs,
                         const struct disk_open_opts *opts, struct disk **ret);

#endif
