/* One populator run: credentials, metrics, source, target, copy, summary.
 */
#include "populator/run.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "copy/checksum.h"
#include "populator/metrics.h"
#include "populator/progress.h"
#include "populator/source.h"
#include "populator/target.h"
#include "populator/termination.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/human.h"

#define EXTENTS_STEP (1ull << 30)

static _Atomic bool stop_requested;

static void on_signal(int sig)
{
  static const char msg[] = POP_PROGRAM ": stopping (signal); the "
                                        "checkpoint keeps the work done\n";

  if (atomic_exchange(&stop_requested, true)) {
    /* A second signal: go now. */
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
}

static void install_signals(void)
{
  struct sigaction sa = {.sa_handler = on_signal};

  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

/* Bytes of data the disk holds, by its extents (metadata only). */
static int data_bytes(struct disk *d, uint64_t *ret)
{
  struct extent_list l = {0};
  uint64_t pos = 0, data = 0;
  size_t i;
  int r = 0;

  if (d->stream) {
    /* Read whole, zeros too (a raw Glance image): what it will read. */
    *ret = d->allocated != DISK_UNKNOWN ? d->allocated : d->size;
    return 0;
  }
  while (r == 0 && pos < d->size) {
    uint64_t len = MIN(EXTENTS_STEP, d->size - pos);
    extent_list_clear(&l);
    r = d->ops->extents(d, pos, len, &l);
    for (i = 0; r == 0 && i < l.len; i++)
      if (!l.ptr[i].zero)
        data += l.ptr[i].length;
    pos += len;
  }
  extent_list_reset(&l);
  if (r == 0)
    *ret = data;
  return r;
}

static int open_source(const struct pop_args *a,
                       const struct pop_credentials *c, struct pop_source *s)
{
  if (a->mode == POP_MODE_OVIRT)
    return pop_source_open_ovirt(a, c, &stop_requested, s);
  if (a->mode == POP_MODE_OPENSTACK)
    return pop_source_open_openstack(a, c, &stop_requested, s);
  return pop_source_open_imageio(a, c, s);
}

static void log_start(const struct pop_args *a, const struct pop_source *src,
                      const struct pop_target *t, uint64_t data)
{
  char v[32], d[32];

  pop_log("copying %s (%s %s, %s of data) to %s (%s)",
          src->shown ? src->shown : "the source", src->disk->format,
          human_size(src->disk->size, v, sizeof v),
          data == DISK_UNKNOWN ? "unknown amount"
                               : human_size(data, d, sizeof d),
          a->volume_path, t->is_block ? "block device" : "file");
  if (t->resumed)
    pop_log("resuming from checkpoint %s: %llu of %llu units done",
            checkpoint_path(t->cp),
            (unsigned long long)checkpoint_done_units(t->cp),
            (unsigned long long)checkpoint_units(t->cp));
}

static int check_pvc_size(const struct pop_args *a, const struct disk *d)
{
  if (a->pvc_size && d->size > a->pvc_size)
    return error_set(ENOSPC,
                     "the disk needs %llu bytes, but the PVC requests only "
                     "%llu (--pvc-size): make the PVC larger",
                     (unsigned long long)d->size,
                     (unsigned long long)a->pvc_size);
  return 0;
}

/* Source open → copy → checksum → finalize → checkpoint removed. */
static int populate(const struct pop_args *a, const struct pop_credentials *c,
                    struct pop_state *st, char hex[CHECKSUM_HEX_MAX])
{
  struct pop_source src = {0};
  struct pop_target tgt = {.lock_fd = -1};
  struct copy_options copts = {.workers = a->workers, .stop = &stop_requested};
  struct pop_progress_log plog = {0};
  uint64_t data = DISK_UNKNOWN;
  int r;

  r = pop_target_lock(a, &tgt);
  if (r == 0)
    r = open_source(a, c, &src);
  if (r == 0)
    r = check_pvc_size(a, src.disk);
  if (r == 0)
    r = data_bytes(src.disk, &data);
  if (r == 0)
    r = pop_target_open(a, src.id, src.disk, &tgt);
  if (r < 0)
    goto out;
  log_start(a, &src, &tgt, data);
  copy_progress_init(&st->progress, src.disk);
  st->progress.data_total = data;
  atomic_store(&st->copying, true);
  copts.checkpoint = tgt.cp;
  pop_progress_start(&plog, st, a->progress_interval);
  r = copy_disk(src.disk, tgt.dst, &copts, &st->progress);
  pop_progress_stop(&plog);
  /* On success everything is done; on a failure (not a crash) the units
   * that were finished are kept too: flushed, then recorded. The copy's
   * error stays the one reported. */
  if (tgt.cp) {
    int rs = checkpoint_save(tgt.cp, tgt.dst);
    if (r == 0)
      r = rs;
    else if (rs == 0)
      pop_log("checkpoint saved: %llu of %llu units done",
              (unsigned long long)checkpoint_done_units(tgt.cp),
              (unsigned long long)checkpoint_units(tgt.cp));
  }
  if (r == 0)
    pop_log("copy complete: %llu bytes read from the source",
            (unsigned long long)atomic_load(&st->progress.read));
  if (r == 0)
    r = pop_source_finish(&src);
  if (r == 0 && a->checksum) {
    r = checksum_fd(tgt.dst->ops->fd(tgt.dst), tgt.dst->name, src.disk->size,
                    "sha256", hex);
    if (r == 0)
      pop_log("sha256 of the virtual disk: %s", hex);
  }
  if (r == 0)
    r = pop_target_finish(&tgt);
out:
  pop_target_close(&tgt);
  pop_source_close(&src);
  return r;
}

static void write_summary(const struct pop_args *a, struct pop_state *st, int r,
                          const char *hex)
{
  struct termination_summary sum = {
      .succeeded = r == 0,
      .bytes_copied = pop_bytes_copied(st),
      .bytes_total =
          atomic_load(&st->copying) && st->progress.data_total != DISK_UNKNOWN
              ? st->progress.data_total
              : 0,
      .bytes_read = atomic_load(&st->progress.read),
      .bytes_resumed = atomic_load(&st->progress.resumed_data),
      .virtual_size = atomic_load(&st->copying) ? st->progress.total : 0,
      .duration = pop_now() - st->started,
      .checksum = r == 0 && hex[0] ? hex : NULL,
      .message = r == 0 ? NULL : (error_message() ? error_message() : "failed"),
  };

  if (termination_write(a->termination_log, &sum) < 0) {
    pop_log("warning: %s", error_message());
    error_clear();
  }
}

int pop_run(const struct pop_args *a)
{
  struct pop_state st = {.args = a, .started = pop_now()};
  struct pop_credentials creds = {0};
  struct metrics_server *metrics = NULL;
  char hex[CHECKSUM_HEX_MAX] = "";
  int r;

  install_signals();
  r = pop_credentials_load(a->secret_dir, &creds);
  if (r == 0 && a->transfer_network)
    pop_log("transfer network: %s", a->transfer_network);
  if (r == 0 && a->metrics_addr) {
    r = metrics_start(a->metrics_addr, a->metrics_http, &st, &metrics);
    if (r == 0 && a->metrics_http)
      pop_log("metrics at %s (plain HTTP)", metrics_url(metrics));
    else if (r == 0)
      pop_log("metrics at %s (self-signed certificate, SHA-256 %s)",
              metrics_url(metrics), metrics_fingerprint(metrics));
  }
  if (r == 0)
    r = populate(a, &creds, &st, hex);
  if (r < 0 && !error_is_set())
    error_set(-r, "failed: %s", strerror(-r));
  if (r == 0) {
    char v[32], d[32], n[32];
    pop_log("done: %s (%s of data, %s read by this run) in %.1fs",
            human_size(st.progress.total, v, sizeof v),
            human_size(pop_bytes_copied(&st), d, sizeof d),
            human_size(atomic_load(&st.progress.read), n, sizeof n),
            pop_now() - st.started);
  } else {
    pop_log("failed: %s", error_message());
  }
  write_summary(a, &st, r, hex);
  error_clear();
  metrics_stop(metrics);
  pop_credentials_clear(&creds);
  return r == 0 ? 0 : 1;
}
