/* URLs split by libcurl's parser (see url.h). */
#include "net/url.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>

/* Part what of u, or NULL where libcurl gives none. */
static char *get_part(CURLU *u, CURLUPart what, unsigned curl_flags)
{
  char *s = NULL;

  if (curl_url_get(u, what, &s, curl_flags) != CURLUE_OK)
    return NULL;
  return s;
}

int url_split(const char *url, unsigned flags, struct url_parts *ret)
{
  CURLU *u = curl_url();
  struct url_parts p = {0};
  bool want_port = flags & URL_DEFAULT_PORT;
  int r = -EINVAL;

  *ret = p;
  if (!u)
    return -ENOMEM;
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
    goto out;
  p.scheme = get_part(u, CURLUPART_SCHEME, 0);
  p.host = get_part(u, CURLUPART_HOST, 0);
  p.path = get_part(u, CURLUPART_PATH, 0);
  p.port = get_part(u, CURLUPART_PORT, want_port ? CURLU_DEFAULT_PORT : 0);
  p.user = get_part(u, CURLUPART_USER, 0);
  p.query = get_part(u, CURLUPART_QUERY, 0);
  p.fragment = get_part(u, CURLUPART_FRAGMENT, 0);
  if (!p.scheme || !p.host || !p.path || (want_port && !p.port))
    goto out;
  *ret = p;
  p = (struct url_parts){0};
  r = 0;
out:
  url_parts_free(&p);
  curl_url_cleanup(u);
  return r;
}

void url_parts_free(struct url_parts *p)
{
  if (!p)
    return;
  curl_free(p->scheme);
  curl_free(p->host);
  curl_free(p->port);
  curl_free(p->path);
  curl_free(p->user);
  curl_free(p->query);
  curl_free(p->fragment);
  *p = (struct url_parts){0};
}
