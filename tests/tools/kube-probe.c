/* Test-only driver of the Kubernetes client library (src/kube). Prints
 * one JSON object a line; a failure is {"error": …, "code": HTTP status,
 * "reason": …, "errno": …} and exit status 1.
 *
 *   kube-probe [OPTIONS] COMMAND ARGS…
 *
 * Options: --kubeconfig FILE, --context NAME, --in-cluster[=DIR],
 * --namespace NS, --qps Q, --burst B, --max-retries N.
 *
 * Commands (RES is pods, configmaps, secrets, events, leases, pvcs,
 * pvs, namespaces, nodes, or GROUP/VERSION/PLURAL of a namespaced custom
 * resource):
 *   config                      the config chosen (no secrets)
 *   get RES NAME                the object
 *   create RES | update RES     the object from stdin (JSON)
 *   patch RES NAME merge|json|strategic PATCH
 *   delete RES NAME [PROPAGATION [UID [RV]]]
 *   list RES [LIMIT [SELECTOR [RV]]]  names, resourceVersion, requests
 *   watch RES RV MAX TIMEOUT    events until MAX of them or the end
 *   informer RES SECONDS [WATCH-TIMEOUT [SELECTOR]]
 *                               callbacks as they come, then the cache
 *   increment NAME KEY N        N conflict-retried increments of data.KEY
 *                               of ConfigMap NAME
 *   requests N [THREADS]        N GETs of the namespace, timed
 *   poll RES NAME COUNT INTERVAL  COUNT gets, INTERVAL seconds apart: ok
 *                               or the error, one line each
 *   lease NAME IDENTITY DURATION DEADLINE RETRY SECONDS
 *                               campaigns; prints lead start/tick/stop
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "kube/leader.h"
#include "kube/watch.h"
#include "util/cleanup.h"
#include "util/error.h"

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static double wall(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double mono(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Prints obj (stolen) as one line. */
static void emit(json_t *obj)
{
  char *s = json_dumps(obj, JSON_COMPACT);

  pthread_mutex_lock(&out_lock);
  if (s)
    printf("%s\n", s);
  fflush(stdout);
  pthread_mutex_unlock(&out_lock);
  free(s);
  json_decref(obj);
}

static int fail(int r)
{
  emit(json_pack("{s:s, s:I, s:s, s:i}", "error",
                 error_message() ? error_message() : "unknown error", "code",
                 (json_int_t)kube_last_code(), "reason", kube_last_reason(),
                 "errno", -r));
  return 1;
}

static const struct kube_resource *resource(const char *name)
{
  static const struct {
    const char *name;
    const struct kube_resource *res;
  } map[] = {
      {"pods", &kube_pods},       {"configmaps", &kube_configmaps},
      {"secrets", &kube_secrets}, {"events", &kube_events},
      {"leases", &kube_leases},   {"pvcs", &kube_pvcs},
      {"pvs", &kube_pvs},         {"namespaces", &kube_namespaces},
      {"nodes", &kube_nodes},
  };

  static struct kube_resource custom;
  char *a, *b;

  for (size_t i = 0; i < ARRAY_SIZE(map); i++)
    if (streq(map[i].name, name))
      return map[i].res;
  a = strchr(name, '/');
  b = a ? strchr(a + 1, '/') : NULL;
  if (b) {
    custom.group = strndup(name, a - name);
    custom.version = strndup(a + 1, b - a - 1);
    custom.plural = b + 1;
    custom.namespaced = true;
    return &custom;
  }
  fprintf(stderr, "kube-probe: unknown resource %s\n", name);
  exit(2);
}

static json_t *read_stdin(void)
{
  json_error_t jerr;
  json_t *obj = json_loadf(stdin, 0, &jerr);

  if (!obj) {
    fprintf(stderr, "kube-probe: stdin: %s\n", jerr.text);
    exit(2);
  }
  return obj;
}

