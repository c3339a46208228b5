#include "model/names.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/utf8.h"

/* U+00C0 … U+00FF without their accents ("" for × and ÷). */
static const char *const latin1_fold[64] = {
    "a", "a", "a", "a", "a",  "a",  "ae", "c", "e", "e", "e",  "e", "i",
    "i", "i", "i", "d", "n",  "o",  "o",  "o", "o", "o", "",   "o", "u",
    "u", "u", "u", "y", "th", "ss", "a",  "a", "a", "a", "a",  "a", "ae",
    "c", "e", "e", "e", "e",  "i",  "i",  "i", "i", "d", "n",  "o", "o",
    "o", "o", "o", "",  "o",  "u",  "u",  "u", "u", "y", "th", "y",
};

static bool is_lower_alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

bool names_is_dns1123_label(const char *s, size_t max)
{
  size_t i, len = s ? strlen(s) : 0;

  if (len == 0 || len > max)
    return false;
  for (i = 0; i < len; i++)
    if (!is_lower_alnum(s[i]) && s[i] != '-')
      return false;
  return is_lower_alnum(s[0]) && is_lower_alnum(s[len - 1]);
}

bool names_is_dns1123_subdomain(const char *s)
{
  size_t len = s ? strlen(s) : 0, i, start = 0;

  if (len == 0 || len > NAMES_SUBDOMAIN_MAX)
    return false;
  for (i = 0; i <= len; i++) {
    if (s[i] == '.' || s[i] == 0) {
      if (i == start || !is_lower_alnum(s[start]) || !is_lower_alnum(s[i - 1]))
        return false;
      start = i + 1;
    } else if (!is_lower_alnum(s[i]) && s[i] != '-') {
      return false;
    }
  }
  return true;
}

static uint32_t fnv1a(const char *s)
{
  uint32_t h = 2166136261u;

  for (; s && *s; s++) {
    h ^= (unsigned char)*s;
    h *= 16777619u;
  }
  return h;
}

