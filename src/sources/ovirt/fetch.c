/* Fetching the inventory from the engine (see engine.h); the parsing is
 * inventory.c's and vm_parse.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/names.h"
#include "sources/ovirt/engine_internal.h"
#include "sources/ovirt/inventory.h"
#include "util/cleanup.h"
#include "util/error.h"

#define P(s) names_printable((s), (char[96]){0}, 96)
/* oVirt's VM names: letters, digits, '_', '-' and '.'. */
#define VM_NAME_CHARS                                                          \
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"

typedef int (*parse_fn)(json_t *root, const char *what, void *out);

#define PARSER(kind, type)                                                     \
  static int parse_##kind(json_t *root, const char *what, void *out)           \
  {                                                                            \
    return ovirt_parse_##kind(root, what, (type *)out);                        \
  }
PARSER(networks, struct ovirt_network_list)
PARSER(vnic_profiles, struct ovirt_vnic_profile_list)
PARSER(storage_domains, struct ovirt_storage_domain_list)
PARSER(clusters, struct ovirt_cluster_list)
PARSER(hosts, struct ovirt_host_list)

/* GET one collection and parse it into out. */
static int fetch(struct ovirt_engine *e, const char *path, parse_fn parse,
                 void *out)
{
  _cleanup_(json_decrefp) json_t *j = NULL;
  _cleanup_free_ char *what = NULL;
  int r;

  r = ovirt_api_get(e, path, OVIRT_JSON_MAX, &j);
  if (r < 0)
    return r;
  if (asprintf(&what, "oVirt engine %s: GET %s", e->origin, path) < 0)
    return error_set(ENOMEM, "out of memory");
  return parse(j, what, out);
}

int ovirt_inventory(struct ovirt_engine *e, const struct ovirt_inventory **ret)
{
  struct ovirt_inventory *inv = &e->inv;
  int r;

  if (!e->have_inventory) {
    ovirt_inventory_clear(inv);
    if ((r = fetch(e, "networks", parse_networks, &inv->networks)) < 0 ||
        (r = fetch(e, "vnicprofiles", parse_vnic_profiles, &inv->profiles)) <
            0 ||
        (r = fetch(e, "storagedomains", parse_storage_domains, &inv->storage)) <
            0 ||
        (r = fetch(e, "clusters", parse_clusters, &inv->clusters)) < 0 ||
        (r = fetch(e, "hosts", parse_hosts, &inv->hosts)) < 0) {
      ovirt_inventory_clear(inv);
      return r;
    }
    e->have_inventory = true;
  }
  *ret = inv;
  return 0;
}

/* The lists that OVIRT_VM_FOLLOW inlines beyond OVIRT_VM_FOLLOW_MIN:
 * the VM's attribute, the sub-collection's path, the item's name. */
static const struct {
  const char *attr, *rel, *item;
} sub_lists[] = {
    {"host_devices", "hostdevices", "host_device"},
    {"watchdogs", "watchdogs", "watchdog"},
    {"snapshots", "snapshots", "snapshot"},
    {"numa_nodes", "numanodes", "vm_numa_node"},
};

/* Reads the sub-collections of each VM in j into it, as follow would
 * have inlined them. */
static int add_sub_lists(struct ovirt_engine *e, json_t *j)
{
  json_t *items = json_object_get(j, "vm"), *vm, *one = NULL;
  size_t i, k;
  int r;

  if (!items && json_is_string(json_object_get(j, "id"))) {
    one = json_array();
    if (!one || json_array_append(one, j) < 0) {
      json_decref(one);
      return error_set(ENOMEM, "out of memory");
    }
    items = one;
  }
  r = 0;
  json_array_foreach(items, i, vm)
  {
    const char *id = json_string_value(json_object_get(vm, "id"));

    for (k = 0; r == 0 && id && k < ARRAY_SIZE(sub_lists); k++) {
      _cleanup_free_ char *path = NULL, *q = http_escape(id);
      json_t *list = NULL;

      if (!q || asprintf(&path, "vms/%s/%s", q, sub_lists[k].rel) < 0)
        r = error_set(ENOMEM, "out of memory");
      else
        r = ovirt_api_get(e, path, OVIRT_JSON_MAX, &list);
      if (r == 0 && json_object_set_new(vm, sub_lists[k].attr, list) < 0)
        r = error_set(ENOMEM, "out of memory");
    }
    if (r < 0)
      break;
  }
  json_decref(one);
  return r;
}

