/* Progress display for a running copy: a bar redrawn in place on a
 * terminal, plain lines every few seconds elsewhere. Runs on its own
 * thread and only reads the engine's atomic counters. */
#ifndef HOIST_CLI_PROGRESS_H
#define HOIST_CLI_PROGRESS_H

#include <pthread.h>
#include <stdbool.h>

#include "copy/engine.h"

struct progress_display {
  struct copy_progress *progress;
  const char *label;
  bool bar; /* terminal: redraw a bar; else print lines */
  bool stop;
  double started;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
};

/* mode: 1 force on, 0 force off, -1 automatic (on when stderr is a tty);
 * 2 and -2 as 1 and -1, but plain lines even on a tty (for copies that
 * run side by side, whose bars would overwrite each other). */
int progress_start(struct progress_display *pd, struct copy_progress *p,
                   const char *label, int mode);
/* Stops the display and prints the final line. */
void progress_stop(struct progress_display *pd, bool ok);

double progress_now(void);

#endif
