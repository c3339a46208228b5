/* Indexes a tar archive held in memory and reads the start of each member
 * through a slice, as the OVA reader does. */
#include <stdint.h>
#include <stdlib.h>

#include "disk/bytesource.h"
#include "sources/ova/tar.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct tar_member_list members = {0};
  struct bytesource *bs;
  size_t i;

  if (bytesource_open_memory(data, size, "fuzz.ova", &bs) < 0) {
    error_clear();
    return 0;
  }
  if (tar_index(bs, &members) == 0) {
    for (i = 0; i < members.len; i++) {
      const struct tar_member *m = &members.ptr[i];
      struct bytesource *slice;
      unsigned char buf[512];
      if (m->kind != TAR_FILE || tar_find(&members, m->name) == NULL)
        continue;
      if (bytesource_open_slice(bs, false, m->offset, m->size, m->name,
                                &slice) < 0)
        abort(); /* the index promised the member lies in the archive */
      if (bytesource_pread(slice, buf, m->size < 512 ? m->size : 512, 0) < 0)
        abort();
      bytesource_close(slice);
    }
  }
  tar_member_list_free(&members);
  bytesource_close(bs);
  error_clear();
  return 0;
}
