/* Figures of the running copy, shared by the metrics, the progress lines
 * and the termination message. */
#include <stdatomic.h>
#include <stdio.h>

#include "populator/populator.h"

uint64_t pop_bytes_copied(struct pop_state *s)
{
  if (!atomic_load(&s->copying))
    return 0;
  return atomic_load(&s->progress.read) +
         atomic_load(&s->progress.resumed_data);
}

double pop_progress_ratio(struct pop_state *s)
{
  struct copy_progress *p = &s->progress;
  uint64_t done, total;

  if (!atomic_load(&s->copying))
    return 0;
  /* Zeros cost nothing: the data tells how far the copy is. */
  if (p->data_total != DISK_UNKNOWN && p->data_total > 0) {
    done = pop_bytes_copied(s);
    total = p->data_total;
  } else {
    done = atomic_load(&p->done);
    total = p->total;
  }
  if (total == 0)
    return atomic_load(&p->done) >= p->total ? 1.0 : 0.0;
  return done >= total ? 1.0 : (double)done / (double)total;
}
