/* The imageio extents parser, and URL display and redaction, on the same
 * bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disk/disk.h"
#include "net/http.h"
#include "sources/ovirt/imageio.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct extent_list l = {0};
  uint64_t total = 0, pos = 0;
  char *text;
  size_t i;

  if (imageio_parse_extents((const char *)data, size, "fuzz", &l, &total) ==
      0) {
    /* What was accepted tiles [0, total), without empty extents. */
    for (i = 0; i < l.len; i++) {
      if (l.ptr[i].offset != pos || l.ptr[i].length == 0)
        abort();
      pos += l.ptr[i].length;
    }
    if (pos != total)
      abort();
  }
  extent_list_reset(&l);
  error_clear();

  text = strndup((const char *)data, size);
  if (text) {
    char *shown = imageio_display_url(text);
    char *redacted = http_redact_secret(text, "0123456789abcdef");
    char *origin = http_origin(text);
    if (redacted && strstr(redacted, "0123456789abcdef"))
      abort();
    (void)imageio_is_url(text);
    free(shown);
    free(redacted);
    free(origin);
    free(text);
  }
  return 0;
}
