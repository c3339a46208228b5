/* Reading the oVirt engine's JSON.
 *
 * The engine writes every scalar as a string ("memory": "1073741824",
 * "bootable": "true"), lists wrapped in an object named after their items
 * ("nics": {"nic": [ … ]}), and leaves out what is not set. These helpers
 * take paths of object keys ("cpu.topology.sockets"), accept the native
 * JSON types as well as strings, and give NULL / the default for anything
 * missing or of the wrong type: outside data never crashes a reader.
 */
#ifndef HOIST_SOURCES_OVIRT_OVIRT_JSON_H
#define HOIST_SOURCES_OVIRT_OVIRT_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The value at a dotted path of object keys, or NULL. */
json_t *ovj_get(json_t *obj, const char *path);

/* A non-empty string at path, or NULL. */
const char *ovj_str(json_t *obj, const char *path);

/* A boolean ("true"/"false" or true/false) at path, else dflt. */
bool ovj_bool(json_t *obj, const char *path, bool dflt);

/* A non-negative integer (decimal string or JSON integer) at path:
 * 0 and *ret set, -ENOENT when missing, -EINVAL when malformed. */
int ovj_u64(json_t *obj, const char *path, uint64_t *ret);

/* As ovj_u64, with dflt for missing or malformed values. */
uint64_t ovj_u64_or(json_t *obj, const char *path, uint64_t dflt);

/* The items of the list at path ("nics" with item "nic"): an array, or
 * NULL when there is none (an empty list, or not followed). A path of
 * NULL or "" is obj itself ({"vm": [ … ]}). */
json_t *ovj_list(json_t *obj, const char *path, const char *item);

/* strdup of ovj_str(), NULL when missing; sets *oom on allocation
 * failure. */
char *ovj_dup(json_t *obj, const char *path, bool *oom);

#endif
