/* Reading small files whole: provider files, kubeconfigs, tokens, Secret
 * keys, map files. */
#ifndef HOIST_UTIL_READFILE_H
#define HOIST_UTIL_READFILE_H

#include <stddef.h>

/* Reads fd (of path, for messages) to its end: at most max bytes, else
 * -EFBIG ("PATH: larger than MAX bytes"). *ret is NUL-terminated and
 * *ret_len (may be NULL) its length. What was read is wiped on failure,
 * as it may be a secret. */
int read_fd_whole(int fd, const char *path, size_t max, char **ret,
                  size_t *ret_len);

/* Opens path and reads it as read_fd_whole(). */
int read_file_whole(const char *path, size_t max, char **ret, size_t *ret_len);

#endif
