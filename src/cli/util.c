/* Helpers shared by the commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sources/ova/ova.h"
#include "util/cleanup.h"
#include "util/error.h"

void cli_report_error(const char *context)
{
  const char *msg = error_message();

  if (context)
    fprintf(stderr, "%s: %s: %s\n", cli_program, context, msg ? msg : "failed");
  else
    fprintf(stderr, "%s: %s\n", cli_program, msg ? msg : "failed");
  error_clear();
}

int cli_open_disk(const char *spec, struct disk **ret)
{
  if (strncmp(spec, "ova:", 4) == 0) {
    _cleanup_free_ char *path = strdup(spec + 4);
    char *member;

    if (!path)
      return error_set(ENOMEM, "out of memory");
    member = strrchr(path, '#');
    if (!member || !member[1])
      return error_set(EINVAL,
                       "%s: name the disk inside the OVA as "
                       "ova:PATH#FILE",
                       spec);
    *member++ = 0;
    return ova_open_disk(path, member, ret);
  }
  if (strncmp(spec, "file:", 5) == 0)
    spec += 5;
  return disk_open_path(spec, ret);
}

const char *cli_human_size(uint64_t bytes, char *buf, size_t len)
{
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = bytes;
  size_t u = 0;

  while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(buf, len, "%llu B", (unsigned long long)bytes);
  else
    snprintf(buf, len, "%.1f %s", v, units[u]);
  return buf;
}

int cli_parse_uint(const char *s, unsigned long long max,
                   unsigned long long *ret)
{
  char *end;
  unsigned long long v;

  errno = 0;
  if (!s || !*s || *s == '-')
    return -1;
  v = strtoull(s, &end, 10);
  if (errno || *end || v > max)
    return -1;
  *ret = v;
  return 0;
}
