/* What an OpenStack project holds, as hoist reads it: Nova servers (with
 * their flavors embedded, microversion 2.47), Cinder volumes and volume
 * types, Neutron networks, ports and floating IPs; and how a server
 * becomes a VM of the neutral model, with its concerns.
 *
 * The parsers take the services' replies as they come (outside data):
 * anything missing or of the wrong type is left out, never trusted.
 */
#ifndef HOIST_SOURCES_OPENSTACK_INVENTORY_H
#define HOIST_SOURCES_OPENSTACK_INVENTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/vm.h"
#include "util/vector.h"

DEFINE_VECTOR_TYPE(os_str_list, char *)

struct os_server {
  char *id, *name, *status, *description;
  char *image_id; /* NULL: booted from a volume */
  bool flavor_known;
  unsigned vcpus;
  uint64_t ram_mib, disk_gb, ephemeral_gb, swap_mib;
  char *flavor_name;
  json_t *extra_specs; /* object (may be empty) */
  struct os_str_list volume_ids;
  json_t *metadata;
};
DEFINE_VECTOR_TYPE(os_server_list, struct os_server)

struct os_attachment {
  char *server_id, *device;
};
DEFINE_VECTOR_TYPE(os_attachment_list, struct os_attachment)

struct os_volume {
  char *id, *name, *status, *type;
  uint64_t size_gb;
  bool bootable, multiattach, encrypted;
  struct os_attachment_list attachments;
  json_t *image_meta; /* volume_image_metadata (object, may be empty) */
};
DEFINE_VECTOR_TYPE(os_volume_list, struct os_volume)

struct os_volume_type {
  char *id, *name;
};
DEFINE_VECTOR_TYPE(os_volume_type_list, struct os_volume_type)

struct os_port {
  char *id, *network_id, *mac, *device_id, *vnic_type, *ip;
};
DEFINE_VECTOR_TYPE(os_port_list, struct os_port)

struct os_network {
  char *id, *name;
  bool shared, external;
};
DEFINE_VECTOR_TYPE(os_network_list, struct os_network)

struct os_floating_ip {
  char *port_id, *address;
};
DEFINE_VECTOR_TYPE(os_floating_ip_list, struct os_floating_ip)

struct os_inventory {
  struct os_server_list servers;
  struct os_volume_list volumes;
  struct os_volume_type_list volume_types;
  struct os_port_list ports;
  struct os_network_list networks;
  struct os_floating_ip_list floating_ips;
};

/* Parsers of the replies (GET …/servers/detail or …/servers/{id}; Cinder
 * …/volumes/detail or …/volumes/{id}; …/types; Neutron …/ports,
 * …/networks, …/floatingips). They append to the lists; `name` is for
 * messages. */
int os_parse_servers(const char *buf, size_t len, const char *name,
                     struct os_server_list *out);
int os_parse_volumes(const char *buf, size_t len, const char *name,
                     struct os_volume_list *out);
int os_parse_volume_types(const char *buf, size_t len, const char *name,
                          struct os_volume_type_list *out);
int os_parse_ports(const char *buf, size_t len, const char *name,
                   struct os_port_list *out);
int os_parse_networks(const char *buf, size_t len, const char *name,
                      struct os_network_list *out);
int os_parse_floating_ips(const char *buf, size_t len, const char *name,
                          struct os_floating_ip_list *out);

/* The same from parsed JSON. */
int os_servers_from_json(json_t *j, const char *name,
                         struct os_server_list *out);
int os_volumes_from_json(json_t *j, const char *name,
                         struct os_volume_list *out);
int os_volume_types_from_json(json_t *j, struct os_volume_type_list *out);
int os_ports_from_json(json_t *j, struct os_port_list *out);
int os_networks_from_json(json_t *j, struct os_network_list *out);
int os_floating_ips_from_json(json_t *j, struct os_floating_ip_list *out);

void os_inventory_clear(struct os_inventory *inv);

const struct os_volume *os_inventory_volume(const struct os_inventory *inv,
                                            const char *id);
const struct os_network *os_inventory_network(const struct os_inventory *inv,
                                              const char *id);

/* Locators of the model's disks: where the bytes come from. */
#define OS_LOCATOR_SERVER "server:" /* the root disk: a Nova snapshot */
#define OS_LOCATOR_VOLUME "volume:" /* a Cinder volume */

/* A server as a VM: CPU and memory from the flavor (and hw_cpu_*), the
 * firmware, machine type, disk bus, NIC model from the image's (or the
 * boot volume's image metadata's) hw_* properties; the root disk (an
 * image-booted server) and the attached volumes (boot index, bus,
 * serial, volume type); NICs from the ports (MAC, network name, fixed
 * IP); and the concerns that Forklift's OpenStack rules raise. image is
 * the server's image (NULL if booted from a volume or unknown). */
int os_vm_build(const struct os_inventory *inv, const struct os_server *srv,
                json_t *image, const char *source_ref, struct vm **ret);

#endif
