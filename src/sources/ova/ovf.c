/* OVF descriptors: the envelope (References, DiskSection, deployment
 * options, VirtualSystem and VirtualSystemCollection). The hardware of
 * each VirtualSystem is in ovf_hardware.c. */
#include "sources/ova/ovf.h"

#include <ctype.h>
#include <errno.h>
#include <libxml/parser.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/ova/ovf-internal.h"
#include "util/checked.h"
#include "util/cleanup.h"
#include "util/error.h"

#define OVF_NS_1 "http://schemas.dmtf.org/ovf/envelope/1"
#define OVF_NS_2 "http://schemas.dmtf.org/ovf/envelope/2"

/* ---- XML helpers ---- */

static bool ns_matches(const struct ovf_ctx *ctx, const xmlNs *ns,
                       enum ovf_ns want)
{
  const char *href = ns ? (const char *)ns->href : NULL;

  switch (want) {
  case NS_OVF:
    return href && xmlStrEqual(ns->href, ctx->ns);
  case NS_CIM:
    return !href ||
           strncmp(href, OVF_NS_CIM_PREFIX, strlen(OVF_NS_CIM_PREFIX)) == 0;
  case NS_VMW:
    return href && streq(href, OVF_NS_VMW);
  case NS_VBOX:
    return href && streq(href, OVF_NS_VBOX);
  case NS_ANY:
    return true;
  }
  return false;
}

bool ovf_is(const struct ovf_ctx *ctx, xmlNodePtr n, enum ovf_ns ns,
            const char *local)
{
  return n && n->type == XML_ELEMENT_NODE &&
         xmlStrEqual(n->name, (const xmlChar *)local) &&
         ns_matches(ctx, n->ns, ns);
}

xmlNodePtr ovf_child(const struct ovf_ctx *ctx, xmlNodePtr parent,
                     enum ovf_ns ns, const char *local)
{
  xmlNodePtr c;

  for (c = parent ? parent->children : NULL; c; c = c->next)
    if (ovf_is(ctx, c, ns, local))
      return c;
  return NULL;
}

static char *trimmed(struct ovf_ctx *ctx, const char *s, size_t len)
{
  char *r;

  while (len > 0 && isspace((unsigned char)*s)) {
    s++;
    len--;
  }
  while (len > 0 && isspace((unsigned char)s[len - 1]))
    len--;
  r = strndup(s, len);
  if (!r)
    ctx->oom = true;
  return r;
}

char *ovf_text(struct ovf_ctx *ctx, xmlNodePtr n)
{
  _cleanup_free_ char *buf = NULL;
  size_t len = 0;
  xmlNodePtr c;

  for (c = n->children; c; c = c->next) {
    size_t l;
    char *nb;
    if ((c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE) ||
        !c->content)
      continue;
    l = strlen((const char *)c->content);
    nb = realloc(buf, len + l + 1);
    if (!nb) {
      ctx->oom = true;
      return NULL;
    }
    buf = nb;
    memcpy(buf + len, c->content, l);
    len += l;
  }
  return trimmed(ctx, buf ? buf : "", len);
}

char *ovf_child_text(struct ovf_ctx *ctx, xmlNodePtr parent, enum ovf_ns ns,
                     const char *local)
{
  xmlNodePtr c = ovf_child(ctx, parent, ns, local);

  return c ? ovf_text(ctx, c) : NULL;
}

static char *attr_value(struct ovf_ctx *ctx, xmlChar *v)
{
  char *r;

  if (!v)
    return NULL;
  r = trimmed(ctx, (const char *)v, strlen((const char *)v));
  xmlFree(v);
  return r;
}

char *ovf_attr_ns(struct ovf_ctx *ctx, xmlNodePtr n, const char *name,
                  const char *ns_href)
{
  xmlChar *v = xmlGetNsProp(n, (const xmlChar *)name, (const xmlChar *)ns_href);

  if (!v)
    v = xmlGetNoNsProp(n, (const xmlChar *)name);
  return attr_value(ctx, v);
}

char *ovf_attr(struct ovf_ctx *ctx, xmlNodePtr n, const char *name)
{
  return ovf_attr_ns(ctx, n, name, (const char *)ctx->ns);
}

int ovf_line(xmlNodePtr n)
{
  long l = n ? xmlGetLineNo(n) : -1;

  return l > 0 && l < INT_MAX ? (int)l : 0;
}

