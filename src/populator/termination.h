/* The termination message: one line of JSON that Kubernetes keeps in the
 * pod's status after the container ends, so the final figures are never
 * lost with the pod's metrics endpoint:
 *
 *   {"result":"succeeded"|"failed","bytes_copied":N,"bytes_total":N,
 *    "bytes_read":N,"bytes_resumed":N,"virtual_size":N,
 *    "duration_seconds":S,"checksum":"sha256:HEX","message":"…"}
 *
 * checksum only with --checksum and on success; message only on failure.
 * The line stays under Kubernetes' 4096-byte limit (a long message is
 * shortened) and never holds a secret.
 */
#ifndef HOIST_POPULATOR_TERMINATION_H
#define HOIST_POPULATOR_TERMINATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TERMINATION_MAX 4096

struct termination_summary {
  bool succeeded;
  uint64_t bytes_copied, bytes_total, bytes_read, bytes_resumed;
  uint64_t virtual_size;
  double duration;
  const char *checksum; /* hex, or NULL */
  const char *message;  /* the error, or NULL */
};

/* The JSON line (with a newline), at most TERMINATION_MAX - 1 bytes;
 * caller frees. NULL: out of memory. */
char *termination_format(const struct termination_summary *s);

/* Writes it to path; returns 0 or a negative errno (with the error set). */
int termination_write(const char *path, const struct termination_summary *s);

#endif
