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
int cmd_inventory(int argc, char **argv);

/* Prints "hoist: <context>: <the recorded error>" once and clears it. */
void cli_report_error(const char *context);

/* Opens a disk named on the command line: a path, ova:PATH#FILE, or an
 * oVirt imageio ticket URL (imageio+https://HOST:PORT/images/TICKET). */
int cli_open_disk(const char *spec, struct disk **ret);

/* How to reach network sources. */
struct cli_source_options {
  const char *cacert; /* --cacert FILE */
  bool insecure;      /* --insecure: warns once on stderr */
};
int cli_open_disk_opts(const char *spec, const struct cli_source_options *o,
                       struct disk **ret);

/* SRC as messages may show it (a ticket in a URL abbreviated); caller
 * frees, NULL when out of memory. */
char *cli_display_spec(const char *spec);

/* "1.5 GiB" */
const char *cli_human_size(uint64_t bytes, char *buf, size_t len);

/* Parses a size or count; returns -1 on bad input. */
int cli_parse_uint(const char *s, unsigned long long max,
                   unsigned long long *ret);

extern const char *cli_program;

#endif
