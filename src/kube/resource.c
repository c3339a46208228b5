/* Resource paths, object keys and times (see resource.h). */
#include "kube/resource.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/error.h"

const struct kube_resource kube_pods = {"", "v1", "pods", true};
const struct kube_resource kube_pvcs = {"", "v1", "persistentvolumeclaims",
                                        true};
const struct kube_resource kube_pvs = {"", "v1", "persistentvolumes", false};
const struct kube_resource kube_configmaps = {"", "v1", "configmaps", true};
const struct kube_resource kube_secrets = {"", "v1", "secrets", true};
const struct kube_resource kube_events = {"", "v1", "events", true};
const struct kube_resource kube_namespaces = {"", "v1", "namespaces", false};
const struct kube_resource kube_nodes = {"", "v1", "nodes", false};
const struct kube_resource kube_serviceaccounts = {"", "v1", "serviceaccounts",
                                                   true};
const struct kube_resource kube_storageclasses = {"storage.k8s.io", "v1",
                                                  "storageclasses", false};
const struct kube_resource kube_leases = {"coordination.k8s.io", "v1", "leases",
                                          true};

/* A path segment must not change the path's meaning. */
static int check_segment(const char *what, const char *s)
{
  if (!*s || streq(s, ".") || streq(s, "..") || strpbrk(s, "/?#%"))
    return error_set(EINVAL, "invalid %s \"%s\" in a Kubernetes API path", what,
                     s);
  return 0;
}

char *kube_path(const struct kube_resource *res, const char *ns,
                const char *name, const char *sub)
{
  bool in_ns = res->namespaced && ns && *ns;
  char *path;
  int n;

  if (check_segment("resource", res->plural) < 0 ||
      (in_ns && check_segment("namespace", ns) < 0) ||
      (name && check_segment("name", name) < 0) ||
      (sub && check_segment("subresource", sub) < 0))
    return NULL;
  n = asprintf(&path, "%s%s/%s%s%s/%s%s%s%s%s",
               res->group && *res->group ? "/apis/" : "/api",
               res->group && *res->group ? res->group : "", res->version,
               in_ns ? "/namespaces/" : "", in_ns ? ns : "", res->plural,
               name ? "/" : "", name ? name : "", sub ? "/" : "",
               sub ? sub : "");
  if (n < 0)
    goto oom;
  return path;
oom:
  error_set(ENOMEM, "out of memory");
  return NULL;
}

static const char *meta_string(const json_t *obj, const char *field)
{
  return json_string_value(
      json_object_get(json_object_get(obj, "metadata"), field));
}

const char *kube_obj_name(const json_t *obj)
{
  return meta_string(obj, "name");
}

const char *kube_obj_namespace(const json_t *obj)
{
  return meta_string(obj, "namespace");
}

const char *kube_obj_uid(const json_t *obj)
{
  return meta_string(obj, "uid");
}

const char *kube_obj_resource_version(const json_t *obj)
{
  return meta_string(obj, "resourceVersion");
}

char *kube_obj_key(const json_t *obj)
{
  const char *name = kube_obj_name(obj), *ns = kube_obj_namespace(obj);
  char *key;

  if (!name)
    return NULL;
  if (ns && *ns) {
    if (asprintf(&key, "%s/%s", ns, name) < 0)
      return NULL;
    return key;
  }
  return strdup(name);
}

int kube_key_split(const char *key, char **ret_ns, char **ret_name)
{
  const char *slash = strchr(key, '/');
  _cleanup_free_ char *ns = NULL;
  char *name;

  if (slash) {
    if (strchr(slash + 1, '/') || slash == key || !slash[1])
      return error_set(EINVAL, "invalid object key \"%s\"", key);
    ns = strndup(key, slash - key);
    if (!ns)
      return error_set(ENOMEM, "out of memory");
    name = strdup(slash + 1);
  } else {
    if (!*key)
      return error_set(EINVAL, "empty object key");
    name = strdup(key);
  }
  if (!name)
    return error_set(ENOMEM, "out of memory");
  *ret_ns = TAKE_PTR(ns);
  *ret_name = name;
  return 0;
}

void kube_time_format(const struct timespec *t, bool micro, char *buf,
                      size_t len)
{
  struct tm tm;
  char base[24];

  gmtime_r(&t->tv_sec, &tm);
  strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
  if (micro)
    snprintf(buf, len, "%s.%06ldZ", base, t->tv_nsec / 1000);
  else
    snprintf(buf, len, "%sZ", base);
}

int kube_time_parse(const char *s, struct timespec *ret)
{
  struct tm tm = {0};
  const char *p;
  long nsec = 0, scale = 100000000;
  int off = 0;

  p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p)
    goto bad;
  if (*p == '.') {
    for (p++; *p >= '0' && *p <= '9'; p++) {
      nsec += (*p - '0') * scale;
      scale /= 10;
    }
  }
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
    int h = (p[1] - '0') * 10 + (p[2] - '0');
    int m = (p[4] - '0') * 10 + (p[5] - '0');

    off = (h * 60 + m) * 60 * (*p == '-' ? -1 : 1);
    p += 6;
  } else {
    goto bad;
  }
  if (*p)
    goto bad;
  ret->tv_sec = timegm(&tm) - off;
  ret->tv_nsec = nsec;
  return 0;
bad:
  return error_set(EINVAL, "invalid RFC 3339 time \"%s\"", s);
}
