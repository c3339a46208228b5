/* The termination message reader: never fails, and its message is always
 * a terminated string of printable UTF-8 without control characters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controller/termmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct termmsg t;
  size_t i, n;

  termmsg_parse((const char *)data, size, &t);
  n = strnlen(t.message, sizeof t.message);
  if (n == sizeof t.message)
    abort();
  for (i = 0; i < n; i++)
    if ((unsigned char)t.message[i] < 0x20 || t.message[i] == 0x7f)
      abort();
  if (t.succeeded && !t.json)
    abort();
  return 0;
}
