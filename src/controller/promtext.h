/* A reader of the Prometheus text format (0.0.4), for the populator pods'
 * /metrics. Outside data: every line is checked, nothing is trusted to be
 * terminated or small (fuzz/fuzz_promtext.c).
 *
 * Lines are `name{label="value",…} value [timestamp]`, comments start
 * with '#'. Label values may hold \\, \" and \n escapes.
 */
#ifndef HOIST_CONTROLLER_PROMTEXT_H
#define HOIST_CONTROLLER_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROMTEXT_MAX_LABELS 16
#define PROMTEXT_MAX_TEXT (1024 * 1024)

struct promtext_label {
  char *name, *value;
};

struct promtext_sample {
  const char *name;
  size_t nlabels;
  struct promtext_label labels[PROMTEXT_MAX_LABELS];
  double value;
};

/* Calls fn for each sample of text (len bytes, NUL not needed); fn returns
 * 0 to go on, anything else to stop (returned). -EINVAL with the error set
 * on the first line that is not valid. */
int promtext_parse(const char *text, size_t len,
                   int (*fn)(const struct promtext_sample *s, void *ud),
                   void *ud);

/* The value of label `name` in s, or NULL. */
const char *promtext_label(const struct promtext_sample *s, const char *name);

/* What the controller reads from a populator's metrics. */
struct populator_metrics {
  bool have_copied, have_total;
  uint64_t bytes_copied, bytes_total;
};

/* The hoist_populator_bytes_{copied,total} samples whose owner_uid is uid
 * (any owner when uid is NULL). */
int promtext_populator(const char *text, size_t len, const char *uid,
                       struct populator_metrics *m);

#endif
