/* Reading a populator pod's /metrics over HTTPS, with its self-signed
 * certificate pinned: the pod logs the certificate's SHA-256 fingerprint
 * at start ("self-signed certificate, SHA-256 AB:CD:…"), the controller
 * reads it from the pod's log and accepts no other certificate, so TLS
 * verification keeps its meaning without a CA.
 */
#ifndef HOIST_CONTROLLER_SCRAPE_H
#define HOIST_CONTROLLER_SCRAPE_H

#include <stddef.h>

#define SCRAPE_FINGERPRINT_MAX 128

/* The fingerprint from a populator's log text, normalised to upper-case
 * hex with colons, into fp; -ENOENT if the log has none yet. */
int scrape_fingerprint_from_log(const char *log, size_t len,
                                char fp[SCRAPE_FINGERPRINT_MAX]);

/* GET url (https://IP:PORT/metrics), accepting only a server certificate
 * whose SHA-256 is fp; the body (at most PROMTEXT_MAX_TEXT) in *ret.
 * -EKEYREJECTED for another certificate, -EIO when no answer came.
 * A 2 s timeout: a scrape never holds up the loop. */
int scrape_get(const char *url, const char *fp, char **ret, size_t *ret_len);

#endif
