/* oVirt engine: SSO login, the REST API (v4, JSON) and image transfers.
 *
 * The provider is an engine URL plus credentials: user and password, and a
 * CA certificate or insecure set by name. Credentials never appear in
 * messages. The inventory fills the neutral model (src/model/vm.h).
 */
#ifndef HOIST_SOURCES_OVIRT_ENGINE_H
#define HOIST_SOURCES_OVIRT_ENGINE_H

#include <stdbool.h>

#include "disk/disk.h"
#include "model/vm.h"

struct ovirt_config {
  const char *url;  /* https://engine.example.com (the /ovirt-engine/api
                       part is added when missing) */
  const char *user; /* admin@internal */
  const char *password;
  const char *cacert; /* PEM file; NULL: system CAs */
  bool insecure;      /* skip TLS verification (the caller warns) */
};

struct ovirt_engine;

/* Logs in through the engine's SSO (token endpoint); wrong credentials
 * give a clear error without the password. */
int ovirt_connect(const struct ovirt_config *cfg, struct ovirt_engine **ret);
void ovirt_close(struct ovirt_engine *e);

/* An image transfer (download, format raw) of one disk, from creation
 * until it is finalized or cancelled. */
struct ovirt_transfer;

/* Creates the transfer and waits (bounded) until it is ready
 * (phase "transferring"); host_id may be NULL. */
int ovirt_transfer_start(struct ovirt_engine *e, const char *disk_id,
                         const char *host_id, struct ovirt_transfer **ret);
/* Opens the transfer's data as a disk: transfer_url first, proxy_url
 * when the host daemon cannot be reached. */
int ovirt_transfer_open_disk(struct ovirt_transfer *t, struct disk **ret);
/* Ends the transfer successfully. */
int ovirt_transfer_finalize(struct ovirt_transfer *t);
/* Cancels (if not finalized) and frees; always safe, also on NULL: every
 * failure path calls it so that no transfer or disk lock is left. */
void ovirt_transfer_close(struct ovirt_transfer *t);

#endif
