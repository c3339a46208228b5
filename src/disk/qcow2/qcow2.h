/* qcow2 decoder (v2 and v3): random access, thread-safe.
 *
 * Reads what `qemu-img convert -O raw` would write, byte for byte:
 *  - cluster sizes 512 B to 2 MiB, virtual sizes up to 64 TiB that need
 *    not be a multiple of the cluster size;
 *  - unallocated clusters and v3 zero clusters (with or without a host
 *    offset) are zero extents; extents() reads only L1/L2 metadata;
 *  - compressed clusters (deflate; compression_type 0);
 *  - extended L2 entries (32 subclusters, each allocated, zero or
 *    unallocated);
 *  - internal snapshots (the active L1 table is read), bitmaps, the dirty
 *    bit and lazy refcounts are no obstacle.
 *
 * Refused at open, with one line naming the file and the feature: a
 * backing file, encryption, an external data file, zstd compression,
 * unknown incompatible feature bits, the corrupt bit, versions other than
 * 2 and 3, a virtual size over 64 TiB, an active L1 table over QEMU's own
 * 32 MiB limit, a stream source (qcow2 needs random access).
 *
 * Corrupt metadata is an error, never a guess: an L1 table too small for
 * the virtual size or outside the file; L2 tables or data clusters that
 * are unaligned, past the end of the file, or inside the header, the L1
 * table, the refcount table or their own L2 table; compressed data past
 * the end of the file (beyond its last, partial sector); a compressed
 * cluster that does not inflate to exactly one cluster; a zero flag in a
 * v2 image; contradictory subcluster bitmaps. Metadata errors name the
 * virtual offset concerned.
 *
 * Memory stays bounded whatever the virtual size: the L1 entries that
 * cover the disk (32 MiB at most, 1 MiB for 64 TiB in 64 KiB clusters),
 * an 8 MiB cache of L2 tables, and per concurrent reader the compressed
 * bytes and one decompressed cluster.
 *
 * disk->allocated is the exact number of data bytes (compressed clusters
 * at their decoded size) when the L2 tables add up to 4 MiB or less;
 * otherwise an estimate: the file size less the header, L1, L2 and
 * refcount tables. disk->variant is "v2" or "v3", followed by ", extended
 * L2" and ", compressed" (the latter when the exact count saw compressed
 * clusters).
 */
#ifndef HOIST_DISK_QCOW2_H
#define HOIST_DISK_QCOW2_H

#include "disk/disk.h"

/* Opens a qcow2 image on bs (takes ownership, also on failure). */
int qcow2_open(struct bytesource *bs, struct disk **ret);

#endif
