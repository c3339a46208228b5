/* Parsers of Nova, Cinder and Neutron replies (see inventory.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sources/openstack/inventory.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/json_path.h"

/* Caps on what one reply may add: beyond these a reply is refused. */
#define ITEMS_MAX 100000
#define PER_ITEM_MAX 256

static int oom(void)
{
  return error_set(ENOMEM, "out of memory");
}

static void str_list_free(struct os_str_list *l)
{
  size_t i;

  for (i = 0; i < l->len; i++)
    free(l->ptr[i]);
  os_str_list_reset(l);
}

/* The items of {"key": [...]} or the object of {"one": {...}}. */
static json_t *items(json_t *j, const char *key, const char *one,
                     json_t **single)
{
  json_t *v = jp_get(j, key);

  *single = NULL;
  if (json_is_array(v))
    return v;
  v = one ? jp_get(j, one) : NULL;
  if (json_is_object(v))
    *single = v;
  return NULL;
}

static int too_many(const char *name, const char *what)
{
  return error_set(EPROTO, "%s: the reply lists more than %d %s", name,
                   ITEMS_MAX, what);
}

/* ---- servers ---- */

static void server_clear(struct os_server *s)
{
  free(s->id);
  free(s->name);
  free(s->status);
  free(s->description);
  free(s->image_id);
  free(s->flavor_name);
  json_decref(s->extra_specs);
  json_decref(s->metadata);
  str_list_free(&s->volume_ids);
}

static int server_from(json_t *o, struct os_server *s)
{
  json_t *fl = jp_get(o, "flavor"), *vols, *v;
  bool fail = false;
  size_t i;

  memset(s, 0, sizeof *s);
  if (!jp_str(o, "id"))
    return 1; /* not a server: skipped */
  s->id = jp_dup(o, "id", &fail);
  s->name = jp_dup(o, "name", &fail);
  s->status = jp_dup(o, "status", &fail);
  s->description = jp_dup(o, "description", &fail);
  /* "image": "" (booted from a volume) or {"id": …} */
  s->image_id = jp_dup(o, "image.id", &fail);
  if (json_is_object(fl) && json_is_integer(jp_get(fl, "vcpus"))) {
    s->flavor_known = true;
    s->vcpus = (unsigned)MIN(jp_u64_or(fl, "vcpus", 0), 4096);
    s->ram_mib = MIN(jp_u64_or(fl, "ram", 0), (uint64_t)1 << 40);
    s->disk_gb = MIN(jp_u64_or(fl, "disk", 0), (uint64_t)1 << 30);
    s->ephemeral_gb = MIN(jp_u64_or(fl, "ephemeral", 0), (uint64_t)1 << 30);
    s->swap_mib = MIN(jp_u64_or(fl, "swap", 0), (uint64_t)1 << 40);
    s->flavor_name = jp_dup(fl, "original_name", &fail);
  } else if (json_is_object(fl)) {
    s->flavor_name = jp_dup(fl, "id", &fail);
  }
  v = jp_get(fl, "extra_specs");
  s->extra_specs = json_is_object(v) ? json_incref(v) : json_object();
  v = jp_get(o, "metadata");
  s->metadata = json_is_object(v) ? json_incref(v) : json_object();
  if (!s->extra_specs || !s->metadata)
    fail = true;
  vols = jp_get(o, "os-extended-volumes:volumes_attached");
  json_array_foreach(vols, i, v)
  {
    char *id;
    if (!jp_str(v, "id"))
      continue;
    if (s->volume_ids.len >= PER_ITEM_MAX)
      break;
    id = strdup(jp_str(v, "id"));
    if (!id || os_str_list_append(&s->volume_ids, id) < 0) {
      free(id);
      fail = true;
      break;
    }
  }
  if (fail) {
    server_clear(s);
    return oom();
  }
  return 0;
}

int os_servers_from_json(json_t *j, const char *name,
                         struct os_server_list *out)
{
  json_t *one, *list = items(j, "servers", "server", &one), *o;
  size_t i;
  int r;

  if (!list && !one)
    return error_set(EPROTO, "%s: the reply lists no servers", name);
  if (one) {
    list = json_array();
    if (!list || json_array_append(list, one) < 0) {
      json_decref(list);
      return oom();
    }
  } else {
    json_incref(list);
  }
  r = 0;
  json_array_foreach(list, i, o)
  {
    struct os_server s;
    if (out->len >= ITEMS_MAX) {
      r = too_many(name, "servers");
      break;
    }
    r = server_from(o, &s);
    if (r > 0) {
      r = 0;
      continue;
    }
    if (r < 0)
      break;
    if (os_server_list_append(out, s) < 0) {
      server_clear(&s);
      r = oom();
      break;
    }
  }
  json_decref(list);
  return r;
}

