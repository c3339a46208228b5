/* Glance v2 image metadata (see glance.h). */
#include "sources/openstack/glance.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"
#include "sources/openstack/glance_internal.h"
#include "sources/openstack/keystone.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/json_path.h"

#define IMAGE_JSON_MAX (1u * 1024 * 1024)
#define LIST_JSON_MAX (16u * 1024 * 1024)
#define LIST_PAGES_MAX 1000

bool glance_id_ok(const char *id)
{
  static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";
  size_t n = id ? strlen(id) : 0;

  return n > 0 && n <= 255 && strspn(id, ok) == n && !streq(id, ".") &&
         !streq(id, "..");
}

void glance_image_clear(struct glance_image *img)
{
  if (!img)
    return;
  free(img->id);
  free(img->name);
  free(img->status);
  free(img->disk_format);
  free(img->container_format);
  free(img->checksum);
  free(img->hash_algo);
  free(img->hash_value);
  json_decref(img->json);
  memset(img, 0, sizeof *img);
}

void glance_image_list_free(struct glance_image_list *l)
{
  size_t i;

  for (i = 0; i < l->len; i++)
    glance_image_clear(&l->ptr[i]);
  glance_image_list_reset(l);
}

static bool is_hex(const char *s)
{
  return s && *s && strspn(s, "0123456789abcdefABCDEF") == strlen(s);
}

int glance_image_from_json(json_t *j, const char *name,
                           struct glance_image *out)
{
  const char *id = jp_str(j, "id");
  bool oom = false;

  memset(out, 0, sizeof *out);
  if (!json_is_object(j) || !id)
    return error_set(EPROTO, "%s: the reply is not an image (no \"id\")", name);
  if (!glance_id_ok(id))
    return error_set(EPROTO, "%s: the image id is not a valid id", name);
  out->id = jp_dup(j, "id", &oom);
  out->name = jp_dup(j, "name", &oom);
  out->status = jp_dup(j, "status", &oom);
  out->disk_format = jp_dup(j, "disk_format", &oom);
  out->container_format = jp_dup(j, "container_format", &oom);
  out->size = jp_u64_or(j, "size", 0);
  out->virtual_size = jp_u64_or(j, "virtual_size", 0);
  if (is_hex(jp_str(j, "checksum")))
    out->checksum = jp_dup(j, "checksum", &oom);
  if (jp_str(j, "os_hash_algo") && is_hex(jp_str(j, "os_hash_value"))) {
    out->hash_algo = jp_dup(j, "os_hash_algo", &oom);
    out->hash_value = jp_dup(j, "os_hash_value", &oom);
  }
  out->json = json_incref(j);
  if (oom) {
    glance_image_clear(out);
    return error_set(ENOMEM, "out of memory");
  }
  if (out->size > (uint64_t)INT64_MAX ||
      out->virtual_size > (uint64_t)INT64_MAX) {
    glance_image_clear(out);
    return error_set(EPROTO, "%s: the image size is beyond 2^63 bytes", name);
  }
  return 0;
}

int glance_parse_image(const char *buf, size_t len, const char *name,
                       struct glance_image *out)
{
  _cleanup_(json_decrefp) json_t *j = NULL;
  int r;

  memset(out, 0, sizeof *out);
  r = jp_load(buf, len, name, &j);
  if (r < 0)
    return r;
  return glance_image_from_json(j, name, out);
}

