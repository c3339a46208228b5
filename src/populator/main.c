/* hoist-populator MODE [OPTIONS]: the program of a volume populator pod.
 */
#include <stdio.h>
#include <string.h>

#include "populator/populator.h"
#include "populator/run.h"
#include "util/cleanup.h"

#ifndef HOIST_VERSION
#define HOIST_VERSION "unknown"
#endif

static void usage(FILE *f)
{
  fprintf(f,
          "Usage: hoist-populator MODE [OPTIONS]\n"
          "\n"
          "Populates one volume (a file on a mounted volume, or a block\n"
          "device) from a virtual disk, resumably, serving its progress as\n"
          "Prometheus metrics and writing a JSON summary as the pod's\n"
          "termination message.\n"
          "\n"
          "Modes:\n"
          "  ovirt     an oVirt disk: start an image transfer on the engine\n"
          "            (the flags of Forklift's OvirtVolumePopulator)\n"
          "  imageio   an oVirt imageio ticket URL given directly\n"
          "  openstack a Glance image (the flags of Forklift's\n"
          "            OpenstackVolumePopulator)\n"
          "\n"
          "Run 'hoist-populator MODE --help' for the options of a mode.\n"
          "  -h, --help      this help\n"
          "  --version       the version\n");
}

int main(int argc, char **argv)
{
  struct pop_args args;
  enum pop_mode mode;
  int r;

  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (streq(argv[1], "-h") || streq(argv[1], "--help")) {
    usage(stdout);
    return 0;
  }
  if (streq(argv[1], "--version")) {
    printf("hoist-populator %s\n", HOIST_VERSION);
    return 0;
  }
  if (streq(argv[1], "ovirt")) {
    mode = POP_MODE_OVIRT;
  } else if (streq(argv[1], "imageio")) {
    mode = POP_MODE_IMAGEIO;
  } else if (streq(argv[1], "openstack")) {
    mode = POP_MODE_OPENSTACK;
  } else {
    fprintf(stderr,
            "hoist-populator: unknown mode \"%.40s\"; use ovirt, imageio "
            "or openstack (run 'hoist-populator --help')\n",
            argv[1]);
    return 2;
  }
  r = pop_parse_args(mode, argc - 1, argv + 1, &args);
  if (r == 1)
    return 0;
  if (r != 0)
    return r;
  return pop_run(&args);
}
