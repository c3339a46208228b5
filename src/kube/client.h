/* A minimal Kubernetes API client.
 *
 * One client is shared by all the threads of a program. It keeps a few
 * libcurl handles (each keeps its connection alive) and hands them out to
 * concurrent requests; DNS and TLS sessions are shared between them.
 *
 * Every request waits for a token of a client-side token bucket (qps and
 * burst, 5/10 by default as in client-go). A 429 (and a 5xx that
 * carries Retry-After) is retried after the server's Retry-After, for
 * every verb; other 5xx and connection failures are retried with backoff
 * for reads, and for writes only when the request never reached the
 * server. A 401 with a token file reads the file again and retries once.
 * Watches are rate-limited when they start, not while they stream.
 *
 * Calls return 0 (or the HTTP status, for kube_request) or a negative
 * errno with a one-line message (error.h) made from the API's Status
 * object: "PUT …/pvcs/x: Conflict (409): the object has been modified…".
 * The reason of the last failed call of this thread is also given by
 * kube_last_reason(). The mapping of statuses to errno, for callers:
 *
 *   404 NotFound        -ENOENT       409 AlreadyExists  -EEXIST
 *   409 Conflict        -KUBE_ECONFLICT   410 Gone       -KUBE_EGONE
 *   401 Unauthorized    -EACCES       403 Forbidden      -EPERM
 *   400, 422 Invalid    -EINVAL       429, 5xx (retries spent) -EAGAIN
 *   other 4xx           -EPROTO       transport failures  -ECONNREFUSED,
 *                                                         -ETIMEDOUT, -EIO
 *
 * Credentials (the token, the client key) never appear in messages.
 */
#ifndef HOIST_KUBE_CLIENT_H
#define HOIST_KUBE_CLIENT_H

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube/config.h"
#include "kube/resource.h"

#define KUBE_ECONFLICT EBUSY
#define KUBE_EGONE ESTALE

/* Objects larger than this are refused (lists are paged). */
#define KUBE_BODY_MAX (64u * 1024 * 1024)

struct kube_client_options {
  double qps;             /* requests per second; 0: 5; < 0: no limit */
  int burst;              /* bucket size; 0: 10 */
  long timeout;           /* seconds per non-watch request; 0: 60 */
  unsigned max_retries;   /* retries of one request; 0: 5 */
  const char *user_agent; /* NULL: "hoist/VERSION" */
};

struct kube_client;

int kube_client_new(const struct kube_config *cfg,
                    const struct kube_client_options *opts,
                    struct kube_client **ret);
void kube_client_free(struct kube_client *c);

/* The config's namespace, or "default". */
const char *kube_client_namespace(const struct kube_client *c);

/* Requests made so far, counted once per request sent (retries
 * included), by verb. */
struct kube_counters {
  uint64_t get, list, watch, create, update, patch, delete_;
  uint64_t reads;        /* get + list + watch */
  uint64_t writes;       /* create + update + patch + delete */
  uint64_t retries;      /* requests sent again (429, 5xx, connection) */
  uint64_t throttled_ns; /* time spent waiting for the token bucket */
};
void kube_client_counters(struct kube_client *c, struct kube_counters *ret);

/* The HTTP status (0 for none) and the Status reason ("NotFound",
 * "Conflict", …; "" if none) of the last failed call on this thread. */
long kube_last_code(void);
const char *kube_last_reason(void);

/* The core call: method on path ("/api/v1/…") with query (already
 * escaped, without "?"; may be NULL), an optional JSON body sent as
 * content_type (NULL: application/json). Returns the HTTP status (also
 * for 4xx/5xx, without setting an error) and the reply parsed as JSON in
 * *ret_json (NULL if empty or not JSON; ret_json may be NULL), or a
 * negative errno when no reply came. Rate limit and retries apply. */
int kube_request(struct kube_client *c, const char *method, const char *path,
                 const char *query, json_t *body, const char *content_type,
                 json_t **ret_json);

/* As kube_request(), the reply as text (for logs, metrics through the
 * pod proxy), capped at max bytes. A non-2xx status is an error. */
int kube_request_text(struct kube_client *c, const char *method,
                      const char *path, const char *query, size_t max,
                      char **ret_body, size_t *ret_len);

/* The error (kube_last_code/reason, the message, the errno) for a reply
 * whose status the caller does not accept. */
int kube_status_error(const char *method, const char *path, long status,
                      const json_t *reply);

/* ---- typed helpers; ns NULL: the client's namespace for namespaced
 * resources; sub: a subresource ("status") or NULL ---- */

int kube_get(struct kube_client *c, const struct kube_resource *res,
             const char *ns, const char *name, json_t **ret);

struct kube_list_options {
  const char *label_selector;
  const char *field_selector;
  long limit;                   /* page size; 0: 500 */
  const char *resource_version; /* NULL: the latest */
};

/* Lists all pages into one List object: "items" and metadata's
 * resourceVersion (of the first page, as client-go's pager). ns NULL of a
 * namespaced resource lists the client's namespace; "" all namespaces. */
int kube_list(struct kube_client *c, const struct kube_resource *res,
              const char *ns, const struct kube_list_options *opts,
              json_t **ret);

/* One page: cont is the previous page's metadata.continue (NULL for the
 * first). A continue token that expired is -KUBE_EGONE. */
int kube_list_page(struct kube_client *c, const struct kube_resource *res,
                   const char *ns, const struct kube_list_options *opts,
                   const char *cont, json_t **ret);

int kube_create(struct kube_client *c, const struct kube_resource *res,
                const char *ns, json_t *obj, json_t **ret);

/* PUT of obj (its metadata.name; its resourceVersion, if any, makes the
 * update conditional: -KUBE_ECONFLICT when it changed). */
int kube_update(struct kube_client *c, const struct kube_resource *res,
                const char *ns, const char *sub, json_t *obj, json_t **ret);

enum kube_patch_type {
  KUBE_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
  KUBE_PATCH_JSON,      /* application/json-patch+json (RFC 6902) */
  KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
};

int kube_patch(struct kube_client *c, const struct kube_resource *res,
               const char *ns, const char *name, const char *sub,
               enum kube_patch_type type, json_t *patch, json_t **ret);

struct kube_delete_options {
  const char *propagation;      /* "Foreground", "Background", "Orphan" */
  const char *uid;              /* precondition, or NULL */
  const char *resource_version; /* precondition, or NULL */
  long grace_seconds;           /* < 0 or unset (0 with set_grace false) */
  bool set_grace;
};

/* ret (may be NULL) gets the reply: the object (being deleted) or a
 * Status. A missing object is -ENOENT. */
int kube_delete(struct kube_client *c, const struct kube_resource *res,
                const char *ns, const char *name,
                const struct kube_delete_options *opts, json_t **ret);

/* Changes obj in place; returns 0 to write it, 1 when nothing needs to
 * change (no write), or a negative errno to give up. */
typedef int (*kube_mutate_fn)(json_t *obj, void *opaque);

/* get → mutate → update (sub, if set), again from a fresh get on a
 * conflict, up to 10 times with a short jittered backoff (client-go's
 * RetryOnConflict). ret (may be NULL) gets the object as written (or as
 * read when mutate returned 1). */
int kube_update_retry(struct kube_client *c, const struct kube_resource *res,
                      const char *ns, const char *name, const char *sub,
                      kube_mutate_fn mutate, void *opaque, json_t **ret);

#endif
