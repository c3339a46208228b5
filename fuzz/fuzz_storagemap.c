/* Storage map files (text form and Forklift StorageMap YAML) from memory;
 * each parsed map is also looked up. */
#include <stdint.h>
#include <stdlib.h>

#include "model/storagemap.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const storages[] = {"data1", "glance", "", NULL};
  struct storagemap *map = NULL;
  size_t i;

  if (storagemap_parse((const char *)data, size, "fuzz.map", &map) < 0) {
    error_clear();
    return 0;
  }
  for (i = 0; i < sizeof storages / sizeof storages[0]; i++) {
    const struct storagemap_entry *e = storagemap_lookup(map, storages[i]);
    if (e && !e->storage_class)
      abort();
  }
  storagemap_free(map);
  return 0;
}