const char *glance_image_prop(const struct glance_image *img, const char *key)
{
  json_t *v = json_object_get(img->json, key);

  return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- the API ---- */

const char *glance_advice(long status)
{
  switch (status) {
  case 401:
    return "the token was refused; check the credentials";
  case 403:
    return "the project may not read this image";
  case 404:
    return "no such image in this project (hoist inventory images lists "
           "them)";
  case 416:
    return "the range lies beyond the end of the image";
  default:
    return NULL;
  }
}

int glance_endpoint(struct os_session *s, char **ret)
{
  _cleanup_free_ char *url = NULL;
  size_t n;

  int r = os_session_endpoint(s, "image", &url);
  if (r < 0)
    return r;
  /* The catalog may name the root or the v2 API. */
  n = strlen(url);
  while (n && url[n - 1] == '/')
    n--;
  if (n >= 3 && strncmp(url + n - 3, "/v2", 3) == 0)
    n -= 3;
  *ret = strndup(url, n);
  return *ret ? 0 : error_set(ENOMEM, "out of memory");
}

struct glance {
  struct os_session *session;
  struct http_client *client;
  char *base; /* https://HOST:9292 (no /v2) */
  struct http_conn *conn;
  unsigned gen;
};

int glance_open(struct os_session *s, struct glance **ret)
{
  struct glance *g = calloc(1, sizeof *g);
  int r;

  if (!g)
    return error_set(ENOMEM, "out of memory");
  g->session = s;
  if ((r = glance_endpoint(s, &g->base)) < 0 ||
      (r = os_session_new_client(s, &g->client)) < 0 ||
      (r = http_conn_new(g->client, &g->conn)) < 0) {
    glance_close(g);
    return r;
  }
  http_client_set_advice(g->client, glance_advice);
  *ret = g;
  return 0;
}

void glance_close(struct glance *g)
{
  if (!g)
    return;
  http_conn_free(g->conn);
  http_client_free(g->client);
  free(g->base);
  free(g);
}

int glance_get_image(struct glance *g, const char *id, struct glance_image *out)
{
  _cleanup_free_ char *url = NULL;
  _cleanup_(json_decrefp) json_t *j = NULL;
  int r;

  memset(out, 0, sizeof *out);
  if (!glance_id_ok(id))
    return error_set(EINVAL, "\"%s\" is not a valid Glance image id", id);
  if (asprintf(&url, "%s/v2/images/%s", g->base, id) < 0)
    return error_set(ENOMEM, "out of memory");
  r = os_session_json(g->session, g->conn, &g->gen, "GET", url, NULL,
                      IMAGE_JSON_MAX, &j);
  if (r < 0)
    return r;
  return glance_image_from_json(j, url, out);
}

int glance_list_images(struct glance *g, size_t max,
                       struct glance_image_list *out)
{
  _cleanup_free_ char *url = NULL;
  unsigned pages;
  int r = 0;

  if (asprintf(&url, "%s/v2/images?limit=200", g->base) < 0)
    return error_set(ENOMEM, "out of memory");
  for (pages = 0; url && pages < LIST_PAGES_MAX; pages++) {
    _cleanup_(json_decrefp) json_t *j = NULL;
    json_t *list, *item;
    const char *next;
    size_t i;

    r = os_session_json(g->session, g->conn, &g->gen, "GET", url, NULL,
                        LIST_JSON_MAX, &j);
    if (r < 0)
      return r;
    list = jp_get(j, "images");
    json_array_foreach(list, i, item)
    {
      struct glance_image img;
      if (out->len >= max)
        return 0;
      r = glance_image_from_json(item, url, &img);
      if (r < 0)
        return r;
      if (glance_image_list_append(out, img) < 0) {
        glance_image_clear(&img);
        return error_set(ENOMEM, "out of memory");
      }
    }
    next = jp_str(j, "next");
    free(url);
    url = NULL;
    /* `next` is a path with a query: /v2/images?marker=… */
    if (next && next[0] == '/' && !strstr(next, "://") &&
        asprintf(&url, "%s%s", g->base, next) < 0)
      return error_set(ENOMEM, "out of memory");
  }
  return 0;
}

int glance_delete_image(struct glance *g, const char *id)
{
  _cleanup_free_ char *url = NULL;

  if (!glance_id_ok(id))
    return error_set(EINVAL, "\"%s\" is not a valid Glance image id", id);
  if (asprintf(&url, "%s/v2/images/%s", g->base, id) < 0)
    return error_set(ENOMEM, "out of memory");
  return os_session_json(g->session, g->conn, &g->gen, "DELETE", url, NULL,
                         IMAGE_JSON_MAX, NULL);
}
