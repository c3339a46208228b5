/* Progress lines: "progress: 42.0%, 1.2 GiB of 3.0 GiB of data (…
 * virtual), 50.3 MiB/s" on stderr every interval seconds. */
#ifndef HOIST_POPULATOR_PROGRESS_H
#define HOIST_POPULATOR_PROGRESS_H

#include <pthread.h>

#include "populator/populator.h"

struct pop_progress_log {
  struct pop_state *state;
  double interval;
  double last_time;
  uint64_t last_read;
  bool stop, running;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
};

int pop_progress_start(struct pop_progress_log *l, struct pop_state *s,
                       double interval);
void pop_progress_stop(struct pop_progress_log *l);

#endif
