/* Reading and building Kubernetes objects (see json.h). */
#include "controller/json.h"

#include <stdarg.h>

static json_t *vget(const json_t *obj, va_list ap)
{
  const char *key;
  json_t *v = (json_t *)obj;

  while ((key = va_arg(ap, const char *))) {
    if (!json_is_object(v))
      return NULL;
    v = json_object_get(v, key);
  }
  return v;
}

json_t *cj_get(const json_t *obj, ...)
{
  va_list ap;
  json_t *v;

  va_start(ap, obj);
  v = vget(obj, ap);
  va_end(ap);
  return v;
}

const char *cj_str(const json_t *obj, ...)
{
  va_list ap;
  json_t *v;

  va_start(ap, obj);
  v = vget(obj, ap);
  va_end(ap);
  return json_string_value(v);
}

json_t *cj_set(json_t *obj, const char *key, json_t *value)
{
  if (!obj || !value || json_object_set_new(obj, key, value) < 0) {
    if (obj && value)
      return NULL; /* json_object_set_new released it */
    json_decref(value);
    return NULL;
  }
  return value;
}

json_t *cj_obj(json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);

  if (json_is_object(v))
    return v;
  return cj_set(obj, key, json_object());
}
