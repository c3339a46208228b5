/* Plain progress lines on stderr every few seconds, from the engine's
 * atomic counters, on a thread of their own. */
#include "populator/progress.h"
#include "util/human.h"

#include <stdatomic.h>
#include <time.h>

static void print_line(struct pop_progress_log *l)
{
  struct pop_state *s = l->state;
  struct copy_progress *p = &s->progress;
  uint64_t read = atomic_load(&p->read);
  double t = pop_now(), dt = t - l->last_time;
  double rate = dt > 0 ? (double)(read - l->last_read) / dt : 0;
  char a[32], b[32], c[32], d[32], e[32];

  l->last_time = t;
  l->last_read = read;
  if (!atomic_load(&s->copying))
    return;
  pop_log("progress: %.1f%%, %s of %s of data (%s of %s virtual), %s/s",
          pop_progress_ratio(s) * 100,
          human_size(pop_bytes_copied(s), a, sizeof a),
          human_size(p->data_total == DISK_UNKNOWN ? 0 : p->data_total, b,
                     sizeof b),
          human_size(atomic_load(&p->done), c, sizeof c),
          human_size(p->total, d, sizeof d),
          human_size((uint64_t)rate, e, sizeof e));
}

static void *log_thread(void *arg)
{
  struct pop_progress_log *l = arg;

  pthread_mutex_lock(&l->lock);
  while (!l->stop) {
    struct timespec ts;
    double wake;

    clock_gettime(CLOCK_REALTIME, &ts);
    wake = ts.tv_sec + ts.tv_nsec / 1e9 + l->interval;
    ts.tv_sec = (time_t)wake;
    ts.tv_nsec = (long)((wake - (double)ts.tv_sec) * 1e9);
    pthread_cond_timedwait(&l->wake, &l->lock, &ts);
    if (!l->stop)
      print_line(l);
  }
  pthread_mutex_unlock(&l->lock);
  return NULL;
}

int pop_progress_start(struct pop_progress_log *l, struct pop_state *s,
                       double interval)
{
  *l = (struct pop_progress_log){.state = s, .interval = interval};
  l->last_time = pop_now();
  pthread_mutex_init(&l->lock, NULL);
  pthread_cond_init(&l->wake, NULL);
  if (pthread_create(&l->thread, NULL, log_thread, l) != 0)
    return -1;
  l->running = true;
  return 0;
}

void pop_progress_stop(struct pop_progress_log *l)
{
  if (!l->running)
    return;
  pthread_mutex_lock(&l->lock);
  l->stop = true;
  pthread_cond_signal(&l->wake);
  pthread_mutex_unlock(&l->lock);
  pthread_join(l->thread, NULL);
  pthread_mutex_destroy(&l->lock);
  pthread_cond_destroy(&l->wake);
  l->running = false;
}
