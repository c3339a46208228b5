/* Reading OpenStack's JSON (see os_json.h). */
#include "sources/openstack/os_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"
#include "util/error.h"

#define KEY_MAX 96

json_t *osj_get(json_t *obj, const char *path)
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

const char *osj_str(json_t *obj, const char *path)
{
  const char *s = json_string_value(osj_get(obj, path));

  return s && *s ? s : NULL;
}

char *osj_dup(json_t *obj, const char *path, bool *oom)
{
  const char *s = osj_str(obj, path);
  char *d;

  if (!s)
    return NULL;
  d = strdup(s);
  if (!d)
    *oom = true;
  return d;
}

uint64_t osj_u64(json_t *obj, const char *path, uint64_t dflt)
{
  json_t *v = osj_get(obj, path);
  const char *s;
  char *end;
  unsigned long long u;

  if (json_is_integer(v))
    return json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : dflt;
  if (!json_is_string(v))
    return dflt;
  s = json_string_value(v);
  if (!*s || *s == '-' || *s == '+' || *s == ' ')
    return dflt;
  errno = 0;
  u = strtoull(s, &end, 10);
  return errno || *end ? dflt : u;
}

bool osj_bool(json_t *obj, const char *path, bool dflt)
{
  json_t *v = osj_get(obj, path);
  const char *s;

  if (json_is_boolean(v))
    return json_is_true(v);
  if (!json_is_string(v))
    return dflt;
  s = json_string_value(v);
  if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || streq(s, "1"))
    return true;
  if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || streq(s, "0"))
    return false;
  return dflt;
}

int osj_load(const char *buf, size_t len, const char *what, json_t **ret)
{
  json_error_t jerr;
  json_t *j = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES, &jerr);

  if (!j)
    return error_set(EPROTO, "%s: the reply is not valid JSON: %s (line %d)",
                     what, jerr.text, jerr.line);
  *ret = j;
  return 0;
}
