/* OVF descriptors (DMTF DSP0243 1.x and 2.0, with the VMware and
 * VirtualBox extensions real exports carry) parsed into the neutral VM
 * model.
 *
 * The parser only reads the XML it is given: it never loads a DTD, an
 * external entity or anything from the network, and refuses documents
 * with a DOCTYPE. Every number is range-checked; what it cannot map
 * faithfully becomes a concern on the VM, what it cannot make sense of is
 * an error naming the descriptor, the line and the problem.
 */
#ifndef HOIST_SOURCES_OVA_OVF_H
#define HOIST_SOURCES_OVA_OVF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/vm.h"
#include "util/vector.h"

#define OVF_MAX_SIZE (16 * 1024 * 1024)
#define OVF_MAX_VMS 256
#define OVF_MAX_ITEMS 1024 /* hardware items per VirtualSystem */
#define OVF_MAX_FILES 1024
#define OVF_MAX_DISKS 1024
#define OVF_MAX_VM_DISKS 256 /* attached to one VirtualSystem */
#define OVF_MAX_DEPTH 8      /* nesting of VirtualSystemCollections */
#define OVF_MAX_CPUS 4096
#define OVF_MAX_MEMORY (64ull << 40)  /* 64 TiB */
#define OVF_MAX_CAPACITY (1ull << 50) /* 1 PiB per disk */

/* A File of the References section: a file of the package. */
struct ovf_file {
  char *id;
  char *href;    /* the member name (or a URL, which hoist refuses) */
  uint64_t size; /* ovf:size, if has_size */
  bool has_size;
  char *compression; /* "gzip" or NULL */
  /* From the Disk that uses the file: "streamOptimized",
   * "monolithicSparse" or NULL (static strings). */
  const char *variant;
  bool referenced; /* a disk of some VM uses it */
  int line;
};
DEFINE_VECTOR_TYPE(ovf_file_list, struct ovf_file)

struct ovf {
  struct vm_list vms;
  struct ovf_file_list files;
};

/* Parses the descriptor in data[0..len). `where` prefixes messages
 * ("vm.ova: vm.ovf" gives "vm.ova: vm.ovf line 42: …"); source_ref goes
 * into each VM's source_ref. On success *out holds one VM per
 * VirtualSystem (those of every VirtualSystemCollection included), in
 * document order. Each vm_disk has its OVF diskId as id, the href of its
 * file as locator (NULL for an empty disk the OVF asks to create, which
 * also carries an info concern), compression "gzip" where the File says
 * so, format "vmdk", "qcow2", "raw", "vhd", "vhdx", "vdi" or the format
 * URI itself when unknown. */
int ovf_parse(const void *data, size_t len, const char *where,
              const char *source_ref, struct ovf *out);

void ovf_free(struct ovf *ovf);

/* Maps an ovf:format URI to a short format name (static string), or NULL
 * when unknown. *variant gets "streamOptimized", "monolithicSparse" or
 * NULL. */
const char *ovf_format_name(const char *uri, const char **variant);

/* Parses DMTF programmatic units ("byte * 2^30", "MegaBytes", "KB", …)
 * into a byte multiplier. */
int ovf_parse_units(const char *s, uint64_t *mult);

#endif