int ovf_error(const struct ovf_ctx *ctx, xmlNodePtr n, const char *fmt, ...)
{
  _cleanup_free_ char *msg = NULL;
  va_list ap;
  int line = ovf_line(n), r;

  va_start(ap, fmt);
  r = vasprintf(&msg, fmt, ap);
  va_end(ap);
  if (r < 0)
    return ovf_oom();
  if (line)
    return error_set(EINVAL, "%s line %d: %s", ctx->where, line, msg);
  return error_set(EINVAL, "%s: %s", ctx->where, msg);
}

int ovf_oom(void)
{
  return error_set(ENOMEM, "out of memory");
}

int ovf_parse_u64(const char *s, uint64_t *ret)
{
  uint64_t v = 0;

  if (!s || !*s)
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || MUL_OVERFLOW(v, 10, &v) ||
        ADD_OVERFLOW(v, (uint64_t)(*s - '0'), &v))
      return -1;
  }
  *ret = v;
  return 0;
}

bool ovf_true(const char *s)
{
  return s && (strcasecmp(s, "true") == 0 || streq(s, "1") ||
               strcasecmp(s, "yes") == 0);
}

/* ---- units and formats ---- */

static bool word_is(const char *s, size_t len, const char *w)
{
  return strlen(w) == len && strncasecmp(s, w, len) == 0;
}

/* base [ "*" factor ]…, factor = N or N^M; e.g. "byte * 2^30". */
int ovf_parse_units(const char *s, uint64_t *mult)
{
  static const struct {
    const char *name;
    uint64_t mult;
  } bases[] = {
      {"byte", 1},
      {"bytes", 1},
      {"b", 1},
      {"kilobyte", 1ull << 10},
      {"kilobytes", 1ull << 10},
      {"kb", 1ull << 10},
      {"kib", 1ull << 10},
      {"megabyte", 1ull << 20},
      {"megabytes", 1ull << 20},
      {"mb", 1ull << 20},
      {"mib", 1ull << 20},
      {"gigabyte", 1ull << 30},
      {"gigabytes", 1ull << 30},
      {"gb", 1ull << 30},
      {"gib", 1ull << 30},
      {"terabyte", 1ull << 40},
      {"terabytes", 1ull << 40},
      {"tb", 1ull << 40},
      {"tib", 1ull << 40},
  };
  const char *p = s, *w;
  uint64_t m = 0;
  size_t i;

  while (isspace((unsigned char)*p))
    p++;
  w = p;
  while (isalpha((unsigned char)*p))
    p++;
  for (i = 0; i < ARRAY_SIZE(bases); i++)
    if (word_is(w, p - w, bases[i].name))
      m = bases[i].mult;
  if (m == 0)
    return -1;
  for (;;) {
    uint64_t base = 0, exp = 1, f = 1;
    while (isspace((unsigned char)*p))
      p++;
    if (!*p)
      break;
    if (*p++ != '*')
      return -1;
    while (isspace((unsigned char)*p))
      p++;
    if (!isdigit((unsigned char)*p))
      return -1;
    while (isdigit((unsigned char)*p)) {
      if (MUL_OVERFLOW(base, 10, &base) ||
          ADD_OVERFLOW(base, (uint64_t)(*p - '0'), &base))
        return -1;
      p++;
    }
    while (isspace((unsigned char)*p))
      p++;
    if (*p == '^') {
      p++;
      while (isspace((unsigned char)*p))
        p++;
      if (!isdigit((unsigned char)*p))
        return -1;
      exp = 0;
      while (isdigit((unsigned char)*p)) {
        exp = exp * 10 + (*p - '0');
        if (exp > 64)
          return -1;
        p++;
      }
    }
    if (base == 0)
      return -1;
    for (; exp > 0; exp--)
      if (MUL_OVERFLOW(f, base, &f))
        return -1;
    if (MUL_OVERFLOW(m, f, &m))
      return -1;
  }
  *mult = m;
  return 0;
}

