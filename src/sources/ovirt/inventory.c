/* Parsers of the engine's collections: networks, vNIC profiles, storage
 * domains, clusters, hosts (see inventory.h). */
#include "sources/ovirt/inventory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sources/ovirt/ovirt_json.h"
#include "util/cleanup.h"
#include "util/error.h"

/* The array of `item`s in a collection reply (an empty collection is
 * {}: NULL then). */
static int load_collection(json_t *root, const char *what, const char *item,
                           json_t **ret_items)
{
  json_t *items;

  if (!json_is_object(root))
    return error_set(EPROTO, "%s: the reply is not a JSON object", what);
  items = json_object_get(root, item);
  if (items && !json_is_array(items))
    return error_set(EPROTO, "%s: \"%s\" is not a list", what, item);
  *ret_items = items;
  return 0;
}

/* Every object of the inventory has an id; one without is refused. */
static int need_id(json_t *o, const char *what, const char *kind, size_t i)
{
  if (!json_is_object(o) || !jp_str(o, "id"))
    return error_set(EPROTO, "%s: %s %zu has no id", what, kind, i);
  return 0;
}

static void network_free(struct ovirt_network *n)
{
  free(n->id);
  free(n->name);
  free(n->description);
  free(n->data_center);
}

int ovirt_parse_networks(json_t *root, const char *what,
                         struct ovirt_network_list *out)
{
  json_t *items, *o, *u;
  size_t i, k;
  int r;

  r = load_collection(root, what, "network", &items);
  if (r < 0)
    return r;
  json_array_foreach(items, i, o)
  {
    struct ovirt_network n = {.vlan = -1};
    json_t *usages = ovj_list(o, "usages", "usage");
    bool oom = false;
    uint64_t vlan;

    if ((r = need_id(o, what, "network", i)) < 0)
      return r;
    n.id = jp_dup(o, "id", &oom);
    n.name = jp_dup(o, "name", &oom);
    n.description = jp_dup(o, "description", &oom);
    n.data_center = jp_dup(o, "data_center.id", &oom);
    if (jp_u64(o, "vlan.id", &vlan) == 0 && vlan <= 4095)
      n.vlan = (int)vlan;
    /* Without a usages list, a network carries VMs. */
    n.vm_network = usages == NULL;
    json_array_foreach(usages, k, u)
    {
      if (json_is_string(u) && streq(json_string_value(u), "vm"))
        n.vm_network = true;
    }
    if (oom || ovirt_network_list_append(out, n) < 0) {
      network_free(&n);
      return error_set(ENOMEM, "out of memory");
    }
  }
  return 0;
}

void ovirt_vnic_profile_free(struct ovirt_vnic_profile *p)
{
  free(p->id);
  free(p->name);
  free(p->network_id);
}

/* Fills a profile from its JSON (also used for the profiles inline in a
 * NIC). */
int ovirt_vnic_profile_from_json(json_t *o, struct ovirt_vnic_profile *p)
{
  bool oom = false;
  const char *mode;

  p->id = jp_dup(o, "id", &oom);
  p->name = jp_dup(o, "name", &oom);
  p->network_id = jp_dup(o, "network.id", &oom);
  mode = jp_str(o, "pass_through.mode");
  p->pass_through = mode && streq(mode, "enabled");
  p->port_mirroring = jp_bool(o, "port_mirroring", false);
  p->network_filter = jp_str(o, "network_filter.id") != NULL;
  p->qos = jp_str(o, "qos.id") != NULL;
  p->custom_properties =
      json_array_size(ovj_list(o, "custom_properties", "custom_property")) > 0;
  if (oom) {
    ovirt_vnic_profile_free(p);
    memset(p, 0, sizeof *p);
    return error_set(ENOMEM, "out of memory");
  }
  return 0;
}

int ovirt_parse_vnic_profiles(json_t *root, const char *what,
                              struct ovirt_vnic_profile_list *out)
{
  json_t *items, *o;
  size_t i;
  int r;

  r = load_collection(root, what, "vnic_profile", &items);
  if (r < 0)
    return r;
  json_array_foreach(items, i, o)
  {
    struct ovirt_vnic_profile p = {0};

    if ((r = need_id(o, what, "vNIC profile", i)) < 0 ||
        (r = ovirt_vnic_profile_from_json(o, &p)) < 0)
      return r;
    if (ovirt_vnic_profile_list_append(out, p) < 0) {
      ovirt_vnic_profile_free(&p);
      return error_set(ENOMEM, "out of memory");
    }
  }
  return 0;
}

static void storage_free(struct ovirt_storage_domain *s)
{
  free(s->id);
  free(s->name);
  free(s->type);
  free(s->storage_type);
  free(s->status);
}

int ovirt_parse_storage_domains(json_t *root, const char *what,
                                struct ovirt_storage_domain_list *out)
{
  json_t *items, *o;
  size_t i;
  int r;

