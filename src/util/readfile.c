/* Reading small files whole (see readfile.h). */
#include "util/readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"

static void wipe_free(char *buf, size_t len)
{
  if (buf)
    explicit_bzero(buf, len);
  free(buf);
}

int read_fd_whole(int fd, const char *path, size_t max, char **ret,
                  size_t *ret_len)
{
  char *buf = malloc(max + 1);
  size_t len = 0;

  if (!buf)
    return error_set(ENOMEM, "out of memory");
  /* One byte more than allowed, to notice a file that is too big. */
  while (len <= max) {
    ssize_t n = read(fd, buf + len, max + 1 - len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int r = error_errno("cannot read %s", path);
      wipe_free(buf, len);
      return r;
    }
    if (n == 0)
      break;
    len += (size_t)n;
  }
  if (len > max) {
    wipe_free(buf, len);
    return error_set(EFBIG, "%s: larger than %zu bytes", path, max);
  }
  buf[len] = 0;
  *ret = buf;
  if (ret_len)
    *ret_len = len;
  return 0;
}

int read_file_whole(const char *path, size_t max, char **ret, size_t *ret_len)
{
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return error_errno("cannot open %s", path);
  return read_fd_whole(fd, path, max, ret, ret_len);
}
