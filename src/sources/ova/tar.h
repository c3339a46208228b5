/* tar archives indexed in place: USTAR, POSIX pax and GNU headers.
 *
 * The index lists each member's name and where its data lies in the
 * archive; nothing is unpacked or copied. A member's bytes are then read
 * through a slice of the archive (bytesource_open_slice). Every header is
 * checked (checksum, numeric fields, sizes against the end of the archive)
 * before anything in it is trusted.
 */
#ifndef HOIST_SOURCES_OVA_TAR_H
#define HOIST_SOURCES_OVA_TAR_H

#include <stdbool.h>
#include <stdint.h>

#include "disk/bytesource.h"
#include "util/vector.h"

#define TAR_BLOCK 512
#define TAR_MAX_MEMBERS 10000
#define TAR_MAX_NAME 4096
/* pax extended headers and GNU long names larger than this are refused. */
#define TAR_MAX_EXT_HEADER (1024 * 1024)

enum tar_kind {
  TAR_FILE, /* regular file: its data is stored in the archive */
  TAR_DIRECTORY,
  TAR_LINK,   /* hard or symbolic link: no data of its own */
  TAR_SPARSE, /* GNU sparse file: data stored with a map, not as is */
  TAR_OTHER,  /* devices, FIFOs, unknown types */
};

struct tar_member {
  char *name; /* normalised: no leading "./" or "/" */
  enum tar_kind kind;
  char type;              /* the raw typeflag */
  uint64_t header_offset; /* of the member's own header block */
  uint64_t offset;        /* of its data */
  uint64_t size;          /* bytes of data */
};
DEFINE_VECTOR_TYPE(tar_member_list, struct tar_member)

/* Indexes the archive in bs (which must allow random access and have a
 * known size), appending its members to *out in archive order. Errors name
 * bs->name and the offset of the bad header. bs stays owned by the
 * caller. */
int tar_index(struct bytesource *bs, struct tar_member_list *out);

/* The member called name (normalised as tar_index() does), or NULL. */
const struct tar_member *tar_find(const struct tar_member_list *l,
                                  const char *name);

void tar_member_list_free(struct tar_member_list *l);

#endif
