/* A JSON client for one OpenStack service found in the catalog (Nova,
 * Cinder, Neutron): its own http client and connection, the session's
 * token on every request, a 401 answered with a new token and one more
 * try. */
#ifndef HOIST_SOURCES_OPENSTACK_SERVICE_H
#define HOIST_SOURCES_OPENSTACK_SERVICE_H

#include <jansson.h>
#include <stddef.h>

struct os_session;
struct http_conn;

struct os_service {
  struct os_session *session;
  struct http_client *client;
  struct http_conn *conn;
  unsigned gen;
  char *base; /* the endpoint, no trailing '/'; plus `suffix` */
  const char *type;
};

/* type: "compute", "volumev3", "network"; suffix appended to the
 * catalog's URL unless it already ends with it ("/v2.0" for Neutron), or
 * NULL; header: sent with every request ("OpenStack-API-Version: …"), or
 * NULL. */
int os_service_open(struct os_session *s, const char *type, const char *suffix,
                    const char *const *headers, struct os_service **ret);
void os_service_close(struct os_service *svc);

/* method base+path (path starts with '/'); body and reply as
 * http_json(). */
int os_service_json(struct os_service *svc, const char *method,
                    const char *path, json_t *body, size_t body_max,
                    json_t **ret);

#endif