static void counters(struct kube_client *c, json_t *out)
{
  struct kube_counters k;

  kube_client_counters(c, &k);
  json_object_set_new(
      out, "requests",
      json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "get",
                (json_int_t)k.get, "list", (json_int_t)k.list, "watch",
                (json_int_t)k.watch, "create", (json_int_t)k.create, "update",
                (json_int_t)k.update, "patch", (json_int_t)k.patch, "delete",
                (json_int_t)k.delete_, "reads", (json_int_t)k.reads, "writes",
                (json_int_t)k.writes, "retries", (json_int_t)k.retries));
}

/* ---- watch ---- */

struct watch_state {
  long max, seen;
};

static int on_watch_event(const struct kube_event *ev, void *opaque)
{
  struct watch_state *w = opaque;

  emit(json_pack("{s:s, s:s?, s:s?}", "type", kube_event_type_name(ev->type),
                 "name", kube_obj_name(ev->object), "rv",
                 kube_obj_resource_version(ev->object)));
  return ++w->seen >= w->max ? 1 : 0;
}

static int cmd_watch(struct kube_client *c, const struct kube_resource *res,
                     const char *ns, char **argv)
{
  struct watch_state w = {.max = atol(argv[1])};
  struct kube_watch_options wo = {.resource_version = *argv[0] ? argv[0] : NULL,
                                  .timeout_seconds = atol(argv[2])};
  double t0 = mono();
  int r = kube_watch(c, res, ns, &wo, on_watch_event, &w);

  if (r < 0)
    return fail(r);
  emit(json_pack("{s:s, s:I, s:f}", "end", r > 0 ? "max" : "closed", "events",
                 (json_int_t)w.seen, "seconds", mono() - t0));
  return 0;
}

/* ---- informer ---- */

static void inf_add(json_t *obj, void *opaque)
{
  (void)opaque;
  emit(json_pack("{s:s, s:s?, s:s?, s:f}", "event", "add", "name",
                 kube_obj_name(obj), "rv", kube_obj_resource_version(obj), "t",
                 wall()));
}

static void inf_update(json_t *old_obj, json_t *new_obj, void *opaque)
{
  (void)opaque;
  emit(json_pack("{s:s, s:s?, s:s?, s:s?, s:f}", "event", "update", "name",
                 kube_obj_name(new_obj), "old_rv",
                 kube_obj_resource_version(old_obj), "rv",
                 kube_obj_resource_version(new_obj), "t", wall()));
}

static void inf_del(json_t *obj, void *opaque)
{
  (void)opaque;
  emit(json_pack("{s:s, s:s?, s:f}", "event", "delete", "name",
                 kube_obj_name(obj), "t", wall()));
}

static void collect(json_t *obj, void *opaque)
{
  json_t *names = opaque;
  json_t *mf =
      json_object_get(json_object_get(obj, "metadata"), "managedFields");

  json_array_append_new(names, json_string(kube_obj_name(obj)));
  if (mf)
    json_array_append_new(names, json_string("!managedFields"));
}

static int cmd_informer(struct kube_client *c, const struct kube_resource *res,
                        const char *ns, int argc, char **argv)
{
  struct kube_informer_options io = {
      .res = res,
      .ns = ns,
      .watch_timeout = argc > 1 ? atol(argv[1]) : 0,
      .label_selector = argc > 2 ? argv[2] : NULL,
      .page_size = 2,
  };
  struct kube_informer_handlers h = {inf_add, inf_update, inf_del, NULL};
  struct kube_informer_stats st;
  struct kube_informer *inf;
  double end = mono() + atof(argv[0]);
  json_t *names, *out;
  int r;

  r = kube_informer_new(c, &io, &h, &inf);
  if (r < 0 || (r = kube_informer_start(inf)) < 0)
    return fail(r);
  if (!kube_informer_wait_synced(inf, 30)) {
    kube_informer_free(inf);
    return fail(error_set(ETIMEDOUT, "informer did not sync in 30 s"));
  }
  emit(json_pack("{s:b, s:I}", "synced", 1, "size",
                 (json_int_t)kube_informer_size(inf)));
  while (mono() < end)
    usleep(50000);
  kube_informer_stop(inf);
  names = json_array();
  kube_informer_foreach(inf, collect, names);
  kube_informer_stats(inf, &st);
  out = json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:I}}", "cache", names, "stats",
                  "lists", (json_int_t)st.lists, "relists",
                  (json_int_t)st.relists, "watches", (json_int_t)st.watches,
                  "errors", (json_int_t)st.errors, "events",
                  (json_int_t)st.events);
  counters(c, out);
  emit(out);
  kube_informer_free(inf);
  return 0;
}

