/* Map files: the reader shared by network and storage maps (see
 * mapfile.h). */
#include "model/mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/names.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/readfile.h"

#define Q(s) names_printable((s), (char[96]){0}, 96)

struct reading {
  const struct mapfile_reader *rd;
  const char *file;
  unsigned entries;
};

static int give(struct reading *st, struct mapfile_entry *e)
{
  e->file = st->file;
  if (++st->entries > MAPFILE_MAX_ENTRIES)
    return error_set(E2BIG, "%s:%u: more than %d mappings", st->file, e->line,
                     MAPFILE_MAX_ENTRIES);
  return st->rd->entry(st->rd->opaque, e);
}

/* --- the text form --- */

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

static int parse_text(struct reading *st, const char *data, size_t len)
{
  size_t pos = 0;
  unsigned line = 0;

  while (pos < len) {
    const char *nl = memchr(data + pos, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
    _cleanup_free_ char *buf = NULL;
    struct mapfile_entry e = {0};
    char *s, *hash, *eq;
    int r;

    line++;
    if (n > MAPFILE_MAX_LINE)
      return error_set(EINVAL, "%s:%u: line longer than %d bytes", st->file,
                       line, MAPFILE_MAX_LINE);
    buf = strndup(data + pos, n);
    if (!buf)
      return error_set(ENOMEM, "out of memory");
    pos += n + 1;
    if (strlen(buf) != n)
      return error_set(EINVAL, "%s:%u: contains a NUL byte", st->file, line);
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
      return error_set(EINVAL, "%s:%u: expected %s, not \"%s\"", st->file, line,
                       st->rd->syntax, Q(s));
    *eq = 0;
    e.line = line;
    e.source_name = trim(s);
    if (!*e.source_name)
      return error_set(EINVAL, "%s:%u: no source %s before '='", st->file, line,
                       st->rd->what);
    e.text = trim(eq + 1);
    r = give(st, &e);
    if (r < 0)
      return r;
  }
  return 0;
}

/* --- Forklift manifests (YAML) --- */

static unsigned node_line(const yaml_node_t *n)
{
  return n ? (unsigned)n->start_mark.line + 1 : 0;
}

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

yaml_node_t *mapfile_get(const struct mapfile_entry *e, yaml_node_t *map,
                         const char *key)
{
  return map_get(e->doc, map, key);
}

unsigned mapfile_line(const struct mapfile_entry *e, const yaml_node_t *node)
{
  return node ? node_line(node) : e->line;
}

static int scalar_dup(const char *file, yaml_node_t *node, const char *what,
                      char **ret)
{
  *ret = NULL;
  if (!node)
    return 0;
  if (node->type != YAML_SCALAR_NODE)
    return error_set(EINVAL, "%s:%u: %s must be a string", file,
                     node_line(node), what);
  if (node->data.scalar.length == 0)
    return 0;
  if (node->data.scalar.length > MAPFILE_MAX_LINE ||
      memchr(node->data.scalar.value, 0, node->data.scalar.length))
    return error_set(EINVAL, "%s:%u: %s is not a valid string", file,
                     node_line(node), what);
  *ret =
      strndup((const char *)node->data.scalar.value, node->data.scalar.length);
  if (!*ret)
    return error_set(ENOMEM, "out of memory");
  return 0;
}

int mapfile_string(const struct mapfile_entry *e, yaml_node_t *node,
                   const char *what, char **ret)
{
  return scalar_dup(e->file, node, what, ret);
}

static bool scalar_is(yaml_node_t *node, const char *s)
{
  return node && node->type == YAML_SCALAR_NODE &&
         node->data.scalar.length == strlen(s) &&
         memcmp(node->data.scalar.value, s, node->data.scalar.length) == 0;
}

static int parse_yaml_pair(struct reading *st, yaml_document_t *doc,
                           yaml_node_t *item)
{
  struct mapfile_entry e = {.line = node_line(item), .doc = doc};
  _cleanup_free_ char *name = NULL, *id = NULL;
  yaml_node_t *src;
  int r;

  if (item->type != YAML_MAPPING_NODE)
    return error_set(EINVAL,
                     "%s:%u: each entry of spec.map must be a "
                     "mapping with source and destination",
                     st->file, e.line);
  src = map_get(doc, item, "source");
  e.destination = map_get(doc, item, "destination");
  if (!src || src->type != YAML_MAPPING_NODE)
    return error_set(EINVAL,
                     "%s:%u: the entry has no source mapping "
                     "(source: {name: …} or {id: …})",
                     st->file, node_line(src ? src : item));
  if (!e.destination || e.destination->type != YAML_MAPPING_NODE)
    return error_set(EINVAL, "%s:%u: the entry has no destination mapping",
                     st->file, node_line(e.destination ? e.destination : item));
  if ((r = scalar_dup(st->file, map_get(doc, src, "name"), "source.name",
                      &name)) < 0 ||
      (r = scalar_dup(st->file, map_get(doc, src, "id"), "source.id", &id)) < 0)
    return r;
  if (!name && !id)
    return error_set(EINVAL,
                     "%s:%u: the source names no %s (give its name "
                     "or id)",
                     st->file, node_line(src), st->rd->what);
  e.source_name = name;
  e.source_id = id;
  return give(st, &e);
}

/* One document: 1 if it was of the reader's kind, 0 if of another. */
static int parse_yaml_document(struct reading *st, yaml_document_t *doc)
{
  const char *kind_name = st->rd->kind;
  yaml_node_t *root = yaml_document_get_root_node(doc);
  yaml_node_t *kind, *api, *spec, *list;
  yaml_node_item_t *it;
  int r;

  if (root->type != YAML_MAPPING_NODE)
    return error_set(EINVAL,
                     "%s:%u: expected a %s manifest (a mapping with "
                     "apiVersion, kind and spec)",
                     st->file, node_line(root), kind_name);
  kind = map_get(doc, root, "kind");
  if (!kind)
    return error_set(EINVAL,
                     "%s:%u: the document has no kind (expected kind: %s)",
                     st->file, node_line(root), kind_name);
  if (!scalar_is(kind, kind_name))
    return 0;
  api = map_get(doc, root, "apiVersion");
  if (api && (api->type != YAML_SCALAR_NODE || api->data.scalar.length < 21 ||
              memcmp(api->data.scalar.value, "forklift.konveyor.io/", 21)))
    return error_set(EINVAL,
                     "%s:%u: apiVersion must be "
                     "forklift.konveyor.io/v1beta1",
                     st->file, node_line(api));
  spec = map_get(doc, root, "spec");
  if (!spec || spec->type != YAML_MAPPING_NODE)
    return error_set(EINVAL, "%s:%u: the %s has no spec mapping", st->file,
                     node_line(spec ? spec : root), kind_name);
  list = map_get(doc, spec, "map");
  if (!list)
    return 1;
  if (list->type != YAML_SEQUENCE_NODE)
    return error_set(EINVAL,
                     "%s:%u: spec.map must be a list of "
                     "{source, destination} entries",
                     st->file, node_line(list));
  for (it = list->data.sequence.items.start; it < list->data.sequence.items.top;
       it++) {
    yaml_node_t *item = yaml_document_get_node(doc, *it);
    if (!item)
      continue;
    r = parse_yaml_pair(st, doc, item);
    if (r < 0)
      return r;
  }
  return 1;
}

static int yaml_error(const char *file, const yaml_parser_t *parser)
{
  return error_set(EINVAL, "%s:%zu: not valid YAML: %s%s%s", file,
                   parser->problem_mark.line + 1,
                   parser->problem ? parser->problem : "parse error",
                   parser->context ? " " : "",
                   parser->context ? parser->context : "");
}

/* libyaml has no depth limit and its scanner slows down with the depth
 * (quadratic for deeply nested flow collections): walk the events first
 * and refuse documents nested deeper than a map ever is. */
static int check_depth(const char *file, const char *data, size_t len)
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
      r = yaml_error(file, &parser);
      break;
    }
    type = ev.type;
    if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
      if (++depth > MAPFILE_MAX_DEPTH)
        r = error_set(EINVAL, "%s:%zu: nested deeper than %d levels", file,
                      ev.start_mark.line + 1, MAPFILE_MAX_DEPTH);
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

