/* kubeconfig files and the in-cluster service account (see config.h). */
#include "kube/config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include <jansson.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/readfile.h"

#define KUBECONFIG_MAX (4u * 1024 * 1024)
#define KUBECONFIG_MAX_DEPTH 32
#define TOKEN_MAX (64u * 1024)

DEFINE_CLEANUP_FUNC(struct kube_config, kube_config_free)

void kube_config_free(struct kube_config *cfg)
{
  if (!cfg)
    return;
  free(cfg->server);
  free(cfg->context);
  free(cfg->namespace);
  free(cfg->ca_file);
  free(cfg->ca_data);
  if (cfg->token)
    explicit_bzero(cfg->token, strlen(cfg->token));
  free(cfg->token);
  free(cfg->token_file);
  free(cfg->cert_file);
  free(cfg->cert_data);
  if (cfg->key_data)
    explicit_bzero(cfg->key_data, strlen(cfg->key_data));
  free(cfg->key_data);
  free(cfg->key_file);
  free(cfg->origin);
  free(cfg);
}

/* ---- YAML (or JSON) to a jansson tree; every scalar is a string ---- */

static int yaml_fail(const char *origin, const yaml_parser_t *p)
{
  return error_set(EINVAL, "kubeconfig %s:%zu: not valid YAML: %s", origin,
                   p->problem_mark.line + 1,
                   p->problem ? p->problem : "parse error");
}

/* Appends v to the container on top of the stack (under key for a map). */
static int attach(json_t *top, char **key, json_t *v)
{
  int r;

  if (json_is_array(top))
    return json_array_append_new(top, v) < 0 ? -ENOMEM : 0;
  if (!*key) {
    /* A key: only scalars are keys in a kubeconfig. */
    if (!json_is_string(v)) {
      json_decref(v);
      return -EINVAL;
    }
    *key = strdup(json_string_value(v));
    json_decref(v);
    return *key ? 0 : -ENOMEM;
  }
  r = json_object_set_new(top, *key, v);
  free(*key);
  *key = NULL;
  return r < 0 ? -ENOMEM : 0;
}

static int yaml_to_json(const char *buf, size_t len, const char *origin,
                        json_t **ret)
{
  yaml_parser_t parser;
  json_t *stack[KUBECONFIG_MAX_DEPTH + 1];
  char *keys[KUBECONFIG_MAX_DEPTH + 1] = {0};
  int depth = 0, r = 0;
  json_t *root = NULL;
  bool done = false;

  if (!yaml_parser_initialize(&parser))
    return error_set(ENOMEM, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  while (!done && r == 0) {
    yaml_event_t ev;
    json_t *v = NULL;
    size_t line;

    if (!yaml_parser_parse(&parser, &ev)) {
      r = yaml_fail(origin, &parser);
      break;
    }
    line = ev.start_mark.line + 1;
    switch (ev.type) {
    case YAML_SCALAR_EVENT:
      v = json_stringn((const char *)ev.data.scalar.value,
                       ev.data.scalar.length);
      if (!v)
        r = error_set(EINVAL, "kubeconfig %s:%zu: a value is not UTF-8", origin,
                      line);
      break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
      if (depth >= KUBECONFIG_MAX_DEPTH) {
        r = error_set(EINVAL, "kubeconfig %s:%zu: nested too deep", origin,
                      line);
        break;
      }
      stack[depth] =
          ev.type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object();
      keys[depth] = NULL;
      if (!stack[depth])
        r = error_set(ENOMEM, "out of memory");
      else
        depth++;
      break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
      depth--;
      v = stack[depth];
      free(keys[depth]);
      keys[depth] = NULL;
      break;
    case YAML_ALIAS_EVENT:
      r = error_set(EINVAL, "kubeconfig %s:%zu: YAML aliases are not supported",
                    origin, line);
      break;
    case YAML_DOCUMENT_END_EVENT:
      /* One document: the first. */
      done = true;
      break;
    case YAML_STREAM_END_EVENT:
      done = true;
      break;
    default:
      break;
    }
    yaml_event_delete(&ev);
    if (v && r == 0) {
      if (depth == 0) {
        json_decref(root);
        root = v;
      } else {
        int a = attach(stack[depth - 1], &keys[depth - 1], v);

        if (a == -EINVAL)
          r = error_set(EINVAL, "kubeconfig %s:%zu: a key is not a plain value",
                        origin, line);
        else if (a < 0)
          r = error_set(ENOMEM, "out of memory");
      }
    } else if (v) {
      json_decref(v);
    }
  }
  while (depth > 0) {
    depth--;
    json_decref(stack[depth]);
    free(keys[depth]);
  }
  yaml_parser_delete(&parser);
  if (r < 0) {
    json_decref(root);
    return r;
  }
  if (!json_is_object(root)) {
    json_decref(root);
    return error_set(EINVAL,
                     "kubeconfig %s: not a kubeconfig (expected a "
                     "map with clusters, contexts and users)",
                     origin);
  }
  *ret = root;
  return 0;
}

/* ---- fields ---- */

static int b64_value(int ch)
{
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (ch >= 'a' && ch <= 'z')
    return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9')
    return ch - '0' + 52;
  if (ch == '+' || ch == '-')
    return 62;
  if (ch == '/' || ch == '_')
    return 63;
  return -1;
}

/* Standard base64 (white space ignored, padding optional). */
static int b64_decode(const char *s, char **ret)
{
  size_t n = strlen(s), o = 0;
  unsigned acc = 0, bits = 0;
  char *out = malloc(n / 4 * 3 + 4);

  if (!out)
    return -ENOMEM;
  for (; *s; s++) {
    int v;

    if (*s == '=' || *s == '\n' || *s == '\r' || *s == ' ' || *s == '\t')
      continue;
    v = b64_value((unsigned char)*s);
    if (v < 0) {
      free(out);
      return -EINVAL;
    }
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (char)((acc >> bits) & 0xff);
    }
  }
  out[o] = '\0';
  if (strlen(out) != o) { /* PEM never holds NUL */
    free(out);
    return -EINVAL;
  }
  *ret = out;
  return 0;
}

