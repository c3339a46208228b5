#include "sources/ova/ova.h"

#include <errno.h>

#include "util/error.h"

/* Refusing stubs until the OVA source lands (branch ova replaces this
 * file). */

int
ova_open(const char *path, struct ova **ret)
{
  (void)ret;
  return error_set(ENOTSUP, "%s: OVA archives are not supported yet", path);
}

void
ova_close(struct ova *ova)
{
  (void)ova;
}

const struct vm_list *
ova_vms(const struct ova *ova)
{
  (void)ova;
  return NULL;
}

const char *
ova_path(const struct ova *ova)
{
  (void)ova;
  return NULL;
}

bool
ova_has_manifest(const struct ova *ova)
{
  (void)ova;
  return false;
}

int
ova_verify_member(struct ova *ova, const char *member, bool *listed)
{
  (void)ova, (void)listed;
  return error_set(ENOTSUP, "%s: OVA archives are not supported yet", member);
}

int
ova_open_member_disk(struct ova *ova, const char *member, struct disk **ret)
{
  (void)ova, (void)ret;
  return error_set(ENOTSUP, "%s: OVA archives are not supported yet", member);
}

int
ova_open_disk(const char *path, const char *member, struct disk **ret)
{
  (void)ret;
  return error_set(ENOTSUP, "%s#%s: OVA archives are not supported yet",
                   path, member);
}
