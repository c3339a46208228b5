/* oVirt image transfers (see engine.h).
 *
 * POST /imagetransfers {disk, direction download, format raw} creates a
 * transfer in phase "initializing"; the engine then prepares the image on
 * a host and adds a ticket to the host's imageio daemon, and the phase
 * becomes "transferring", with transfer_url (the host's daemon) and
 * proxy_url (the engine's). Format raw makes the host serve the guest's
 * bytes through qemu-nbd, whatever the disk's format, with zero extents
 * and several readers. At the end POST …/finalize (the engine removes the
 * ticket and unlocks the disk: phase "finished_success"), or POST
 * …/cancel on any failure, so that no transfer and no disk lock stays.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/ovirt/engine_internal.h"
#include "sources/ovirt/imageio.h"
#include "sources/ovirt/ovirt_json.h"
#include "util/cleanup.h"
#include "util/error.h"

/* Idle seconds after which the engine pauses a transfer. */
#define INACTIVITY_TIMEOUT "120"
#define POLL_FIRST 0.25
#define POLL_MAX 2.0
/* How long close() waits to see a cancelled transfer end. */
#define CANCEL_WAIT 30.0

struct ovirt_transfer {
  struct ovirt_engine *e;
  char *id, *disk_id;
  char *path; /* imagetransfers/ID */
  char *transfer_url, *proxy_url;
  char *phase;
  const char *data_url; /* transfer_url or proxy_url, once opened */
  /* Who ends the transfer: the first to move it from OPEN. */
  atomic_int state;
};

enum { OPEN, FINALIZING, FINALIZED, CANCELLED };

/* Moves the transfer from OPEN to `to`; false if it was not open. */
static bool claim(struct ovirt_transfer *t, int to)
{
  int open = OPEN;

  return atomic_compare_exchange_strong(&t->state, &open, to);
}

const char *ovirt_transfer_id(const struct ovirt_transfer *t)
{
  return t->id;
}

const char *ovirt_transfer_url(const struct ovirt_transfer *t)
{
  return t->transfer_url;
}

const char *ovirt_transfer_proxy_url(const struct ovirt_transfer *t)
{
  return t->proxy_url;
}

const char *ovirt_transfer_data_url(const struct ovirt_transfer *t)
{
  return t->data_url;
}

/* Phases after which the transfer will never become ready. */
static bool phase_is_failure(const char *p)
{
  return strncmp(p, "paused_", 7) == 0 || strncmp(p, "cancelled", 9) == 0 ||
         streq(p, "finished_failure") || streq(p, "finalizing_failure") ||
         streq(p, "finished_success") || streq(p, "finalizing_success") ||
         streq(p, "finalizing_cleanup") || streq(p, "finished_cleanup");
}

static const char *phase_advice(const char *p)
{
  if (streq(p, "paused_system"))
    return "the engine paused it (the host could not prepare the image, or "
           "it was idle too long); see the engine's events";
  if (streq(p, "paused_user"))
    return "someone paused it in oVirt";
  if (strncmp(p, "cancelled", 9) == 0)
    return "it was cancelled (by the engine or a user)";
  return "see the engine's events for why";
}

/* GET the transfer; updates phase and URLs. */
static int refresh(struct ovirt_transfer *t)
{
  _cleanup_(json_decrefp) json_t *j = NULL;
  const char *phase, *tu, *pu;
  int r;

  r = ovirt_api_get(t->e, t->path, OVIRT_JSON_MAX, &j);
  if (r < 0)
    return r;
  phase = jp_str(j, "phase");
  tu = jp_str(j, "transfer_url");
  pu = jp_str(j, "proxy_url");
  free(t->phase);
  t->phase = strdup(phase ? phase : "unknown");
  if (tu && (!t->transfer_url || !streq(t->transfer_url, tu))) {
    free(t->transfer_url);
    t->transfer_url = strdup(tu);
  }
  if (pu && (!t->proxy_url || !streq(t->proxy_url, pu))) {
    free(t->proxy_url);
    t->proxy_url = strdup(pu);
  }
  if (!t->phase || (tu && !t->transfer_url) || (pu && !t->proxy_url))
    return error_set(ENOMEM, "out of memory");
  return 0;
}

/* POST imagetransfers; a locked disk is retried until the deadline. */
static int create(struct ovirt_engine *e, const char *disk_id,
                  const char *host_id, double deadline, json_t **ret)
{
  _cleanup_(json_decrefp) json_t *body = NULL;
  double delay = 1.0;
  int r;

  body = json_pack("{s:{s:s},s:s,s:s,s:s}", "disk", "id", disk_id, "direction",
                   "download", "format", "raw", "inactivity_timeout",
                   INACTIVITY_TIMEOUT);
  if (body && host_id &&
      json_object_set_new(body, "host", json_pack("{s:s}", "id", host_id)) <
          0) {
    json_decref(body);
    body = NULL;
  }
  if (!body)
    return error_set(ENOMEM, "out of memory");
  for (;;) {
    r = ovirt_api_post(e, NULL, "imagetransfers", body, false, ret);
    /* 409 "Disk is locked": by a snapshot, another transfer … for now;
     * the engine's SDK waits these out too. Other refusals are final. */
    if (r != -EBUSY || !strcasestr(error_message(), "locked") ||
        ovirt_now() + delay > deadline)
      return r;
    error_clear();
    r = ovirt_sleep(e, delay);
    if (r < 0)
      return r;
    delay = MIN(delay * 2, 15.0);
  }
}