static int parse_yaml(struct reading *st, const char *data, size_t len)
{
  yaml_parser_t parser;
  int r, found = 0;

  r = check_depth(st->file, data, len);
  if (r < 0)
    return r;
  if (!yaml_parser_initialize(&parser))
    return error_set(ENOMEM, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
  for (;;) {
    yaml_document_t doc;
    yaml_node_t *root;

    if (!yaml_parser_load(&parser, &doc)) {
      r = yaml_error(st->file, &parser);
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
    r = parse_yaml_document(st, &doc);
    yaml_document_delete(&doc);
    if (r < 0)
      break;
    found += r;
    r = 0;
  }
  yaml_parser_delete(&parser);
  if (r == 0 && !found)
    r = error_set(EINVAL,
                  "%s: no %s in the file (expected kind: %s, or lines %s)",
                  st->file, st->rd->kind, st->rd->kind, st->rd->syntax);
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

int mapfile_parse(const struct mapfile_reader *rd, const char *data, size_t len,
                  const char *file)
{
  struct reading st = {.rd = rd, .file = file};

  if (len > MAPFILE_MAX_FILE)
    return error_set(EFBIG, "%s: larger than %d bytes; is it a %s map?", file,
                     MAPFILE_MAX_FILE, rd->what);
  /* A UTF-8 byte order mark is not part of the first line. */
  if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
    data += 3;
    len -= 3;
  }
  if (looks_like_yaml(data, len))
    return parse_yaml(&st, data, len);
  return parse_text(&st, data, len);
}

int mapfile_load(const struct mapfile_reader *rd, const char *path)
{
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  _cleanup_free_ char *buf = NULL;
  struct stat st;
  size_t len = 0;
  int r;

  if (fd < 0)
    return error_errno("%s", path);
  if (fstat(fd, &st) < 0)
    return error_errno("%s", path);
  if (!S_ISREG(st.st_mode))
    return error_set(EINVAL, "%s: not a regular file", path);
  r = read_fd_whole(fd, path, MAPFILE_MAX_FILE, &buf, &len);
  if (r < 0)
    return r;
  return mapfile_parse(rd, buf, len, path);
}

int mapfile_read(const struct mapfile_reader *rd, const char *data, size_t len,
                 const char *file)
{
  return data ? mapfile_parse(rd, data, len, file) : mapfile_load(rd, file);
}
