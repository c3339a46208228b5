/* Typed requests: get, list, create, update, patch, delete and the
 * conflict-retry loop (see client.h). */
#include "kube/client.h"
#include "kube/client_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/error.h"

#define CONFLICT_RETRIES 10

static const char *ns_of(struct kube_client *c, const struct kube_resource *res,
                         const char *ns)
{
  if (!res->namespaced)
    return NULL;
  return ns ? ns : kube_client_namespace(c);
}

/* The request, with a non-2xx status made an error and the reply handed
 * over (or dropped when ret is NULL). */
static int call(struct kube_client *c, int verb, const char *method,
                const char *path, const char *query, json_t *body,
                const char *content_type, json_t **ret)
{
  json_t *reply = NULL;
  int r;

  r = kube_request_verb(c, verb, path, query, body, content_type, &reply);
  if (r < 0)
    return r;
  if (r < 200 || r > 299) {
    r = kube_status_error(method, path, r, reply);
    json_decref(reply);
    return r;
  }
  if (ret)
    *ret = reply;
  else
    json_decref(reply);
  return 0;
}

int kube_get(struct kube_client *c, const struct kube_resource *res,
             const char *ns, const char *name, json_t **ret)
{
  _cleanup_free_ char *path = kube_path(res, ns_of(c, res, ns), name, NULL);

  if (!path)
    return -EINVAL;
  return call(c, V_GET, "GET", path, NULL, NULL, NULL, ret);
}

int kube_list_page(struct kube_client *c, const struct kube_resource *res,
                   const char *ns, const struct kube_list_options *opts,
                   const char *cont, json_t **ret)
{
  struct kube_list_options none = {0};
  _cleanup_free_ char *path = NULL, *query = NULL;
  char limit[32];

  if (!opts)
    opts = &none;
  path = kube_path(res, ns_of(c, res, ns), NULL, NULL);
  if (!path)
    return -EINVAL;
  snprintf(limit, sizeof(limit), "%ld", opts->limit > 0 ? opts->limit : 500);
  if (kube_query_add(&query, "limit", limit) < 0 ||
      kube_query_add(&query, "labelSelector", opts->label_selector) < 0 ||
      kube_query_add(&query, "fieldSelector", opts->field_selector) < 0 ||
      kube_query_add(&query, "continue", cont) < 0 ||
      kube_query_add(&query, "resourceVersion",
                     cont ? NULL : opts->resource_version) < 0)
    return -ENOMEM;
  return call(c, V_LIST, "GET", path, query, NULL, NULL, ret);
}

static char *dup_continue(json_t *list)
{
  const char *s = json_string_value(
      json_object_get(json_object_get(list, "metadata"), "continue"));

  return s && *s ? strdup(s) : NULL;
}

int kube_list(struct kube_client *c, const struct kube_resource *res,
              const char *ns, const struct kube_list_options *opts,
              json_t **ret)
{
  json_t *first = NULL, *items;
  _cleanup_free_ char *cont = NULL;
  int r;

  r = kube_list_page(c, res, ns, opts, NULL, &first);
  if (r < 0)
    return r;
  items = json_object_get(first, "items");
  if (!json_is_array(items)) {
    /* "items": null for an empty list. */
    items = json_array();
    if (!items || json_object_set_new(first, "items", items) < 0) {
      json_decref(first);
      return error_set(ENOMEM, "out of memory");
    }
  }
  cont = dup_continue(first);
  while (cont && *cont) {
    json_t *page = NULL, *more;

    r = kube_list_page(c, res, ns, opts, cont, &page);
    if (r < 0) {
      json_decref(first);
      return r;
    }
    more = json_object_get(page, "items");
    free(cont);
    cont = dup_continue(page);
    if (json_is_array(more) && json_array_extend(items, more) < 0) {
      json_decref(page);
      json_decref(first);
      return error_set(ENOMEM, "out of memory");
    }
    json_decref(page);
  }
  json_object_del(json_object_get(first, "metadata"), "continue");
  *ret = first;
  return 0;
}

int kube_create(struct kube_client *c, const struct kube_resource *res,
                const char *ns, json_t *obj, json_t **ret)
{
  _cleanup_free_ char *path = kube_path(res, ns_of(c, res, ns), NULL, NULL);

  if (!path)
    return -EINVAL;
  return call(c, V_CREATE, "POST", path, NULL, obj, NULL, ret);
}