const char *ovf_format_name(const char *uri, const char **variant)
{
  const char *frag = strchr(uri, '#');

  *variant = NULL;
  if (strcasestr(uri, "vmdk")) {
    if (frag && (strcasecmp(frag, "#streamOptimized") == 0 ||
                 strcasecmp(frag, "#compressed") == 0))
      *variant = "streamOptimized";
    else if (frag && strcasecmp(frag, "#sparse") == 0)
      *variant = "monolithicSparse";
    return "vmdk";
  }
  if (strcasestr(uri, "qcow"))
    return "qcow2";
  /* oVirt writes RAW disks as "http://en.wikipedia.org/wiki/Byte". */
  if (strcasecmp(uri, "http://en.wikipedia.org/wiki/Byte") == 0 ||
      strcasecmp(uri, "raw") == 0 || (frag && strcasecmp(frag, "#raw") == 0))
    return "raw";
  if (strcasestr(uri, "vhdx"))
    return "vhdx";
  if (strcasestr(uri, "vhd") ||
      strcasestr(uri, "go.microsoft.com/fwlink/?LinkId=137171"))
    return "vhd";
  if (strcasestr(uri, "vdi"))
    return "vdi";
  return NULL;
}

/* ---- the envelope ---- */

static void file_free_fields(struct ovf_file *f)
{
  free(f->id);
  free(f->href);
  free(f->compression);
}

struct ovf_file *ovf_find_file(struct ovf_ctx *ctx, const char *id)
{
  size_t i;

  for (i = 0; i < ctx->out->files.len; i++)
    if (streq(ctx->out->files.ptr[i].id, id))
      return &ctx->out->files.ptr[i];
  return NULL;
}

static int parse_file(struct ovf_ctx *ctx, xmlNodePtr c)
{
  struct ovf_file_list *files = &ctx->out->files;
  struct ovf_file f = {.line = ovf_line(c)}, *fp;
  _cleanup_free_ char *size = NULL, *chunk = NULL, *comp = NULL;

  if (files->len >= OVF_MAX_FILES)
    return ovf_error(ctx, c, "more than %d files in References", OVF_MAX_FILES);
  f.id = ovf_attr(ctx, c, "id");
  f.href = ovf_attr(ctx, c, "href");
  if (ovf_file_list_append(files, f) < 0) {
    file_free_fields(&f);
    return ovf_oom();
  }
  fp = &files->ptr[files->len - 1];
  size = ovf_attr(ctx, c, "size");
  chunk = ovf_attr(ctx, c, "chunkSize");
  comp = ovf_attr(ctx, c, "compression");
  if (ctx->oom)
    return ovf_oom();
  if (!fp->id || !*fp->id)
    return ovf_error(ctx, c, "a File has no ovf:id");
  if (!fp->href || !*fp->href)
    return ovf_error(ctx, c, "file %s has no ovf:href", fp->id);
  if (files->len > 1 && ovf_find_file(ctx, fp->id) != fp)
    return ovf_error(ctx, c, "file id %s is used twice", fp->id);
  if (size) {
    if (ovf_parse_u64(size, &fp->size) < 0)
      return ovf_error(ctx, c, "file %s: ovf:size \"%s\" is not a number",
                       fp->id, size);
    fp->has_size = true;
  }
  if (chunk)
    return ovf_error(ctx, c,
                     "file %s is split into chunks (ovf:chunkSize), which "
                     "hoist does not support; join the chunks and remove "
                     "ovf:chunkSize",
                     fp->id);
  if (comp && *comp && strcasecmp(comp, "identity") != 0) {
    if (strcasecmp(comp, "gzip") != 0)
      return ovf_error(ctx, c,
                       "file %s: compression \"%s\" is not supported "
                       "(only gzip)",
                       fp->id, comp);
    fp->compression = strdup("gzip");
    if (!fp->compression)
      return ovf_oom();
  }
  return 0;
}

static int parse_references(struct ovf_ctx *ctx, xmlNodePtr root)
{
  xmlNodePtr refs = ovf_child(ctx, root, NS_OVF, "References"), c;
  int r;

  for (c = refs ? refs->children : NULL; c; c = c->next) {
    if (!ovf_is(ctx, c, NS_OVF, "File"))
      continue;
    r = parse_file(ctx, c);
    if (r < 0)
      return r;
  }
  return 0;
}

struct ovf_disk_def *ovf_find_disk(struct ovf_ctx *ctx, const char *id)
{
  size_t i;

  for (i = 0; i < ctx->disks.len; i++)
    if (streq(ctx->disks.ptr[i].id, id))
      return &ctx->disks.ptr[i];
  return NULL;
}

