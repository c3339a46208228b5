/* hoist: move virtual machines into KubeVirt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/cleanup.h"
#include "util/error.h"

#ifndef HOIST_VERSION
#define HOIST_VERSION "unknown"
#endif

const char *cli_program = "hoist";

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} commands[] = {
    {"copy", cmd_copy, "copy a virtual disk into a raw file or block device"},
    {"inspect", cmd_inspect,
     "show a disk's format, size and data map, or an "
     "OVA's VMs"},
    {"migrate", cmd_migrate, "migrate VMs into KubeVirt"},
    {"inventory", cmd_inventory,
     "list the VMs, networks, storage or hosts of an oVirt engine"},
};

static void usage(FILE *f)
{
  size_t i;

  fprintf(f, "Usage: hoist COMMAND [OPTIONS…]\n\n"
             "Moves virtual machines into KubeVirt.\n\nCommands:\n");
  for (i = 0; i < ARRAY_SIZE(commands); i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\nRun 'hoist COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
  size_t i;

  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (streq(argv[1], "--help") || streq(argv[1], "-h") ||
      streq(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (streq(argv[1], "--version")) {
    printf("hoist %s\n", HOIST_VERSION);
    return 0;
  }
  for (i = 0; i < ARRAY_SIZE(commands); i++)
    if (streq(argv[1], commands[i].name))
      return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr,
          "hoist: unknown command \"%s\"; run 'hoist --help' for "
          "the list\n",
          argv[1]);
  return 2;
}
