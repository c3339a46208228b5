/* Sizes for people to read. */
#ifndef HOIST_UTIL_HUMAN_H
#define HOIST_UTIL_HUMAN_H

#include <stddef.h>
#include <stdint.h>

/* "512 B", "1.5 GiB": bytes in binary units with one decimal, written to
 * buf (32 bytes are enough); returns buf. */
const char *human_size(uint64_t bytes, char *buf, size_t len);

#endif