/* capacity * units, range-checked. */
static int disk_capacity(struct ovf_ctx *ctx, xmlNodePtr c,
                         struct ovf_disk_def *d)
{
  _cleanup_free_ char *cap = ovf_attr(ctx, c, "capacity");
  _cleanup_free_ char *units = ovf_attr(ctx, c, "capacityAllocationUnits");
  _cleanup_free_ char *populated = ovf_attr(ctx, c, "populatedSize");
  uint64_t v, mult = 1;

  if (ctx->oom)
    return ovf_oom();
  if (!cap || !*cap)
    return ovf_error(ctx, c, "disk %s has no ovf:capacity", d->id);
  if (cap[0] == '$')
    return ovf_error(ctx, c,
                     "disk %s: ovf:capacity \"%s\" refers to a property, "
                     "which hoist does not evaluate",
                     d->id, cap);
  if (ovf_parse_u64(cap, &v) < 0)
    return ovf_error(ctx, c, "disk %s: ovf:capacity \"%s\" is not a number",
                     d->id, cap);
  if (units && *units && ovf_parse_units(units, &mult) < 0)
    return ovf_error(ctx, c,
                     "disk %s: capacity units \"%s\" are not valid (expected "
                     "e.g. \"byte * 2^30\")",
                     d->id, units);
  if (MUL_OVERFLOW(v, mult, &d->capacity) || d->capacity > OVF_MAX_CAPACITY)
    return ovf_error(ctx, c,
                     "disk %s: capacity %s%s%s is absurd (hoist accepts up "
                     "to 1 PiB)",
                     d->id, cap, units ? " × " : "", units ? units : "");
  if (populated && *populated &&
      (ovf_parse_u64(populated, &d->populated) < 0 ||
       d->populated > OVF_MAX_CAPACITY))
    return ovf_error(ctx, c,
                     "disk %s: ovf:populatedSize \"%s\" is not a valid size",
                     d->id, populated);
  return 0;
}

static int parse_disk(struct ovf_ctx *ctx, xmlNodePtr c)
{
  struct ovf_disk_def d = {.line = ovf_line(c)}, *dp;
  const char *name;
  struct ovf_file *f;
  int r;

  if (ctx->disks.len >= OVF_MAX_DISKS)
    return ovf_error(ctx, c, "more than %d disks in DiskSection",
                     OVF_MAX_DISKS);
  d.id = ovf_attr(ctx, c, "diskId");
  if (ovf_disk_def_list_append(&ctx->disks, d) < 0) {
    free(d.id);
    return ovf_oom();
  }
  dp = &ctx->disks.ptr[ctx->disks.len - 1];
  dp->file_ref = ovf_attr(ctx, c, "fileRef");
  dp->format = ovf_attr(ctx, c, "format");
  if (ctx->oom)
    return ovf_oom();
  if (!dp->id || !*dp->id)
    return ovf_error(ctx, c, "a Disk has no ovf:diskId");
  if (ctx->disks.len > 1 && ovf_find_disk(ctx, dp->id) != dp)
    return ovf_error(ctx, c, "disk id %s is used twice", dp->id);
  r = disk_capacity(ctx, c, dp);
  if (r < 0)
    return r;
  if (dp->format && *dp->format) {
    name = ovf_format_name(dp->format, &dp->variant);
    if (name) {
      free(dp->format);
      dp->format = strdup(name);
      if (!dp->format)
        return ovf_oom();
      dp->format_known = true;
    }
  }
  if (dp->file_ref && *dp->file_ref) {
    f = ovf_find_file(ctx, dp->file_ref);
    if (!f)
      return ovf_error(ctx, c,
                       "disk %s refers to file %s, which the References "
                       "section does not list",
                       dp->id, dp->file_ref);
    dp->file = f - ctx->out->files.ptr;
    f->variant = dp->variant;
  } else {
    free(dp->file_ref);
    dp->file_ref = NULL;
  }
  return 0;
}

/* DiskSections sit in the Envelope (OVF 1.x) or in a
 * VirtualSystemCollection (2.0); disk ids are global either way. */
