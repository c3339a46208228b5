/* UTF-8 decoding for text from outside (names, descriptions). */
#ifndef HOIST_UTIL_UTF8_H
#define HOIST_UTIL_UTF8_H

#include <stdint.h>

/* Length (2 to 4) of the valid multi-byte UTF-8 sequence at s, with its
 * code point in *cp; 0 if s does not start one (ASCII, stray continuation
 * bytes, overlong forms, surrogates, beyond U+10FFFF). Reads at most up to
 * the first byte that is not a continuation byte, so a NUL-terminated
 * string is never overrun. */
int utf8_decode(const unsigned char *s, uint32_t *cp);

#endif
