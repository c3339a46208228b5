/* Parses an OVF descriptor held in memory into the neutral VM model. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sources/ova/ovf.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct ovf ovf;
  size_t i, j;

  if (ovf_parse(data, size, "fuzz.ova: fuzz.ovf", "fuzz.ova", &ovf) == 0) {
    for (i = 0; i < ovf.vms.len; i++) {
      const struct vm *vm = ovf.vms.ptr[i];
      /* What the model promises its users. */
      if (!vm->name || !vm->source_kind || vm->sockets == 0 ||
          vm->cores_per_socket == 0 || vm->threads_per_core == 0)
        abort();
      for (j = 0; j < vm->disks.len; j++)
        if (!vm->disks.ptr[j].id)
          abort();
      for (j = 0; j < vm->nics.len; j++)
        if (!vm->nics.ptr[j].model ||
            (vm->nics.ptr[j].mac && strlen(vm->nics.ptr[j].mac) != 17))
          abort();
      (void)vm_has_critical_concern(vm);
    }
    ovf_free(&ovf);
  }
  error_clear();
  return 0;
}