static int collect_disks(struct ovf_ctx *ctx, xmlNodePtr parent, int depth)
{
  xmlNodePtr s, c;
  int r;

  if (depth > OVF_MAX_DEPTH)
    return ovf_error(ctx, parent,
                     "VirtualSystemCollections nested more than %d deep",
                     OVF_MAX_DEPTH);
  for (s = parent->children; s; s = s->next) {
    if (ovf_is(ctx, s, NS_OVF, "VirtualSystemCollection")) {
      r = collect_disks(ctx, s, depth + 1);
      if (r < 0)
        return r;
    }
    if (!ovf_is(ctx, s, NS_OVF, "DiskSection"))
      continue;
    for (c = s->children; c; c = c->next) {
      if (!ovf_is(ctx, c, NS_OVF, "Disk"))
        continue;
      r = parse_disk(ctx, c);
      if (r < 0)
        return r;
    }
  }
  return 0;
}

/* The default deployment configuration: ovf:default="true", else the
 * first. Items with ovf:configuration apply only to theirs. */
static int parse_deployment_options(struct ovf_ctx *ctx, xmlNodePtr root)
{
  xmlNodePtr s = ovf_child(ctx, root, NS_OVF, "DeploymentOptionSection"), c;

  for (c = s ? s->children : NULL; c; c = c->next) {
    _cleanup_free_ char *id = NULL, *def = NULL;
    if (!ovf_is(ctx, c, NS_OVF, "Configuration"))
      continue;
    id = ovf_attr(ctx, c, "id");
    def = ovf_attr(ctx, c, "default");
    if (ctx->oom)
      return ovf_oom();
    if (!id)
      continue;
    if (!ctx->default_config || ovf_true(def)) {
      free(ctx->default_config);
      ctx->default_config = TAKE_PTR(id);
    }
    if (ovf_true(def))
      break;
  }
  return 0;
}

bool ovf_item_applies(struct ovf_ctx *ctx, xmlNodePtr item)
{
  _cleanup_free_ char *bound = ovf_attr(ctx, item, "bound");
  _cleanup_free_ char *config = ovf_attr(ctx, item, "configuration");
  char *tok, *save = NULL;

  if (bound && *bound && strcasecmp(bound, "normal") != 0)
    return false;
  if (!config || !*config)
    return true;
  if (!ctx->default_config)
    return false;
  for (tok = strtok_r(config, " \t\n", &save); tok;
       tok = strtok_r(NULL, " \t\n", &save))
    if (streq(tok, ctx->default_config))
      return true;
  return false;
}

/* ---- virtual systems ---- */

static int set_str(struct ovf_ctx *ctx, char **dst, char *value)
{
  if (ctx->oom) {
    free(value);
    return ovf_oom();
  }
  if (!value || !*value) {
    free(value);
    return 0;
  }
  free(*dst);
  *dst = value;
  return 0;
}

static int parse_os(struct ovf_ctx *ctx, xmlNodePtr vs, struct vm *vm)
{
  xmlNodePtr os = ovf_child(ctx, vs, NS_OVF, "OperatingSystemSection");
  int r;

  if (!os)
    return 0;
  r = set_str(ctx, &vm->os_description,
              ovf_child_text(ctx, os, NS_OVF, "Description"));
  if (r == 0)
    r = set_str(ctx, &vm->os_type, ovf_child_text(ctx, os, NS_VBOX, "OSType"));
  if (r == 0)
    r = set_str(ctx, &vm->os_type, ovf_attr_ns(ctx, os, "osType", OVF_NS_VMW));
  return r;
}

static int parse_system(struct ovf_ctx *ctx, xmlNodePtr vs)
{
  struct vm *vm = vm_new();
  xmlNodePtr hw, vbox, ann;
  int r;

  if (!vm)
    return ovf_oom();
  if (ctx->out->vms.len >= OVF_MAX_VMS) {
    vm_free(vm);
    return ovf_error(ctx, vs, "more than %d virtual systems", OVF_MAX_VMS);
  }
  if (vm_list_append(&ctx->out->vms, vm) < 0) {
    vm_free(vm);
    return ovf_oom();
  }
  vm->source_kind = strdup("ova");
  vm->source_ref = ctx->source_ref ? strdup(ctx->source_ref) : NULL;
  vm->id = ovf_attr(ctx, vs, "id");
  vm->power = POWER_UNKNOWN;
  if (ctx->oom || !vm->source_kind || (ctx->source_ref && !vm->source_ref))
    return ovf_oom();

  vbox = ovf_child(ctx, vs, NS_VBOX, "Machine");
  ann = ovf_child(ctx, vs, NS_OVF, "AnnotationSection");
  r = set_str(ctx, &vm->name, ovf_child_text(ctx, vs, NS_OVF, "Name"));
  if (r == 0 && ann)
    r = set_str(ctx, &vm->description,
                ovf_child_text(ctx, ann, NS_OVF, "Annotation"));
  if (r == 0)
    r = parse_os(ctx, vs, vm);
  if (r < 0)
    return r;

  hw = ovf_child(ctx, vs, NS_OVF, "VirtualHardwareSection");
  if (!hw)
    return ovf_error(ctx, vs,
                     "VirtualSystem %s has no "
                     "VirtualHardwareSection",
                     vm->id ? vm->id : "(without ovf:id)");
  r = ovf_hardware(ctx, vs, hw, vbox, vm);
  if (r < 0)
    return r;

  if (!vm->name) {
    xmlNodePtr sys = ovf_child(ctx, hw, NS_OVF, "System");
    r = set_str(ctx, &vm->name,
                ovf_child_text(ctx, sys, NS_CIM, "VirtualSystemIdentifier"));
    if (r == 0 && !vm->name && vm->id)
      vm->name = strdup(vm->id);
    if (r == 0 && !vm->name)
      return ovf_error(ctx, vs,
                       "a VirtualSystem has neither a Name nor an ovf:id");
    if (r < 0 || !vm->name)
      return ovf_oom();
  }
  return 0;
}

