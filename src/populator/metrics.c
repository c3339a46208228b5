/* The metrics endpoint (see metrics.h). */
#include "populator/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/cleanup.h"
#include "util/error.h"

#define CONN_MEMORY_LIMIT (16 * 1024)
#define CONN_LIMIT 32
#define CONN_PER_IP_LIMIT 16
#define CONN_TIMEOUT 10 /* seconds */

struct metrics_server {
  struct MHD_Daemon *daemon;
  struct pop_state *state;
  char *cert, *key;
  char url[300];
  char fingerprint[METRICS_FINGERPRINT_MAX];
};

/* ---- the text ---- */

/* A label value: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *v)
{
  for (; v && *v; v++) {
    if (*v == '\\' || *v == '"')
      fprintf(f, "\\%c", *v);
    else if (*v == '\n')
      fputs("\\n", f);
    else
      fputc(*v, f);
  }
}

static void put_metric(FILE *f, const char *name, const char *type,
                       const char *help, const struct pop_args *a,
                       const char *value)
{
  fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s{owner_uid=\"", name, help, name,
          type, name);
  put_label(f, a->owner_uid);
  fputs("\",disk_id=\"", f);
  put_label(f, a->disk_id);
  fprintf(f, "\"} %s\n", value);
}

static void put_u64(FILE *f, const char *name, const char *help,
                    const struct pop_args *a, uint64_t v)
{
  char num[32];

  snprintf(num, sizeof num, "%llu", (unsigned long long)v);
  put_metric(f, name, "gauge", help, a, num);
}

char *metrics_render(struct pop_state *s)
{
  const struct pop_args *a = s->args;
  struct copy_progress *p = &s->progress;
  bool copying = atomic_load(&s->copying);
  uint64_t data_total =
      copying && p->data_total != DISK_UNKNOWN ? p->data_total : 0;
  double ratio = pop_progress_ratio(s);
  char *buf = NULL, num[32];
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);

  if (!f)
    return NULL;
  put_u64(f, "hoist_populator_bytes_copied",
          "Bytes of the source's data copied, including those a checkpoint "
          "had done.",
          a, pop_bytes_copied(s));
  put_u64(f, "hoist_populator_bytes_read",
          "Bytes read from the source by this process.", a,
          copying ? atomic_load(&p->read) : 0);
  put_u64(f, "hoist_populator_bytes_resumed",
          "Bytes of the source's data a checkpoint had done.", a,
          copying ? atomic_load(&p->resumed_data) : 0);
  put_u64(f, "hoist_populator_bytes_total",
          "Bytes of data the source holds (zeros excluded).", a, data_total);
  put_u64(f, "hoist_populator_virtual_bytes_done",
          "Bytes of the virtual disk done (data and zeros).", a,
          copying ? atomic_load(&p->done) : 0);
  put_u64(f, "hoist_populator_virtual_bytes_total",
          "The virtual size of the disk in bytes.", a, copying ? p->total : 0);
  snprintf(num, sizeof num, "%.6f", ratio);
  put_metric(f, "hoist_populator_progress_ratio", "gauge",
             "How much of the copy is done, from 0 to 1.", a, num);
  fputs("# HELP hoist_populator_info What this populator does.\n"
        "# TYPE hoist_populator_info gauge\n"
        "hoist_populator_info{owner_uid=\"",
        f);
  put_label(f, a->owner_uid);
  fputs("\",disk_id=\"", f);
  put_label(f, a->disk_id);
  fprintf(f, "\",mode=\"%s\",cr_name=\"", pop_mode_name(a->mode));
  put_label(f, a->cr_name);
  fputs("\",cr_namespace=\"", f);
  put_label(f, a->cr_namespace);
  fputs("\",transfer_network=\"", f);
  put_label(f, a->transfer_network);
  fputs("\"} 1\n", f);
  /* Forklift's name and label, for its populator controller. */
  if (a->mode == POP_MODE_OPENSTACK)
    fputs("# HELP openstack_populator_progress Progress of the copy in "
          "percent.\n"
          "# TYPE openstack_populator_progress counter\n"
          "openstack_populator_progress{ownerUID=\"",
          f);
  else
    fputs("# HELP ovirt_progress Progress of the copy in percent.\n"
          "# TYPE ovirt_progress counter\n"
          "ovirt_progress{ownerUID=\"",
          f);
  put_label(f, a->owner_uid);
  fprintf(f, "\"} %.2f\n", ratio * 100);
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* ---- the server ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *type, char *body, bool owned)
{
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      strlen(body), body,
      owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  enum MHD_Result r;

  if (!resp) {
    if (owned)
      free(body);
    return MHD_NO;
  }
  MHD_add_response_header(resp, "Content-Type", type);
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  r = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  return r;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
  struct metrics_server *m = cls;
  static const char text[] = "text/plain; charset=utf-8";
  char *body;

  (void)version;
  (void)upload_data;
  /* Answer on the first call, before any body: none is read. */
  (void)req_cls;
  *upload_data_size = 0;
  if (!streq(method, "GET") && !streq(method, "HEAD"))
    return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text,
                 (char *)"only GET /metrics\n", false);
  if (streq(url, "/"))
    return reply(c, MHD_HTTP_OK, text,
                 (char *)"hoist-populator: metrics at /metrics\n", false);
  if (!streq(url, "/metrics"))
    return reply(c, MHD_HTTP_NOT_FOUND, text, (char *)"not found\n", false);
  body = metrics_render(m->state);
  if (!body)
    return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, text,
                 (char *)"out of memory\n", false);
  return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body,
               true);
}

