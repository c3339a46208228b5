/* Lenient readers of outside JSON (REST replies of oVirt, OpenStack,
 * Kubernetes…): paths of object keys ("cpu.topology.sockets"), native JSON
 * types accepted as well as their string spellings ("1024", "true"), and
 * NULL or a default for anything missing or of the wrong type, so that
 * outside data never crashes a reader. */
#ifndef HOIST_UTIL_JSON_PATH_H
#define HOIST_UTIL_JSON_PATH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value at a dotted path of object keys, or NULL. A path of NULL or
 * "" is obj itself. */
json_t *jp_get(json_t *obj, const char *path);

/* A non-empty string at path, or NULL. */
const char *jp_str(json_t *obj, const char *path);

/* strdup of jp_str(), NULL when missing; sets *oom on allocation
 * failure. */
char *jp_dup(json_t *obj, const char *path, bool *oom);

/* true/false, or a string "true"/"false"/"yes"/"no"/"1"/"0" (any case),
 * else dflt. */
bool jp_bool(json_t *obj, const char *path, bool dflt);

/* A non-negative integer (JSON integer or decimal string) at path: 0 and
 * *ret set, -ENOENT when missing or null, -EINVAL when malformed. */
int jp_u64(json_t *obj, const char *path, uint64_t *ret);

/* As jp_u64, with dflt for missing or malformed values. */
uint64_t jp_u64_or(json_t *obj, const char *path, uint64_t dflt);

/* Parses buf as JSON (duplicate keys refused); the error names `what`
 * (e.g. "GET …/servers"). */
int jp_load(const char *buf, size_t len, const char *what, json_t **ret);

#endif
