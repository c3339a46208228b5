/* Network mapping: which target network each source network goes to.
 *
 * A map file (read by mapfile.h) is Forklift NetworkMap manifests
 * (destination: {type: pod | multus | ignored, name, namespace}) or lines
 * of the text form:
 *
 *   # comment
 *   VM Network=pod
 *   Storage LAN=multus:NAMESPACE/NAME    (or multus:NAME: the VM's own
 *                                          namespace)
 *   Backup=ignored
 *
 * Assignment rules (mapping_assign_networks), in order:
 *  1. a NIC whose network is in the map goes where the map says;
 *     "ignored" leaves the NIC out of the VM (an info concern);
 *  2. KubeVirt allows one NIC on the pod network: a second NIC mapped to
 *     "pod" is a critical concern;
 *  3. a NIC whose network is not in the map (or that has no network) is a
 *     warning concern and goes to the pod network if no NIC has it yet,
 *     else it is a critical concern.
 */
#ifndef HOIST_MODEL_MAPPING_H
#define HOIST_MODEL_MAPPING_H

#include <stddef.h>

#include "model/vm.h"
#include "util/vector.h"

enum netmap_type { NETMAP_POD, NETMAP_MULTUS, NETMAP_IGNORED };

struct netmap_entry {
  char *source_name; /* match by name (either may be NULL, not both) */
  char *source_id;   /* match by id */
  enum netmap_type type;
  char *ns;   /* multus: the NetworkAttachmentDefinition's namespace, or
                 NULL for the VM's own */
  char *name; /* multus: its name */
  unsigned line;
};
DEFINE_VECTOR_TYPE(netmap_entry_list, struct netmap_entry)

struct netmap {
  char *file;
  struct netmap_entry_list entries;
};

/* Parses a map from memory; `file` names it in messages. */
int netmap_parse(const char *data, size_t len, const char *file,
                 struct netmap **ret);
/* Reads and parses a map file. */
int netmap_load(const char *path, struct netmap **ret);
void netmap_free(struct netmap *map);

/* The entry for a source network (matched by name, then by id), or
 * NULL. map may be NULL. */
const struct netmap_entry *netmap_lookup(const struct netmap *map,
                                         const char *network);

const char *netmap_type_name(enum netmap_type type);

/* Where one NIC goes. ns/name point into the map (valid while it is). */
struct nic_target {
  enum netmap_type type;
  const char *ns;
  const char *name;
};

/* Fills targets[i] for each vm->nics.ptr[i] by the rules above and adds
 * their concerns to vm. map may be NULL (every network unmapped).
 * Returns 0 or -ENOMEM. */
int mapping_assign_networks(struct vm *vm, const struct netmap *map,
                            struct nic_target *targets);

#endif