/* "[HOST]:PORT" → an address to bind (NULL host: every address). */
static int parse_addr(const char *addr, struct sockaddr_storage *ss,
                      bool *ret_any, uint16_t *ret_port)
{
  _cleanup_free_ char *host = NULL;
  const char *colon = strrchr(addr, ':');
  struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                           .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  char *end;
  unsigned long port;
  size_t hlen;

  if (!colon)
    return error_set(EINVAL, "--metrics-addr \"%s\": expected [HOST]:PORT",
                     addr);
  errno = 0;
  port = strtoul(colon + 1, &end, 10);
  if (!colon[1] || *end || errno || port > 65535)
    return error_set(EINVAL,
                     "--metrics-addr \"%s\": the port is not a "
                     "number from 0 to 65535",
                     addr);
  *ret_port = (uint16_t)port;
  hlen = (size_t)(colon - addr);
  if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']')
    host = strndup(addr + 1, hlen - 2);
  else
    host = strndup(addr, hlen);
  if (!host)
    return error_set(ENOMEM, "out of memory");
  *ret_any = !*host;
  if (!*host)
    return 0;
  if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
    return error_set(EINVAL,
                     "--metrics-addr \"%s\": the host is not an IP "
                     "address",
                     addr);
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return 0;
}

static struct MHD_Daemon *start_daemon(struct metrics_server *m, bool http,
                                       bool any, bool dual,
                                       struct sockaddr_storage *ss,
                                       uint16_t port)
{
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
  struct MHD_OptionItem opts[10];
  unsigned n = 0;

  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                      CONN_MEMORY_LIMIT, NULL};
  opts[n++] =
      (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                      CONN_PER_IP_LIMIT, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                      CONN_TIMEOUT, NULL};
  if (!any)
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, ss};
  if (!any && ss->ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  if (!http) {
    flags |= MHD_USE_TLS;
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, m->key};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, m->cert};
  }
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
  if (any && dual)
    flags |= MHD_USE_DUAL_STACK;
  return MHD_start_daemon(flags, port, NULL, NULL, handle, m, MHD_OPTION_ARRAY,
                          opts, MHD_OPTION_END);
}

int metrics_start(const char *addr, bool http, struct pop_state *s,
                  struct metrics_server **ret)
{
  struct sockaddr_storage ss = {0};
  struct metrics_server *m;
  const union MHD_DaemonInfo *info;
  char host[INET6_ADDRSTRLEN] = "0.0.0.0";
  uint16_t port = 0;
  bool any = false;
  int r;

  r = parse_addr(addr, &ss, &any, &port);
  if (r < 0)
    return r;
  if (!http && !MHD_is_feature_supported(MHD_FEATURE_TLS))
    return error_set(ENOTSUP, "this libmicrohttpd has no TLS; use "
                              "--metrics-insecure-http");
  m = calloc(1, sizeof *m);
  if (!m)
    return error_set(ENOMEM, "out of memory");
  m->state = s;
  if (!http &&
      (r = metrics_make_certificate(&m->cert, &m->key, m->fingerprint)) < 0) {
    metrics_stop(m);
    return r;
  }
  m->daemon = start_daemon(m, http, any, true, &ss, port);
  /* No IPv6 here: every IPv4 address. */
  if (!m->daemon && any)
    m->daemon = start_daemon(m, http, any, false, &ss, port);
  if (!m->daemon) {
    metrics_stop(m);
    return error_set(EADDRINUSE,
                     "cannot serve metrics on %s: the address is in use or "
                     "not local; choose another with --metrics-addr",
                     addr);
  }
  info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
  if (info)
    port = info->port;
  if (!any && ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
              sizeof host);
  else if (!any && ss.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host,
              sizeof host);
  snprintf(m->url, sizeof m->url,
           ss.ss_family == AF_INET6 ? "%s://[%s]:%u/metrics"
                                    : "%s://%s:%u/metrics",
           http ? "http" : "https", host, (unsigned)port);
  *ret = m;
  return 0;
}

const char *metrics_url(const struct metrics_server *m)
{
  return m->url;
}

const char *metrics_fingerprint(const struct metrics_server *m)
{
  return m->fingerprint;
}

void metrics_stop(struct metrics_server *m)
{
  if (!m)
    return;
  if (m->daemon)
    MHD_stop_daemon(m->daemon);
  if (m->key)
    explicit_bzero(m->key, strlen(m->key));
  free(m->key);
  free(m->cert);
  free(m);
}
