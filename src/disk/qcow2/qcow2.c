#include "disk/qcow2/qcow2.h"

#include <errno.h>

#include "util/error.h"

int qcow2_open(struct bytesource *bs, struct disk **ret)
{
  int r = error_set(ENOTSUP, "%s: qcow2 is not supported yet", bs->name);

  (void)ret;
  bytesource_close(bs);
  return r;
}
