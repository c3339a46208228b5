#include "kubevirt/yaml.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"
#include "util/utf8.h"

enum ykind { Y_MAP, Y_SEQ, Y_STR, Y_RAW };

struct ynode {
  enum ykind kind;
  struct ydoc *doc;
  char *key;  /* as a map entry: its key */
  char *text; /* Y_STR: the string; Y_RAW: written as is (numbers) */
  struct ynode *first, *last, *next;
};

struct ydoc {
  struct ynode *root;
  bool oom;
};

static void ynode_free(struct ynode *n)
{
  while (n) {
    struct ynode *next = n->next;
    ynode_free(n->first);
    free(n->key);
    free(n->text);
    free(n);
    n = next;
  }
}

struct ydoc *ydoc_new(void)
{
  struct ydoc *doc = calloc(1, sizeof *doc);

  if (!doc)
    return NULL;
  doc->root = calloc(1, sizeof *doc->root);
  if (!doc->root) {
    free(doc);
    return NULL;
  }
  doc->root->kind = Y_MAP;
  doc->root->doc = doc;
  return doc;
}

void ydoc_free(struct ydoc *doc)
{
  if (!doc)
    return;
  ynode_free(doc->root);
  free(doc);
}

struct ynode *ydoc_root(struct ydoc *doc)
{
  return doc ? doc->root : NULL;
}

/* Appends a child of `kind` to parent (a map when key != NULL, else a
 * sequence); takes ownership of text. */
static struct ynode *add_child(struct ynode *parent, const char *key,
                               enum ykind kind, char *text)
{
  struct ynode *n;

  if (!parent) {
    free(text);
    return NULL;
  }
  if ((kind == Y_STR || kind == Y_RAW) && !text)
    goto oom;
  n = calloc(1, sizeof *n);
  if (!n)
    goto oom;
  n->kind = kind;
  n->doc = parent->doc;
  n->text = text;
  if (key && !(n->key = strdup(key))) {
    free(n);
    text = NULL;
    goto oom;
  }
  if (parent->last)
    parent->last->next = n;
  else
    parent->first = n;
  parent->last = n;
  return n;

oom:
  free(text);
  parent->doc->oom = true;
  return NULL;
}

struct ynode *ymap_map(struct ynode *map, const char *key)
{
  return add_child(map, key, Y_MAP, NULL);
}

struct ynode *ymap_seq(struct ynode *map, const char *key)
{
  return add_child(map, key, Y_SEQ, NULL);
}

void ymap_str(struct ynode *map, const char *key, const char *value)
{
  if (map && value)
    add_child(map, key, Y_STR, strdup(value));
}

void ymap_strf(struct ynode *map, const char *key, const char *fmt, ...)
{
  char *s = NULL;
  va_list ap;

  if (!map)
    return;
  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0)
    s = NULL;
  va_end(ap);
  add_child(map, key, Y_STR, s);
}

void ymap_int(struct ynode *map, const char *key, int64_t value)
{
  char *s = NULL;

  if (!map)
    return;
  if (asprintf(&s, "%" PRId64, value) < 0)
    s = NULL;
  add_child(map, key, Y_RAW, s);
}

void ymap_bool(struct ynode *map, const char *key, bool value)
{
  if (map)
    add_child(map, key, Y_RAW, strdup(value ? "true" : "false"));
}

struct ynode *yseq_map(struct ynode *seq)
{
  return add_child(seq, NULL, Y_MAP, NULL);
}

void yseq_str(struct ynode *seq, const char *value)
{
  if (seq && value)
    add_child(seq, NULL, Y_STR, strdup(value));
}

/* Words that YAML 1.1 reads as booleans or null (any case). */
static const char *const reserved_words[] = {
    "null", "true", "false", "yes", "no", "on", "off", "y", "n",
};

static bool plain_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/';
}

/* Characters of ints, floats, hex/octal/binary, dates and times, in any of
 * YAML's schemas. */
static bool numeric_char(char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F') || strchr("xXoO._+-", c);
}