/* ---- conflicts ---- */

static int increment(json_t *obj, void *opaque)
{
  const char *key = opaque;
  json_t *data = json_object_get(obj, "data");
  const char *v;
  char buf[32];

  if (!json_is_object(data)) {
    data = json_object();
    json_object_set_new(obj, "data", data);
  }
  v = json_string_value(json_object_get(data, key));
  snprintf(buf, sizeof(buf), "%ld", (v ? atol(v) : 0) + 1);
  json_object_set_new(data, key, json_string(buf));
  return 0;
}

static int cmd_increment(struct kube_client *c, const char *ns, char **argv)
{
  long n = atol(argv[2]);
  json_t *out;

  for (long i = 0; i < n; i++) {
    int r = kube_update_retry(c, &kube_configmaps, ns, argv[0], NULL, increment,
                              argv[1], NULL);
    if (r < 0)
      return fail(r);
  }
  out = json_pack("{s:I}", "done", (json_int_t)n);
  counters(c, out);
  emit(out);
  return 0;
}

struct getter {
  struct kube_client *c;
  const char *ns;
  long n;
  int rc;
};

static void *get_loop(void *opaque)
{
  struct getter *g = opaque;

  for (long i = 0; i < g->n && g->rc == 0; i++) {
    json_t *obj = NULL;

    g->rc = kube_get(g->c, &kube_namespaces, NULL, g->ns, &obj);
    json_decref(obj);
  }
  return NULL;
}

/* n GETs spread over `threads` threads sharing the client. */
static int cmd_requests(struct kube_client *c, const char *ns, long n,
                        int threads)
{
  struct getter g[16];
  pthread_t t[16];
  double t0 = mono();
  json_t *out;

  if (threads < 1 || threads > 16)
    threads = 1;
  for (int i = 0; i < threads; i++) {
    g[i] = (struct getter){c, ns, n / threads + (i < n % threads), 0};
    pthread_create(&t[i], NULL, get_loop, &g[i]);
  }
  for (int i = 0; i < threads; i++)
    pthread_join(t[i], NULL);
  for (int i = 0; i < threads; i++)
    if (g[i].rc < 0)
      return fail(g[i].rc);
  out = json_pack("{s:I, s:i, s:f}", "n", (json_int_t)n, "threads", threads,
                  "seconds", mono() - t0);
  counters(c, out);
  emit(out);
  return 0;
}

static int cmd_poll(struct kube_client *c, const char *ns, char **argv)
{
  const struct kube_resource *res = resource(argv[0]);
  long n = atol(argv[2]);

  for (long i = 0; i < n; i++) {
    json_t *obj = NULL, *out;
    int r = kube_get(c, res, ns, argv[1], &obj);

    json_decref(obj);
    if (r < 0) {
      out = json_pack("{s:b, s:s, s:I, s:s, s:f}", "ok", 0, "error",
                      error_message() ? error_message() : "?", "code",
                      (json_int_t)kube_last_code(), "reason",
                      kube_last_reason(), "t", wall());
      error_clear();
    } else {
      out = json_pack("{s:b, s:f}", "ok", 1, "t", wall());
    }
    counters(c, out);
    emit(out);
    usleep((useconds_t)(atof(argv[3]) * 1e6));
  }
  return 0;
}

/* ---- leader election ---- */