/* The entry named `name` of list `list` ("clusters"), its member `inner`
 * ("cluster"). */
static json_t *find_named(json_t *cfg, const char *list, const char *inner,
                          const char *name)
{
  json_t *arr = json_object_get(cfg, list), *e;
  size_t i;

  json_array_foreach(arr, i, e)
  {
    const char *n = json_string_value(json_object_get(e, "name"));

    if (n && streq(n, name)) {
      json_t *v = json_object_get(e, inner);

      /* An entry without a body is an empty one, owned by the tree. */
      if (!json_is_object(v) &&
          json_object_set_new(e, inner, v = json_object()) < 0)
        return NULL;
      return v;
    }
  }
  return NULL;
}

static const char *field(json_t *obj, const char *name)
{
  return json_string_value(json_object_get(obj, name));
}

/* A file name from the kubeconfig: relative ones are relative to it. */
static int path_field(json_t *obj, const char *name, const char *base_dir,
                      char **ret)
{
  const char *v = field(obj, name);

  if (!v || !*v)
    return 0;
  if (v[0] == '/' || !base_dir) {
    *ret = strdup(v);
  } else if (asprintf(ret, "%s/%s", base_dir, v) < 0) {
    *ret = NULL;
  }
  return *ret ? 0 : error_set(ENOMEM, "out of memory");
}

static int data_field(json_t *obj, const char *name, const char *origin,
                      const char *what, const char *entry, char **ret)
{
  const char *v = field(obj, name);
  int r;

  if (!v || !*v)
    return 0;
  r = b64_decode(v, ret);
  if (r == -ENOMEM)
    return error_set(ENOMEM, "out of memory");
  if (r < 0)
    return error_set(EINVAL,
                     "kubeconfig %s: %s \"%s\": %s is not valid base64 "
                     "(it holds the PEM file, base64-encoded)",
                     origin, what, entry, name);
  return 0;
}

static bool truthy(const char *v)
{
  return v && (streq(v, "true") || streq(v, "True") || streq(v, "TRUE") ||
               streq(v, "yes") || streq(v, "on"));
}

static char *names_of(json_t *cfg, const char *list)
{
  json_t *arr = json_object_get(cfg, list), *e;
  size_t i, len = 0;
  char *out = NULL;
  FILE *f = open_memstream(&out, &len);

  if (!f)
    return NULL;
  json_array_foreach(arr, i, e)
  {
    const char *n = field(e, "name");

    fprintf(f, "%s%s", i ? ", " : "", n ? n : "?");
  }
  if (!json_array_size(arr))
    fputs("none", f);
  fclose(f);
  return out;
}

int kube_config_parse(const char *buf, size_t len, const char *origin,
                      const char *base_dir, const char *context,
                      struct kube_config **ret)
{
  _cleanup_(json_decrefp) json_t *root = NULL;
  _cleanup_(kube_config_freep) struct kube_config *cfg = NULL;
  json_t *ctx, *cluster, *user;
  const char *cluster_name, *user_name, *server, *ns;
  int r;

