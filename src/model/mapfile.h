/* Map files: the reader shared by network and storage maps.
 *
 * A map file is either Forklift manifests (YAML, apiVersion
 * forklift.konveyor.io/v1beta1, of one kind — NetworkMap, StorageMap —
 * with spec.map[] of {source: {name | id}, destination: {…}}; several
 * documents may be given, documents of other kinds are skipped) or a
 * simple text form, one mapping a line, "SOURCE=DESTINATION", with '#'
 * comments. The source is everything before the last '='; blanks around
 * it are dropped. A file whose first line that is not blank or a comment
 * starts with "apiVersion:", "kind:", "---" or "%" is YAML.
 *
 * Map files are untrusted: at most MAPFILE_MAX_FILE bytes,
 * MAPFILE_MAX_ENTRIES entries, lines and strings of MAPFILE_MAX_LINE bytes
 * and (YAML) MAPFILE_MAX_DEPTH levels of nesting; every error is one line
 * naming the file and line.
 */
#ifndef HOIST_MODEL_MAPFILE_H
#define HOIST_MODEL_MAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#define MAPFILE_MAX_FILE (1024 * 1024)
#define MAPFILE_MAX_ENTRIES 4096
#define MAPFILE_MAX_LINE 4096
#define MAPFILE_MAX_DEPTH 32

/* One mapping as read, handed to the reader's callback. */
struct mapfile_entry {
  const char *file;
  unsigned line;
  const char *source_name; /* either may be NULL, not both */
  const char *source_id;
  /* Text form: the destination after '=', trimmed (may be ""). */
  const char *text;
  /* YAML form: the destination mapping node of doc. */
  yaml_document_t *doc;
  yaml_node_t *destination;
};

struct mapfile_reader {
  const char *kind;   /* "NetworkMap" */
  const char *what;   /* what a source is, for messages: "network" */
  const char *syntax; /* the text form, for messages: "NET=pod|…" */
  /* Takes one entry; a negative errno stops the reading. */
  int (*entry)(void *opaque, const struct mapfile_entry *e);
  void *opaque;
};

/* Reads a map from memory; file names it in messages. */
int mapfile_parse(const struct mapfile_reader *rd, const char *data, size_t len,
                  const char *file);
/* Reads a map file. */
int mapfile_load(const struct mapfile_reader *rd, const char *path);
/* mapfile_parse() of data, or mapfile_load() of file when data is NULL. */
int mapfile_read(const struct mapfile_reader *rd, const char *data, size_t len,
                 const char *file);

/* For entry callbacks of the YAML form: the value node of key in a
 * mapping node, or NULL. */
yaml_node_t *mapfile_get(const struct mapfile_entry *e, yaml_node_t *map,
                         const char *key);
/* The string of a scalar node: 0 with *ret NULL when node is NULL or an
 * empty scalar; an error naming `what` when it is not a string. */
int mapfile_string(const struct mapfile_entry *e, yaml_node_t *node,
                   const char *what, char **ret);
/* The line of a node (of the entry when node is NULL). */
unsigned mapfile_line(const struct mapfile_entry *e, const yaml_node_t *node);

#endif
