/* Growable arrays: DEFINE_VECTOR_TYPE(name, type) declares
 *   struct name { type *ptr; size_t len, cap; };
 * with name_append() (returns -ENOMEM on failure, which must be checked),
 * name_reset() (frees, leaves an empty vector) and name_clear() (keeps the
 * storage, drops the elements). Zero-initialise before first use.
 */
#ifndef HOIST_UTIL_VECTOR_H
#define HOIST_UTIL_VECTOR_H

#include <errno.h>
#include <stdlib.h>

#define DEFINE_VECTOR_TYPE(name, type)                                         \
  struct name {                                                                \
    type *ptr;                                                                 \
    size_t len, cap;                                                           \
  };                                                                           \
  static inline                                                                \
      __attribute__((unused)) int name##_reserve(struct name *v, size_t n)     \
  {                                                                            \
    size_t cap;                                                                \
    type *p;                                                                   \
    if (v->len + n <= v->cap)                                                  \
      return 0;                                                                \
    cap = v->cap ? v->cap * 2 : 16;                                            \
    while (cap < v->len + n)                                                   \
      cap *= 2;                                                                \
    p = realloc(v->ptr, cap * sizeof(type));                                   \
    if (!p)                                                                    \
      return -ENOMEM;                                                          \
    v->ptr = p;                                                                \
    v->cap = cap;                                                              \
    return 0;                                                                  \
  }                                                                            \
  static inline                                                                \
      __attribute__((unused)) int name##_append(struct name *v, type elem)     \
  {                                                                            \
    if (name##_reserve(v, 1) < 0)                                              \
      return -ENOMEM;                                                          \
    v->ptr[v->len++] = elem;                                                   \
    return 0;                                                                  \
  }                                                                            \
  static inline __attribute__((unused)) void name##_clear(struct name *v)      \
  {                                                                            \
    v->len = 0;                                                                \
  }                                                                            \
  static inline __attribute__((unused)) void name##_reset(struct name *v)      \
  {                                                                            \
    free(v->ptr);                                                              \
    v->ptr = NULL;                                                             \
    v->len = v->cap = 0;                                                       \
  }

#endif
