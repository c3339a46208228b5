/* hoist migrate */
#include <stdio.h>

#include "cli/cli.h"

int cmd_migrate(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "hoist migrate: not implemented yet\n");
  return 1;
}
