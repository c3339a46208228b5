/* The termination message reader (see termmsg.h). */
#include "controller/termmsg.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "util/cleanup.h"

/* Copies at most n bytes of s into out, control characters as spaces and
 * broken UTF-8 as '?', cut at a character boundary. */
static void copy_clean(char *out, size_t outlen, const char *s, size_t n)
{
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  size_t o = 0;

  while (p < end && *p) {
    unsigned k = *p < 0x80             ? 0
                 : (*p & 0xe0) == 0xc0 ? 1
                 : (*p & 0xf0) == 0xe0 ? 2
                 : (*p & 0xf8) == 0xf0 ? 3
                                       : 4;
    unsigned i;
    bool ok = k < 4 && p + k < end;

    for (i = 1; ok && i <= k; i++)
      ok = (p[i] & 0xc0) == 0x80;
    if (!ok)
      k = 0;
    if (o + k + 1 >= outlen)
      break;
    if (!ok && *p >= 0x80)
      out[o++] = '?';
    else if (k == 0)
      out[o++] = *p < 0x20 || *p == 0x7f ? ' ' : (char)*p;
    else
      for (i = 0; i <= k; i++)
        out[o++] = (char)p[i];
    p += k + 1;
  }
  /* trailing blanks go */
  while (o > 0 && out[o - 1] == ' ')
    o--;
  out[o] = 0;
}

static bool get_u64(json_t *j, const char *key, uint64_t *ret)
{
  json_t *v = json_object_get(j, key);

  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return false;
  *ret = (uint64_t)json_integer_value(v);
  return true;
}

/* The last non-blank line of text. */
static void last_line(const char *text, size_t len, struct termmsg *t)
{
  size_t end = len, start;

  while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' ||
                     text[end - 1] == ' '))
    end--;
  start = end;
  while (start > 0 && text[start - 1] != '\n')
    start--;
  copy_clean(t->message, sizeof t->message, text + start, end - start);
}

void termmsg_parse(const char *text, size_t len, struct termmsg *t)
{
  _cleanup_(json_decrefp) json_t *j = NULL;
  const char *result, *msg;
  json_t *d;

  memset(t, 0, sizeof *t);
  if (!text)
    return;
  len = strnlen(text, MIN(len, (size_t)TERMMSG_MAX));
  j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK,
                 NULL);
  result = json_string_value(json_object_get(j, "result"));
  if (!json_is_object(j) || !result) {
    last_line(text, len, t);
    return;
  }
  t->json = true;
  t->succeeded = streq(result, "succeeded");
  t->have_bytes = get_u64(j, "bytes_copied", &t->bytes_copied) &&
                  get_u64(j, "bytes_total", &t->bytes_total);
  get_u64(j, "virtual_size", &t->virtual_size);
  get_u64(j, "bytes_resumed", &t->bytes_resumed);
  d = json_object_get(j, "duration_seconds");
  if (json_is_number(d) && isfinite(json_number_value(d)) &&
      json_number_value(d) >= 0)
    t->duration = json_number_value(d);
  msg = json_string_value(json_object_get(j, "message"));
  if (msg)
    copy_clean(t->message, sizeof t->message, msg, strlen(msg));
  else if (!t->succeeded)
    copy_clean(t->message, sizeof t->message, result, strlen(result));
}
