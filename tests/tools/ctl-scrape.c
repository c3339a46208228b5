/* Test tool: hoist-controller's pinned scrape of a populator's /metrics.
 *   ctl-scrape URL LOGFILE [OWNER_UID]
 * takes the fingerprint from LOGFILE (as from the pod's log), GETs URL
 * accepting only that certificate, and prints
 * {"bytes_copied": N, "bytes_total": N}, or one error line (exit 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/promtext.h"
#include "controller/scrape.h"
#include "util/error.h"

int main(int argc, char **argv)
{
  char fp[SCRAPE_FINGERPRINT_MAX], *log = NULL, *text = NULL;
  size_t loglen = 0, len = 0;
  struct populator_metrics m;
  FILE *f;

  if (argc < 3) {
    fprintf(stderr, "usage: ctl-scrape URL LOGFILE [OWNER_UID]\n");
    return 2;
  }
  f = fopen(argv[2], "r");
  if (!f || getdelim(&log, &loglen, 0, f) < 0) {
    fprintf(stderr, "ctl-scrape: cannot read %s\n", argv[2]);
    return 2;
  }
  fclose(f);
  if (scrape_fingerprint_from_log(log, strlen(log), fp) < 0) {
    fprintf(stderr, "ctl-scrape: no fingerprint in the log\n");
    free(log);
    return 1;
  }
  free(log);
  if (scrape_get(argv[1], fp, &text, &len) < 0 ||
      promtext_populator(text, len, argc > 3 ? argv[3] : NULL, &m) < 0) {
    fprintf(stderr, "ctl-scrape: %s\n", error_message());
    free(text);
    return 1;
  }
  printf("{\"bytes_copied\": %llu, \"bytes_total\": %llu}\n",
         (unsigned long long)m.bytes_copied, (unsigned long long)m.bytes_total);
  free(text);
  return 0;
}
