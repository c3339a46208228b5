/* hoist-controller's own HTTP endpoint (--health-addr): GET /healthz
 * answers 200 while the process runs (the standby replica too), GET
 * /metrics gives its API request counts in the Prometheus text format.
 * Plain HTTP: it serves no secret. */
#ifndef HOIST_CONTROLLER_HEALTH_H
#define HOIST_CONTROLLER_HEALTH_H

#include "kube/client.h"

struct ctl_health;

/* addr: "[HOST]:PORT" (IPv4 or empty host: every address). */
int ctl_health_start(const char *addr, struct kube_client *client,
                     struct ctl_health **ret);
void ctl_health_stop(struct ctl_health *h);

#endif