  if (len > KUBECONFIG_MAX)
    return error_set(EFBIG, "kubeconfig %s: larger than %u bytes", origin,
                     KUBECONFIG_MAX);
  r = yaml_to_json(buf, len, origin, &root);
  if (r < 0)
    return r;
  if (!context || !*context) {
    context = field(root, "current-context");
    if (!context || !*context) {
      _cleanup_free_ char *names = names_of(root, "contexts");

      return error_set(EINVAL,
                       "kubeconfig %s: no current-context; name a context "
                       "(contexts: %s)",
                       origin, names ? names : "?");
    }
  }
  ctx = find_named(root, "contexts", "context", context);
  if (!ctx) {
    _cleanup_free_ char *names = names_of(root, "contexts");

    return error_set(ENOENT,
                     "kubeconfig %s: context \"%s\" not found (contexts: %s)",
                     origin, context, names ? names : "?");
  }
  cluster_name = field(ctx, "cluster");
  user_name = field(ctx, "user");
  if (!cluster_name)
    return error_set(EINVAL, "kubeconfig %s: context \"%s\" names no cluster",
                     origin, context);
  cluster = find_named(root, "clusters", "cluster", cluster_name);
  if (!cluster)
    return error_set(ENOENT,
                     "kubeconfig %s: cluster \"%s\" of context \"%s\" not "
                     "found",
                     origin, cluster_name, context);
  user = user_name ? find_named(root, "users", "user", user_name) : NULL;
  if (user_name && !user)
    return error_set(ENOENT,
                     "kubeconfig %s: user \"%s\" of context \"%s\" not found",
                     origin, user_name, context);
  server = field(cluster, "server");
  if (!server || (strncmp(server, "https://", 8) != 0 &&
                  strncmp(server, "http://", 7) != 0))
    return error_set(EINVAL,
                     "kubeconfig %s: cluster \"%s\": server must be an "
                     "https:// URL (it is %s%s%s)",
                     origin, cluster_name, server ? "\"" : "",
                     server ? server : "missing", server ? "\"" : "");

  cfg = calloc(1, sizeof(*cfg));
  if (!cfg)
    return error_set(ENOMEM, "out of memory");
  cfg->server = strdup(server);
  cfg->context = strdup(context);
  cfg->origin = strdup(origin);
  if (!cfg->server || !cfg->context || !cfg->origin)
    return error_set(ENOMEM, "out of memory");
  while (strlen(cfg->server) > 8 && cfg->server[strlen(cfg->server) - 1] == '/')
    cfg->server[strlen(cfg->server) - 1] = '\0';
  ns = field(ctx, "namespace");
  if (ns && *ns && !(cfg->namespace = strdup(ns)))
    return error_set(ENOMEM, "out of memory");
  cfg->insecure = truthy(field(cluster, "insecure-skip-tls-verify"));
  if ((r = path_field(cluster, "certificate-authority", base_dir,
                      &cfg->ca_file)) < 0 ||
      (r = data_field(cluster, "certificate-authority-data", origin, "cluster",
                      cluster_name, &cfg->ca_data)) < 0)
    return r;
  if (user) {
    const char *token = field(user, "token");

    if (json_object_get(user, "exec") || json_object_get(user, "auth-provider"))
      return error_set(ENOTSUP,
                       "kubeconfig %s: user \"%s\" authenticates through an "
                       "exec or auth-provider plugin, which hoist does not "
                       "run; give it a token, tokenFile or a client "
                       "certificate",
                       origin, user_name);
    if (field(user, "username") || field(user, "password"))
      return error_set(ENOTSUP,
                       "kubeconfig %s: user \"%s\": basic authentication "
                       "(username/password) is not supported; use a token "
                       "or a client certificate",
                       origin, user_name);
    if (token && *token && !(cfg->token = strdup(token)))
      return error_set(ENOMEM, "out of memory");
    if ((r = path_field(user, "tokenFile", base_dir, &cfg->token_file)) < 0 ||
        (r = path_field(user, "client-certificate", base_dir,
                        &cfg->cert_file)) < 0 ||
        (r = path_field(user, "client-key", base_dir, &cfg->key_file)) < 0 ||
        (r = data_field(user, "client-certificate-data", origin, "user",
                        user_name, &cfg->cert_data)) < 0 ||
        (r = data_field(user, "client-key-data", origin, "user", user_name,
                        &cfg->key_data)) < 0)
      return r;
    if ((cfg->cert_file || cfg->cert_data) != (cfg->key_file || cfg->key_data))
      return error_set(EINVAL,
                       "kubeconfig %s: user \"%s\" has a client %s but no "
                       "client %s",
                       origin, user_name,
                       cfg->key_file || cfg->key_data ? "key" : "certificate",
                       cfg->key_file || cfg->key_data ? "certificate" : "key");
  }
  *ret = TAKE_PTR(cfg);
  return 0;
}