/* ---- volumes ---- */

static void volume_clear(struct os_volume *v)
{
  size_t i;

  free(v->id);
  free(v->name);
  free(v->status);
  free(v->type);
  for (i = 0; i < v->attachments.len; i++) {
    free(v->attachments.ptr[i].server_id);
    free(v->attachments.ptr[i].device);
  }
  os_attachment_list_reset(&v->attachments);
  json_decref(v->image_meta);
}

static int volume_from(json_t *o, struct os_volume *v)
{
  json_t *att = jp_get(o, "attachments"), *a, *meta;
  bool fail = false;
  size_t i;

  memset(v, 0, sizeof *v);
  if (!jp_str(o, "id"))
    return 1;
  v->id = jp_dup(o, "id", &fail);
  v->name = jp_dup(o, "name", &fail);
  v->status = jp_dup(o, "status", &fail);
  v->type = jp_dup(o, "volume_type", &fail);
  v->size_gb = MIN(jp_u64_or(o, "size", 0), (uint64_t)1 << 30);
  v->bootable = jp_bool(o, "bootable", false);
  v->multiattach = jp_bool(o, "multiattach", false);
  v->encrypted = jp_bool(o, "encrypted", false);
  meta = jp_get(o, "volume_image_metadata");
  v->image_meta = json_is_object(meta) ? json_incref(meta) : json_object();
  if (!v->image_meta)
    fail = true;
  json_array_foreach(att, i, a)
  {
    struct os_attachment x = {0};
    if (fail || v->attachments.len >= PER_ITEM_MAX)
      break;
    x.server_id = jp_dup(a, "server_id", &fail);
    x.device = jp_dup(a, "device", &fail);
    if (fail || os_attachment_list_append(&v->attachments, x) < 0) {
      free(x.server_id);
      free(x.device);
      fail = true;
    }
  }
  if (fail) {
    volume_clear(v);
    return oom();
  }
  return 0;
}

int os_volumes_from_json(json_t *j, const char *name,
                         struct os_volume_list *out)
{
  json_t *one, *list = items(j, "volumes", "volume", &one), *o;
  struct os_volume v;
  size_t i;
  int r;

  if (!list && !one)
    return error_set(EPROTO, "%s: the reply lists no volumes", name);
  if (one) {
    r = volume_from(one, &v);
    if (r == 0 && os_volume_list_append(out, v) < 0) {
      volume_clear(&v);
      r = oom();
    }
    return r < 0 ? r : 0;
  }
  json_array_foreach(list, i, o)
  {
    if (out->len >= ITEMS_MAX)
      return too_many(name, "volumes");
    r = volume_from(o, &v);
    if (r > 0)
      continue;
    if (r < 0)
      return r;
    if (os_volume_list_append(out, v) < 0) {
      volume_clear(&v);
      return oom();
    }
  }
  return 0;
}

/* ---- small lists ---- */

int os_volume_types_from_json(json_t *j, struct os_volume_type_list *out)
{
  json_t *list = jp_get(j, "volume_types"), *o;
  size_t i;

  json_array_foreach(list, i, o)
  {
    struct os_volume_type t = {0};
    bool fail = false;
    if (!jp_str(o, "id") || out->len >= ITEMS_MAX)
      continue;
    t.id = jp_dup(o, "id", &fail);
    t.name = jp_dup(o, "name", &fail);
    if (fail || os_volume_type_list_append(out, t) < 0) {
      free(t.id);
      free(t.name);
      return oom();
    }
  }
  return 0;
}

static void port_clear(struct os_port *p)
{
  free(p->id);
  free(p->network_id);
  free(p->mac);
  free(p->device_id);
  free(p->vnic_type);
  free(p->ip);
}

int os_ports_from_json(json_t *j, struct os_port_list *out)
{
  json_t *list = jp_get(j, "ports"), *o;
  size_t i;

  json_array_foreach(list, i, o)
  {
    struct os_port p = {0};
    bool fail = false;
    if (!jp_str(o, "id") || out->len >= ITEMS_MAX)
      continue;
    p.id = jp_dup(o, "id", &fail);
    p.network_id = jp_dup(o, "network_id", &fail);
    p.mac = jp_dup(o, "mac_address", &fail);
    p.device_id = jp_dup(o, "device_id", &fail);
    p.vnic_type = jp_dup(o, "binding:vnic_type", &fail);
    p.ip =
        jp_dup(json_array_get(jp_get(o, "fixed_ips"), 0), "ip_address", &fail);
    if (fail || os_port_list_append(out, p) < 0) {
      port_clear(&p);
      return oom();
    }
  }
  return 0;
}

