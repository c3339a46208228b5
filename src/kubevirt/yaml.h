/* A small YAML emitter (output only).
 *
 * Build a tree of maps, sequences and scalars, then write it in block
 * style with two-space indentation, keys in the order they were added
 * (so the output is stable). Strings are written plain only when no YAML
 * 1.1 or 1.2 reader could take them for anything but that string; all
 * others are double-quoted with escapes ("yes", "on", "null", "0123",
 * "1e3", MAC addresses, ": ", '#', leading special characters, control
 * characters, line breaks). UTF-8 passes through; bytes that are not
 * valid UTF-8 become U+FFFD, so the output is always valid YAML.
 *
 * Memory errors are sticky: every builder function accepts a NULL node
 * (and then does nothing and returns NULL), and ydoc_write() reports
 * -ENOMEM if anything failed along the way. Callers build without checking
 * each step.
 */
#ifndef HOIST_KUBEVIRT_YAML_H
#define HOIST_KUBEVIRT_YAML_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ydoc;
struct ynode;

/* A document whose root is an empty map. */
struct ydoc *ydoc_new(void);
void ydoc_free(struct ydoc *doc);
struct ynode *ydoc_root(struct ydoc *doc);

/* Map entries. A NULL value (str) adds nothing. */
struct ynode *ymap_map(struct ynode *map, const char *key);
struct ynode *ymap_seq(struct ynode *map, const char *key);
void ymap_str(struct ynode *map, const char *key, const char *value);
void ymap_strf(struct ynode *map, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ymap_int(struct ynode *map, const char *key, int64_t value);
void ymap_bool(struct ynode *map, const char *key, bool value);

/* Sequence items. */
struct ynode *yseq_map(struct ynode *seq);
void yseq_str(struct ynode *seq, const char *value);

/* Writes the document to f; 0, or -ENOMEM if building ran out of memory,
 * or -EIO if writing failed. */
int ydoc_write(const struct ydoc *doc, FILE *f);

/* Renders the document into a new string (caller frees). */
int ydoc_to_string(const struct ydoc *doc, char **ret);

/* Writes one scalar string, quoted if it needs to be (exposed for tests
 * and for callers that write YAML by hand). */
void yaml_write_scalar(FILE *f, const char *s);

/* True if s can be written without quotes and still reads back as the
 * same string. */
bool yaml_plain_ok(const char *s);

#endif
