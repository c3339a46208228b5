/* Internals of the oVirt engine client shared by engine.c (connection,
 * REST calls), sso.c (login), transfer.c (image transfers) and
 * inventory.c. Not for use outside src/sources/ovirt. */
#ifndef HOIST_SOURCES_OVIRT_ENGINE_INTERNAL_H
#define HOIST_SOURCES_OVIRT_ENGINE_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "net/http.h"
#include "sources/ovirt/engine.h"

/* Caps on what the engine may send. */
#define OVIRT_JSON_MAX (16u * 1024 * 1024)
#define OVIRT_VMS_JSON_MAX (64u * 1024 * 1024)
#define OVIRT_SSO_JSON_MAX (64u * 1024)
#define OVIRT_TOKEN_MAX 8192

struct ovirt_engine {
  char *origin; /* https://HOST[:PORT], for messages and the SSO */
  char *api;    /* https://HOST[:PORT]/ovirt-engine/api */
  char *user;
  char *cacert;
  bool insecure;
  unsigned transfer_timeout;
  const atomic_bool *stop;
  struct http_client *client;
  struct http_conn *conn; /* API calls, one at a time (api_lock) */
  char *password;         /* kept to log in again when the session ends */
  pthread_mutex_t lock;   /* guards token and auth_header */
  char *token;            /* the SSO access token */
  char *auth_header;      /* "Authorization: Bearer TOKEN" */
  pthread_mutex_t api_lock;
  bool have_inventory;
  struct ovirt_inventory inv;
};

/* sso.c: the password grant; sets e->token. */
int ovirt_sso_login(struct ovirt_engine *e, const char *password);
/* Revokes the token, best effort (errors are dropped). */
void ovirt_sso_logout(struct ovirt_engine *e);

/* A new connection that sends the API headers (token, JSON, Version 4). */
int ovirt_api_conn(struct ovirt_engine *e, struct http_conn **ret);

/* GET api/PATH (PATH may hold a query); the reply must be a JSON object.
 * max caps the reply. */
int ovirt_api_get(struct ovirt_engine *e, const char *path, size_t max,
                  json_t **ret);
/* POST api/PATH with a JSON body; the reply (a JSON object) goes to *ret
 * when ret is set. With retry, a connection lost mid-request is retried
 * (for actions that are safe to repeat). conn NULL: the engine's own. */
int ovirt_api_post(struct ovirt_engine *e, struct http_conn *conn,
                   const char *path, json_t *body, bool retry, json_t **ret);

/* Sleeps for up to `seconds`, in small steps; -EINTR (with the error set)
 * as soon as the stop flag is set. */
int ovirt_sleep(struct ovirt_engine *e, double seconds);
bool ovirt_stopped(const struct ovirt_engine *e);
double ovirt_now(void);

#endif