int names_dns1123(const char *name, size_t max, const char *fallback_prefix,
                  char **ret)
{
  const unsigned char *p = (const unsigned char *)(name ? name : "");
  size_t len = 0;
  bool dash = false;
  char *out;

  /* Each input byte gives at most two output bytes ("ss" from two). */
  out = malloc(strlen((const char *)p) * 2 + 32);
  if (!out)
    return -ENOMEM;
  for (; *p; p++) {
    const char *add = NULL;
    char one[2] = {0, 0};

    if (is_alnum(*p)) {
      one[0] = (*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p;
      add = one;
    } else if ((p[0] == 0xc3) && p[1] >= 0x80 && p[1] <= 0xbf) {
      add = latin1_fold[p[1] - 0x80];
      p++;
      if (!*add)
        add = NULL;
    }
    if (!add) {
      dash = true;
      continue;
    }
    if (dash && len > 0)
      out[len++] = '-';
    dash = false;
    while (*add)
      out[len++] = *add++;
  }
  if (len > max)
    len = max;
  while (len > 0 && out[len - 1] == '-')
    len--;
  out[len] = 0;
  if (len == 0) {
    free(out);
    if (asprintf(&out, "%s-%08x", fallback_prefix, fnv1a(name)) < 0)
      return -ENOMEM;
  }
  *ret = out;
  return 0;
}

int names_label_value(const char *s, char **ret)
{
  size_t len = 0, start = 0, i;
  char *out = malloc(NAMES_LABEL_MAX + 1);

  if (!out)
    return -ENOMEM;
  for (i = 0; s && s[i] && len < NAMES_LABEL_MAX; i++) {
    char c = s[i];
    if (is_alnum(c) || c == '.' || c == '_' || c == '-')
      out[len++] = c;
    else
      out[len++] = '_';
  }
  while (len > 0 && !is_alnum(out[len - 1]))
    len--;
  while (start < len && !is_alnum(out[start]))
    start++;
  memmove(out, out + start, len - start);
  out[len - start] = 0;
  *ret = out;
  return 0;
}

void name_set_reset(struct name_set *set)
{
  size_t i;

  for (i = 0; i < set->len; i++)
    free(set->names[i]);
  free(set->names);
  set->names = NULL;
  set->len = set->cap = 0;
}

bool name_set_contains(const struct name_set *set, const char *name)
{
  size_t i;

  for (i = 0; i < set->len; i++)
    if (streq(set->names[i], name))
      return true;
  return false;
}

static int name_set_add(struct name_set *set, const char *name)
{
  if (set->len == set->cap) {
    size_t cap = set->cap ? set->cap * 2 : 16;
    char **p = realloc(set->names, cap * sizeof *p);
    if (!p)
      return -ENOMEM;
    set->names = p;
    set->cap = cap;
  }
  if (!(set->names[set->len] = strdup(name)))
    return -ENOMEM;
  set->len++;
  return 0;
}

int name_set_unique(struct name_set *set, const char *name, size_t max,
                    const char *fallback_prefix, char **ret)
{
  _cleanup_free_ char *base = NULL;
  char *cand = NULL;
  unsigned long n;
  int r;

  r = names_dns1123(name, max, fallback_prefix, &base);
  if (r < 0)
    return r;
  if (!name_set_contains(set, base)) {
    cand = TAKE_PTR(base);
  } else {
    /* There are set->len names, so one of set->len + 1 suffixes is free. */
    for (n = 2; n <= set->len + 2; n++) {
      char suffix[24];
      size_t keep = strlen(base);
      snprintf(suffix, sizeof suffix, "-%lu", n);
      if (keep + strlen(suffix) > max)
        keep = max - strlen(suffix);
      while (keep > 0 && base[keep - 1] == '-')
        keep--;
      if (asprintf(&cand, "%.*s%s", (int)keep, base, suffix) < 0)
        return -ENOMEM;
      if (!name_set_contains(set, cand))
        break;
      free(cand);
      cand = NULL;
    }
    if (!cand)
      return -EEXIST; /* not reached */
  }
  if (name_set_add(set, cand) < 0) {
    free(cand);
    return -ENOMEM;
  }
  *ret = cand;
  return 0;
}

int names_assign_vm(struct name_set *set, struct vm *vm, char **ret)
{
  const char *orig = vm->name && *vm->name ? vm->name : vm->id;
  _cleanup_free_ char *name = NULL;
  char buf[256];
  int r;

  r = name_set_unique(set, orig, NAMES_LABEL_MAX, "vm", &name);
  if (r < 0)
    return r;
  if (!vm->name || !*vm->name)
    r = vm_add_concern(vm, CONCERN_WARNING, "name-changed",
                       "the VM has no name; it is named \"%s\"", name);
  else if (!streq(vm->name, name))
    r = vm_add_concern(vm, CONCERN_WARNING, "name-changed",
                       "name changed from \"%s\" to \"%s\" (a Kubernetes "
                       "name must be at most 63 characters of [a-z0-9-] and "
                       "unique); the original is kept in the annotation "
                       "hoist.io/original-name",
                       names_printable(vm->name, buf, sizeof buf), name);
  if (r < 0)
    return r;
  *ret = TAKE_PTR(name);
  return 0;
}

/* Length of the valid UTF-8 sequence at s that prints as itself (no C1
 * controls or line/paragraph separators), or 0. */
static int utf8_len(const unsigned char *s)
{
  uint32_t c;
  int n = utf8_decode(s, &c);

  if (n == 0 || (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029)
    return 0;
  return n;
}

const char *names_printable(const char *s, char *buf, size_t len)
{
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  size_t pos = 0;

  if (len < 8) {
    if (len)
      buf[0] = 0;
    return buf;
  }
  while (*p) {
    char tmp[8];
    size_t n, adv = 1;
    int u;

    if (*p == '\n')
      n = 2, memcpy(tmp, "\\n", 2);
    else if (*p == '\t')
      n = 2, memcpy(tmp, "\\t", 2);
    else if (*p == '"' || *p == '\\')
      n = 2, tmp[0] = '\\', tmp[1] = *p;
    else if (*p < 0x20 || *p == 0x7f)
      n = snprintf(tmp, sizeof tmp, "\\x%02x", *p);
    else if (*p < 0x80)
      n = 1, tmp[0] = *p;
    else if ((u = utf8_len(p)) > 0)
      n = adv = u, memcpy(tmp, p, u);
    else
      n = snprintf(tmp, sizeof tmp, "\\x%02x", *p);
    if (pos + n > len - 4) {
      memcpy(buf + pos, "\xe2\x80\xa6", 3); /* … */
      pos += 3;
      break;
    }
    memcpy(buf + pos, tmp, n);
    pos += n;
    p += adv;
  }
  buf[pos] = 0;
  return buf;
}
