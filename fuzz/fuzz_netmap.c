/* Network map files (text form and Forklift NetworkMap YAML) from memory;
 * each parsed map is also looked up and applied to a small VM. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/mapping.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct netmap *map = NULL;
  struct vm *vm;
  struct nic_target targets[3];
  static const char *const networks[] = {"VM Network", "net-1", NULL};
  size_t i;

  if (netmap_parse((const char *)data, size, "fuzz.map", &map) < 0) {
    error_clear();
    return 0;
  }
  vm = vm_new();
  for (i = 0; vm && i < 3; i++) {
    struct vm_nic nic = {0};
    nic.network = networks[i] ? strdup(networks[i]) : NULL;
    if (vm_nic_list_append(&vm->nics, nic) < 0)
      free(nic.network);
  }
  if (vm && mapping_assign_networks(vm, map, targets) < 0)
    error_clear();
  vm_free(vm);
  netmap_free(map);
  return 0;
}