/* GET base?query&follow=… (one VM or a list of them) and parse the VMs
 * into out. query is "" or ends with '&'. */
static int fetch_vms(struct ovirt_engine *e, const char *base,
                     const char *query, struct vm_list *out)
{
  _cleanup_(json_decrefp) json_t *j = NULL;
  _cleanup_free_ char *what = NULL, *path = NULL, *path_min = NULL;
  const struct ovirt_inventory *inv;
  int r;

  r = ovirt_inventory(e, &inv);
  if (r < 0)
    return r;
  if (asprintf(&path, "%s?%sfollow=%s", base, query, OVIRT_VM_FOLLOW) < 0 ||
      asprintf(&path_min, "%s?%sfollow=%s", base, query, OVIRT_VM_FOLLOW_MIN) <
          0 ||
      asprintf(&what, "oVirt engine %s: GET %s", e->origin, base) < 0)
    return error_set(ENOMEM, "out of memory");
  r = ovirt_api_get(e, path, OVIRT_VMS_JSON_MAX, &j);
  if (r == -EINVAL) {
    /* An engine that cannot follow all of these links. */
    error_clear();
    r = ovirt_api_get(e, path_min, OVIRT_VMS_JSON_MAX, &j);
    if (r == 0)
      r = add_sub_lists(e, j);
  }
  if (r < 0)
    return r;
  return ovirt_parse_vms(j, what, inv, e->origin, out);
}

int ovirt_list_vms(struct ovirt_engine *e, struct vm_list *out)
{
  return fetch_vms(e, "vms", "", out);
}

static bool looks_like_id(const char *s)
{
  size_t i;

  if (strlen(s) != 36)
    return false;
  for (i = 0; i < 36; i++)
    if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-'
                                                : !strchr("0123456789abcdef"
                                                          "ABCDEF",
                                                          s[i]))
      return false;
  return true;
}

int ovirt_find_vm(struct ovirt_engine *e, const char *name_or_id,
                  struct vm **ret)
{
  struct vm_list found = {0};
  _cleanup_free_ char *path = NULL, *q = NULL, *term = NULL;
  size_t i;
  int r;

  *ret = NULL;
  if (looks_like_id(name_or_id)) {
    if (asprintf(&path, "vms/%s", name_or_id) < 0)
      return error_set(ENOMEM, "out of memory");
    r = fetch_vms(e, path, "", &found);
    if (r == -ENOENT) {
      error_clear();
      r = 0;
    }
  } else if (*name_or_id &&
             strspn(name_or_id, VM_NAME_CHARS) == strlen(name_or_id)) {
    /* The search language matches names case-insensitively and with
     * wildcards: keep the exact matches. */
    if (asprintf(&term, "name=%s", name_or_id) < 0 ||
        !(q = http_escape(term)) || asprintf(&path, "search=%s&", q) < 0)
      return error_set(ENOMEM, "out of memory");
    r = fetch_vms(e, "vms", path, &found);
  } else {
    r = 0;
  }
  if (r < 0) {
    vm_list_free(&found);
    return r;
  }
  for (i = 0; i < found.len && !*ret; i++) {
    struct vm *vm = found.ptr[i];
    if ((vm->name && streq(vm->name, name_or_id)) ||
        (vm->id && streq(vm->id, name_or_id))) {
      *ret = vm;
      found.ptr[i] = NULL;
    }
  }
  vm_list_free(&found);
  if (!*ret)
    return error_set(ENOENT, "oVirt engine %s has no VM named \"%s\"",
                     e->origin, P(name_or_id));
  return 0;
}
