/* Lenient readers of outside JSON (see json_path.h). */
#include "util/json_path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"
#include "util/error.h"

/* Longer keys are not in any API hoist reads; refusing them keeps the
 * lookup on the stack. */
#define KEY_MAX 128

json_t *jp_get(json_t *obj, const char *path)
{
  const char *p = path;

  if (!path || !*path)
    return obj;
  while (obj && *p) {
    size_t n = strcspn(p, ".");
    char key[KEY_MAX];

    if (!json_is_object(obj) || n == 0 || n >= sizeof key)
      return NULL;
    memcpy(key, p, n);
    key[n] = 0;
    obj = json_object_get(obj, key);
    p += n;
    if (*p == '.')
      p++;
  }
  return obj;
}

const char *jp_str(json_t *obj, const char *path)
{
  const char *s = json_string_value(jp_get(obj, path));

  return s && *s ? s : NULL;
}

char *jp_dup(json_t *obj, const char *path, bool *oom)
{
  const char *s = jp_str(obj, path);
  char *d;

  if (!s)
    return NULL;
  d = strdup(s);
  if (!d)
    *oom = true;
  return d;
}

bool jp_bool(json_t *obj, const char *path, bool dflt)
{
  json_t *v = jp_get(obj, path);
  const char *s;

  if (json_is_boolean(v))
    return json_is_true(v);
  s = json_string_value(v);
  if (!s)
    return dflt;
  if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || streq(s, "1"))
    return true;
  if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || streq(s, "0"))
    return false;
  return dflt;
}

int jp_u64(json_t *obj, const char *path, uint64_t *ret)
{
  json_t *v = jp_get(obj, path);
  const char *s;
  char *end;
  unsigned long long n;

  if (!v || json_is_null(v))
    return -ENOENT;
  if (json_is_integer(v)) {
    if (json_integer_value(v) < 0)
      return -EINVAL;
    *ret = (uint64_t)json_integer_value(v);
    return 0;
  }
  s = json_string_value(v);
  if (!s)
    return -EINVAL;
  if (!*s)
    return -ENOENT;
  /* strtoull would take a sign or leading blanks. */
  if (*s < '0' || *s > '9')
    return -EINVAL;
  errno = 0;
  n = strtoull(s, &end, 10);
  if (errno || *end)
    return -EINVAL;
  *ret = n;
  return 0;
}

uint64_t jp_u64_or(json_t *obj, const char *path, uint64_t dflt)
{
  uint64_t v;

  return jp_u64(obj, path, &v) == 0 ? v : dflt;
}

int jp_load(const char *buf, size_t len, const char *what, json_t **ret)
{
  json_error_t jerr;
  json_t *j = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES, &jerr);

  if (!j)
    return error_set(EPROTO, "%s: the reply is not valid JSON: %s (line %d)",
                     what, jerr.text, jerr.line);
  *ret = j;
  return 0;
}
