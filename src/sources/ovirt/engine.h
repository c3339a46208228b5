/* oVirt engine: SSO login, the REST API (v4, JSON) and image transfers.
 *
 * The provider is an engine URL plus credentials: user and password, and a
 * CA certificate or insecure set by name. Credentials never appear in
 * messages. The inventory fills the neutral model (src/model/vm.h).
 *
 * Login is OAuth's password grant on the engine's SSO
 * (POST /ovirt-engine/sso/oauth/token, scope ovirt-app-api); API calls
 * then carry "Authorization: Bearer", "Accept: application/json" and
 * "Version: 4". Transient engine failures (5xx, a connection reset) are
 * retried with backoff by the HTTP layer. An engine is used by one thread
 * at a time, except ovirt_transfer_abort(), which any thread may call.
 */
#ifndef HOIST_SOURCES_OVIRT_ENGINE_H
#define HOIST_SOURCES_OVIRT_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "disk/disk.h"
#include "model/vm.h"
#include "util/vector.h"

#define OVIRT_DEFAULT_TRANSFER_TIMEOUT 300 /* seconds */

struct ovirt_config {
  const char *url;  /* https://engine.example.com (the /ovirt-engine/api
                       part is added when missing) */
  const char *user; /* admin@internal */
  const char *password;
  const char *cacert; /* PEM file; NULL: system CAs */
  bool insecure;      /* skip TLS verification (the caller warns) */
  /* How long a transfer may take to become ready, and to be finalized,
   * in seconds; 0: OVIRT_DEFAULT_TRANSFER_TIMEOUT. */
  unsigned transfer_timeout;
  /* When set (by a signal handler's thread, say), waits for the engine
   * end at once with -EINTR. May be NULL. */
  const atomic_bool *stop;
};

struct ovirt_engine;

/* Logs in through the engine's SSO (token endpoint); wrong credentials
 * give a clear error without the password. */
int ovirt_connect(const struct ovirt_config *cfg, struct ovirt_engine **ret);
/* Logs out (revokes the token, best effort) and frees; NULL is fine. */
void ovirt_close(struct ovirt_engine *e);

/* "https://engine.example.com" as messages name the engine. */
const char *ovirt_engine_origin(const struct ovirt_engine *e);

/* ---- inventory ---- */

struct ovirt_network {
  char *id, *name, *description;
  char *data_center; /* its name, or id when the name is unknown */
  int vlan;          /* VLAN tag, or -1 */
  bool vm_network;   /* usable by VMs ("vm" among its usages) */
};
DEFINE_VECTOR_TYPE(ovirt_network_list, struct ovirt_network)

struct ovirt_vnic_profile {
  char *id, *name;
  char *network_id;
  bool pass_through; /* SR-IOV passthrough profile */
  bool port_mirroring;
  bool network_filter; /* a network filter is set */
  bool qos;            /* a QoS is set */
  bool custom_properties;
};
DEFINE_VECTOR_TYPE(ovirt_vnic_profile_list, struct ovirt_vnic_profile)

struct ovirt_storage_domain {
  char *id, *name;
  char *type;         /* data, iso, export, image, … */
  char *storage_type; /* nfs, iscsi, fcp, glusterfs, posixfs, localfs, … */
  char *status;       /* its external status or status, or NULL */
  uint64_t available, used; /* bytes; 0 when unknown */
};
DEFINE_VECTOR_TYPE(ovirt_storage_domain_list, struct ovirt_storage_domain)

struct ovirt_cluster {
  char *id, *name;
  char *bios_type; /* the cluster's default BIOS type, or NULL */
  char *cpu_type;
};
DEFINE_VECTOR_TYPE(ovirt_cluster_list, struct ovirt_cluster)

struct ovirt_host {
  char *id, *name, *address, *status;
  char *cluster_id;
};
DEFINE_VECTOR_TYPE(ovirt_host_list, struct ovirt_host)

/* What VMs refer to, loaded once per engine: networks, vNIC profiles,
 * storage domains, clusters and hosts. */
struct ovirt_inventory {
  struct ovirt_network_list networks;
  struct ovirt_vnic_profile_list profiles;
  struct ovirt_storage_domain_list storage;
  struct ovirt_cluster_list clusters;
  struct ovirt_host_list hosts;
};

/* Loads the inventory above (on first use) and returns it; it belongs to
 * the engine. */
int ovirt_inventory(struct ovirt_engine *e, const struct ovirt_inventory **ret);

/* All VMs, as neutral models with their concerns (see inventory.h for
 * the rules). Appends to out. */
int ovirt_list_vms(struct ovirt_engine *e, struct vm_list *out);

/* The VM with this name (exactly) or id; -ENOENT with a message naming
 * the engine when there is none. */
int ovirt_find_vm(struct ovirt_engine *e, const char *name_or_id,
                  struct vm **ret);

/* ---- image transfers ---- */

/* An image transfer (download, format raw) of one disk, from creation
 * until it is finalized or cancelled. */
struct ovirt_transfer;

/* Creates the transfer and waits (bounded) until it is ready
 * (phase "transferring"); host_id may be NULL. On failure nothing is left
 * behind: a transfer that was created is cancelled. */
int ovirt_transfer_start(struct ovirt_engine *e, const char *disk_id,
                         const char *host_id, struct ovirt_transfer **ret);
/* Opens the transfer's data as a disk: transfer_url first, proxy_url
 * when the host daemon cannot be reached. */
int ovirt_transfer_open_disk(struct ovirt_transfer *t, struct disk **ret);
/* Ends the transfer successfully: finalizes it and waits (bounded) until
 * the engine reports it finished. */
int ovirt_transfer_finalize(struct ovirt_transfer *t);
/* Cancels (if not finalized) and frees; always safe, also on NULL: every
 * failure path calls it so that no transfer or disk lock is left. */
void ovirt_transfer_close(struct ovirt_transfer *t);

/* From another thread (an interrupt): cancels the transfer on the engine
 * now, on a connection of its own, so that reads of its data fail and
 * waits end. The owner still calls ovirt_transfer_close(). Returns 0 or a
 * negative errno (with the error set in the calling thread). */
int ovirt_transfer_abort(struct ovirt_transfer *t);

/* The transfer's id and the URLs the engine gave (valid while open). */
const char *ovirt_transfer_id(const struct ovirt_transfer *t);
const char *ovirt_transfer_url(const struct ovirt_transfer *t);
const char *ovirt_transfer_proxy_url(const struct ovirt_transfer *t);
/* The URL ovirt_transfer_open_disk() read from (NULL before). */
const char *ovirt_transfer_data_url(const struct ovirt_transfer *t);

#endif
