/* An OpenStack project as a migration source: its inventory as VMs, and
 * each disk's data through temporary objects, as Forklift does it:
 *
 *  - the root disk of a server booted from an image: a Nova snapshot
 *    (createImage) of the server, a Glance image;
 *  - a Cinder volume: a snapshot of it (force, so in-use volumes work),
 *    a new volume from the snapshot, and os-volume_upload_image of that
 *    volume into a raw Glance image.
 *
 * The image is then read with the Glance data path (glance.h), and the
 * temporaries are deleted afterwards, whatever happened. Every temporary
 * is named hoist-<MIGRATION>-… and carries the metadata
 * hoist.io/migration=<MIGRATION> where the service keeps metadata (Nova
 * snapshot images, Cinder snapshots and volumes), so that what a crashed
 * run left behind can be found and deleted later (os_cloud_cleanup(),
 * `hoist inventory openstack leftovers --delete`).
 */
#ifndef HOIST_SOURCES_OPENSTACK_CLOUD_H
#define HOIST_SOURCES_OPENSTACK_CLOUD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "disk/disk.h"
#include "model/vm.h"
#include "sources/openstack/glance.h"
#include "sources/openstack/inventory.h"

#define OS_MIGRATION_KEY "hoist.io/migration"
#define OS_DEFAULT_TIMEOUT 3600

struct os_session;
struct os_cloud;

/* Takes ownership of the session (also on failure). */
int os_cloud_open(struct os_session *s, struct os_cloud **ret);
void os_cloud_close(struct os_cloud *c);

/* Set before exports: how long a snapshot, volume or image may take to
 * be ready (seconds; 0: OS_DEFAULT_TIMEOUT), and a flag that stops
 * waiting with -EINTR. */
void os_cloud_set_wait(struct os_cloud *c, unsigned timeout,
                       const atomic_bool *stop);

/* The servers, volumes, volume types, ports, networks and floating IPs
 * (fetched once). */
int os_cloud_inventory(struct os_cloud *c, const struct os_inventory **ret);
/* The project's Glance images. */
int os_cloud_images(struct os_cloud *c, struct glance_image_list *out);

/* Every server as a VM (appended to out). */
int os_cloud_list_vms(struct os_cloud *c, struct vm_list *out);
/* The server named (or with the id) `name`; an error if none or several
 * have that name. */
int os_cloud_find_vm(struct os_cloud *c, const char *name, struct vm **ret);

/* The temporaries of one disk. */
struct os_export;

/* Creates the temporaries of disk `d` (its locator) and waits until the
 * image is active. migration: the id that names and tags them. */
int os_export_start(struct os_cloud *c, const struct vm_disk *d,
                    const char *migration, struct os_export **ret);
/* The image's id (for messages). */
const char *os_export_image(const struct os_export *e);
/* The image's data as a disk (workers: parallel connections). */
int os_export_open_disk(struct os_export *e, unsigned workers,
                        struct disk **ret);
/* Deletes the temporaries (image, volume, snapshot) and frees e; an
 * error names what could not be deleted. NULL-safe. */
int os_export_finish(struct os_export *e);

/* Deletes every temporary of migration `id` (NULL: of any hoist
 * migration) that is still there; lists what it found (or, with dry_run,
 * would delete) through `report`. */
int os_cloud_cleanup(struct os_cloud *c, const char *id, bool dry_run,
                     void (*report)(void *opaque, const char *kind,
                                    const char *obj_id, const char *name),
                     void *opaque);

/* A new migration id: 8 hex digits. */
int os_new_migration_id(char out[9]);

#endif
