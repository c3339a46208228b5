#include "cli/progress.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/human.h"

#define BAR_INTERVAL 0.25
#define LINE_INTERVAL 5.0
#define BAR_WIDTH 30

double progress_now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void render(struct progress_display *pd, bool final)
{
  struct copy_progress *p = pd->progress;
  uint64_t done = atomic_load(&p->done);
  uint64_t written = atomic_load(&p->written);
  double elapsed = progress_now() - pd->started;
  double pct = p->total ? 100.0 * done / p->total : 100.0;
  double rate = elapsed > 0 ? written / elapsed : 0;
  char a[32], b[32], c[32];

  human_size(done, a, sizeof a);
  human_size(p->total, b, sizeof b);
  human_size((uint64_t)rate, c, sizeof c);
  if (pd->bar) {
    char bar[BAR_WIDTH + 1];
    int filled = (int)(pct / 100.0 * BAR_WIDTH);
    memset(bar, '#', filled);
    memset(bar + filled, '.', BAR_WIDTH - filled);
    bar[BAR_WIDTH] = 0;
    fprintf(stderr, "\r%s [%s] %5.1f%% %s / %s, data %s/s  ", pd->label, bar,
            pct, a, b, c);
    if (final)
      fputc('\n', stderr);
  } else {
    char d[32];
    human_size(written, d, sizeof d);
    fprintf(stderr, "%s: %.1f%% (%s of %s), %s of data written, %s/s, %.0fs\n",
            pd->label, pct, a, b, d, c, elapsed);
  }
  fflush(stderr);
}

static void *progress_thread(void *arg)
{
  struct progress_display *pd = arg;
  double interval = pd->bar ? BAR_INTERVAL : LINE_INTERVAL;

  pthread_mutex_lock(&pd->lock);
  while (!pd->stop) {
    struct timespec ts;
    double wake;
    clock_gettime(CLOCK_REALTIME, &ts);
    wake = ts.tv_sec + ts.tv_nsec / 1e9 + interval;
    ts.tv_sec = (time_t)wake;
    ts.tv_nsec = (long)((wake - ts.tv_sec) * 1e9);
    pthread_cond_timedwait(&pd->wake, &pd->lock, &ts);
    if (!pd->stop)
      render(pd, false);
  }
  pthread_mutex_unlock(&pd->lock);
  return NULL;
}

int progress_start(struct progress_display *pd, struct copy_progress *p,
                   const char *label, int mode)
{
  bool lines = mode == 2 || mode == -2;

  if (lines)
    mode /= 2;
  memset(pd, 0, sizeof *pd);
  pd->progress = p;
  pd->label = label;
  pd->started = progress_now();
  if (mode == 0 || (mode < 0 && !isatty(STDERR_FILENO)))
    return 0;
  pd->bar = !lines && isatty(STDERR_FILENO);
  pthread_mutex_init(&pd->lock, NULL);
  pthread_cond_init(&pd->wake, NULL);
  if (pthread_create(&pd->thread, NULL, progress_thread, pd) != 0) {
    pd->thread = 0;
    return -1;
  }
  return 1;
}

void progress_stop(struct progress_display *pd, bool ok)
{
  if (!pd->progress || !pd->thread)
    return;
  pthread_mutex_lock(&pd->lock);
  pd->stop = true;
  pthread_cond_signal(&pd->wake);
  pthread_mutex_unlock(&pd->lock);
  pthread_join(pd->thread, NULL);
  if (ok)
    render(pd, true);
  else if (pd->bar)
    fputc('\n', stderr);
  pthread_mutex_destroy(&pd->lock);
  pthread_cond_destroy(&pd->wake);
  pd->thread = 0;
}