static int parse_content(struct ovf_ctx *ctx, xmlNodePtr parent, int depth)
{
  xmlNodePtr c;
  int r;

  if (depth > OVF_MAX_DEPTH)
    return ovf_error(ctx, parent,
                     "VirtualSystemCollections nested more than %d deep",
                     OVF_MAX_DEPTH);
  for (c = parent->children; c; c = c->next) {
    if (ovf_is(ctx, c, NS_OVF, "VirtualSystem"))
      r = parse_system(ctx, c);
    else if (ovf_is(ctx, c, NS_OVF, "VirtualSystemCollection"))
      r = parse_content(ctx, c, depth + 1);
    else
      continue;
    if (r < 0)
      return r;
  }
  return 0;
}

/* Checks across VMs: a disk attached by several VMs, a MAC used twice. */
static int cross_checks(struct ovf_ctx *ctx)
{
  struct vm_list *vms = &ctx->out->vms;
  size_t i, j, k, l;

  for (i = 0; i < vms->len; i++) {
    struct vm *vm = vms->ptr[i];
    for (j = 0; j < vm->disks.len; j++) {
      struct vm_disk *d = &vm->disks.ptr[j];
      struct ovf_disk_def *def = ovf_find_disk(ctx, d->id);
      if (def && def->used_by > 1 && !d->shareable) {
        d->shareable = true;
        if (vm_add_concern(vm, CONCERN_WARNING, "shared-disk",
                           "disk %s is attached to %u virtual machines of "
                           "this package; it would be copied once per VM "
                           "unless it is migrated as a shared disk",
                           d->id, def->used_by) < 0)
          return ovf_oom();
      }
    }
    for (j = 0; j < vm->nics.len; j++) {
      const char *mac = vm->nics.ptr[j].mac;
      bool dup = false;
      if (!mac)
        continue;
      for (k = 0; k < vms->len && !dup; k++)
        for (l = 0; l < vms->ptr[k]->nics.len && !dup; l++)
          if ((k != i || l != j) && vms->ptr[k]->nics.ptr[l].mac &&
              streq(vms->ptr[k]->nics.ptr[l].mac, mac))
            dup = true;
      if (dup &&
          vm_add_concern(vm, CONCERN_WARNING, "duplicate-mac",
                         "MAC address %s is used by more than one NIC of "
                         "this package; the target network rejects "
                         "duplicates",
                         mac) < 0)
        return ovf_oom();
    }
  }
  return 0;
}

/* libxml2 calls this for <!DOCTYPE …>: refuse DTDs (and with them
 * entity definitions) before anything in them is processed. */
static void refuse_internal_subset(void *opaque, const xmlChar *name,
                                   const xmlChar *external_id,
                                   const xmlChar *system_id)
{
  xmlParserCtxtPtr ctxt = opaque;

  (void)name;
  (void)external_id;
  (void)system_id;
  *(int *)ctxt->_private = ctxt->input ? ctxt->input->line : 1;
  xmlStopParser(ctxt);
}

