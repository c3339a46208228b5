/* Overflow-checked arithmetic for sizes that come from outside. */
#ifndef HOIST_UTIL_CHECKED_H
#define HOIST_UTIL_CHECKED_H

#define ADD_OVERFLOW(a, b, r) __builtin_add_overflow((a), (b), (r))
#define MUL_OVERFLOW(a, b, r) __builtin_mul_overflow((a), (b), (r))

#define IS_ALIGNED(x, a) (((x) & ((a)-1)) == 0)
#define ROUND_UP(x, a) ((((x) + (a)-1) / (a)) * (a))
#define ROUND_DOWN(x, a) (((x) / (a)) * (a))
#define DIV_ROUND_UP(x, a) (((x) + (a)-1) / (a))

#endif
