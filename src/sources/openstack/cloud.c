/* An OpenStack project as a migration source (see cloud.h). */
#include "sources/openstack/cloud.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "model/names.h"
#include "sources/openstack/keystone.h"
#include "sources/openstack/service.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/json_path.h"

#define LIST_MAX (64u * 1024 * 1024)
#define ONE_MAX (1u * 1024 * 1024)
#define IMAGES_MAX 100000
#define P(s) names_printable((s), (char[128]){0}, 128)

struct os_cloud {
  struct os_session *session;
  struct os_service *nova, *cinder, *neutron;
  struct glance *glance;
  char *source_ref;
  bool have_inventory;
  struct os_inventory inv;
  unsigned timeout;
  const atomic_bool *stop;
};

static const char *const nova_headers[] = {
    "OpenStack-API-Version: compute 2.47",
    "X-OpenStack-Nova-API-Version: 2.47",
    NULL,
};

int os_cloud_open(struct os_session *s, struct os_cloud **ret)
{
  struct os_cloud *c = calloc(1, sizeof *c);
  int r;

  if (!c) {
    os_session_free(s);
    return error_set(ENOMEM, "out of memory");
  }
  c->session = s;
  r = os_service_open(s, "compute", NULL, nova_headers, &c->nova);
  if (r == 0)
    r = os_service_open(s, "volumev3", NULL, NULL, &c->cinder);
  if (r == 0)
    r = os_service_open(s, "network", "/v2.0", NULL, &c->neutron);
  if (r == 0)
    r = glance_open(s, &c->glance);
  if (r == 0 && !(c->source_ref = strdup(c->nova->base)))
    r = error_set(ENOMEM, "out of memory");
  if (r < 0) {
    os_cloud_close(c);
    return r;
  }
  *ret = c;
  return 0;
}

void os_cloud_close(struct os_cloud *c)
{
  if (!c)
    return;
  os_service_close(c->nova);
  os_service_close(c->cinder);
  os_service_close(c->neutron);
  glance_close(c->glance);
  os_inventory_clear(&c->inv);
  free(c->source_ref);
  os_session_free(c->session);
  free(c);
}

void os_cloud_set_wait(struct os_cloud *c, unsigned timeout,
                       const atomic_bool *stop)
{
  c->timeout = timeout;
  c->stop = stop;
}

/* ---- the inventory ---- */

static int fetch(struct os_service *svc, const char *path, json_t **ret)
{
  return os_service_json(svc, "GET", path, NULL, LIST_MAX, ret);
}

static int load_inventory(struct os_cloud *c)
{
  struct os_inventory *inv = &c->inv;
  json_t *j = NULL;
  int r;

  r = fetch(c->nova, "/servers/detail", &j);
  if (r == 0)
    r = os_servers_from_json(j, "GET /servers/detail", &inv->servers);
  json_decref(j);
  j = NULL;
  if (r == 0 && (r = fetch(c->cinder, "/volumes/detail", &j)) == 0)
    r = os_volumes_from_json(j, "GET /volumes/detail", &inv->volumes);
  json_decref(j);
  j = NULL;
  if (r == 0 && (r = fetch(c->cinder, "/types", &j)) == 0)
    r = os_volume_types_from_json(j, &inv->volume_types);
  json_decref(j);
  j = NULL;
  if (r == 0 && (r = fetch(c->neutron, "/networks", &j)) == 0)
    r = os_networks_from_json(j, &inv->networks);
  json_decref(j);
  j = NULL;
  if (r == 0 && (r = fetch(c->neutron, "/ports", &j)) == 0)
    r = os_ports_from_json(j, &inv->ports);
  json_decref(j);
  j = NULL;
  if (r == 0 && (r = fetch(c->neutron, "/floatingips", &j)) == 0)
    r = os_floating_ips_from_json(j, &inv->floating_ips);
  json_decref(j);
  return r;
}

int os_cloud_inventory(struct os_cloud *c, const struct os_inventory **ret)
{
  int r;

  if (!c->have_inventory) {
    r = load_inventory(c);
    if (r < 0) {
      os_inventory_clear(&c->inv);
      return r;
    }
    c->have_inventory = true;
  }
  *ret = &c->inv;
  return 0;
}

