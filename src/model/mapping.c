#include "model/mapping.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

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

  if (map->entries.len >= NETMAP_MAX_ENTRIES) {
    r = error_set(E2BIG, "%s:%u: more than %d mappings", map->file, e->line,
                  NETMAP_MAX_ENTRIES);
  } else if (e->type == NETMAP_MULTUS &&
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

static char *trim(char *s)
{
  char *end;

  while (*s == ' ' || *s == '\t')
    s++;
  end = s + strlen(s);
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
    *--end = 0;
  return s;
}

static int parse_text(struct netmap *map, const char *data, size_t len)
{
  size_t pos = 0;
  unsigned line = 0;

  while (pos < len) {
    const char *nl = memchr(data + pos, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
    _cleanup_free_ char *buf = NULL;
    struct netmap_entry e = {0};
    char *s, *hash, *eq;
    int r;

    line++;
    if (n > NETMAP_MAX_LINE)
      return error_set(EINVAL, "%s:%u: line longer than %d bytes", map->file,
                       line, NETMAP_MAX_LINE);
    buf = strndup(data + pos, n);
    if (!buf)
      return error_set(ENOMEM, "out of memory");
    pos += n + 1;
    if (strlen(buf) != n)
      return error_set(EINVAL, "%s:%u: contains a NUL byte", map->file, line);
    s = trim(buf);
    /* A comment: the whole line, or from a '#' after a blank. */
    if (*s == '#')
      continue;
    for (hash = s; (hash = strchr(hash, '#')); hash++)
      if (hash[-1] == ' ' || hash[-1] == '\t') {
        *hash = 0;
        break;
      }
    s = trim(s);
    if (!*s)
      continue;
    eq = strrchr(s, '=');
    if (!eq)
      return error_set(EINVAL,
                       "%s:%u: expected SOURCE-NETWORK=pod, "
                       "SOURCE-NETWORK=multus:NAMESPACE/NAME or "
                       "SOURCE-NETWORK=ignored, not \"%s\"",
                       map->file, line, Q(s));
    *eq = 0;
    e.line = line;
    if (!*trim(s))
      return error_set(EINVAL, "%s:%u: no source network before '='", map->file,
                       line);
    e.source_name = strdup(trim(s));
    if (!e.source_name)
      return error_set(ENOMEM, "out of memory");
    r = parse_text_destination(map, trim(eq + 1), &e);
    if (r < 0) {
      entry_free_fields(&e);
      return r;
    }
    r = add_entry(map, &e);
    if (r < 0)
      return r;
  }
  return 0;
}

/* --- Forklift NetworkMap (YAML) --- */

static unsigned node_line(const yaml_node_t *n)
{
  return n ? (unsigned)n->start_mark.line + 1 : 0;
}

/* The value node of key in a mapping node, or NULL. */
static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map,
                            const char *key)
{
  yaml_node_pair_t *p;

  if (!map || map->type != YAML_MAPPING_NODE)
    return NULL;
  for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
       p++) {
    yaml_node_t *k = yaml_document_get_node(doc, p->key);
    if (k && k->type == YAML_SCALAR_NODE &&
        k->data.scalar.length == strlen(key) &&
        memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
      return yaml_document_get_node(doc, p->value);
  }
  return NULL;
}

/* The string of a scalar node: 0 with *ret NULL when node is NULL or an
 * empty scalar, an error when it is not a scalar or holds a NUL. */
static int scalar_dup(struct netmap *map, yaml_node_t *node, const char *what,
                      char **ret)
{
  *ret = NULL;
  if (!node)
    return 0;
  if (node->type != YAML_SCALAR_NODE)
    return error_set(EINVAL, "%s:%u: %s must be a string", map->file,
                     node_line(node), what);
  if (node->data.scalar.length == 0)
    return 0;
  if (node->data.scalar.length > NETMAP_MAX_LINE ||
      memchr(node->data.scalar.value, 0, node->data.scalar.length))
    return error_set(EINVAL, "%s:%u: %s is not a valid string", map->file,
                     node_line(node), what);
  *ret =
      strndup((const char *)node->data.scalar.value, node->data.scalar.length);
  if (!*ret)
    return error_set(ENOMEM, "out of memory");
  return 0;
}

static bool scalar_is(yaml_node_t *node, const char *s)
{
  return node && node->type == YAML_SCALAR_NODE &&
         node->data.scalar.length == strlen(s) &&
         memcmp(node->data.scalar.value, s, node->data.scalar.length) == 0;
}

static int parse_yaml_pair(struct netmap *map, yaml_document_t *doc,
                           yaml_node_t *item)
{
  struct netmap_entry e = {.line = node_line(item)};
  yaml_node_t *src, *dst, *type;
  _cleanup_free_ char *type_s = NULL;
  int r;

  if (item->type != YAML_MAPPING_NODE)
    return error_set(EINVAL,
                     "%s:%u: each entry of spec.map must be a "
                     "mapping with source and destination",
                     map->file, e.line);
  src = map_get(doc, item, "source");
  dst = map_get(doc, item, "destination");
  if (!src || src->type != YAML_MAPPING_NODE)
    return error_set(EINVAL,
                     "%s:%u: the entry has no source mapping "
                     "(source: {name: …} or {id: …})",
                     map->file, node_line(src ? src : item));
  if (!dst || dst->type != YAML_MAPPING_NODE)
    return error_set(EINVAL,
                     "%s:%u: the entry has no destination mapping "
                     "(destination: {type: pod|multus|ignored})",
                     map->file, node_line(dst ? dst : item));
  if ((r = scalar_dup(map, map_get(doc, src, "name"), "source.name",
                      &e.source_name)) < 0 ||
      (r = scalar_dup(map, map_get(doc, src, "id"), "source.id",
                      &e.source_id)) < 0)
    goto fail;
  if (!e.source_name && !e.source_id) {
    r = error_set(EINVAL,
                  "%s:%u: the source names no network (give its "
                  "name or id)",
                  map->file, node_line(src));
    goto fail;
  }
  type = map_get(doc, dst, "type");
  if ((r = scalar_dup(map, type, "destination.type", &type_s)) < 0)
    goto fail;
  if (!type_s) {
    r = error_set(EINVAL,
                  "%s:%u: the destination has no type (pod, multus "
                  "or ignored)",
                  map->file, node_line(dst));
    goto fail;
  }
  if (streq(type_s, "pod")) {
    e.type = NETMAP_POD;
  } else if (streq(type_s, "ignored")) {
    e.type = NETMAP_IGNORED;
  } else if (streq(type_s, "multus")) {
    e.type = NETMAP_MULTUS;
    if ((r = scalar_dup(map, map_get(doc, dst, "name"), "destination.name",
                        &e.name)) < 0 ||
        (r = scalar_dup(map, map_get(doc, dst, "namespace"),
                        "destination.namespace", &e.ns)) < 0)
      goto fail;
    if (!e.name) {
      r = error_set(EINVAL,
                    "%s:%u: a multus destination needs the name of "
                    "its NetworkAttachmentDefinition",
                    map->file, node_line(dst));
      goto fail;
    }
  } else {
    r = error_set(EINVAL,
                  "%s:%u: unknown destination type \"%s\"; use pod, "
                  "multus or ignored",
                  map->file, node_line(type), Q(type_s));
    goto fail;
  }
  return add_entry(map, &e);

fail:
  entry_free_fields(&e);
  return r;
}

/* One document: 1 if it was a NetworkMap, 0 if of another kind. */
static int parse_yaml_document(struct netmap *map, yaml_document_t *doc)
{
  yaml_node_t *root = yaml_document_get_root_node(doc);
  yaml_node_t *kind, *api, *spec, *list;
  yaml_node_item_t *it;
  int r;

  if (root->type != YAML_MAPPING_NODE)
    return error_set(EINVAL,
                     "%s:%u: expected a NetworkMap manifest (a "
                     "mapping with apiVersion, kind and spec)",
                     map->file, node_line(root));
  kind = map_get(doc, root, "kind");
  if (!kind)
    return error_set(EINVAL,
                     "%s:%u: the document has no kind (expected "
                     "kind: NetworkMap)",
                     map->file, node_line(root));
  if (!scalar_is(kind, "NetworkMap"))
    return 0;
  api = map_get(doc, root, "apiVersion");
  if (api && (api->type != YAML_SCALAR_NODE || api->data.scalar.length < 21 ||
              memcmp(api->data.scalar.value, "forklift.konveyor.io/", 21)))
    return error_set(EINVAL,
                     "%s:%u: apiVersion must be "
                     "forklift.konveyor.io/v1beta1",
                     map->file, node_line(api));
  spec = map_get(doc, root, "spec");
  if (!spec || spec->type != YAML_MAPPING_NODE)
    return error_set(EINVAL, "%s:%u: the NetworkMap has no spec mapping",
                     map->file, node_line(spec ? spec : root));
  list = map_get(doc, spec, "map");
  if (!list)
    return 1;
  if (list->type != YAML_SEQUENCE_NODE)
    return error_set(EINVAL,
                     "%s:%u: spec.map must be a list of "
                     "{source, destination} entries",
                     map->file, node_line(list));
  for (it = list->data.sequence.items.start; it < list->data.sequence.items.top;
       it++) {
    yaml_node_t *item = yaml_document_get_node(doc, *it);
    if (!item)
      continue;
    r = parse_yaml_pair(map, doc, item);
    if (r < 0)
      return r;
  }
  return 1;
}

static int yaml_error(struct netmap *map, const yaml_parser_t *parser)
{
  return error_set(EINVAL, "%s:%zu: not valid YAML: %s%s%s", map->file,
                   parser->problem_mark.line + 1,
                   parser->problem ? parser->problem : "parse error",
                   parser->context ? " " : "",
                   parser->context ? parser->context : "");
}

/* libyaml has no depth limit and its scanner slows down with the depth
 * (quadratic for deeply nested flow collections): walk the events first
 * and refuse documents nested deeper than a NetworkMap ever is. */
static int check_depth(struct netmap *map, const char *data, size_t len)
{
  yaml_parser_t parser;
  unsigned depth = 0;
  int r = 0;

  if (!yaml_parser_initialize(&parser))
    return error_set(ENOMEM, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
  for (;;) {
    yaml_event_t ev;
    yaml_event_type_t type;

    if (!yaml_parser_parse(&parser, &ev)) {
      r = yaml_error(map, &parser);
      break;
    }
    type = ev.type;
    if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
      if (++depth > NETMAP_MAX_DEPTH)
        r = error_set(EINVAL, "%s:%zu: nested deeper than %d levels", map->file,
                      ev.start_mark.line + 1, NETMAP_MAX_DEPTH);
    } else if (type == YAML_SEQUENCE_END_EVENT ||
               type == YAML_MAPPING_END_EVENT) {
      depth--;
    }
    yaml_event_delete(&ev);
    if (r < 0 || type == YAML_STREAM_END_EVENT)
      break;
  }
  yaml_parser_delete(&parser);
  return r;
}

static int parse_yaml(struct netmap *map, const char *data, size_t len)
{
  yaml_parser_t parser;
  int r, found = 0;

  r = check_depth(map, data, len);
  if (r < 0)
    return r;
  if (!yaml_parser_initialize(&parser))
    return error_set(ENOMEM, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
  for (;;) {
    yaml_document_t doc;
    yaml_node_t *root;

    if (!yaml_parser_load(&parser, &doc)) {
      r = yaml_error(map, &parser);
      break;
    }
    root = yaml_document_get_root_node(&doc);
    if (!root) {
      yaml_document_delete(&doc);
      break;
    }
    /* An empty document ("---" at the end) is no manifest. */
    if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0) {
      yaml_document_delete(&doc);
      continue;
    }
    r = parse_yaml_document(map, &doc);
    yaml_document_delete(&doc);
    if (r < 0)
      break;
    found += r;
    r = 0;
  }
  yaml_parser_delete(&parser);
  if (r == 0 && !found)
    r = error_set(EINVAL,
                  "%s: no NetworkMap in the file (expected kind: "
                  "NetworkMap, or lines SOURCE-NETWORK=DESTINATION)",
                  map->file);
  return r;
}

/* YAML if the first line that is not blank or a comment starts like a
 * manifest. */
static bool looks_like_yaml(const char *data, size_t len)
{
  static const char *const starts[] = {"apiVersion:", "kind:", "---", "%"};
  size_t pos = 0, i;

  while (pos < len) {
    const char *nl = memchr(data + pos, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
    const char *s = data + pos;
    size_t k = 0;

    while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
      k++;
    if (k < n && s[k] != '#') {
      for (i = 0; i < ARRAY_SIZE(starts); i++)
        if (n - k >= strlen(starts[i]) &&
            memcmp(s + k, starts[i], strlen(starts[i])) == 0)
          return true;
      return false;
    }
    pos += n + 1;
  }
  return false;
}

int netmap_parse(const char *data, size_t len, const char *file,
                 struct netmap **ret)
{
  struct netmap *map;
  int r;

  if (len > NETMAP_MAX_FILE)
    return error_set(EFBIG, "%s: larger than %d bytes; is it a network map?",
                     file, NETMAP_MAX_FILE);
  map = calloc(1, sizeof *map);
  if (!map || !(map->file = strdup(file))) {
    free(map);
    return error_set(ENOMEM, "out of memory");
  }
  /* A UTF-8 byte order mark is not part of the first line. */
  if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
    data += 3;
    len -= 3;
  }
  if (looks_like_yaml(data, len))
    r = parse_yaml(map, data, len);
  else
    r = parse_text(map, data, len);
  if (r < 0) {
    netmap_free(map);
    return r;
  }
  *ret = map;
  return 0;
}

int netmap_load(const char *path, struct netmap **ret)
{
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  _cleanup_free_ char *buf = NULL;
  struct stat st;
  size_t len = 0;

  if (fd < 0)
    return error_errno("%s", path);
  if (fstat(fd, &st) < 0)
    return error_errno("%s", path);
  if (!S_ISREG(st.st_mode))
    return error_set(EINVAL, "%s: not a regular file", path);
  buf = malloc(NETMAP_MAX_FILE + 1);
  if (!buf)
    return error_set(ENOMEM, "out of memory");
  /* Read one byte more than allowed to notice a file that is too big. */
  while (len <= NETMAP_MAX_FILE) {
    ssize_t n = read(fd, buf + len, NETMAP_MAX_FILE + 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return error_errno("%s", path);
    if (n == 0)
      break;
    len += n;
  }
  return netmap_parse(buf, len, path, ret);
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
