/* Reading OpenStack's JSON: lenient getters that give NULL or a default
 * for anything missing or of the wrong type, so outside data never crashes
 * a reader. Paths are dotted object keys ("token.expires_at"). */
#ifndef HOIST_SOURCES_OPENSTACK_OS_JSON_H
#define HOIST_SOURCES_OPENSTACK_OS_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

json_t *osj_get(json_t *obj, const char *path);
/* A non-empty string, or NULL. */
const char *osj_str(json_t *obj, const char *path);
/* strdup of osj_str() (NULL when missing); sets *oom on failure. */
char *osj_dup(json_t *obj, const char *path, bool *oom);
/* A non-negative integer (JSON integer or decimal string), else dflt. */
uint64_t osj_u64(json_t *obj, const char *path, uint64_t dflt);
/* true/false, "true"/"false"/"True"/"yes", else dflt. */
bool osj_bool(json_t *obj, const char *path, bool dflt);
/* Parses buf as JSON; an error names `what` (e.g. "GET …/servers"). */
int osj_load(const char *buf, size_t len, const char *what, json_t **ret);

#endif
