#include "sources/ova/ova.h"

#include <errno.h>

#include "util/error.h"

int ova_open_disk(const char *path, const char *member, struct disk **ret)
{
  (void)ret;
  return error_set(ENOTSUP, "%s#%s: OVA archives are not supported yet", path,
                   member);
}
