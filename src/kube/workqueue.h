/* A rate-limited work queue of string keys (client-go's workqueue).
 *
 * A key is queued once however often it is added while waiting; a key
 * being processed is never handed to a second worker: added again
 * meanwhile, it is marked dirty and queued when kube_workqueue_done() is
 * called. add_rate_limited() delays a key per its number of failures
 * (base doubling to max, 5 ms to 1000 s by default); forget() resets
 * that count after a success. Shutdown wakes every waiting worker.
 *
 * Thread-safe; keys are copied.
 */
#ifndef HOIST_KUBE_WORKQUEUE_H
#define HOIST_KUBE_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct kube_workqueue;

/* base_delay, max_delay in seconds; 0: 0.005 and 1000. */
int kube_workqueue_new(double base_delay, double max_delay,
                       struct kube_workqueue **ret);

/* Shuts down and frees; no worker may be waiting in get(). */
void kube_workqueue_free(struct kube_workqueue *q);

/* Queues key (no-op after shutdown). */
int kube_workqueue_add(struct kube_workqueue *q, const char *key);

/* Queues key after delay seconds (at once when <= 0); a later request for
 * the same key that is due sooner wins. */
int kube_workqueue_add_after(struct kube_workqueue *q, const char *key,
                             double delay);

/* add_after with the key's backoff, and counts a failure. */
int kube_workqueue_add_rate_limited(struct kube_workqueue *q, const char *key);

/* Resets key's failure count. */
void kube_workqueue_forget(struct kube_workqueue *q, const char *key);

/* The key's failure count since the last forget(). */
unsigned kube_workqueue_requeues(struct kube_workqueue *q, const char *key);

/* Waits for a key; *ret_key is the queue's copy, valid until done() for
 * it (do not free). Returns 0, or -ESHUTDOWN once shut down (keys still
 * queued are dropped). */
int kube_workqueue_get(struct kube_workqueue *q, const char **ret_key);

/* Processing of key finished; queues it again if it was added meanwhile.
 * key is the pointer get() gave. */
void kube_workqueue_done(struct kube_workqueue *q, const char *key);

void kube_workqueue_shutdown(struct kube_workqueue *q);
bool kube_workqueue_shutting_down(struct kube_workqueue *q);

/* Keys queued (not delayed, not processing). */
size_t kube_workqueue_len(struct kube_workqueue *q);

#endif
