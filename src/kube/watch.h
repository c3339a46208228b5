/* Watches: a streaming GET with watch=1 whose reply is a stream of
 * newline-delimited JSON events {"type": …, "object": …}.
 *
 * The stream is split and parsed incrementally (kube_event_parser), with
 * a cap on the size of one event. An ERROR event carrying a Status with
 * code 410, or an HTTP 410 at the start, means the resourceVersion is too
 * old (compacted away): kube_watch() then returns -KUBE_EGONE and the
 * caller lists again (the informer does this).
 */
#ifndef HOIST_KUBE_WATCH_H
#define HOIST_KUBE_WATCH_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube/client.h"

/* Events larger than this end the watch with -EMSGSIZE. */
#define KUBE_EVENT_MAX (16u * 1024 * 1024)

enum kube_event_type {
  KUBE_EVENT_ADDED,
  KUBE_EVENT_MODIFIED,
  KUBE_EVENT_DELETED,
  KUBE_EVENT_BOOKMARK, /* object carries only metadata.resourceVersion */
  KUBE_EVENT_ERROR,    /* object is a Status */
};

struct kube_event {
  enum kube_event_type type;
  json_t *object; /* borrowed: json_incref() to keep it */
};

/* Called for each event; a non-zero return stops the watch, and
 * kube_watch() (or the parser's feed) returns that value. */
typedef int (*kube_event_fn)(const struct kube_event *ev, void *opaque);

const char *kube_event_type_name(enum kube_event_type t);

/* ---- the stream parser, on its own so that it can be fuzzed ---- */

struct kube_event_parser;

/* max: cap on one event (0: KUBE_EVENT_MAX). */
int kube_event_parser_new(size_t max, struct kube_event_parser **ret);
void kube_event_parser_free(struct kube_event_parser *p);

/* Feeds the next len bytes of the stream; calls fn for each complete
 * event. A line that is not an event ({"type": string, "object": object}
 * with a known type) is -EBADMSG; a line over the cap -EMSGSIZE. */
int kube_event_parser_feed(struct kube_event_parser *p, const char *buf,
                           size_t len, kube_event_fn fn, void *opaque);

/* The stream ended: -EBADMSG when a partial event is left over. */
int kube_event_parser_finish(struct kube_event_parser *p);

/* ---- watching ---- */

struct kube_watch_options {
  const char *label_selector;
  const char *field_selector;
  const char *resource_version; /* from a list or the last event */
  long timeout_seconds;         /* server ends the watch after; 0: 300 */
  bool no_bookmarks;            /* bookmarks are asked for unless set */
  const atomic_bool *stop;      /* set by another thread: return 0 soon
                                   (checked at least every second) */
};

/* Watches res in ns (NULL: the client's namespace; "": all) until the
 * server ends the stream (0), *stop is set (0), fn returns non-zero
 * (that value), the resourceVersion is gone (-KUBE_EGONE, also for an
 * ERROR event with code 410; other ERROR events are -EPROTO), or an
 * error. ERROR events that are not 410 are also passed to fn first. */
int kube_watch(struct kube_client *c, const struct kube_resource *res,
               const char *ns, const struct kube_watch_options *opts,
               kube_event_fn fn, void *opaque);

#endif
