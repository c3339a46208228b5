/* The watch event stream: its parser and the watch request (see
 * watch.h). */
#include "kube/watch.h"
#include "kube/client_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/error.h"

struct kube_event_parser {
  char *buf; /* the partial line */
  size_t len, cap, max;
};

static const char *const type_names[] = {
    [KUBE_EVENT_ADDED] = "ADDED",     [KUBE_EVENT_MODIFIED] = "MODIFIED",
    [KUBE_EVENT_DELETED] = "DELETED", [KUBE_EVENT_BOOKMARK] = "BOOKMARK",
    [KUBE_EVENT_ERROR] = "ERROR",
};

const char *kube_event_type_name(enum kube_event_type t)
{
  return (unsigned)t < ARRAY_SIZE(type_names) ? type_names[t] : "?";
}

int kube_event_parser_new(size_t max, struct kube_event_parser **ret)
{
  struct kube_event_parser *p = calloc(1, sizeof(*p));

  if (!p)
    return error_set(ENOMEM, "out of memory");
  p->max = max ? max : KUBE_EVENT_MAX;
  *ret = p;
  return 0;
}

void kube_event_parser_free(struct kube_event_parser *p)
{
  if (!p)
    return;
  free(p->buf);
  free(p);
}

static int dispatch(const char *line, size_t len, kube_event_fn fn,
                    void *opaque)
{
  json_t *ev, *obj;
  json_error_t jerr;
  const char *type;
  struct kube_event e;
  size_t i;
  int r;

  while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
    len--;
  if (!len)
    return 0; /* keep-alive blank line */
  ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!ev)
    return error_set(EBADMSG, "watch: an event is not JSON: %s (column %d)",
                     jerr.text, jerr.column);
  type = json_string_value(json_object_get(ev, "type"));
  obj = json_object_get(ev, "object");
  if (!type || !json_is_object(obj)) {
    json_decref(ev);
    return error_set(EBADMSG, "watch: an event without a type or an object");
  }
  for (i = 0; i < ARRAY_SIZE(type_names); i++)
    if (streq(type, type_names[i]))
      break;
  if (i == ARRAY_SIZE(type_names)) {
    r = error_set(EBADMSG, "watch: unknown event type \"%.32s\"", type);
    json_decref(ev);
    return r;
  }
  e.type = (enum kube_event_type)i;
  e.object = obj;
  r = fn(&e, opaque);
  json_decref(ev);
  return r;
}

static int append(struct kube_event_parser *p, const char *data, size_t n)
{
  if (p->len + n > p->max)
    return error_set(EMSGSIZE, "watch: an event is larger than %zu bytes",
                     p->max);
  if (p->len + n > p->cap) {
    size_t cap = p->cap ? p->cap : 4096;
    char *b;

    while (cap < p->len + n)
      cap *= 2;
    b = realloc(p->buf, cap);
    if (!b)
      return error_set(ENOMEM, "out of memory");
    p->buf = b;
    p->cap = cap;
  }
  memcpy(p->buf + p->len, data, n);
  p->len += n;
  return 0;
}

int kube_event_parser_feed(struct kube_event_parser *p, const char *buf,
                           size_t len, kube_event_fn fn, void *opaque)
{
  while (len) {
    const char *nl = memchr(buf, '\n', len);
    size_t n = nl ? (size_t)(nl - buf) : len;
    int r;

    if (!nl)
      return append(p, buf, n);
    if (p->len == 0) {
      /* A whole line in this buffer: no copy. */
      if (n > p->max)
        return error_set(EMSGSIZE, "watch: an event is larger than %zu bytes",
                         p->max);
      r = dispatch(buf, n, fn, opaque);
    } else {
      r = append(p, buf, n);
      if (r == 0)
        r = dispatch(p->buf, p->len, fn, opaque);
      p->len = 0;
    }
    if (r)
      return r;
    buf += n + 1;
    len -= n + 1;
  }
  /* Free a large buffer once it is no longer needed. */
  if (p->len == 0 && p->cap > 1024 * 1024) {
    free(p->buf);
    p->buf = NULL;
    p->cap = 0;
  }
  return 0;
}

int kube_event_parser_finish(struct kube_event_parser *p)
{
  size_t i;

  for (i = 0; i < p->len; i++)
    if (!strchr(" \t\r", p->buf[i]))
      return error_set(EBADMSG, "watch: the stream ended inside an event");
  p->len = 0;
  return 0;
}

/* ---- the request ---- */

struct watch_ctx {
  struct kube_event_parser *parser;
  kube_event_fn fn;
  void *opaque;
  int rc;
};

static int on_event(const struct kube_event *ev, void *opaque)
{
  struct watch_ctx *w = opaque;
  const char *msg;
  long code;
  int r;

  if (ev->type != KUBE_EVENT_ERROR)
    return w->fn(ev, w->opaque);
  code = (long)json_integer_value(json_object_get(ev->object, "code"));
  msg = json_string_value(json_object_get(ev->object, "message"));
  if (code == 410)
    return error_set(KUBE_EGONE,
                     "watch: the resource version is gone (410): %s; list "
                     "again",
                     msg ? msg : "too old");
  r = w->fn(ev, w->opaque);
  if (r)
    return r;
  return error_set(EPROTO, "watch: ERROR event (%ld): %s", code,
                   msg ? msg : "no message");
}

static int on_data(const char *buf, size_t len, void *opaque)
{
  struct watch_ctx *w = opaque;

  w->rc = kube_event_parser_feed(w->parser, buf, len, on_event, w);
  return w->rc;
}

int kube_watch(struct kube_client *c, const struct kube_resource *res,
               const char *ns, const struct kube_watch_options *opts,
               kube_event_fn fn, void *opaque)
{
  struct kube_watch_options none = {0};
  struct watch_ctx w = {.fn = fn, .opaque = opaque};
  _cleanup_free_ char *path = NULL, *query = NULL;
  json_t *err = NULL;
  char timeout[32];
  long t;
  int r;

  if (!opts)
    opts = &none;
  if (res->namespaced && !ns)
    ns = kube_client_namespace(c);
  path = kube_path(res, res->namespaced ? ns : NULL, NULL, NULL);
  if (!path)
    return -EINVAL;
  t = opts->timeout_seconds > 0 ? opts->timeout_seconds : 300;
  snprintf(timeout, sizeof(timeout), "%ld", t);
  if (kube_query_add(&query, "watch", "1") < 0 ||
      kube_query_add(&query, "resourceVersion", opts->resource_version) < 0 ||
      kube_query_add(&query, "allowWatchBookmarks",
                     opts->no_bookmarks ? NULL : "true") < 0 ||
      kube_query_add(&query, "timeoutSeconds", timeout) < 0 ||
      kube_query_add(&query, "labelSelector", opts->label_selector) < 0 ||
      kube_query_add(&query, "fieldSelector", opts->field_selector) < 0)
    return -ENOMEM;
  r = kube_event_parser_new(0, &w.parser);
  if (r < 0)
    return r;
  r = kube_client_stream(c, path, query, t + 60, on_data, &w, opts->stop, &err);
  if (r == 0) {
    r = w.rc;
  } else if (r == -ECANCELED && opts->stop && atomic_load(opts->stop)) {
    r = 0;
  } else if (r >= 200 && r <= 299) {
    r = kube_event_parser_finish(w.parser);
  } else if (r > 0) {
    r = kube_status_error("GET", path, r, err);
  }
  json_decref(err);
  kube_event_parser_free(w.parser);
  return r;
}
