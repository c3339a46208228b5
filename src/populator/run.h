/* A whole populator run, from the parsed command line to the exit
 * status (0 populated, 1 failed); the termination message is written in
 * both cases. */
#ifndef HOIST_POPULATOR_RUN_H
#define HOIST_POPULATOR_RUN_H

#include "populator/populator.h"

int pop_run(const struct pop_args *a);

#endif