int ovirt_transfer_start(struct ovirt_engine *e, const char *disk_id,
                         const char *host_id, struct ovirt_transfer **ret)
{
  _cleanup_(json_decrefp) json_t *j = NULL;
  double deadline = ovirt_now() + e->transfer_timeout, delay = POLL_FIRST;
  struct ovirt_transfer *t;
  const char *id;
  int r;

  r = create(e, disk_id, host_id, deadline, &j);
  if (r < 0) {
    error_prefix("disk %s: cannot start an image transfer", disk_id);
    return r;
  }
  id = jp_str(j, "id");
  if (!id || !*id || strspn(id, "0123456789abcdefABCDEF-") != strlen(id))
    return error_set(EPROTO,
                     "oVirt engine %s: the image transfer of disk %s has no "
                     "valid id in the engine's reply",
                     e->origin, disk_id);
  t = calloc(1, sizeof *t);
  if (!t)
    return error_set(ENOMEM, "out of memory");
  t->e = e;
  if (!(t->id = strdup(id)) || !(t->disk_id = strdup(disk_id)) ||
      asprintf(&t->path, "imagetransfers/%s", id) < 0) {
    r = error_set(ENOMEM, "out of memory");
    goto fail;
  }
  for (;;) {
    r = refresh(t);
    if (r < 0)
      goto fail;
    if (streq(t->phase, "transferring")) {
      if (t->transfer_url || t->proxy_url)
        break;
    } else if (phase_is_failure(t->phase)) {
      r = error_set(EIO,
                    "oVirt engine %s: image transfer %s of disk %s ended in "
                    "phase %s before it was ready: %s",
                    e->origin, t->id, disk_id, t->phase,
                    phase_advice(t->phase));
      goto fail;
    }
    if (ovirt_now() >= deadline) {
      r = error_set(ETIMEDOUT,
                    "oVirt engine %s: image transfer %s of disk %s was not "
                    "ready after %u s (phase %s); it was cancelled. The "
                    "host may be busy or unreachable from the engine: try "
                    "again later, or wait longer with --transfer-timeout",
                    e->origin, t->id, disk_id, e->transfer_timeout, t->phase);
      goto fail;
    }
    r = ovirt_sleep(e, MIN(delay, deadline - ovirt_now()));
    if (r < 0)
      goto fail;
    delay = MIN(delay * 2, POLL_MAX);
  }
  *ret = t;
  return 0;

fail:
  ovirt_transfer_close(t);
  return r;
}

/* The disk behind the transfer's data: raw bytes (format raw), so the
 * content is never taken for an image format. */
static int open_url(struct ovirt_transfer *t, const char *url,
                    struct disk **ret)
{
  struct imageio_options io = {
      .cacert = t->e->cacert,
      .insecure = t->e->insecure,
  };
  struct bytesource *bs;
  uint32_t request_size;
  unsigned readers;
  int r;

  r = imageio_open(url, &io, &bs);
  if (r < 0)
    return r;
  request_size = bs->request_size;
  readers = bs->max_readers;
  r = raw_open(bs, ret);
  if (r < 0)
    return r;
  if (request_size > (*ret)->request_size)
    (*ret)->request_size = request_size;
  if (readers)
    (*ret)->max_workers = readers;
  return 0;
}

static bool unreachable(int r)
{
  return r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ETIMEDOUT ||
         r == -ENETUNREACH;
}

int ovirt_transfer_open_disk(struct ovirt_transfer *t, struct disk **ret)
{
  _cleanup_free_ char *shown = NULL;
  int r = -ENOENT;

  if (t->transfer_url) {
    r = open_url(t, t->transfer_url, ret);
    if (r == 0)
      t->data_url = t->transfer_url;
    if (r == 0 || !t->proxy_url || !unreachable(r))
      return r;
    /* The host is not reachable from here: go through the engine. */
    shown = imageio_display_url(t->transfer_url);
    error_clear();
  }
  if (!t->proxy_url)
    return error_set(EPROTO,
                     "oVirt engine %s: image transfer %s has neither a "
                     "transfer_url nor a proxy_url",
                     t->e->origin, t->id);
  r = open_url(t, t->proxy_url, ret);
  if (r == 0)
    t->data_url = t->proxy_url;
  if (r < 0 && shown)
    error_prefix("the host daemon (%s) cannot be reached, and the engine's "
                 "proxy failed",
                 shown);
  return r;
}