  r = load_collection(root, what, "storage_domain", &items);
  if (r < 0)
    return r;
  json_array_foreach(items, i, o)
  {
    struct ovirt_storage_domain s = {0};
    bool oom = false;

    if ((r = need_id(o, what, "storage domain", i)) < 0)
      return r;
    s.id = jp_dup(o, "id", &oom);
    s.name = jp_dup(o, "name", &oom);
    s.type = jp_dup(o, "type", &oom);
    s.storage_type = jp_dup(o, "storage.type", &oom);
    s.status =
        jp_dup(o, jp_str(o, "status") ? "status" : "external_status", &oom);
    s.available = jp_u64_or(o, "available", 0);
    s.used = jp_u64_or(o, "used", 0);
    if (oom || ovirt_storage_domain_list_append(out, s) < 0) {
      storage_free(&s);
      return error_set(ENOMEM, "out of memory");
    }
  }
  return 0;
}

static void cluster_free(struct ovirt_cluster *c)
{
  free(c->id);
  free(c->name);
  free(c->bios_type);
  free(c->cpu_type);
}

int ovirt_parse_clusters(json_t *root, const char *what,
                         struct ovirt_cluster_list *out)
{
  json_t *items, *o;
  size_t i;
  int r;

  r = load_collection(root, what, "cluster", &items);
  if (r < 0)
    return r;
  json_array_foreach(items, i, o)
  {
    struct ovirt_cluster c = {0};
    bool oom = false;

    if ((r = need_id(o, what, "cluster", i)) < 0)
      return r;
    c.id = jp_dup(o, "id", &oom);
    c.name = jp_dup(o, "name", &oom);
    c.bios_type = jp_dup(o, "bios_type", &oom);
    c.cpu_type = jp_dup(o, "cpu.type", &oom);
    if (oom || ovirt_cluster_list_append(out, c) < 0) {
      cluster_free(&c);
      return error_set(ENOMEM, "out of memory");
    }
  }
  return 0;
}

static void host_free(struct ovirt_host *h)
{
  free(h->id);
  free(h->name);
  free(h->address);
  free(h->status);
  free(h->cluster_id);
}

int ovirt_parse_hosts(json_t *root, const char *what,
                      struct ovirt_host_list *out)
{
  json_t *items, *o;
  size_t i;
  int r;

  r = load_collection(root, what, "host", &items);
  if (r < 0)
    return r;
  json_array_foreach(items, i, o)
  {
    struct ovirt_host h = {0};
    bool oom = false;

    if ((r = need_id(o, what, "host", i)) < 0)
      return r;
    h.id = jp_dup(o, "id", &oom);
    h.name = jp_dup(o, "name", &oom);
    h.address = jp_dup(o, "address", &oom);
    h.status = jp_dup(o, "status", &oom);
    h.cluster_id = jp_dup(o, "cluster.id", &oom);
    if (oom || ovirt_host_list_append(out, h) < 0) {
      host_free(&h);
      return error_set(ENOMEM, "out of memory");
    }
  }
  return 0;
}

void ovirt_inventory_clear(struct ovirt_inventory *inv)
{
  size_t i;

  for (i = 0; i < inv->networks.len; i++)
    network_free(&inv->networks.ptr[i]);
  for (i = 0; i < inv->profiles.len; i++)
    ovirt_vnic_profile_free(&inv->profiles.ptr[i]);
  for (i = 0; i < inv->storage.len; i++)
    storage_free(&inv->storage.ptr[i]);
  for (i = 0; i < inv->clusters.len; i++)
    cluster_free(&inv->clusters.ptr[i]);
  for (i = 0; i < inv->hosts.len; i++)
    host_free(&inv->hosts.ptr[i]);
  ovirt_network_list_reset(&inv->networks);
  ovirt_vnic_profile_list_reset(&inv->profiles);
  ovirt_storage_domain_list_reset(&inv->storage);
  ovirt_cluster_list_reset(&inv->clusters);
  ovirt_host_list_reset(&inv->hosts);
}

/* Lookups: the lists are small (tens to hundreds); a scan is enough. */
#define DEFINE_FIND(fn, type, field)                                           \
  const type *fn(const struct ovirt_inventory *inv, const char *id)            \
  {                                                                            \
    size_t i;                                                                  \
                                                                               \
    for (i = 0; inv && id && i < inv->field.len; i++)                          \
      if (inv->field.ptr[i].id && streq(inv->field.ptr[i].id, id))             \
        return &inv->field.ptr[i];                                             \
    return NULL;                                                               \
  }

DEFINE_FIND(ovirt_find_network, struct ovirt_network, networks)
DEFINE_FIND(ovirt_find_profile, struct ovirt_vnic_profile, profiles)
DEFINE_FIND(ovirt_find_storage, struct ovirt_storage_domain, storage)
DEFINE_FIND(ovirt_find_cluster, struct ovirt_cluster, clusters)
DEFINE_FIND(ovirt_find_host, struct ovirt_host, hosts)
