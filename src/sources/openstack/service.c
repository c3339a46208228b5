/* A JSON client for one OpenStack service (see service.h). */
#include "sources/openstack/service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"
#include "sources/openstack/keystone.h"
#include "util/cleanup.h"
#include "util/error.h"

static const char *service_advice(long status)
{
  switch (status) {
  case 401:
    return "the token was refused; check the credentials";
  case 403:
    return "the project's role does not allow this; ask the cloud's "
           "operator";
  case 404:
    return "no such object (it may have been deleted meanwhile)";
  case 409:
    return "the object is busy or in the wrong state; try again later";
  case 413:
    return "over quota; free some quota or ask for more";
  default:
    return NULL;
  }
}

int os_service_open(struct os_session *s, const char *type, const char *suffix,
                    const char *const *headers, struct os_service **ret)
{
  struct os_service *svc = calloc(1, sizeof *svc);
  _cleanup_free_ char *url = NULL;
  size_t n;
  int r;

  if (!svc)
    return error_set(ENOMEM, "out of memory");
  svc->session = s;
  svc->type = type;
  r = os_session_endpoint(s, type, &url);
  if (r == 0) {
    n = strlen(url);
    while (n && url[n - 1] == '/')
      n--;
    url[n] = 0;
    if (suffix &&
        !(n >= strlen(suffix) && streq(url + n - strlen(suffix), suffix))) {
      if (asprintf(&svc->base, "%s%s", url, suffix) < 0)
        svc->base = NULL;
    } else {
      svc->base = strdup(url);
    }
    if (!svc->base)
      r = error_set(ENOMEM, "out of memory");
  }
  if (r == 0)
    r = os_session_new_client(s, &svc->client);
  if (r == 0)
    r = http_conn_new(svc->client, &svc->conn);
  for (; r == 0 && headers && *headers; headers++) {
    const char *colon = strchr(*headers, ':');
    _cleanup_free_ char *name =
        colon ? strndup(*headers, colon - *headers) : NULL;
    if (!name)
      r = error_set(ENOMEM, "out of memory");
    else
      r = http_conn_set_header(svc->conn, name, colon + 1 + (colon[1] == ' '));
  }
  if (r < 0) {
    os_service_close(svc);
    return r;
  }
  http_client_set_advice(svc->client, service_advice);
  *ret = svc;
  return 0;
}

void os_service_close(struct os_service *svc)
{
  if (!svc)
    return;
  http_conn_free(svc->conn);
  http_client_free(svc->client);
  free(svc->base);
  free(svc);
}

int os_service_json(struct os_service *svc, const char *method,
                    const char *path, json_t *body, size_t body_max,
                    json_t **ret)
{
  _cleanup_free_ char *url = NULL;

  if (asprintf(&url, "%s%s", svc->base, path) < 0)
    return error_set(ENOMEM, "out of memory");
  return os_session_json(svc->session, svc->conn, &svc->gen, method, url, body,
                         body_max, ret);
}
