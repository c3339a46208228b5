/* Reading the oVirt engine's JSON.
 *
 * The engine writes every scalar as a string ("memory": "1073741824",
 * "bootable": "true"), which the lenient readers of util/json_path.h
 * accept, and wraps lists in an object named after their items
 * ("nics": {"nic": [ … ]}), which is this module's one addition.
 */
#ifndef HOIST_SOURCES_OVIRT_OVIRT_JSON_H
#define HOIST_SOURCES_OVIRT_OVIRT_JSON_H

#include <jansson.h>

#include "util/json_path.h"

/* The items of the list at path ("nics" with item "nic"): an array, or
 * NULL when there is none (an empty list, or not followed). A path of
 * NULL or "" is obj itself ({"vm": [ … ]}). */
json_t *ovj_list(json_t *obj, const char *path, const char *item);

#endif
