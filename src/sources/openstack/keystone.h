/* Keystone v3: a session that authenticates, keeps a token fresh and
 * finds service endpoints in the catalog.
 *
 * Authentication is by password (a user by name and domain, or by id,
 * scoped to a project by name and domain, or by id), by token (rescoped
 * to a project when one is named, else used as it is), or by application
 * credential (id and secret, or name, secret and the user; the credential
 * carries its project). POST /v3/auth/tokens answers 201 with the token
 * in X-Subject-Token and the catalog in the body.
 *
 * A token is renewed before it expires (a quarter of its lifetime or ten
 * minutes before, whichever is sooner, measured on the local clock from
 * the issued_at/expires_at the server gave) when the credentials allow:
 * password and application credential do, a token alone does not. After a
 * 401 from a service the caller asks for a new token; without credentials
 * to get one, the message says the token expired or was revoked.
 *
 * Secrets (password, token, application credential secret) never appear
 * in messages.
 */
#ifndef HOIST_SOURCES_OPENSTACK_KEYSTONE_H
#define HOIST_SOURCES_OPENSTACK_KEYSTONE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/vector.h"

struct http_client;
struct http_conn;
struct range_client;

enum os_interface { OS_IFACE_PUBLIC, OS_IFACE_INTERNAL, OS_IFACE_ADMIN };

struct os_auth_config {
  const char *auth_url; /* https://HOST:5000[/v3] */
  const char *username, *user_id, *user_domain_name, *user_domain_id;
  const char *password;
  const char *project_name, *project_id;
  const char *project_domain_name, *project_domain_id;
  const char *token;
  const char *app_cred_id, *app_cred_name, *app_cred_secret;
  const char *region;      /* NULL: the only region that has the service */
  enum os_interface iface; /* default public */
  const char *cacert;      /* PEM file; NULL: the system's CAs */
  bool insecure;           /* do not verify TLS (the caller warns) */
};

/* ---- the catalog (parsed from a token's JSON) ---- */

struct os_endpoint {
  char *type;      /* "image", "compute", "volumev3", "network", … */
  char *name;      /* "glance", … or NULL */
  char *interface; /* "public", "internal", "admin" */
  char *region;    /* region_id, else region, or NULL */
  char *url;
};
DEFINE_VECTOR_TYPE(os_endpoint_list, struct os_endpoint)

struct os_token_info {
  time_t issued_at, expires_at; /* UTC seconds; 0: not given */
  char *user_id, *project_id, *project_name;
  struct os_endpoint_list catalog;
};

/* Parses the body of POST/GET /v3/auth/tokens. `name` is for messages. */
int keystone_parse_token(const char *buf, size_t len, const char *name,
                         struct os_token_info *out);
void os_token_info_clear(struct os_token_info *t);

/* "2026-11-26T08:08:52.000000Z" (fraction and Z optional) as UTC
 * seconds; -1 if malformed. */
time_t keystone_parse_time(const char *s);

/* The URL of service `type` for interface and region (NULL: the only
 * region offering it). Errors name what is in the catalog instead. */
int os_catalog_find(const struct os_endpoint_list *catalog, const char *type,
                    enum os_interface iface, const char *region, char **ret);

const char *os_interface_name(enum os_interface i);
/* "public"/"publicURL", "internal"…, "admin"…; -EINVAL if unknown. */
int os_parse_interface(const char *s, enum os_interface *ret);

/* ---- the session ---- */

struct os_session;

/* Authenticates (one POST) and keeps what the session needs. The
 * strings in cfg are copied. */
int os_session_open(const struct os_auth_config *cfg, struct os_session **ret);
void os_session_free(struct os_session *s);

/* The http client of Keystone's requests; owned by the session. */
struct http_client *os_session_client(struct os_session *s);

/* A new http client for a service's requests, with the session's TLS
 * settings and secrets (caller frees). Each service gets its own, so
 * that "this server answered before" (which makes a refused connection
 * worth retrying) is about that server. */
int os_session_new_client(struct os_session *s, struct http_client **ret);

/* A fast range reader for url (net/range_reader.h) with the session's
 * TLS settings; a negative errno and no message where it cannot serve. */
int os_session_new_range_client(struct os_session *s, const char *url,
                                struct range_client **ret);

/* Service endpoint as above, from the session's catalog, for the
 * session's interface and region. Caller frees. */
int os_session_endpoint(struct os_session *s, const char *type, char **ret);

/* The project the token is scoped to (NULL if none). */
const char *os_session_project_id(struct os_session *s);

/* A valid token (renewed first if it is about to expire), copied into
 * *ret (caller frees), and its generation: a counter that grows with
 * every new token. Thread-safe. */
int os_session_token(struct os_session *s, char **ret, unsigned *ret_gen);

/* The token of generation `gen` was refused (401): gets a new one unless
 * another thread already did. Fails with a clear message when the
 * credentials cannot get one (a token given as such). Thread-safe. */
int os_session_reauth(struct os_session *s, unsigned gen);

/* Makes conn send the current token (X-Auth-Token) if it does not yet;
 * *conn_gen is the generation the connection sends (0 at first). */
int os_session_prepare(struct os_session *s, struct http_conn *conn,
                       unsigned *conn_gen);

/* A JSON request with the session's token: a 401 gets a new token and
 * one more try. As http_json(). */
int os_session_json(struct os_session *s, struct http_conn *conn,
                    unsigned *conn_gen, const char *method, const char *url,
                    json_t *body, size_t body_max, json_t **ret_json);

#endif
