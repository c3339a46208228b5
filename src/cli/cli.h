/* The hoist command line: one file per command, shared helpers here. The
 * CLI is the edge: it is the only layer that prints errors and exits. */
#ifndef HOIST_CLI_CLI_H
#define HOIST_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "disk/disk.h"

int cmd_copy(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_inventory_openstack(int argc, char **argv);

/* Shared by the inventory commands (cmd_inventory.c). */
struct vm;
struct vm_list;
typedef struct json_t json_t;
json_t *cli_vm_json(const struct vm *vm);
/* A VM's NICs (the source's model under model_key) and its concerns as
 * JSON arrays, or NULL when out of memory. */
json_t *cli_nics_json(const struct vm *vm, const char *model_key);
json_t *cli_concerns_json(const struct vm *vm);
void cli_print_vms(const struct vm_list *vms);
/* Prints and frees list (NULL: an error message); returns the exit
 * status. */
int cli_print_json(json_t *list);
/* Appends item to list (both freed and NULL returned on failure). */
json_t *cli_json_append(json_t *list, json_t *item);
int cmd_inventory(int argc, char **argv);

/* Prints "hoist: <context>: <the recorded error>" once and clears it. */
void cli_report_error(const char *context);

/* Opens a disk named on the command line: a path, ova:PATH#FILE, an
 * oVirt imageio ticket URL (imageio+https://HOST:PORT/images/TICKET), or
 * a Glance image (glance://IMAGE_ID). */
int cli_open_disk(const char *spec, struct disk **ret);

struct cli_openstack;

/* How to reach network sources. */
struct cli_source_options {
  const char *cacert; /* --cacert FILE */
  bool insecure;      /* --insecure: warns once on stderr */
  /* glance://IMAGE_ID: the --os-* options (NULL: the environment's). */
  struct cli_openstack *openstack;
  unsigned workers; /* parallel connections for network sources; 0: 4 */
};
int cli_open_disk_opts(const char *spec, const struct cli_source_options *o,
                       struct disk **ret);

/* SRC as messages may show it (a ticket in a URL abbreviated); caller
 * frees, NULL when out of memory. */
char *cli_display_spec(const char *spec);

/* Parses a size or count; returns -1 on bad input. */
int cli_parse_uint(const char *s, unsigned long long max,
                   unsigned long long *ret);

extern const char *cli_program;

#endif