int os_networks_from_json(json_t *j, struct os_network_list *out)
{
  json_t *list = jp_get(j, "networks"), *o;
  size_t i;

  json_array_foreach(list, i, o)
  {
    struct os_network n = {0};
    bool fail = false;
    if (!jp_str(o, "id") || out->len >= ITEMS_MAX)
      continue;
    n.id = jp_dup(o, "id", &fail);
    n.name = jp_dup(o, "name", &fail);
    n.shared = jp_bool(o, "shared", false);
    n.external = jp_bool(o, "router:external", false);
    if (fail || os_network_list_append(out, n) < 0) {
      free(n.id);
      free(n.name);
      return oom();
    }
  }
  return 0;
}

int os_floating_ips_from_json(json_t *j, struct os_floating_ip_list *out)
{
  json_t *list = jp_get(j, "floatingips"), *o;
  size_t i;

  json_array_foreach(list, i, o)
  {
    struct os_floating_ip f = {0};
    bool fail = false;
    if (!jp_str(o, "port_id") || out->len >= ITEMS_MAX)
      continue;
    f.port_id = jp_dup(o, "port_id", &fail);
    f.address = jp_dup(o, "floating_ip_address", &fail);
    if (fail || os_floating_ip_list_append(out, f) < 0) {
      free(f.port_id);
      free(f.address);
      return oom();
    }
  }
  return 0;
}

/* ---- from buffers ---- */

#define FROM_BUFFER(fn, list_type, call)                                       \
  int fn(const char *buf, size_t len, const char *name, struct list_type *out) \
  {                                                                            \
    _cleanup_(json_decrefp) json_t *j = NULL;                                  \
    int r = jp_load(buf, len, name, &j);                                       \
    if (r < 0)                                                                 \
      return r;                                                                \
    (void)name;                                                                \
    return call;                                                               \
  }

FROM_BUFFER(os_parse_servers, os_server_list,
            os_servers_from_json(j, name, out))
FROM_BUFFER(os_parse_volumes, os_volume_list,
            os_volumes_from_json(j, name, out))
FROM_BUFFER(os_parse_volume_types, os_volume_type_list,
            os_volume_types_from_json(j, out))
FROM_BUFFER(os_parse_ports, os_port_list, os_ports_from_json(j, out))
FROM_BUFFER(os_parse_networks, os_network_list, os_networks_from_json(j, out))
FROM_BUFFER(os_parse_floating_ips, os_floating_ip_list,
            os_floating_ips_from_json(j, out))

/* ---- the inventory ---- */

void os_inventory_clear(struct os_inventory *inv)
{
  size_t i;

  for (i = 0; i < inv->servers.len; i++)
    server_clear(&inv->servers.ptr[i]);
  os_server_list_reset(&inv->servers);
  for (i = 0; i < inv->volumes.len; i++)
    volume_clear(&inv->volumes.ptr[i]);
  os_volume_list_reset(&inv->volumes);
  for (i = 0; i < inv->volume_types.len; i++) {
    free(inv->volume_types.ptr[i].id);
    free(inv->volume_types.ptr[i].name);
  }
  os_volume_type_list_reset(&inv->volume_types);
  for (i = 0; i < inv->ports.len; i++)
    port_clear(&inv->ports.ptr[i]);
  os_port_list_reset(&inv->ports);
  for (i = 0; i < inv->networks.len; i++) {
    free(inv->networks.ptr[i].id);
    free(inv->networks.ptr[i].name);
  }
  os_network_list_reset(&inv->networks);
  for (i = 0; i < inv->floating_ips.len; i++) {
    free(inv->floating_ips.ptr[i].port_id);
    free(inv->floating_ips.ptr[i].address);
  }
  os_floating_ip_list_reset(&inv->floating_ips);
}

const struct os_volume *os_inventory_volume(const struct os_inventory *inv,
                                            const char *id)
{
  size_t i;

  for (i = 0; id && i < inv->volumes.len; i++)
    if (streq(inv->volumes.ptr[i].id, id))
      return &inv->volumes.ptr[i];
  return NULL;
}

const struct os_network *os_inventory_network(const struct os_inventory *inv,
                                              const char *id)
{
  size_t i;

  for (i = 0; id && i < inv->networks.len; i++)
    if (streq(inv->networks.ptr[i].id, id))
      return &inv->networks.ptr[i];
  return NULL;
}
