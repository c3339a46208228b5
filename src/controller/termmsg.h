/* The populator pod's termination message (src/populator/termination.h),
 * as Kubernetes keeps it in the pod's status: one line of JSON, or, when
 * the program died before writing it, the log's tail (the pod's policy is
 * FallbackToLogsOnError). Outside data (fuzz/fuzz_termmsg.c).
 */
#ifndef HOIST_CONTROLLER_TERMMSG_H
#define HOIST_CONTROLLER_TERMMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TERMMSG_MAX 4096
#define TERMMSG_MESSAGE_MAX 1024

struct termmsg {
  bool json;      /* it was hoist-populator's JSON line */
  bool succeeded; /* result "succeeded" */
  bool have_bytes;
  uint64_t bytes_copied, bytes_total, bytes_resumed, virtual_size;
  double duration;
  char message[TERMMSG_MESSAGE_MAX]; /* the error, or the log's last
                                        line; printable UTF-8 */
};

/* Parses text (len bytes, at most TERMMSG_MAX are read). Never fails:
 * what is not the JSON line becomes the message. */
void termmsg_parse(const char *text, size_t len, struct termmsg *t);

#endif
