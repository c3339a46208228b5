/* The health and metrics endpoint (see health.h). */
#include "controller/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/error.h"

struct ctl_health {
  struct MHD_Daemon *d;
  struct kube_client *client;
};

static char *metrics_text(struct kube_client *c)
{
  struct kube_counters k;
  char *out = NULL;

  kube_client_counters(c, &k);
  if (asprintf(&out,
               "# HELP hoist_controller_api_requests_total API requests "
               "sent, by verb.\n"
               "# TYPE hoist_controller_api_requests_total counter\n"
               "hoist_controller_api_requests_total{verb=\"get\"} %llu\n"
               "hoist_controller_api_requests_total{verb=\"list\"} %llu\n"
               "hoist_controller_api_requests_total{verb=\"watch\"} %llu\n"
               "hoist_controller_api_requests_total{verb=\"create\"} %llu\n"
               "hoist_controller_api_requests_total{verb=\"update\"} %llu\n"
               "hoist_controller_api_requests_total{verb=\"patch\"} %llu\n"
               "hoist_controller_api_requests_total{verb=\"delete\"} %llu\n",
               (unsigned long long)k.get, (unsigned long long)k.list,
               (unsigned long long)k.watch, (unsigned long long)k.create,
               (unsigned long long)k.update, (unsigned long long)k.patch,
               (unsigned long long)k.delete_) < 0)
    return NULL;
  return out;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_len, void **state)
{
  struct ctl_health *h = cls;
  struct MHD_Response *resp;
  unsigned status = MHD_HTTP_OK;
  enum MHD_Result r;
  char *body;

  (void)version;
  (void)upload;
  (void)upload_len;
  (void)state;
  if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
    status = MHD_HTTP_METHOD_NOT_ALLOWED;
    body = strdup("method not allowed\n");
  } else if (!strcmp(url, "/healthz") || !strcmp(url, "/readyz")) {
    body = strdup("ok\n");
  } else if (!strcmp(url, "/metrics")) {
    body = metrics_text(h->client);
  } else {
    status = MHD_HTTP_NOT_FOUND;
    body = strdup("not found\n");
  }
  if (!body)
    return MHD_NO;
  resp = MHD_create_response_from_buffer(strlen(body), body,
                                         MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
  r = MHD_queue_response(conn, status, resp);
  MHD_destroy_response(resp);
  return r;
}

int ctl_health_start(const char *addr, struct kube_client *client,
                     struct ctl_health **ret)
{
  const char *colon = strrchr(addr, ':');
  struct sockaddr_in sa = {.sin_family = AF_INET};
  struct ctl_health *h;
  char host[64];
  char *end;
  long port;

  if (!colon || (size_t)(colon - addr) >= sizeof host)
    return error_set(EINVAL, "--health-addr %s: not [HOST]:PORT", addr);
  port = strtol(colon + 1, &end, 10);
  if (*end || end == colon + 1 || port < 0 || port > 65535)
    return error_set(EINVAL, "--health-addr %s: not a port", addr);
  memcpy(host, addr, (size_t)(colon - addr));
  host[colon - addr] = 0;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_ANY);
  if (host[0] && inet_pton(AF_INET, host, &sa.sin_addr) != 1)
    return error_set(EINVAL, "--health-addr %s: not an IPv4 address", addr);
  h = calloc(1, sizeof *h);
  if (!h)
    return error_set(ENOMEM, "out of memory");
  h->client = client;
  h->d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, h,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
      16u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_END);
  if (!h->d) {
    free(h);
    return error_set(EADDRINUSE, "--health-addr %s: cannot listen", addr);
  }
  *ret = h;
  return 0;
}

void ctl_health_stop(struct ctl_health *h)
{
  if (!h)
    return;
  MHD_stop_daemon(h->d);
  free(h);
}
