/* Parses an OVF manifest held in memory and digests each entry's name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sources/ova/manifest.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct manifest_entry_list l = {0};
  char hex[MANIFEST_MAX_HEX + 1];
  size_t i;

  if (manifest_parse((const char *)data, size, "fuzz.mf", &l) == 0) {
    for (i = 0; i < l.len; i++) {
      if (manifest_find(&l, l.ptr[i].name) != &l.ptr[i])
        abort();
      if (manifest_digest_buffer(l.ptr[i].algo, l.ptr[i].name,
                                 strlen(l.ptr[i].name), hex) < 0 ||
          strlen(hex) != strlen(l.ptr[i].hex))
        abort();
    }
  }
  manifest_entry_list_free(&l);
  error_clear();
  return 0;
}
