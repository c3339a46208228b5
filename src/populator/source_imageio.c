/* imageio mode: an oVirt imageio ticket URL as the source. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk/disk.h"
#include "populator/source.h"
#include "sources/ovirt/imageio.h"
#include "util/cleanup.h"
#include "util/error.h"

/* "imageio:HOST:PORT/images/sha256:FIRST-16-HEX": the ticket is a secret,
 * so the checkpoint keeps a hash of it only. */
static int id_from_url(const char *url, char **ret)
{
  const char *p = strstr(url, "://");
  const char *ticket = strstr(url, "/images/");
  unsigned char md[32];
  unsigned int mdlen = 0, i;
  char hex[33];
  size_t tlen;

  if (!p || !ticket)
    return error_set(EINVAL, "the imageio URL has no /images/TICKET path");
  p += 3;
  ticket += 8;
  tlen = strcspn(ticket, "/?#");
  EVP_Digest(ticket, tlen, md, &mdlen, EVP_sha256(), NULL);
  for (i = 0; i < 16; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  if (asprintf(ret, "imageio:%.*s/images/sha256:%s",
               (int)(strstr(url, "/images/") - p), p, hex) < 0) {
    *ret = NULL;
    return error_set(ENOMEM, "out of memory");
  }
  return 0;
}

int pop_source_open_imageio(const struct pop_args *a,
                            const struct pop_credentials *c,
                            struct pop_source *s)
{
  const char *url = a->url ? a->url : c->url;
  struct imageio_options io = {0};
  struct disk_open_opts dopts = {.open_sibling = disk_refuse_sibling,
                                 .opaque = (char *)"imageio"};
  struct bytesource *bs;
  int r;

  if (!url)
    return error_set(EINVAL, "no source: give --url, or the url key in the "
                             "Secret");
  if (!imageio_is_url(url))
    return error_set(EINVAL, "--url: expected https://HOST:PORT/images/"
                             "TICKET (an image transfer's transfer_url or "
                             "proxy_url)");
  pop_log_add_ticket(url);
  io.cacert = a->cacert ? a->cacert : c->cacert_file;
  io.insecure = a->insecure || (!a->cacert && c->insecure);
  s->shown = imageio_display_url(url);
  if (a->source_id)
    s->id = strdup(a->source_id);
  else if (a->disk_id && asprintf(&s->id, "ovirt-disk:%s", a->disk_id) < 0)
    s->id = NULL;
  else if (!a->disk_id && (r = id_from_url(url, &s->id)) < 0)
    return r;
  if (!s->shown || !s->id)
    return error_set(ENOMEM, "out of memory");
  if (io.insecure)
    pop_log("warning: TLS certificate verification is off (%s): the server "
            "of %s is not authenticated",
            a->insecure ? "--insecure" : "insecureSkipVerify", s->shown);
  r = imageio_open(url, &io, &bs);
  if (r == 0)
    r = disk_open(bs, &dopts, &s->disk);
  return r;
}

void pop_source_close(struct pop_source *s)
{
  disk_close(s->disk);
  s->disk = NULL;
  pop_source_close_transfer(s);
  free(s->id);
  free(s->shown);
  s->id = s->shown = NULL;
}
