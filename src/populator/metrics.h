/* The populator's metrics: Prometheus text at /metrics, served by a small
 * HTTP(S) server (libmicrohttpd) on its own thread, from the copy
 * engine's atomic counters.
 *
 * Every series is labelled owner_uid (the target PVC's UID) and disk_id:
 *   hoist_populator_bytes_copied         source data done (this run's
 *                                        reads plus resumed units' data)
 *   hoist_populator_bytes_read           read from the source by this
 *                                        process
 *   hoist_populator_bytes_resumed        data a checkpoint had done
 *   hoist_populator_bytes_total          data the source holds
 *   hoist_populator_virtual_bytes_done   of the virtual size
 *   hoist_populator_virtual_bytes_total  the virtual size
 *   hoist_populator_progress_ratio       0 to 1
 *   hoist_populator_info                 1, with the CR, the network, the
 *                                        mode as labels
 * and, for Forklift's populator controller, which reads
 * `progress{ownerUID="…"} N`:
 *   ovirt_progress{ownerUID="…"}         percent (0 to 100)
 *
 * Requests are capped (memory per connection, connections, a timeout);
 * only GET and HEAD of / and /metrics are answered.
 */
#ifndef HOIST_POPULATOR_METRICS_H
#define HOIST_POPULATOR_METRICS_H

#include "populator/populator.h"

#define METRICS_FINGERPRINT_MAX 100

struct metrics_server;

/* The metrics text for the state; caller frees. NULL: out of memory. */
char *metrics_render(struct pop_state *s);

/* Starts serving on addr ("[HOST]:PORT", HOST empty for all addresses,
 * PORT 0 for any free port): HTTPS with a fresh self-signed certificate,
 * or plain HTTP when `http` is set. */
int metrics_start(const char *addr, bool http, struct pop_state *s,
                  struct metrics_server **ret);
/* The URL it serves, for the log ("https://0.0.0.0:8443/metrics"). */
const char *metrics_url(const struct metrics_server *m);
/* The SHA-256 fingerprint of the certificate, or "" over HTTP. */
const char *metrics_fingerprint(const struct metrics_server *m);
void metrics_stop(struct metrics_server *m);

int metrics_make_certificate(char **ret_cert, char **ret_key,
                             char fp[METRICS_FINGERPRINT_MAX]);

#endif
