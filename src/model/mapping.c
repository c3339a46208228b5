#include "model/mapping.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/mapfile.h"
#include "model/names.h"
#include "util/cleanup.h"
#include "util/error.h"

#define Q(s) names_printable((s), (char[96]){0}, 96)

static void entry_free_fields(struct netmap_entry *e)
{
  free(e->source_name);
  free(e->source_id);
  free(e->ns);
  free(e->name);
}

void netmap_free(struct netmap *map)
{
  size_t i;

  if (!map)
    return;
  for (i = 0; i < map->entries.len; i++)
    entry_free_fields(&map->entries.ptr[i]);
  netmap_entry_list_reset(&map->entries);
  free(map->file);
  free(map);
}

const char *netmap_type_name(enum netmap_type type)
{
  switch (type) {
  case NETMAP_POD:
    return "pod";
  case NETMAP_MULTUS:
    return "multus";
  case NETMAP_IGNORED:
    return "ignored";
  }
  return "?";
}

static const struct netmap_entry *find_source(const struct netmap *map,
                                              const char *name, const char *id)
{
  size_t i;

  for (i = 0; i < map->entries.len; i++) {
    const struct netmap_entry *e = &map->entries.ptr[i];
    if ((name && e->source_name && streq(name, e->source_name)) ||
        (id && e->source_id && streq(id, e->source_id)))
      return e;
  }
  return NULL;
}

/* Checks an entry and adds it (taking its fields, also on failure). */
static int add_entry(struct netmap *map, struct netmap_entry *e)
{
  const struct netmap_entry *dup;
  int r = 0;

  if (e->type == NETMAP_MULTUS &&
      (!e->name || !names_is_dns1123_subdomain(e->name))) {
    r = error_set(EINVAL,
                  "%s:%u: \"%s\" is not a valid "
                  "NetworkAttachmentDefinition name (lower case "
                  "[a-z0-9-.], at most 253 characters)",
                  map->file, e->line, Q(e->name));
  } else if (e->type == NETMAP_MULTUS && e->ns &&
             !names_is_dns1123_label(e->ns, NAMES_LABEL_MAX)) {
    r = error_set(EINVAL,
                  "%s:%u: \"%s\" is not a valid namespace (lower "
                  "case [a-z0-9-], at most 63 characters)",
                  map->file, e->line, Q(e->ns));
  } else if ((dup = find_source(map, e->source_name, e->source_id))) {
    r = error_set(EINVAL,
                  "%s:%u: network \"%s\" is already mapped on line "
                  "%u",
                  map->file, e->line,
                  Q(e->source_name ? e->source_name : e->source_id), dup->line);
  } else if (netmap_entry_list_append(&map->entries, *e) < 0) {
    r = error_set(ENOMEM, "out of memory");
  }
  if (r < 0)
    entry_free_fields(e);
  memset(e, 0, sizeof *e);
  return r;
}

/* Parses "pod", "ignored", "multus:NS/NAME" or "multus:NAME". */
static int parse_text_destination(struct netmap *map, const char *dst,
                                  struct netmap_entry *e)
{
  const char *slash, *rest;

  if (strcasecmp(dst, "pod") == 0) {
    e->type = NETMAP_POD;
    return 0;
  }
  if (strcasecmp(dst, "ignored") == 0) {
    e->type = NETMAP_IGNORED;
    return 0;
  }
  if (strncasecmp(dst, "multus:", 7) != 0)
    return error_set(EINVAL,
                     "%s:%u: unknown destination \"%s\"; use pod, "
                     "multus:NAMESPACE/NAME or ignored",
                     map->file, e->line, Q(dst));
  e->type = NETMAP_MULTUS;
  rest = dst + 7;
  slash = strchr(rest, '/');
  if (slash) {
    e->ns = strndup(rest, slash - rest);
    e->name = strdup(slash + 1);
  } else {
    e->name = strdup(rest);
  }
  if (!e->name || (slash && !e->ns))
    return error_set(ENOMEM, "out of memory");
  return 0;
}

/* The destination of a YAML entry: {type: pod|multus|ignored, name,
 * namespace}. */
static int parse_yaml_destination(const struct mapfile_entry *me,
                                  struct netmap_entry *e)
{
  yaml_node_t *dst = me->destination;
  yaml_node_t *type = mapfile_get(me, dst, "type");
  _cleanup_free_ char *type_s = NULL;
  int r;

  if ((r = mapfile_string(me, type, "destination.type", &type_s)) < 0)
    return r;
  if (!type_s)
    return error_set(EINVAL,
                     "%s:%u: the destination has no type (pod, multus "
                     "or ignored)",
                     me->file, mapfile_line(me, dst));
  if (streq(type_s, "pod")) {
    e->type = NETMAP_POD;
  } else if (streq(type_s, "ignored")) {
    e->type = NETMAP_IGNORED;
  } else if (streq(type_s, "multus")) {
    e->type = NETMAP_MULTUS;
    if ((r = mapfile_string(me, mapfile_get(me, dst, "name"),
                            "destination.name", &e->name)) < 0 ||
        (r = mapfile_string(me, mapfile_get(me, dst, "namespace"),
                            "destination.namespace", &e->ns)) < 0)
      return r;
    if (!e->name)
      return error_set(EINVAL,
                       "%s:%u: a multus destination needs the name of "
                       "its NetworkAttachmentDefinition",
                       me->file, mapfile_line(me, dst));
  } else {
    return error_set(EINVAL,
                     "%s:%u: unknown destination type \"%s\"; use pod, "
                     "multus or ignored",
                     me->file, mapfile_line(me, type), Q(type_s));
  }
  return 0;
}

