#include "disk/vmdk/vmdk.h"

#include <errno.h>

#include "util/error.h"

int vmdk_open_sparse(struct bytesource *bs, const struct disk_open_opts *opts,
                     struct disk **ret)
{
  int r = error_set(ENOTSUP, "%s: VMDK is not supported yet", bs->name);

  (void)opts;
  (void)ret;
  bytesource_close(bs);
  return r;
}

int vmdk_open_descriptor(struct bytesource *bs,
                         const struct disk_open_opts *opts, struct disk **ret)
{
  return vmdk_open_sparse(bs, opts, ret);
}