int os_cloud_images(struct os_cloud *c, struct glance_image_list *out)
{
  return glance_list_images(c->glance, IMAGES_MAX, out);
}

static int build(struct os_cloud *c, const struct os_server *srv,
                 struct vm **ret)
{
  struct glance_image img = {0};
  int r = 0;

  /* The image's hw_* properties; an image deleted since is no error. */
  if (srv->image_id && glance_get_image(c->glance, srv->image_id, &img) < 0)
    error_clear();
  r = os_vm_build(&c->inv, srv, img.json, c->source_ref, ret);
  glance_image_clear(&img);
  return r;
}

int os_cloud_list_vms(struct os_cloud *c, struct vm_list *out)
{
  const struct os_inventory *inv;
  size_t i;
  int r = os_cloud_inventory(c, &inv);

  for (i = 0; r == 0 && i < inv->servers.len; i++) {
    struct vm *vm;
    r = build(c, &inv->servers.ptr[i], &vm);
    if (r == 0 && vm_list_append(out, vm) < 0) {
      vm_free(vm);
      r = error_set(ENOMEM, "out of memory");
    }
  }
  return r;
}

int os_cloud_find_vm(struct os_cloud *c, const char *name, struct vm **ret)
{
  const struct os_inventory *inv;
  const struct os_server *found = NULL;
  size_t i, n = 0;
  int r = os_cloud_inventory(c, &inv);

  if (r < 0)
    return r;
  for (i = 0; i < inv->servers.len; i++)
    if (streq(inv->servers.ptr[i].id, name))
      return build(c, &inv->servers.ptr[i], ret);
  for (i = 0; i < inv->servers.len; i++)
    if (inv->servers.ptr[i].name && streq(inv->servers.ptr[i].name, name)) {
      found = &inv->servers.ptr[i];
      n++;
    }
  if (n == 0)
    return error_set(ENOENT,
                     "no server named \"%s\" in the project ('hoist "
                     "inventory openstack vms' lists them)",
                     P(name));
  if (n > 1)
    return error_set(EINVAL,
                     "%zu servers are named \"%s\"; name the one to migrate "
                     "by its id",
                     n, P(name));
  return build(c, found, ret);
}

/* ---- waiting ---- */

static double now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Polls GET path until the status at `key` is `want`; a status in `bad`
 * (comma separated, ",error,") fails. */
static int wait_status(struct os_cloud *c, struct os_service *svc,
                       const char *path, const char *key, const char *want,
                       const char *bad, const char *what)
{
  double deadline = now() + (c->timeout ? c->timeout : OS_DEFAULT_TIMEOUT);
  useconds_t delay = 100000;

  for (;;) {
    _cleanup_(json_decrefp) json_t *j = NULL;
    const char *status;
    char look[80];
    int r;

    if (c->stop && atomic_load(c->stop))
      return error_set(EINTR, "interrupted");
    r = svc ? os_service_json(svc, "GET", path, NULL, ONE_MAX, &j) : -ENOSYS;
    if (r < 0)
      return r;
    status = jp_str(j, key);
    if (status && streq(status, want))
      return 0;
    snprintf(look, sizeof look, ",%s,", status ? status : "");
    if (status && strstr(bad, look))
      return error_set(EIO,
                       "%s went into status \"%s\"; see the service's "
                       "logs",
                       what, P(status));
    if (now() > deadline)
      return error_set(ETIMEDOUT,
                       "%s is still %s after %u seconds; raise the "
                       "timeout or look at the service",
                       what, status ? P(status) : "in no known state",
                       c->timeout ? c->timeout : OS_DEFAULT_TIMEOUT);
    usleep(delay);
    delay = MIN(delay * 2, 2000000);
  }
}