static int take_entry(void *opaque, const struct mapfile_entry *me)
{
  struct netmap *map = opaque;
  struct netmap_entry e = {.line = me->line};
  int r;

  if ((me->source_name && !(e.source_name = strdup(me->source_name))) ||
      (me->source_id && !(e.source_id = strdup(me->source_id)))) {
    entry_free_fields(&e);
    return error_set(ENOMEM, "out of memory");
  }
  r = me->text ? parse_text_destination(map, me->text, &e)
               : parse_yaml_destination(me, &e);
  if (r < 0) {
    entry_free_fields(&e);
    return r;
  }
  return add_entry(map, &e);
}

static const struct mapfile_reader netmap_reader = {
    .kind = "NetworkMap",
    .what = "network",
    .syntax = "SOURCE-NETWORK=pod, SOURCE-NETWORK=multus:NAMESPACE/NAME or "
              "SOURCE-NETWORK=ignored",
    .entry = take_entry,
};

/* From data, or from the file when data is NULL. */
static int netmap_read(const char *data, size_t len, const char *file,
                       struct netmap **ret)
{
  struct mapfile_reader rd = netmap_reader;
  struct netmap *map = calloc(1, sizeof *map);
  int r;

  if (!map || !(map->file = strdup(file))) {
    free(map);
    return error_set(ENOMEM, "out of memory");
  }
  rd.opaque = map;
  r = mapfile_read(&rd, data, len, file);
  if (r < 0) {
    netmap_free(map);
    return r;
  }
  *ret = map;
  return 0;
}

int netmap_parse(const char *data, size_t len, const char *file,
                 struct netmap **ret)
{
  return netmap_read(data ? data : "", len, file, ret);
}

int netmap_load(const char *path, struct netmap **ret)
{
  return netmap_read(NULL, 0, path, ret);
}

const struct netmap_entry *netmap_lookup(const struct netmap *map,
                                         const char *network)
{
  size_t i;

  if (!map || !network)
    return NULL;
  for (i = 0; i < map->entries.len; i++)
    if (map->entries.ptr[i].source_name &&
        streq(map->entries.ptr[i].source_name, network))
      return &map->entries.ptr[i];
  for (i = 0; i < map->entries.len; i++)
    if (map->entries.ptr[i].source_id &&
        streq(map->entries.ptr[i].source_id, network))
      return &map->entries.ptr[i];
  return NULL;
}

/* "NIC net-1 (\"Ethernet 2\" on network \"VM Network\")": net-N is the
 * interface's name in the VirtualMachine. */
static const char *nic_label(const struct vm_nic *nic, size_t i, char *buf,
                             size_t len)
{
  char a[96], b[96];

  snprintf(buf, len, "NIC net-%zu (\"%s\" on network \"%s\")", i,
           names_printable(nic->name ? nic->name : "", a, sizeof a),
           names_printable(nic->network ? nic->network : "", b, sizeof b));
  return buf;
}

int mapping_assign_networks(struct vm *vm, const struct netmap *map,
                            struct nic_target *targets)
{
  ssize_t pod_owner = -1;
  size_t i;
  int r;

  /* Explicit mappings first, so that an unmapped NIC never takes the pod
   * network from one that the map sends there. */
  for (i = 0; i < vm->nics.len; i++) {
    const struct netmap_entry *e = netmap_lookup(map, vm->nics.ptr[i].network);
    char who[256], owner[256];

    targets[i] = (struct nic_target){.type = NETMAP_IGNORED};
    if (!e)
      continue;
    switch (e->type) {
    case NETMAP_IGNORED:
      r = vm_add_concern(vm, CONCERN_INFO, "network-ignored",
                         "%s is ignored by the network map; the VM gets no "
                         "interface for it",
                         nic_label(&vm->nics.ptr[i], i, who, sizeof who));
      break;
    case NETMAP_MULTUS:
      targets[i] = (struct nic_target){NETMAP_MULTUS, e->ns, e->name};
      r = 0;
      break;
    case NETMAP_POD:
      if (pod_owner < 0) {
        pod_owner = i;
        targets[i].type = NETMAP_POD;
        r = 0;
        break;
      }
      r = vm_add_concern(
          vm, CONCERN_CRITICAL, "multiple-pod-networks",
          "%s maps to the pod network, which %s already uses; KubeVirt "
          "allows one pod network per VM (with --force the NIC is left out)",
          nic_label(&vm->nics.ptr[i], i, who, sizeof who),
          nic_label(&vm->nics.ptr[pod_owner], pod_owner, owner, sizeof owner));
      break;
    default:
      r = 0;
    }
    if (r < 0)
      return error_set(ENOMEM, "out of memory");
  }
  for (i = 0; i < vm->nics.len; i++) {
    char who[256], owner[256];

    if (netmap_lookup(map, vm->nics.ptr[i].network))
      continue;
    if (pod_owner < 0) {
      pod_owner = i;
      targets[i].type = NETMAP_POD;
      r = vm_add_concern(vm, CONCERN_WARNING, "network-unmapped",
                         "%s is not in the network map; it goes to the pod "
                         "network",
                         nic_label(&vm->nics.ptr[i], i, who, sizeof who));
    } else {
      r = vm_add_concern(
          vm, CONCERN_CRITICAL, "network-unmapped",
          "%s is not in the network map and the pod network is taken by %s; "
          "map the network with --network-map (with --force the NIC is left "
          "out)",
          nic_label(&vm->nics.ptr[i], i, who, sizeof who),
          nic_label(&vm->nics.ptr[pod_owner], pod_owner, owner, sizeof owner));
    }
    if (r < 0)
      return error_set(ENOMEM, "out of memory");
  }
  return 0;
}
