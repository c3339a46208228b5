/* Reading the oVirt engine's JSON (see ovirt_json.h). */
#include "sources/ovirt/ovirt_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

#define KEY_MAX 64

json_t *ovj_get(json_t *obj, const char *path)
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

const char *ovj_str(json_t *obj, const char *path)
{
  const char *s = json_string_value(ovj_get(obj, path));

  return s && *s ? s : NULL;
}

bool ovj_bool(json_t *obj, const char *path, bool dflt)
{
  json_t *v = ovj_get(obj, path);
  const char *s;

  if (json_is_boolean(v))
    return json_is_true(v);
  s = json_string_value(v);
  if (s && streq(s, "true"))
    return true;
  if (s && streq(s, "false"))
    return false;
  return dflt;
}

int ovj_u64(json_t *obj, const char *path, uint64_t *ret)
{
  json_t *v = ovj_get(obj, path);
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
  if (*s < '0' || *s > '9')
    return -EINVAL;
  errno = 0;
  n = strtoull(s, &end, 10);
  if (errno || *end)
    return -EINVAL;
  *ret = n;
  return 0;
}

uint64_t ovj_u64_or(json_t *obj, const char *path, uint64_t dflt)
{
  uint64_t v;

  return ovj_u64(obj, path, &v) == 0 ? v : dflt;
}

json_t *ovj_list(json_t *obj, const char *path, const char *item)
{
  json_t *l = ovj_get(obj, path);

  if (!json_is_object(l))
    return NULL;
  l = json_object_get(l, item);
  return json_is_array(l) ? l : NULL;
}

char *ovj_dup(json_t *obj, const char *path, bool *oom)
{
  const char *s = ovj_str(obj, path);
  char *d;

  if (!s)
    return NULL;
  d = strdup(s);
  if (!d)
    *oom = true;
  return d;
}