/* After finalize, the engine may remove the transfer at once: then the
 * disk's status tells how it ended. */
static int check_disk_after(struct ovirt_transfer *t)
{
  _cleanup_(json_decrefp) json_t *j = NULL;
  _cleanup_free_ char *path = NULL;
  const char *status;
  int r;

  if (asprintf(&path, "disks/%s", t->disk_id) < 0)
    return error_set(ENOMEM, "out of memory");
  r = ovirt_api_get(t->e, path, OVIRT_JSON_MAX, &j);
  if (r < 0)
    return r;
  status = jp_str(j, "status");
  if (status && streq(status, "ok"))
    return 0;
  return error_set(EIO,
                   "oVirt engine %s: image transfer %s is gone and disk %s "
                   "is in status %s; see the engine's events",
                   t->e->origin, t->id, t->disk_id, status ? status : "?");
}

int ovirt_transfer_finalize(struct ovirt_transfer *t)
{
  struct ovirt_engine *e = t->e;
  _cleanup_(json_decrefp) json_t *body = json_object();
  double deadline = ovirt_now() + e->transfer_timeout, delay = POLL_FIRST;
  _cleanup_free_ char *path = NULL;
  int r;

  if (!body || asprintf(&path, "%s/finalize", t->path) < 0)
    return error_set(ENOMEM, "out of memory");
  if (!claim(t, FINALIZING))
    return error_set(ECANCELED,
                     "oVirt engine %s: image transfer %s was cancelled",
                     e->origin, t->id);
  r = ovirt_api_post(e, NULL, path, body, true, NULL);
  /* Not finalized: close() cancels it. */
  atomic_store(&t->state, r < 0 ? OPEN : FINALIZED);
  if (r < 0)
    return r;
  for (;;) {
    r = refresh(t);
    if (r == -ENOENT) {
      error_clear();
      return check_disk_after(t);
    }
    if (r < 0)
      return r;
    if (streq(t->phase, "finished_success"))
      return 0;
    if (streq(t->phase, "finished_failure") ||
        streq(t->phase, "finalizing_failure") ||
        strncmp(t->phase, "cancelled", 9) == 0)
      return error_set(EIO,
                       "oVirt engine %s: image transfer %s of disk %s ended "
                       "in phase %s instead of finished_success; see the "
                       "engine's events",
                       e->origin, t->id, t->disk_id, t->phase);
    if (ovirt_now() >= deadline)
      return error_set(ETIMEDOUT,
                       "oVirt engine %s: image transfer %s of disk %s was "
                       "not finished %u s after finalize (phase %s); check "
                       "it in oVirt",
                       e->origin, t->id, t->disk_id, e->transfer_timeout,
                       t->phase);
    r = ovirt_sleep(e, MIN(delay, deadline - ovirt_now()));
    if (r < 0)
      return r;
    delay = MIN(delay * 2, POLL_MAX);
  }
}

/* POST …/cancel on conn (NULL: the engine's own). */
static int send_cancel(struct ovirt_transfer *t, struct http_conn *conn)
{
  _cleanup_(json_decrefp) json_t *body = json_object();
  _cleanup_free_ char *path = NULL;

  if (!body || asprintf(&path, "%s/cancel", t->path) < 0)
    return error_set(ENOMEM, "out of memory");
  return ovirt_api_post(t->e, conn, path, body, true, NULL);
}

int ovirt_transfer_abort(struct ovirt_transfer *t)
{
  struct http_conn *conn = NULL;
  int r;

  if (!t || !claim(t, CANCELLED))
    return 0;
  r = ovirt_api_conn(t->e, &conn);
  if (r == 0)
    r = send_cancel(t, conn);
  http_conn_free(conn);
  return r;
}

/* Waits a little for the cancelled transfer to end, so that its disk is
 * unlocked when we return; a stop request ends the wait. */
static void wait_cancelled(struct ovirt_transfer *t)
{
  double deadline = ovirt_now() + CANCEL_WAIT, delay = POLL_FIRST;

  while (ovirt_now() < deadline) {
    if (refresh(t) < 0 || strncmp(t->phase, "cancelled", 9) == 0 ||
        strncmp(t->phase, "finished", 8) == 0)
      return;
    if (ovirt_sleep(t->e, delay) < 0)
      return;
    delay = MIN(delay * 2, POLL_MAX);
  }
}

void ovirt_transfer_close(struct ovirt_transfer *t)
{
  char *saved;
  int errnum = 0;

  if (!t)
    return;
  if (claim(t, CANCELLED)) {
    /* Whatever failed keeps its message; a failed cancel has none. */
    saved = error_take(&errnum);
    if (send_cancel(t, NULL) == 0)
      wait_cancelled(t);
    error_clear();
    if (saved)
      error_put(saved, errnum);
  }
  free(t->id);
  free(t->disk_id);
  free(t->path);
  free(t->transfer_url);
  free(t->proxy_url);
  free(t->phase);
  free(t);
}
