/* VMDK decoders: monolithicSparse, streamOptimized, monolithicFlat,
 * twoGbMaxExtentSparse, twoGbMaxExtentFlat and ESXi "vmfs" (flat) disks.
 *
 * Sparse disks are read at random through their grain directory and grain
 * tables; streamOptimized disks are read forward as a stream of compressed
 * grains (disk->stream), which also works on sources without random access
 * (a gzip stream); descriptor-based disks compose their extent files (flat,
 * hosted sparse, zero), opened through opts->open_sibling. Snapshot deltas
 * (a parent disk), ESX COWD and seSparse extents, raw device mappings and
 * unknown create types are refused at open with a message that names them.
 */
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

/* Facts from the descriptor's disk database, kept for building the VM.
 * Each is NULL when the descriptor does not have it. */
struct vmdk_info {
  const char *create_type;        /* createType */
  const char *adapter_type;       /* ddb.adapterType: ide, lsilogic, … */
  const char *virtual_hw_version; /* ddb.virtualHWVersion */
  const char *uuid;               /* ddb.uuid */
};

/* The descriptor facts of a disk opened by the VMDK decoders, or NULL for a
 * disk of another format. Valid until the disk is closed. */
const struct vmdk_info *vmdk_disk_info(const struct disk *d);

#endif
