#ifndef HOIST_UTIL_ISZERO_H
#define HOIST_UTIL_ISZERO_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* True if the buffer holds only zero bytes. Checks a short prefix byte by
 * byte, then compares the buffer with itself shifted by that prefix: one
 * memcmp, which libc vectorises (the trick nbdkit's is_zero() credits). */
static inline bool is_zero(const void *buffer, size_t size)
{
  const char *p = buffer;
  size_t i, lim = size < 16 ? size : 16;

  for (i = 0; i < lim; i++)
    if (p[i])
      return false;
  return size <= 16 || memcmp(p, p + 16, size - 16) == 0;
}

#endif