static int wait_image(struct os_cloud *c, const char *id)
{
  double deadline = now() + (c->timeout ? c->timeout : OS_DEFAULT_TIMEOUT);
  useconds_t delay = 100000;

  for (;;) {
    struct glance_image img;
    int r;

    if (c->stop && atomic_load(c->stop))
      return error_set(EINTR, "interrupted");
    r = glance_get_image(c->glance, id, &img);
    if (r < 0)
      return r;
    if (img.status && streq(img.status, "active")) {
      glance_image_clear(&img);
      return 0;
    }
    if (img.status &&
        (streq(img.status, "killed") || streq(img.status, "deleted"))) {
      r = error_set(EIO, "image %s went into status \"%s\"", P(id),
                    P(img.status));
      glance_image_clear(&img);
      return r;
    }
    glance_image_clear(&img);
    if (now() > deadline)
      return error_set(ETIMEDOUT, "image %s is not active after %u seconds",
                       P(id), c->timeout ? c->timeout : OS_DEFAULT_TIMEOUT);
    usleep(delay);
    delay = MIN(delay * 2, 2000000);
  }
}

/* ---- exports ---- */

struct os_export {
  struct os_cloud *cloud;
  char *image_id, *volume_id, *snapshot_id;
};

const char *os_export_image(const struct os_export *e)
{
  return e->image_id;
}