static int parse_document(struct ovf_ctx *ctx, const void *data, size_t len,
                          xmlDocPtr *ret)
{
  xmlParserCtxtPtr ctxt;
  xmlDocPtr doc;
  int doctype_line = 0, r = 0;

  xmlInitParser();
  ctxt = xmlNewParserCtxt();
  if (!ctxt)
    return ovf_oom();
  ctxt->_private = &doctype_line;
  ctxt->sax->internalSubset = refuse_internal_subset;
  doc = xmlCtxtReadMemory(ctxt, data, (int)len, NULL, NULL,
                          XML_PARSE_NONET | XML_PARSE_NOERROR |
                              XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES);
  if (doctype_line) {
    r = error_set(EINVAL,
                  "%s line %d: DOCTYPE declarations are not allowed in an "
                  "OVF descriptor",
                  ctx->where, doctype_line);
  } else if (!doc) {
    const xmlError *e = xmlCtxtGetLastError(ctxt);
    _cleanup_free_ char *msg = NULL;
    if (e && e->message)
      msg = trimmed(ctx, e->message, strlen(e->message));
    if (e && e->line > 0)
      r = error_set(EINVAL, "%s line %d: malformed XML: %s", ctx->where,
                    e->line, msg ? msg : "parse error");
    else
      r = error_set(EINVAL, "%s: malformed XML: %s", ctx->where,
                    msg ? msg : "parse error");
  }
  if (r < 0)
    xmlFreeDoc(doc);
  else
    *ret = doc;
  xmlFreeParserCtxt(ctxt);
  return r;
}

static int check_envelope(struct ovf_ctx *ctx, xmlNodePtr root)
{
  if (!root || !xmlStrEqual(root->name, (const xmlChar *)"Envelope"))
    return ovf_error(ctx, root,
                     "not an OVF descriptor: the root element "
                     "is not an Envelope");
  if (!root->ns || (!xmlStrEqual(root->ns->href, (const xmlChar *)OVF_NS_1) &&
                    !xmlStrEqual(root->ns->href, (const xmlChar *)OVF_NS_2)))
    return ovf_error(ctx, root,
                     "the Envelope's namespace is \"%s\"; hoist reads OVF "
                     "1.x (%s) and 2.0 (%s)",
                     root->ns ? (const char *)root->ns->href : "(none)",
                     OVF_NS_1, OVF_NS_2);
  ctx->ns = root->ns->href;
  return 0;
}

void ovf_free(struct ovf *ovf)
{
  size_t i;

  if (!ovf)
    return;
  vm_list_free(&ovf->vms);
  for (i = 0; i < ovf->files.len; i++)
    file_free_fields(&ovf->files.ptr[i]);
  ovf_file_list_reset(&ovf->files);
}

int ovf_parse(const void *data, size_t len, const char *where,
              const char *source_ref, struct ovf *out)
{
  struct ovf_ctx ctx = {.where = where, .source_ref = source_ref, .out = out};
  xmlDocPtr doc = NULL;
  xmlNodePtr root;
  size_t i;
  int r;

  *out = (struct ovf){0};
  if (len > OVF_MAX_SIZE)
    return error_set(EINVAL,
                     "%s: %zu bytes; hoist reads OVF descriptors of up to "
                     "%d MiB",
                     where, len, OVF_MAX_SIZE >> 20);
  if (len == 0)
    return error_set(EINVAL, "%s: empty file", where);
  r = parse_document(&ctx, data, len, &doc);
  if (r < 0)
    return r;
  root = xmlDocGetRootElement(doc);
  r = check_envelope(&ctx, root);
  if (r == 0)
    r = parse_references(&ctx, root);
  if (r == 0)
    r = collect_disks(&ctx, root, 0);
  if (r == 0)
    r = parse_deployment_options(&ctx, root);
  if (r == 0)
    r = parse_content(&ctx, root, 0);
  if (r == 0 && out->vms.len == 0)
    r = ovf_error(&ctx, root, "the OVF describes no VirtualSystem");
  if (r == 0)
    r = cross_checks(&ctx);
  if (r == 0 && ctx.oom)
    r = ovf_oom();

  for (i = 0; i < ctx.disks.len; i++) {
    free(ctx.disks.ptr[i].id);
    free(ctx.disks.ptr[i].file_ref);
    free(ctx.disks.ptr[i].format);
  }
  ovf_disk_def_list_reset(&ctx.disks);
  free(ctx.default_config);
  xmlFreeDoc(doc);
  if (r < 0)
    ovf_free(out);
  return r;
}