static void lead_started(void *opaque)
{
  emit(json_pack("{s:s, s:s, s:f}", "lead", "start", "id", (const char *)opaque,
                 "t", wall()));
}

static void lead_stopped(void *opaque)
{
  emit(json_pack("{s:s, s:s, s:f}", "lead", "stop", "id", (const char *)opaque,
                 "t", wall()));
}

static volatile sig_atomic_t terminated;

static void on_term(int sig)
{
  (void)sig;
  terminated = 1;
}

static int cmd_lease(struct kube_client *c, const char *ns, char **argv)
{
  struct kube_leader_options lo = {
      .ns = ns,
      .name = argv[0],
      .identity = argv[1],
      .lease_duration = atof(argv[2]),
      .renew_deadline = atof(argv[3]),
      .retry_period = atof(argv[4]),
      .started = lead_started,
      .stopped = lead_stopped,
      .opaque = argv[1],
  };
  struct kube_leader *le;
  double end = mono() + atof(argv[5]);
  int r;

  signal(SIGTERM, on_term);
  r = kube_leader_new(c, &lo, &le);
  if (r < 0 || (r = kube_leader_start(le)) < 0)
    return fail(r);
  emit(json_pack("{s:s, s:s, s:f}", "lead", "candidate", "id", argv[1], "t",
                 wall()));
  while (mono() < end && !terminated && !kube_leader_lost(le)) {
    /* What a controller checks before each action. */
    if (kube_leader_is_leader(le))
      emit(json_pack("{s:s, s:s, s:f}", "lead", "tick", "id", argv[1], "t",
                     wall()));
    usleep(100000);
  }
  kube_leader_free(le);
  return 0;
}

