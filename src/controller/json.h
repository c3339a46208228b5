/* Small helpers to read Kubernetes objects held as jansson values. */
#ifndef HOIST_CONTROLLER_JSON_H
#define HOIST_CONTROLLER_JSON_H

#include <jansson.h>

/* The value at a path of object keys ending with NULL, or NULL where a
 * key is missing or a value on the way is not an object. */
json_t *cj_get(const json_t *obj, ...) __attribute__((sentinel));

/* The string at a path, or NULL if missing or not a string. */
const char *cj_str(const json_t *obj, ...) __attribute__((sentinel));

/* Sets obj[key] = value (stolen) and returns value; NULL (and value
 * released) on failure. */
json_t *cj_set(json_t *obj, const char *key, json_t *value);

/* obj[key], created as an empty object when missing; NULL on failure. */
json_t *cj_obj(json_t *obj, const char *key);

#endif