int os_new_migration_id(char out[9])
{
  unsigned char b[4];

  if (getrandom(b, sizeof b, 0) != sizeof b)
    return error_errno("cannot get random bytes");
  snprintf(out, 9, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
  return 0;
}

static int take_string(json_t *j, const char *path, char **ret,
                       const char *what)
{
  const char *s = jp_str(j, path);

  if (!s)
    return error_set(EPROTO, "%s: the reply has no %s", what, path);
  *ret = strdup(s);
  return *ret ? 0 : error_set(ENOMEM, "out of memory");
}

static int export_server(struct os_export *e, const char *server,
                         const char *mig)
{
  struct os_cloud *c = e->cloud;
  _cleanup_(json_decrefp) json_t *body = NULL, *reply = NULL;
  _cleanup_free_ char *name = NULL, *path = NULL;
  int r;

  if (asprintf(&name, "hoist-%s-%s-root", mig, server) < 0 ||
      asprintf(&path, "/servers/%s/action", server) < 0)
    return error_set(ENOMEM, "out of memory");
  body = json_pack("{s:{s:s,s:{s:s}}}", "createImage", "name", name, "metadata",
                   OS_MIGRATION_KEY, mig);
  if (!body)
    return error_set(ENOMEM, "out of memory");
  r = os_service_json(c->nova, "POST", path, body, ONE_MAX, &reply);
  if (r == 0)
    r = take_string(reply, "image_id", &e->image_id,
                    "Nova createImage (microversion 2.45 or later)");
  if (r == 0)
    r = wait_image(c, e->image_id);
  return r;
}

static int export_volume(struct os_export *e, const char *volume,
                         const char *mig)
{
  struct os_cloud *c = e->cloud;
  _cleanup_(json_decrefp) json_t *snap = NULL, *vol = NULL, *up = NULL;
  _cleanup_(json_decrefp) json_t *r1 = NULL, *r2 = NULL, *r3 = NULL;
  _cleanup_free_ char *name = NULL, *spath = NULL, *vpath = NULL;
  _cleanup_free_ char *what = NULL;
  int r;

  if (asprintf(&name, "hoist-%s-%s", mig, volume) < 0)
    return error_set(ENOMEM, "out of memory");
  snap = json_pack("{s:{s:s,s:b,s:s,s:{s:s}}}", "snapshot", "volume_id", volume,
                   "force", 1, "name", name, "metadata", OS_MIGRATION_KEY, mig);
  if (!snap)
    return error_set(ENOMEM, "out of memory");
  r = os_service_json(c->cinder, "POST", "/snapshots", snap, ONE_MAX, &r1);
  if (r == 0)
    r = take_string(r1, "snapshot.id", &e->snapshot_id, "Cinder snapshot");
  if (r == 0 &&
      (asprintf(&spath, "/snapshots/%s", e->snapshot_id) < 0 ||
       asprintf(&what, "snapshot %s of volume %s", e->snapshot_id, volume) < 0))
    return error_set(ENOMEM, "out of memory");
  if (r == 0)
    r = wait_status(c, c->cinder, spath, "snapshot.status", "available",
                    ",error,error_deleting,deleted,", what);
  if (r < 0)
    return r;
  vol = json_pack("{s:{s:s,s:s,s:{s:s}}}", "volume", "snapshot_id",
                  e->snapshot_id, "name", name, "metadata", OS_MIGRATION_KEY,
                  mig);
  if (!vol)
    return error_set(ENOMEM, "out of memory");
  r = os_service_json(c->cinder, "POST", "/volumes", vol, ONE_MAX, &r2);
  if (r == 0)
    r = take_string(r2, "volume.id", &e->volume_id, "Cinder volume");
  if (r < 0)
    return r;
  free(what);
  what = NULL;
  if (asprintf(&vpath, "/volumes/%s", e->volume_id) < 0 ||
      asprintf(&what, "volume %s (from the snapshot of %s)", e->volume_id,
               volume) < 0)
    return error_set(ENOMEM, "out of memory");
  r = wait_status(c, c->cinder, vpath, "volume.status", "available",
                  ",error,error_deleting,deleted,", what);
  if (r < 0)
    return r;
  /* Raw, as Forklift does: the image is the volume's bytes. */
  up = json_pack("{s:{s:s,s:s,s:s,s:b}}", "os-volume_upload_image",
                 "image_name", name, "disk_format", "raw", "container_format",
                 "bare", "force", 1);
  free(spath);
  spath = NULL;
  if (!up || asprintf(&spath, "/volumes/%s/action", e->volume_id) < 0)
    return error_set(ENOMEM, "out of memory");
  r = os_service_json(c->cinder, "POST", spath, up, ONE_MAX, &r3);
  if (r == 0)
    r = take_string(r3, "os-volume_upload_image.image_id", &e->image_id,
                    "Cinder os-volume_upload_image");
  if (r == 0)
    r = wait_image(c, e->image_id);
  /* The volume is "uploading" until the image is written. */
  if (r == 0)
    r = wait_status(c, c->cinder, vpath, "volume.status", "available",
                    ",error,error_deleting,deleted,", what);
  return r;
}

int os_export_start(struct os_cloud *c, const struct vm_disk *d,
                    const char *migration, struct os_export **ret)
{
  struct os_export *e = calloc(1, sizeof *e);
  const char *loc = d->locator;
  int r;

  if (!e)
    return error_set(ENOMEM, "out of memory");
  e->cloud = c;
  if (loc && !strncmp(loc, OS_LOCATOR_SERVER, strlen(OS_LOCATOR_SERVER)))
    r = export_server(e, loc + strlen(OS_LOCATOR_SERVER), migration);
  else if (loc && !strncmp(loc, OS_LOCATOR_VOLUME, strlen(OS_LOCATOR_VOLUME)))
    r = export_volume(e, loc + strlen(OS_LOCATOR_VOLUME), migration);
  else
    r = error_set(EINVAL, "disk %s has no OpenStack locator",
                  P(d->id ? d->id : "?"));
  *ret = e; /* the caller finishes it, deleting what was made */
  return r;
}

int os_export_open_disk(struct os_export *e, unsigned workers,
                        struct disk **ret)
{
  struct glance_disk_options o = {.connections = workers,
                                  .cancel = e->cloud->stop};

  return glance_open_disk(e->cloud->session, e->image_id, &o, ret);
}

/* DELETE path, then waits until it is gone (404). */
static int delete_and_wait(struct os_cloud *c, struct os_service *svc,
                           const char *path)
{
  double deadline = now() + 300;
  int r = os_service_json(svc, "DELETE", path, NULL, ONE_MAX, NULL);

  while (r == 0) {
    json_t *j = NULL;
    r = os_service_json(svc, "GET", path, NULL, ONE_MAX, &j);
    json_decref(j);
    if (r == -ENOENT) {
      error_clear();
      return 0;
    }
    if (r == 0 && now() > deadline)
      return error_set(ETIMEDOUT, "%s%s is not gone after 300 seconds",
                       svc->base, path);
    if (c->stop && atomic_load(c->stop))
      return 0; /* asked for, not waited for */
    usleep(200000);
  }
  return r;
}

int os_export_finish(struct os_export *e)
{
  _cleanup_free_ char *path = NULL;
  int r = 0, q, saved_errnum = 0;
  /* An error recorded before (why the copy failed) stays the message. */
  char *saved = error_take(&saved_errnum);

  if (!e) {
    if (saved)
      error_put(saved, saved_errnum);
    return 0;
  }
  /* Each step is tried even if an earlier one failed; the first error
   * is the message. */
  if (e->image_id) {
    q = glance_delete_image(e->cloud->glance, e->image_id);
    if (q == -ENOENT)
      error_clear(), q = 0;
    r = r ? r : q;
  }
  if (e->volume_id) {
    if (asprintf(&path, "/volumes/%s", e->volume_id) < 0)
      path = NULL;
    q = path ? delete_and_wait(e->cloud, e->cloud->cinder, path) : -ENOMEM;
    r = r ? r : q;
    free(path);
    path = NULL;
  }
  if (e->snapshot_id) {
    if (asprintf(&path, "/snapshots/%s", e->snapshot_id) < 0)
      path = NULL;
    q = path ? delete_and_wait(e->cloud, e->cloud->cinder, path) : -ENOMEM;
    r = r ? r : q;
  }
  free(e->image_id);
  free(e->volume_id);
  free(e->snapshot_id);
  free(e);
  if (saved) {
    error_clear();
    error_put(saved, saved_errnum);
  }
  return r;
}

/* ---- leftovers ---- */

static bool tagged(json_t *meta, const char *id)
{
  const char *v = jp_str(meta, OS_MIGRATION_KEY);

  return v && (!id || streq(v, id));
}

static bool named(const char *name, const char *id)
{
  char prefix[32];

  if (!name || strncmp(name, "hoist-", 6))
    return false;
  if (!id)
    return strlen(name) > 15 && name[14] == '-';
  snprintf(prefix, sizeof prefix, "hoist-%s-", id);
  return !strncmp(name, prefix, strlen(prefix));
}

int os_cloud_cleanup(struct os_cloud *c, const char *id, bool dry_run,
                     void (*report)(void *, const char *, const char *,
                                    const char *),
                     void *opaque)
{
  struct glance_image_list images = {0};
  _cleanup_(json_decrefp) json_t *vols = NULL, *snaps = NULL;
  json_t *o;
  size_t i;
  int r, first = 0;

  /* Images first (they may hold a volume "uploading"), then volumes, then
   * the snapshots they were made from. */
  r = os_cloud_images(c, &images);
  for (i = 0; r == 0 && i < images.len; i++) {
    struct glance_image *img = &images.ptr[i];
    if (!tagged(img->json, id) && !named(img->name, id))
      continue;
    report(opaque, "image", img->id, img->name);
    if (!dry_run && (r = glance_delete_image(c->glance, img->id)) < 0 && !first)
      first = r;
    r = 0;
    error_clear();
  }
  glance_image_list_free(&images);
  if (r == 0)
    r = fetch(c->cinder, "/volumes/detail", &vols);
  json_array_foreach(jp_get(vols, "volumes"), i, o)
  {
    _cleanup_free_ char *path = NULL;
    if (r < 0 || !jp_str(o, "id") ||
        !(tagged(jp_get(o, "metadata"), id) || named(jp_str(o, "name"), id)))
      continue;
    report(opaque, "volume", jp_str(o, "id"), jp_str(o, "name"));
    if (dry_run || asprintf(&path, "/volumes/%s", jp_str(o, "id")) < 0)
      continue;
    if (delete_and_wait(c, c->cinder, path) < 0 && !first)
      first = -error_code();
    error_clear();
  }
  if (r == 0)
    r = fetch(c->cinder, "/snapshots/detail", &snaps);
  json_array_foreach(jp_get(snaps, "snapshots"), i, o)
  {
    _cleanup_free_ char *path = NULL;
    if (r < 0 || !jp_str(o, "id") ||
        !(tagged(jp_get(o, "metadata"), id) || named(jp_str(o, "name"), id)))
      continue;
    report(opaque, "snapshot", jp_str(o, "id"), jp_str(o, "name"));
    if (dry_run || asprintf(&path, "/snapshots/%s", jp_str(o, "id")) < 0)
      continue;
    if (delete_and_wait(c, c->cinder, path) < 0 && !first)
      first = -error_code();
    error_clear();
  }
  if (r == 0 && first)
    return error_set(-first, "some temporaries could not be deleted; run "
                             "again, or delete them by hand");
  return r;
}
