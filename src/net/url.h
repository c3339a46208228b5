/* URLs split into their parts by libcurl's parser, so that a URL is
 * checked as libcurl will read it when it is fetched. */
#ifndef HOIST_NET_URL_H
#define HOIST_NET_URL_H

/* NULL where the URL has no such part. */
struct url_parts {
  char *scheme, *host, *port, *path, *user, *query, *fragment;
};

/* url_split() flags. */
enum {
  /* The scheme's port where the URL names none (443 for https). */
  URL_DEFAULT_PORT = 1u << 0,
};

/* Splits url into *ret: 0; -ENOMEM when libcurl has no parser to give;
 * else -EINVAL when libcurl refuses the URL or gives no scheme, host,
 * path or (with URL_DEFAULT_PORT) port. A part it cannot give otherwise
 * is NULL. Sets no message: only the caller knows whether the URL may be
 * shown (an imageio URL holds its ticket). *ret is all NULL on failure. */
int url_split(const char *url, unsigned flags, struct url_parts *ret);

/* Frees the parts and leaves NULLs; fits _cleanup_() as it is. */
void url_parts_free(struct url_parts *p);

#endif