int kube_read_token_file(const char *path, char **ret)
{
  _cleanup_free_ char *buf = NULL;
  size_t len, start = 0;
  int r;

  r = read_file_whole(path, TOKEN_MAX, &buf, &len);
  if (r < 0)
    return r;
  while (len > 0 && strchr(" \t\r\n", buf[len - 1]))
    buf[--len] = '\0';
  while (start < len && strchr(" \t\r\n", buf[start]))
    start++;
  if (start == len)
    return error_set(EINVAL, "token file %s is empty", path);
  if (strpbrk(buf + start, "\r\n"))
    return error_set(EINVAL, "token file %s holds more than one line", path);
  if (start)
    memmove(buf, buf + start, len - start + 1);
  *ret = TAKE_PTR(buf);
  return 0;
}

int kube_config_load_file(const char *path, const char *context,
                          struct kube_config **ret)
{
  _cleanup_free_ char *buf = NULL, *copy = NULL;
  size_t len;
  int r;

  r = read_file_whole(path, KUBECONFIG_MAX, &buf, &len);
  if (r < 0) {
    error_prefix("kubeconfig");
    return r;
  }
  copy = strdup(path);
  if (!copy)
    return error_set(ENOMEM, "out of memory");
  return kube_config_parse(buf, len, path, dirname(copy), context, ret);
}

int kube_config_in_cluster(const char *dir, struct kube_config **ret)
{
  _cleanup_(kube_config_freep) struct kube_config *cfg = NULL;
  _cleanup_free_ char *ns = NULL, *token = NULL;
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  const char *port = getenv("KUBERNETES_SERVICE_PORT");
  size_t len;
  int r;

  if (!dir)
    dir = KUBE_SA_DIR;
  if (!host || !*host || !port || !*port)
    return error_set(ENOENT, "not in a pod: KUBERNETES_SERVICE_HOST and "
                             "KUBERNETES_SERVICE_PORT are not set; give a "
                             "kubeconfig");
  cfg = calloc(1, sizeof(*cfg));
  if (!cfg)
    return error_set(ENOMEM, "out of memory");
  if (asprintf(&cfg->server,
               strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
               port) < 0 ||
      asprintf(&cfg->token_file, "%s/token", dir) < 0 ||
      asprintf(&cfg->ca_file, "%s/ca.crt", dir) < 0 ||
      !(cfg->origin = strdup("in-cluster service account")))
    return error_set(ENOMEM, "out of memory");
  /* Fail now, naming the file, rather than at the first request. */
  r = kube_read_token_file(cfg->token_file, &token);
  if (r < 0) {
    error_prefix("in-cluster service account");
    return r;
  }
  if (access(cfg->ca_file, R_OK) < 0)
    return error_errno("in-cluster service account: cannot read %s",
                       cfg->ca_file);
  {
    _cleanup_free_ char *nsfile = NULL;

    if (asprintf(&nsfile, "%s/namespace", dir) < 0)
      return error_set(ENOMEM, "out of memory");
    if (access(nsfile, F_OK) == 0) {
      r = read_file_whole(nsfile, 256, &ns, &len);
      if (r < 0)
        return r;
      while (len > 0 && strchr(" \t\r\n", ns[len - 1]))
        ns[--len] = '\0';
      if (len)
        cfg->namespace = TAKE_PTR(ns);
    }
  }
  *ret = TAKE_PTR(cfg);
  return 0;
}

int kube_config_load(const char *path, const char *context,
                     struct kube_config **ret)
{
  const char *env = getenv("KUBECONFIG"), *home;
  _cleanup_free_ char *first = NULL, *dflt = NULL;

  if (path && *path)
    return kube_config_load_file(path, context, ret);
  if (env && *env) {
    int r;

    first = strndup(env, strcspn(env, ":"));
    if (!first)
      return error_set(ENOMEM, "out of memory");
    r = kube_config_load_file(first, context, ret);
    if (r < 0)
      error_prefix("KUBECONFIG");
    return r;
  }
  if (getenv("KUBERNETES_SERVICE_HOST"))
    return kube_config_in_cluster(NULL, ret);
  home = getenv("HOME");
  if (!home || asprintf(&dflt, "%s/.kube/config", home) < 0)
    return error_set(ENOENT, "no kubeconfig: set KUBECONFIG or give one");
  if (access(dflt, F_OK) < 0)
    return error_set(ENOENT,
                     "no kubeconfig: not in a pod, KUBECONFIG is not set "
                     "and %s does not exist",
                     dflt);
  return kube_config_load_file(dflt, context, ret);
}
