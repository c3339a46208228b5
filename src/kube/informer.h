/* An informer: a cache of the objects of one resource kept current by
 * list + watch on a thread of its own (client-go's shared informer, for
 * one consumer).
 *
 * It lists (paged), then watches from the list's resourceVersion with
 * bookmarks. When the watch ends it watches again from the last version
 * seen; on 410 Gone it lists again and compares: objects missing from the
 * new list get a delete callback (deletes missed while disconnected are
 * not lost), changed ones an update. Errors are retried with backoff
 * (0.5 s doubling to 30 s).
 *
 * The cache maps "namespace/name" to the object (json_t, refcounted).
 * Objects handed out are shared and must be treated as read-only; they
 * are stored without metadata.managedFields (which is most of an object's
 * size) unless asked otherwise.
 *
 * Callbacks run on the informer's thread, in order, without the cache
 * lock held (they may call kube_informer_get()); they should be quick
 * (enqueue a key). For an update, old and new are both valid during the
 * call.
 */
#ifndef HOIST_KUBE_INFORMER_H
#define HOIST_KUBE_INFORMER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube/client.h"

struct kube_informer_handlers {
  void (*add)(json_t *obj, void *opaque);
  void (*update)(json_t *old_obj, json_t *new_obj, void *opaque);
  void (*del)(json_t *obj, void *opaque); /* the last state known */
  void *opaque;
};

struct kube_informer_options {
  const struct kube_resource *res;
  const char *ns; /* NULL or "": all namespaces */
  const char *label_selector;
  const char *field_selector;
  long page_size;        /* 0: 500 */
  double resync_seconds; /* > 0: an update(obj, obj) for every cached
                            object this often */
  long watch_timeout;    /* seconds of one watch; 0: 300 */
  bool keep_managed_fields;
};

struct kube_informer;

/* The options' strings are copied. */
int kube_informer_new(struct kube_client *c,
                      const struct kube_informer_options *opts,
                      const struct kube_informer_handlers *handlers,
                      struct kube_informer **ret);

/* Starts the thread. */
int kube_informer_start(struct kube_informer *inf);

/* True once the first list is in the cache and its adds were called. */
bool kube_informer_has_synced(struct kube_informer *inf);

/* Waits up to timeout seconds for has_synced. */
bool kube_informer_wait_synced(struct kube_informer *inf, double timeout);

/* The cached object for a key ("ns/name", or "name"), with a new
 * reference (caller json_decref()s), or NULL. */
json_t *kube_informer_get(struct kube_informer *inf, const char *key);

/* Calls fn for each cached object (cache locked: fn must not call back
 * into the informer). Returns the number of objects. */
size_t kube_informer_foreach(struct kube_informer *inf,
                             void (*fn)(json_t *obj, void *opaque),
                             void *opaque);

size_t kube_informer_size(struct kube_informer *inf);

struct kube_informer_stats {
  uint64_t lists;   /* full lists, the first included */
  uint64_t relists; /* lists after 410 Gone */
  uint64_t watches; /* watch requests */
  uint64_t errors;  /* failed lists or watches */
  uint64_t events;  /* watch events, bookmarks included */
};
void kube_informer_stats(struct kube_informer *inf,
                         struct kube_informer_stats *ret);

/* Stops the thread and waits for it (no callback runs after this
 * returns). Safe to call twice. */
void kube_informer_stop(struct kube_informer *inf);

/* Stops, then frees the cache. */
void kube_informer_free(struct kube_informer *inf);

#endif
