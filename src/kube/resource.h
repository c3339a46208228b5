/* Kubernetes resources and objects: paths, keys and times.
 *
 * A resource descriptor says where a kind lives in the API (group,
 * version, plural, namespaced); the client needs no discovery. The
 * descriptors of the kinds that hoist uses are defined here; others are
 * declared by the caller the same way.
 */
#ifndef HOIST_KUBE_RESOURCE_H
#define HOIST_KUBE_RESOURCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct kube_resource {
  const char *group;   /* "" for the core group */
  const char *version; /* "v1" */
  const char *plural;  /* "persistentvolumeclaims" */
  bool namespaced;
};

extern const struct kube_resource kube_pods, kube_pvcs, kube_pvs,
    kube_configmaps, kube_secrets, kube_events, kube_namespaces, kube_nodes,
    kube_serviceaccounts, kube_storageclasses, kube_leases;

/* "/api/v1/namespaces/NS/pods/NAME/SUB" (or /apis/GROUP/VERSION/…);
 * ns is ignored for cluster-scoped resources, NULL ns of a namespaced one
 * means all namespaces, NULL name the collection, NULL sub no
 * subresource. Names are checked (no '/', not "." or ".."). Caller
 * frees; NULL with the error set. */
char *kube_path(const struct kube_resource *res, const char *ns,
                const char *name, const char *sub);

/* metadata fields of an object, or NULL; valid while obj is. */
const char *kube_obj_name(const json_t *obj);
const char *kube_obj_namespace(const json_t *obj);
const char *kube_obj_uid(const json_t *obj);
const char *kube_obj_resource_version(const json_t *obj);

/* "namespace/name", or "name" for a cluster-scoped object (as client-go's
 * MetaNamespaceKeyFunc). Caller frees; NULL if obj has no name. */
char *kube_obj_key(const json_t *obj);

/* Splits a key into namespace (NULL for none) and name; caller frees
 * both. */
int kube_key_split(const char *key, char **ret_ns, char **ret_name);

/* RFC 3339 UTC time of t ("2026-11-26T10:00:00Z"), or with microseconds
 * for a MicroTime ("…T10:00:00.123456Z") when micro. buf needs 32 bytes. */
void kube_time_format(const struct timespec *t, bool micro, char *buf,
                      size_t len);

/* Parses an RFC 3339 time (fraction and offset optional). */
int kube_time_parse(const char *s, struct timespec *ret);

#endif
