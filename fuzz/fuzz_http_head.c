/* The reply head parser of the fast range reader. */
#include <stdint.h>
#include <stdlib.h>

#include "net/range_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct range_head h;

  if (range_parse_head((const char *)data, size, &h) == 0) {
    /* What was accepted is a three-digit status and a range in order. */
    if (h.status < 0 || h.status > 999)
      abort();
    if (h.have_range && h.last < h.first)
      abort();
  }
  return 0;
}
