/* Reading the oVirt engine's JSON (see ovirt_json.h). */
#include "sources/ovirt/ovirt_json.h"

json_t *ovj_list(json_t *obj, const char *path, const char *item)
{
  json_t *l = jp_get(obj, path);

  if (!json_is_object(l))
    return NULL;
  l = json_object_get(l, item);
  return json_is_array(l) ? l : NULL;
}
