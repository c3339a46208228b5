/* A watch event stream from memory, fed whole and then in small pieces
 * (events split across reads), with a small per-event cap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/resource.h"
#include "kube/watch.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_event(const struct kube_event *ev, void *opaque)
{
  size_t *n = opaque;
  char *key = kube_obj_key(ev->object);

  (void)kube_event_type_name(ev->type);
  (void)kube_obj_resource_version(ev->object);
  free(key);
  (*n)++;
  return 0;
}

static void feed(const uint8_t *data, size_t size, size_t step, size_t cap)
{
  struct kube_event_parser *p;
  size_t n = 0;
  int r = 0;

  if (kube_event_parser_new(cap, &p) < 0)
    return;
  for (size_t off = 0; off < size && r == 0; off += step)
    r = kube_event_parser_feed(p, (const char *)data + off,
                               size - off < step ? size - off : step, on_event,
                               &n);
  if (r == 0)
    kube_event_parser_finish(p);
  error_clear();
  kube_event_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  feed(data, size, size ? size : 1, 0);
  feed(data, size, 7, 256);
  return 0;
}
