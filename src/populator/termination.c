/* The termination message (see termination.h). */
#include "populator/termination.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "populator/populator.h"
#include "util/cleanup.h"
#include "util/error.h"

/* Valid UTF-8 for JSON: bytes of a broken sequence become '?'. */
static void make_utf8(char *s)
{
  unsigned char *p = (unsigned char *)s;

  while (*p) {
    unsigned n = *p < 0x80             ? 0
                 : (*p & 0xe0) == 0xc0 ? 1
                 : (*p & 0xf0) == 0xe0 ? 2
                 : (*p & 0xf8) == 0xf0 ? 3
                                       : 4;
    unsigned i;
    bool ok = n < 4;

    for (i = 1; ok && i <= n; i++)
      ok = (p[i] & 0xc0) == 0x80;
    if (!ok) {
      *p++ = '?';
      continue;
    }
    p += n + 1;
  }
}

/* Cuts s to at most len bytes, not inside a UTF-8 sequence. */
static void cut_utf8(char *s, size_t len)
{
  if (strlen(s) <= len)
    return;
  while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
    len--;
  s[len] = 0;
}

static char *format_with(const struct termination_summary *s, const char *msg)
{
  _cleanup_(json_decrefp) json_t *j = json_object();
  char *line, *full = NULL;
  double d = isfinite(s->duration) && s->duration > 0 ? s->duration : 0;

  if (!j)
    return NULL;
  json_object_set_new(j, "result",
                      json_string(s->succeeded ? "succeeded" : "failed"));
  json_object_set_new(j, "bytes_copied", json_integer(s->bytes_copied));
  json_object_set_new(j, "bytes_total", json_integer(s->bytes_total));
  json_object_set_new(j, "bytes_read", json_integer(s->bytes_read));
  json_object_set_new(j, "bytes_resumed", json_integer(s->bytes_resumed));
  json_object_set_new(j, "virtual_size", json_integer(s->virtual_size));
  json_object_set_new(j, "duration_seconds", json_real(round(d * 100) / 100));
  if (s->checksum) {
    char sum[160];
    snprintf(sum, sizeof sum, "sha256:%s", s->checksum);
    json_object_set_new(j, "checksum", json_string(sum));
  }
  if (msg)
    json_object_set_new(j, "message", json_string(msg));
  line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
                           JSON_REAL_PRECISION(10));
  if (line && asprintf(&full, "%s\n", line) < 0)
    full = NULL;
  free(line);
  return full;
}

char *termination_format(const struct termination_summary *s)
{
  _cleanup_free_ char *msg = NULL;
  char *line;

  if (s->message) {
    msg = pop_redact(s->message);
    if (!msg)
      return NULL;
    make_utf8(msg);
  }
  line = format_with(s, msg);
  /* Escapes can grow the message up to six times: shorten until it fits
   * (by a quarter each time, marked with "..."). */
  while (line && strlen(line) >= TERMINATION_MAX && msg && *msg) {
    size_t n = strlen(msg), target = n > 16 ? n * 3 / 4 : 0;

    free(line);
    cut_utf8(msg, target);
    if (target)
      strcat(msg, "...");
    line = format_with(s, msg);
  }
  return line;
}

int termination_write(const char *path, const struct termination_summary *s)
{
  _cleanup_free_ char *line = termination_format(s);
  _cleanup_close_ int fd = -1;
  size_t len, done = 0;

  if (!line)
    return error_set(ENOMEM, "out of memory");
  len = strlen(line);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return error_errno("%s: cannot write the termination message", path);
  while (done < len) {
    ssize_t n = write(fd, line + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return error_errno("%s: cannot write the termination message", path);
    done += (size_t)n;
  }
  return 0;
}