int main(int argc, char **argv)
{
  const char *kubeconfig = NULL, *context = NULL, *ns = NULL;
  const char *in_cluster = NULL;
  struct kube_client_options co = {0};
  struct kube_config *cfg = NULL;
  struct kube_client *c = NULL;
  const char *cmd;
  int r, i;

  for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    const char *a = argv[i];

    if (streq(a, "--kubeconfig") && i + 1 < argc)
      kubeconfig = argv[++i];
    else if (streq(a, "--context") && i + 1 < argc)
      context = argv[++i];
    else if (streq(a, "--namespace") && i + 1 < argc)
      ns = argv[++i];
    else if (streq(a, "--qps") && i + 1 < argc)
      co.qps = atof(argv[++i]);
    else if (streq(a, "--burst") && i + 1 < argc)
      co.burst = atoi(argv[++i]);
    else if (streq(a, "--max-retries") && i + 1 < argc)
      co.max_retries = (unsigned)atoi(argv[++i]);
    else if (streq(a, "--in-cluster"))
      in_cluster = KUBE_SA_DIR;
    else if (strncmp(a, "--in-cluster=", 13) == 0)
      in_cluster = a + 13;
    else {
      fprintf(stderr, "kube-probe: unknown option %s\n", a);
      return 2;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "kube-probe: no command\n");
    return 2;
  }
  cmd = argv[i++];
  argc -= i;
  argv += i;
  r = in_cluster ? kube_config_in_cluster(in_cluster, &cfg)
                 : kube_config_load(kubeconfig, context, &cfg);
  if (r < 0)
    return fail(r);
  if (streq(cmd, "config")) {
    emit(json_pack("{s:s, s:s?, s:s?, s:b, s:b, s:b, s:b, s:b}", "server",
                   cfg->server, "namespace", cfg->namespace, "context",
                   cfg->context, "insecure", cfg->insecure, "token",
                   cfg->token != NULL, "token_file", cfg->token_file != NULL,
                   "cert", cfg->cert_file || cfg->cert_data, "ca",
                   cfg->ca_file || cfg->ca_data));
    kube_config_free(cfg);
    return 0;
  }
  r = kube_client_new(cfg, &co, &c);
  kube_config_free(cfg);
  if (r < 0)
    return fail(r);
  if (!ns)
    ns = kube_client_namespace(c);

  if (streq(cmd, "get") && argc == 2) {
    json_t *obj = NULL;

    r = kube_get(c, resource(argv[0]), ns, argv[1], &obj);
    if (r == 0)
      emit(obj);
  } else if ((streq(cmd, "create") || streq(cmd, "update")) && argc == 1) {
    json_t *in = read_stdin(), *obj = NULL;

    r = streq(cmd, "create")
            ? kube_create(c, resource(argv[0]), ns, in, &obj)
            : kube_update(c, resource(argv[0]), ns, NULL, in, &obj);
    json_decref(in);
    if (r == 0)
      emit(obj);
  } else if (streq(cmd, "patch") && argc == 4) {
    enum kube_patch_type t = streq(argv[2], "json") ? KUBE_PATCH_JSON
                             : streq(argv[2], "strategic")
                                 ? KUBE_PATCH_STRATEGIC
                                 : KUBE_PATCH_MERGE;
    json_t *patch = json_loads(argv[3], 0, NULL), *obj = NULL;

    r = kube_patch(c, resource(argv[0]), ns, argv[1], NULL, t, patch, &obj);
    json_decref(patch);
    if (r == 0)
      emit(obj);
  } else if (streq(cmd, "delete") && argc >= 2) {
    struct kube_delete_options d = {
        .propagation = argc > 2 && *argv[2] ? argv[2] : NULL,
        .uid = argc > 3 && *argv[3] ? argv[3] : NULL,
        .resource_version = argc > 4 && *argv[4] ? argv[4] : NULL,
    };
    json_t *obj = NULL;

    r = kube_delete(c, resource(argv[0]), ns, argv[1], &d, &obj);
    if (r == 0)
      emit(json_pack("{s:s, s:s?}", "deleted", argv[1], "kind",
                     json_string_value(json_object_get(obj, "kind"))));
    json_decref(obj);
  } else if (streq(cmd, "list") && argc >= 1) {
    struct kube_list_options lo = {
        .limit = argc > 1 ? atol(argv[1]) : 0,
        .label_selector = argc > 2 && *argv[2] ? argv[2] : NULL,
        .resource_version = argc > 3 ? argv[3] : NULL,
    };
    json_t *list = NULL, *names, *item, *out;
    size_t k;

    r = kube_list(c, resource(argv[0]), ns, &lo, &list);
    if (r == 0) {
      names = json_array();
      json_array_foreach(json_object_get(list, "items"), k, item)
          json_array_append_new(names, json_string(kube_obj_name(item)));
      out = json_pack("{s:o, s:s?}", "names", names, "rv",
                      kube_obj_resource_version(list));
      counters(c, out);
      emit(out);
      json_decref(list);
    }
  } else if (streq(cmd, "watch") && argc == 4) {
    r = cmd_watch(c, resource(argv[0]), ns, argv + 1);
    kube_client_free(c);
    return r;
  } else if (streq(cmd, "informer") && argc >= 2) {
    r = cmd_informer(c, resource(argv[0]), ns, argc - 1, argv + 1);
    kube_client_free(c);
    return r;
  } else if (streq(cmd, "increment") && argc == 3) {
    r = cmd_increment(c, ns, argv);
    kube_client_free(c);
    return r;
  } else if (streq(cmd, "requests") && argc >= 1) {
    r = cmd_requests(c, ns, atol(argv[0]), argc > 1 ? atoi(argv[1]) : 1);
    kube_client_free(c);
    return r;
  } else if (streq(cmd, "poll") && argc == 4) {
    r = cmd_poll(c, ns, argv);
    kube_client_free(c);
    return r;
  } else if (streq(cmd, "lease") && argc == 6) {
    r = cmd_lease(c, ns, argv);
    kube_client_free(c);
    return r;
  } else {
    fprintf(stderr, "kube-probe: bad command or arguments: %s\n", cmd);
    kube_client_free(c);
    return 2;
  }
  kube_client_free(c);
  return r < 0 ? fail(r) : 0;
}
