/* What watch.c needs of the client beyond client.h. */
#ifndef HOIST_KUBE_CLIENT_INTERNAL_H
#define HOIST_KUBE_CLIENT_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>

#include "kube/client.h"

enum verb { V_GET, V_LIST, V_WATCH, V_CREATE, V_UPDATE, V_PATCH, V_DELETE };

/* kube_request(), counted as verb v. */
int kube_request_verb(struct kube_client *c, int v, const char *path,
                      const char *query, json_t *body, const char *content_type,
                      json_t **ret_json);

/* Receives the body of a streaming reply as it comes; returning non-zero
 * aborts the transfer. Called only for 2xx replies. */
typedef int (*kube_stream_fn)(const char *buf, size_t len, void *opaque);

/* A GET of path?query whose 2xx body goes to fn (no overall timeout; a
 * connection silent for more than `idle` seconds fails). Returns the HTTP
 * status (a non-2xx body, capped, is parsed into *ret_err when it is
 * JSON), 0 when fn stopped it, or a negative errno; *stop set by another
 * thread ends it with -ECANCELED. Counted as a watch. */
int kube_client_stream(struct kube_client *c, const char *path,
                       const char *query, long idle, kube_stream_fn fn,
                       void *opaque, const atomic_bool *stop, json_t **ret_err);

/* Appends "&name=value" (value escaped) to *query; NULL value: nothing. */
int kube_query_add(char **query, const char *name, const char *value);

#endif