int kube_update(struct kube_client *c, const struct kube_resource *res,
                const char *ns, const char *sub, json_t *obj, json_t **ret)
{
  const char *name = kube_obj_name(obj);
  _cleanup_free_ char *path = NULL;

  if (!name)
    return error_set(EINVAL, "update of %s: the object has no name",
                     res->plural);
  path = kube_path(res, ns_of(c, res, ns), name, sub);
  if (!path)
    return -EINVAL;
  return call(c, V_UPDATE, "PUT", path, NULL, obj, NULL, ret);
}

int kube_patch(struct kube_client *c, const struct kube_resource *res,
               const char *ns, const char *name, const char *sub,
               enum kube_patch_type type, json_t *patch, json_t **ret)
{
  static const char *const types[] = {
      [KUBE_PATCH_MERGE] = "application/merge-patch+json",
      [KUBE_PATCH_JSON] = "application/json-patch+json",
      [KUBE_PATCH_STRATEGIC] = "application/strategic-merge-patch+json",
  };
  _cleanup_free_ char *path = NULL;

  if ((unsigned)type >= sizeof(types) / sizeof(types[0]))
    return error_set(EINVAL, "unknown patch type %d", (int)type);
  path = kube_path(res, ns_of(c, res, ns), name, sub);
  if (!path)
    return -EINVAL;
  return call(c, V_PATCH, "PATCH", path, NULL, patch, types[type], ret);
}

int kube_delete(struct kube_client *c, const struct kube_resource *res,
                const char *ns, const char *name,
                const struct kube_delete_options *opts, json_t **ret)
{
  _cleanup_free_ char *path = kube_path(res, ns_of(c, res, ns), name, NULL);
  json_auto_t *body = NULL;

  if (!path)
    return -EINVAL;
  if (opts) {
    body = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
    if (!body)
      return error_set(ENOMEM, "out of memory");
    if (opts->propagation)
      json_object_set_new(body, "propagationPolicy",
                          json_string(opts->propagation));
    if (opts->set_grace)
      json_object_set_new(body, "gracePeriodSeconds",
                          json_integer(opts->grace_seconds));
    if (opts->uid || opts->resource_version) {
      json_t *pre = json_object();

      if (opts->uid)
        json_object_set_new(pre, "uid", json_string(opts->uid));
      if (opts->resource_version)
        json_object_set_new(pre, "resourceVersion",
                            json_string(opts->resource_version));
      json_object_set_new(body, "preconditions", pre);
    }
  }
  return call(c, V_DELETE, "DELETE", path, NULL, body, NULL, ret);
}

static void jitter_sleep(unsigned attempt)
{
  /* client-go's DefaultRetry: 10 ms, x1, jitter 0.1; grown a little so
   * that two busy writers spread out. */
  double s = 0.01 * (1 + attempt) * (1 + (rand() % 100) / 100.0);
  struct timespec ts = {0, (long)(s * 1e9)};

  nanosleep(&ts, NULL);
}

int kube_update_retry(struct kube_client *c, const struct kube_resource *res,
                      const char *ns, const char *name, const char *sub,
                      kube_mutate_fn mutate, void *opaque, json_t **ret)
{
  int r = 0;

  for (unsigned attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
    json_t *obj = NULL, *written = NULL;

    if (attempt)
      jitter_sleep(attempt);
    r = kube_get(c, res, ns, name, &obj);
    if (r < 0)
      return r;
    r = mutate(obj, opaque);
    if (r != 0) {
      if (r > 0 && ret)
        *ret = obj;
      else
        json_decref(obj);
      return r > 0 ? 0 : r;
    }
    r = kube_update(c, res, ns, sub, obj, &written);
    json_decref(obj);
    if (r == 0) {
      if (ret)
        *ret = written;
      else
        json_decref(written);
      return 0;
    }
    if (r != -KUBE_ECONFLICT)
      return r;
    error_clear(); /* a conflict is expected here: read again */
  }
  return error_set(KUBE_ECONFLICT,
                   "update of %s %s: still conflicting after %d attempts",
                   res->plural, name, CONFLICT_RETRIES);
}
