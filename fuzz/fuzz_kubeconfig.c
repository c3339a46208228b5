/* kubeconfig files (YAML or JSON) from memory: the current context, then
 * a named one. */
#include <stdint.h>
#include <stdlib.h>

#include "kube/config.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const contexts[] = {NULL, "other"};

  for (size_t i = 0; i < 2; i++) {
    struct kube_config *cfg = NULL;

    if (kube_config_parse((const char *)data, size, "fuzz.kubeconfig", "/base",
                          contexts[i], &cfg) < 0)
      error_clear();
    kube_config_free(cfg);
  }
  return 0;
}
