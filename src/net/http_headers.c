/* Headers a caller sets on a connection, and a reply header it keeps
 * (see http_conn_set_header() and http_conn_capture_header()). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/http_internal.h"
#include "util/cleanup.h"
#include "util/error.h"

/* True if line is "name: …" (any case). */
static bool is_header(const char *line, size_t len, const char *name)
{
  size_t n = strlen(name);

  return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/* A copy of list without the lines of header `name`, with `line` (when
 * not NULL) at the end. Returns false when out of memory. */
static bool replace_line(struct curl_slist **list, const char *name,
                         const char *line)
{
  struct curl_slist *out = NULL, *p, *next;

  for (p = *list; p; p = p->next) {
    if (is_header(p->data, strlen(p->data), name))
      continue;
    if (!(next = curl_slist_append(out, p->data)))
      goto oom;
    out = next;
  }
  if (line) {
    if (!(next = curl_slist_append(out, line)))
      goto oom;
    out = next;
  }
  curl_slist_free_all(*list);
  *list = out;
  return true;

oom:
  curl_slist_free_all(out);
  return false;
}

int http_conn_set_header(struct http_conn *conn, const char *name,
                         const char *value)
{
  _cleanup_free_ char *line = NULL;

  if (!*name || strpbrk(name, ": \r\n") || (value && strpbrk(value, "\r\n")))
    return error_set(EINVAL, "internal error: a malformed HTTP header");
  if (value && asprintf(&line, "%s: %s", name, value) < 0)
    return error_set(ENOMEM, "out of memory");
  /* libcurl reads the lists while a transfer runs. */
  http_stream_abandon(conn);
  if (!replace_line(&conn->json_headers, name, line) ||
      !replace_line(&conn->get_headers, name, line))
    return error_set(ENOMEM, "out of memory");
  return 0;
}

int http_conn_capture_header(struct http_conn *conn, const char *name)
{
  char *copy = strdup(name);

  if (!copy)
    return error_set(ENOMEM, "out of memory");
  free(conn->capture_name);
  conn->capture_name = copy;
  free(conn->captured);
  conn->captured = NULL;
  return 0;
}

char *http_conn_take_header(struct http_conn *conn)
{
  return TAKE_PTR(conn->captured);
}

long http_conn_status(const struct http_conn *conn)
{
  return conn->status;
}

/* Called for every line of a reply's header. */
void http_headers_reply_line(struct http_conn *conn, const char *data,
                             size_t len)
{
  size_t n;

  if (!conn->capture_name)
    return;
  if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
    free(conn->captured); /* a new reply */
    conn->captured = NULL;
    return;
  }
  if (!is_header(data, len, conn->capture_name))
    return;
  n = strlen(conn->capture_name) + 1;
  data += n;
  len -= n;
  while (len && (*data == ' ' || *data == '\t'))
    data++, len--;
  while (len && isspace((unsigned char)data[len - 1]))
    len--;
  free(conn->captured);
  conn->captured = NULL;
  if (len && len <= HTTP_HEADER_VALUE_MAX)
    conn->captured = strndup(data, len);
}

void http_headers_free(struct http_conn *conn)
{
  curl_slist_free_all(conn->get_headers);
  free(conn->capture_name);
  free(conn->captured);
}
