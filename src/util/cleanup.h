/* Scope-bound cleanup helpers (systemd/nbdkit style).
 *
 * A variable declared with _cleanup_free_ is freed when it goes out of
 * scope; TAKE_PTR hands ownership to someone else and leaves NULL behind.
 * Every destructor used here accepts NULL.
 */
#ifndef HOIST_UTIL_CLEANUP_H
#define HOIST_UTIL_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(cleanup_freep)
#define _cleanup_close_ _cleanup_(cleanup_closep)
#define _cleanup_fclose_ _cleanup_(cleanup_fclosep)

static inline void cleanup_freep(void *p)
{
  free(*(void **)p);
}

static inline void cleanup_closep(int *fd)
{
  if (*fd >= 0)
    close(*fd);
}

static inline void cleanup_fclosep(FILE **f)
{
  if (*f)
    fclose(*f);
}

/* Defines cleanup_<type>p for a type whose destructor is type_free(). */
#define DEFINE_CLEANUP_FUNC(type, func)                                        \
  static inline void func##p(type **p)                                         \
  {                                                                            \
    func(*p);                                                                  \
  }

#define TAKE_PTR(p)                                                            \
  ({                                                                           \
    __typeof__(p) take_ptr_tmp_ = (p);                                         \
    (p) = NULL;                                                                \
    take_ptr_tmp_;                                                             \
  })

#define TAKE_FD(fd)                                                            \
  ({                                                                           \
    int take_fd_tmp_ = (fd);                                                   \
    (fd) = -1;                                                                 \
    take_fd_tmp_;                                                              \
  })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define streq(a, b) (strcmp((a), (b)) == 0)

#endif
