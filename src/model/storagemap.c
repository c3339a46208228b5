/* Storage mapping (see storagemap.h). */
#include "model/storagemap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/mapfile.h"
#include "model/names.h"
#include "util/cleanup.h"
#include "util/error.h"

#define Q(s) names_printable((s), (char[96]){0}, 96)

static const char *const volume_modes[] = {"Filesystem", "Block"};
static const struct {
  const char *name, *abbrev;
} access_modes[] = {
    {"ReadWriteOnce", "RWO"},
    {"ReadWriteMany", "RWX"},
    {"ReadOnlyMany", "ROX"},
};

static void entry_free_fields(struct storagemap_entry *e)
{
  free(e->source_name);
  free(e->source_id);
  free(e->storage_class);
}

void storagemap_free(struct storagemap *map)
{
  size_t i;

  if (!map)
    return;
  for (i = 0; i < map->entries.len; i++)
    entry_free_fields(&map->entries.ptr[i]);
  storagemap_entry_list_reset(&map->entries);
  free(map->file);
  free(map);
}

const struct storagemap_entry *storagemap_lookup(const struct storagemap *map,
                                                 const char *storage)
{
  size_t i;

  if (!map || !storage)
    return NULL;
  for (i = 0; i < map->entries.len; i++)
    if (map->entries.ptr[i].source_name &&
        streq(map->entries.ptr[i].source_name, storage))
      return &map->entries.ptr[i];
  for (i = 0; i < map->entries.len; i++)
    if (map->entries.ptr[i].source_id &&
        streq(map->entries.ptr[i].source_id, storage))
      return &map->entries.ptr[i];
  return NULL;
}

static const char *volume_mode_named(const char *s)
{
  size_t i;

  for (i = 0; i < ARRAY_SIZE(volume_modes); i++)
    if (strcasecmp(s, volume_modes[i]) == 0)
      return volume_modes[i];
  return NULL;
}

static const char *access_mode_named(const char *s)
{
  size_t i;

  for (i = 0; i < ARRAY_SIZE(access_modes); i++)
    if (strcasecmp(s, access_modes[i].name) == 0 ||
        strcasecmp(s, access_modes[i].abbrev) == 0)
      return access_modes[i].name;
  return NULL;
}

/* "CLASS[,MODE][,MODE]" */
static int parse_text_destination(const struct mapfile_entry *me,
                                  struct storagemap_entry *e)
{
  _cleanup_free_ char *copy = strdup(me->text);
  char *word, *save = NULL;
  bool first = true;

  if (!copy)
    return error_set(ENOMEM, "out of memory");
  for (word = strtok_r(copy, ",", &save); word;
       word = strtok_r(NULL, ",", &save)) {
    const char *mode;

    word += strspn(word, " \t");
    word[strcspn(word, " \t")] = 0;
    if (first) {
      e->storage_class = strdup(word);
      if (!e->storage_class)
        return error_set(ENOMEM, "out of memory");
      first = false;
    } else if ((mode = volume_mode_named(word))) {
      e->volume_mode = mode;
    } else if ((mode = access_mode_named(word))) {
      e->access_mode = mode;
    } else {
      return error_set(EINVAL,
                       "%s:%u: unknown mode \"%s\"; use Filesystem or "
                       "Block, and ReadWriteOnce (RWO), ReadWriteMany (RWX) "
                       "or ReadOnlyMany (ROX)",
                       me->file, me->line, Q(word));
    }
  }
  return 0;
}

/* A mode of the YAML form: NULL when not given. */
static int yaml_mode(const struct mapfile_entry *me, const char *key,
                     const char *(*named)(const char *), const char *choices,
                     const char **ret)
{
  yaml_node_t *node = mapfile_get(me, me->destination, key);
  _cleanup_free_ char *mode = NULL;
  int r = mapfile_string(me, node, key, &mode);

  if (r < 0 || !mode)
    return r;
  *ret = named(mode);
  if (!*ret)
    return error_set(EINVAL, "%s:%u: %s \"%s\" is not one of %s", me->file,
                     mapfile_line(me, node), key, Q(mode), choices);
  return 0;
}

/* {storageClass, volumeMode, accessMode} */
static int parse_yaml_destination(const struct mapfile_entry *me,
                                  struct storagemap_entry *e)
{
  int r;

  if ((r = mapfile_string(me, mapfile_get(me, me->destination, "storageClass"),
                          "destination.storageClass", &e->storage_class)) < 0 ||
      (r = yaml_mode(me, "volumeMode", volume_mode_named, "Filesystem, Block",
                     &e->volume_mode)) < 0)
    return r;
  return yaml_mode(me, "accessMode", access_mode_named,
                   "ReadWriteOnce, ReadWriteMany, ReadOnlyMany",
                   &e->access_mode);
}

static int take_entry(void *opaque, const struct mapfile_entry *me)
{
  struct storagemap *map = opaque;
  struct storagemap_entry e = {.line = me->line};
  const struct storagemap_entry *dup;
  int r;

  if ((me->source_name && !(e.source_name = strdup(me->source_name))) ||
      (me->source_id && !(e.source_id = strdup(me->source_id)))) {
    r = error_set(ENOMEM, "out of memory");
    goto fail;
  }
  r = me->text ? parse_text_destination(me, &e)
               : parse_yaml_destination(me, &e);
  if (r < 0)
    goto fail;
  dup = storagemap_lookup(map, e.source_name);
  if (!dup)
    dup = storagemap_lookup(map, e.source_id);
  if (!e.storage_class)
    r = error_set(EINVAL, "%s:%u: no storage class for storage \"%s\"",
                  map->file, e.line,
                  Q(e.source_name ? e.source_name : e.source_id));
  else if (!names_is_dns1123_subdomain(e.storage_class))
    r = error_set(EINVAL,
                  "%s:%u: \"%s\" is not a valid storage class name (lower "
                  "case [a-z0-9-.], at most 253 characters)",
                  map->file, e.line, Q(e.storage_class));
  else if (dup)
    r = error_set(EINVAL, "%s:%u: storage \"%s\" is already mapped on line %u",
                  map->file, e.line,
                  Q(e.source_name ? e.source_name : e.source_id), dup->line);
  else if (storagemap_entry_list_append(&map->entries, e) < 0)
    r = error_set(ENOMEM, "out of memory");
  if (r == 0)
    return 0;
fail:
  entry_free_fields(&e);
  return r;
}

static const struct mapfile_reader storagemap_reader = {
    .kind = "StorageMap",
    .what = "storage",
    .syntax = "SOURCE-STORAGE=STORAGE-CLASS[,Filesystem|Block]"
              "[,ReadWriteOnce|ReadWriteMany|ReadOnlyMany]",
    .entry = take_entry,
};

static int storagemap_read(const char *data, size_t len, const char *file,
                           struct storagemap **ret)
{
  struct mapfile_reader rd = storagemap_reader;
  struct storagemap *map = calloc(1, sizeof *map);
  int r;

  if (!map || !(map->file = strdup(file))) {
    free(map);
    return error_set(ENOMEM, "out of memory");
  }
  rd.opaque = map;
  r = mapfile_read(&rd, data, len, file);
  if (r < 0) {
    storagemap_free(map);
    return r;
  }
  *ret = map;
  return 0;
}

int storagemap_parse(const char *data, size_t len, const char *file,
                     struct storagemap **ret)
{
  return storagemap_read(data ? data : "", len, file, ret);
}

int storagemap_load(const char *path, struct storagemap **ret)
{
  return storagemap_read(NULL, 0, path, ret);
}
