/* Shared by ovf.c (the envelope) and ovf_hardware.c (a VirtualSystem's
 * hardware): the parse context and small XML helpers. */
#ifndef HOIST_SOURCES_OVA_OVF_INTERNAL_H
#define HOIST_SOURCES_OVA_OVF_INTERNAL_H

#include <libxml/tree.h>
#include <stdbool.h>
#include <stdint.h>

#include "sources/ova/ovf.h"

#define OVF_NS_VMW "http://www.vmware.com/schema/ovf"
#define OVF_NS_VBOX "http://www.virtualbox.org/ovf/machine"
/* rasd, vssd, sasd, epasd (VirtualBox adds ".xsd" to some) */
#define OVF_NS_CIM_PREFIX "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"

enum ovf_ns {
  NS_OVF, /* the envelope's namespace (OVF 1.x or 2.0) */
  NS_CIM, /* any CIM settings namespace, or none */
  NS_VMW,
  NS_VBOX,
  NS_ANY,
};

/* A Disk of the DiskSection. */
struct ovf_disk_def {
  char *id;
  char *file_ref;
  char *format;        /* short name or the URI */
  const char *variant; /* static */
  bool format_known;
  uint64_t capacity;
  uint64_t populated;
  int line;
  size_t file;      /* index in ovf->files when file_ref is set */
  unsigned used_by; /* VMs that attach it */
};
DEFINE_VECTOR_TYPE(ovf_disk_def_list, struct ovf_disk_def)

struct ovf_ctx {
  const char *where;
  const char *source_ref;
  const xmlChar *ns; /* envelope namespace */
  char *default_config;
  struct ovf *out;
  struct ovf_disk_def_list disks;
  bool oom;
};

bool ovf_is(const struct ovf_ctx *ctx, xmlNodePtr n, enum ovf_ns ns,
            const char *local);
xmlNodePtr ovf_child(const struct ovf_ctx *ctx, xmlNodePtr parent,
                     enum ovf_ns ns, const char *local);
/* The element's own text (entity references ignored), trimmed; never
 * NULL except when out of memory (then ctx->oom is set). */
char *ovf_text(struct ovf_ctx *ctx, xmlNodePtr n);
/* Text of the first child element ns:local, or NULL when there is none. */
char *ovf_child_text(struct ovf_ctx *ctx, xmlNodePtr parent, enum ovf_ns ns,
                     const char *local);
/* ovf:name (or an unqualified name), trimmed, or NULL. */
char *ovf_attr(struct ovf_ctx *ctx, xmlNodePtr n, const char *name);
/* An attribute in namespace ns_href (or unqualified), trimmed, or NULL. */
char *ovf_attr_ns(struct ovf_ctx *ctx, xmlNodePtr n, const char *name,
                  const char *ns_href);

/* error_set(EINVAL, "<where> line N: <message>"). */
int ovf_error(const struct ovf_ctx *ctx, xmlNodePtr n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ovf_oom(void);
int ovf_line(xmlNodePtr n);

/* Strict decimal. */
int ovf_parse_u64(const char *s, uint64_t *ret);
bool ovf_true(const char *s); /* "true", "TRUE", "1", "yes" */

struct ovf_disk_def *ovf_find_disk(struct ovf_ctx *ctx, const char *id);
struct ovf_file *ovf_find_file(struct ovf_ctx *ctx, const char *id);

/* Is the item active in the default deployment configuration (and not a
 * min/max bound)? */
bool ovf_item_applies(struct ovf_ctx *ctx, xmlNodePtr item);

/* Fills vm from a VirtualSystem's VirtualHardwareSection (and its vbox
 * and vmw extensions). */
int ovf_hardware(struct ovf_ctx *ctx, xmlNodePtr system, xmlNodePtr hw,
                 xmlNodePtr vbox, struct vm *vm);

#endif
