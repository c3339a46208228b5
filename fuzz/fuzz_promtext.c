/* The Prometheus text reader: any input is accepted or refused without a
 * crash; what it accepts has named samples with finite-or-special values
 * and at most PROMTEXT_MAX_LABELS labels; the populator reader agrees with
 * the generic one. Also fuzzes Kubernetes quantities (the first line). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controller/prime.h"
#include "controller/promtext.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(const struct promtext_sample *s, void *ud)
{
  size_t i;

  (void)ud;
  if (!s->name || !*s->name || s->nlabels > PROMTEXT_MAX_LABELS)
    abort();
  for (i = 0; i < s->nlabels; i++)
    if (!s->labels[i].name || !s->labels[i].value ||
        promtext_label(s, s->labels[i].name) == NULL)
      abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct populator_metrics m;
  char q[64];
  size_t n = 0;
  uint64_t bytes;
  int a, b;

  a = promtext_parse((const char *)data, size, check, NULL);
  error_clear();
  b = promtext_populator((const char *)data, size, NULL, &m);
  error_clear();
  if ((a < 0) != (b < 0))
    abort();
  while (n < size && n < sizeof q - 1 && data[n] != '\n' && data[n])
    q[n] = (char)data[n], n++;
  q[n] = 0;
  if (ctl_quantity_bytes(q, &bytes) == 0 && bytes > INT64_MAX)
    abort();
  return 0;
}
