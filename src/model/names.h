/* Kubernetes names for things that come from a source.
 *
 * VM names, disk and network names in a source are free text; Kubernetes
 * wants RFC 1123 labels: lower case [a-z0-9-], starting and ending with
 * an alphanumeric character, at most 63 characters. The mapping is:
 * ASCII letters are lowered, Latin-1 accented letters lose their accent
 * ("é" -> "e", "ß" -> "ss"), every other run of characters becomes one
 * '-', leading and trailing '-' are dropped, and the result is cut to the
 * length allowed. A name left empty becomes "vm-<8 hex digits>", a hash
 * of the original, so it is stable from one run to the next.
 *
 * Within one run (a name_set) names are unique: a name already taken gets
 * "-2", "-3", … (cutting the base to keep the length).
 */
#ifndef HOIST_MODEL_NAMES_H
#define HOIST_MODEL_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "model/vm.h"

#define NAMES_LABEL_MAX 63
#define NAMES_SUBDOMAIN_MAX 253

/* True if s is an RFC 1123 label of at most max characters. */
bool names_is_dns1123_label(const char *s, size_t max);

/* True if s is an RFC 1123 subdomain (labels joined by '.'), at most
 * NAMES_SUBDOMAIN_MAX characters. */
bool names_is_dns1123_subdomain(const char *s);

/* The RFC 1123 label for `name` (NULL or empty allowed), at most max
 * characters (max >= 12); "fallback_prefix-<hash>" when nothing is left.
 * Returns 0 or -ENOMEM. */
int names_dns1123(const char *name, size_t max, const char *fallback_prefix,
                  char **ret);

/* A Kubernetes label value for s: at most 63 characters of
 * [A-Za-z0-9._-], starting and ending alphanumeric, or "" (always
 * valid). Returns 0 or -ENOMEM. */
int names_label_value(const char *s, char **ret);

/* The names given out so far in one run. */
struct name_set {
  char **names;
  size_t len, cap;
};

void name_set_reset(struct name_set *set);
bool name_set_contains(const struct name_set *set, const char *name);

/* Gives `name` a unique RFC 1123 label of at most max characters within
 * set and records it. */
int name_set_unique(struct name_set *set, const char *name, size_t max,
                    const char *fallback_prefix, char **ret);

/* Writes s into buf (size len) fit for a one-line message: control
 * characters and bytes >= 0x7f that are not UTF-8 are escaped (\n,
 * \x1b), '"' and '\\' are backslashed, and a long string is cut with
 * "…". Returns buf. */
const char *names_printable(const char *s, char *buf, size_t len);

/* Names the VM for the target: a unique label in set; when that differs
 * from vm->name, adds a warning concern "name changed from X to Y". */
int names_assign_vm(struct name_set *set, struct vm *vm, char **ret);

#endif