bool yaml_plain_ok(const char *s)
{
  size_t i;
  bool numeric = true;

  if (!*s)
    return false;
  /* Must start with a letter, a digit, '_' or '/': never an indicator
   * ('-', '.', '?', ':', …). */
  if (!plain_char(s[0]) || s[0] == '-' || s[0] == '.')
    return false;
  for (i = 0; s[i]; i++) {
    if (!plain_char(s[i]))
      return false;
    if (!numeric_char(s[i]))
      numeric = false;
  }
  if (s[0] >= '0' && s[0] <= '9' && numeric)
    return false;
  for (i = 0; i < ARRAY_SIZE(reserved_words); i++)
    if (strcasecmp(s, reserved_words[i]) == 0)
      return false;
  return true;
}

void yaml_write_scalar(FILE *f, const char *s)
{
  const unsigned char *p = (const unsigned char *)s;

  if (yaml_plain_ok(s)) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  while (*p) {
    unsigned char c = *p;
    uint32_t cp;
    int n;

    if (c == '"' || c == '\\') {
      fputc('\\', f);
      fputc(c, f);
    } else if (c == '\n') {
      fputs("\\n", f);
    } else if (c == '\t') {
      fputs("\\t", f);
    } else if (c == '\r') {
      fputs("\\r", f);
    } else if (c < 0x20 || c == 0x7f) {
      fprintf(f, "\\x%02x", c);
    } else if (c < 0x80) {
      fputc(c, f);
    } else if ((n = utf8_decode(p, &cp)) == 0) {
      fputs("\\uFFFD", f); /* not UTF-8: replace the byte */
    } else {
      /* C1 controls, NEL, the line/paragraph separators and BOM are line
       * breaks or invisible to YAML readers: escape them. */
      if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff)
        fprintf(f, "\\u%04" PRIX32, cp);
      else
        fwrite(p, 1, n, f);
      p += n;
      continue;
    }
    p++;
  }
  fputc('"', f);
}

static void indent(FILE *f, int n)
{
  fprintf(f, "%*s", n, "");
}

static void write_map(const struct ynode *map, FILE *f, int ind, bool inline_);
static void write_seq(const struct ynode *seq, FILE *f, int ind, bool inline_);

/* Writes a value after "key:" or "- " (the cursor is right after it). */
static void write_value(const struct ynode *n, FILE *f, int ind, bool in_seq)
{
  switch (n->kind) {
  case Y_STR:
    fputc(' ', f);
    yaml_write_scalar(f, n->text);
    fputc('\n', f);
    break;
  case Y_RAW:
    fprintf(f, " %s\n", n->text);
    break;
  case Y_MAP:
    if (!n->first) {
      fputs(" {}\n", f);
    } else if (in_seq) {
      fputc(' ', f);
      write_map(n, f, ind + 2, true);
    } else {
      fputc('\n', f);
      write_map(n, f, ind + 2, false);
    }
    break;
  case Y_SEQ:
    if (!n->first) {
      fputs(" []\n", f);
    } else if (in_seq) {
      fputc(' ', f);
      write_seq(n, f, ind + 2, true);
    } else {
      /* Kubernetes style: the dashes line up with the key. */
      fputc('\n', f);
      write_seq(n, f, ind, false);
    }
    break;
  }
}

static void write_map(const struct ynode *map, FILE *f, int ind, bool inline_)
{
  const struct ynode *n;

  for (n = map->first; n; n = n->next) {
    if (n != map->first || !inline_)
      indent(f, ind);
    yaml_write_scalar(f, n->key);
    fputc(':', f);
    write_value(n, f, ind, false);
  }
}

static void write_seq(const struct ynode *seq, FILE *f, int ind, bool inline_)
{
  const struct ynode *n;

  for (n = seq->first; n; n = n->next) {
    if (n != seq->first || !inline_)
      indent(f, ind);
    fputc('-', f);
    write_value(n, f, ind, true);
  }
}

int ydoc_write(const struct ydoc *doc, FILE *f)
{
  if (!doc || doc->oom)
    return -ENOMEM;
  if (!doc->root->first)
    fputs("{}\n", f);
  else
    write_map(doc->root, f, 0, false);
  return ferror(f) ? -EIO : 0;
}

int ydoc_to_string(const struct ydoc *doc, char **ret)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  int r;

  if (!f)
    return -ENOMEM;
  r = ydoc_write(doc, f);
  if (fclose(f) != 0 && r == 0)
    r = -ENOMEM;
  if (r < 0) {
    free(buf);
    return r;
  }
  *ret = buf;
  return 0;
}
