/* oVirt imageio: a disk image transfer ticket as a byte source.
 *
 * URL: imageio+https://HOST:PORT/images/TICKET, or the plain
 * https://HOST:PORT/images/TICKET that oVirt hands out as transfer_url
 * (host daemon, port 54322) or proxy_url (engine, port 54323).
 *
 * Opening asks OPTIONS for the features and how many readers the ticket
 * allows, then fetches the zero extents once (GET …/extents?context=zero):
 * they give the size and let the copy skip zeros without reading them.
 * pread is a range GET on a connection of its own per concurrent caller,
 * kept alive between requests, with retries that resume a cut range.
 * When a thread reads the data of the range it last asked extents() for
 * (as the copy engine does with a work unit), the GET runs on to the end
 * of that data and the following preads continue it: one request per run
 * of data, and the server sends while the caller writes.
 *
 * The source serves the bytes the daemon serves: a ticket on a qcow2 file
 * delivers the qcow2 file, which the disk layer then decodes; a ticket on
 * an nbd backend (format raw in oVirt) delivers the guest's raw bytes.
 *
 * The ticket in the URL is a bearer token: messages and bs->name show only
 * its first 8 characters.
 */
#ifndef HOIST_SOURCES_OVIRT_IMAGEIO_H
#define HOIST_SOURCES_OVIRT_IMAGEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "disk/bytesource.h"

#define IMAGEIO_REQUEST_SIZE (8u * 1024 * 1024)

struct imageio_options {
  const char *cacert;   /* PEM file with the engine's CA; NULL: system */
  bool insecure;        /* skip TLS verification (the caller warns) */
  unsigned max_readers; /* 0: as many as the ticket allows */
};

/* True for the URL forms above (imageio+https://, and https:// URLs
 * whose path is /images/…). */
bool imageio_is_url(const char *spec);

/* Opens a ticket URL as a random-access, thread-safe byte source with an
 * extents op, bs->request_size and bs->max_readers set. */
int imageio_open(const char *url, const struct imageio_options *opts,
                 struct bytesource **ret);

/* Parses the reply of GET /images/TICKET/extents?context=zero: a JSON
 * array of {"start", "length", "zero"} that must tile [0, size) in order.
 * Appends to out (merging runs of a kind) and sets *ret_size. `name` is
 * for messages. */
struct extent_list;
int imageio_parse_extents(const char *buf, size_t len, const char *name,
                          struct extent_list *out, uint64_t *ret_size);

/* The URL as messages show it (ticket abbreviated, no user info); NULL
 * when out of memory. Caller frees. */
char *imageio_display_url(const char *url);

#endif
