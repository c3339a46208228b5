/* Digest of a whole virtual disk as it landed on the destination. */
#ifndef HOIST_COPY_CHECKSUM_H
#define HOIST_COPY_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#define CHECKSUM_HEX_MAX 129

/* Reads the first `size` bytes of fd and writes the hex digest (algorithm
 * "sha256", "sha1" or "sha512") to hex. Holes are hashed as zeros without
 * being read. */
int checksum_fd(int fd, const char *name, uint64_t size, const char *algo,
                char hex[CHECKSUM_HEX_MAX]);

/* True if algo names a digest that checksum_fd() knows. */
int checksum_known(const char *algo);

#endif
