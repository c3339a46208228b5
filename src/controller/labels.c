/* Labels on what hoist-controller creates (see labels.h). */
#include "controller/labels.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/json.h"
#include "util/cleanup.h"

static bool alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

static bool inner_ok(char c)
{
  return alnum(c) || c == '-' || c == '_' || c == '.';
}

bool ctl_label_value_ok(const char *s)
{
  size_t n = strlen(s), i;

  if (n == 0)
    return true;
  if (n > CTL_LABEL_MAX || !alnum(s[0]) || !alnum(s[n - 1]))
    return false;
  for (i = 0; i < n; i++)
    if (!inner_ok(s[i]))
      return false;
  return true;
}

char *ctl_label_value(const char *s)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0, i;
  char prefix[43], *out = NULL;
  const char *p;
  size_t n = 0;

  if (ctl_label_value_ok(s))
    return strdup(s);
  /* the valid characters of s, at most 42, then "-" and 20 hex digits of
   * its SHA-256: at most 63, ending with an alphanumeric */
  for (p = s; *p && n < sizeof prefix - 1; p++)
    if (inner_ok(*p) && (n > 0 || alnum(*p)))
      prefix[n++] = *p;
  prefix[n] = 0;
  if (!EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL))
    return NULL;
  if (asprintf(&out, "%s%s", prefix, n ? "-" : "") < 0)
    return NULL;
  n = strlen(out);
  out = realloc(out, n + 21);
  if (!out)
    return NULL;
  for (i = 0; i < 10; i++)
    snprintf(out + n + 2 * i, 3, "%02x", md[i]);
  return out;
}

struct source {
  const char *label;  /* hoist.io/<label> */
  const char *legacy; /* Forklift's label, or NULL */
};

static const struct source sources[] = {
    {"migration", "migration"},
    {"plan", "plan"},
    {"vm", "vmID"},
    {"disk", "diskID"},
};

static const char *lookup(const json_t *pvc, const json_t *cr,
                          const struct source *src)
{
  char key[64];
  const json_t *objs[2] = {pvc, cr};
  const char *v;
  size_t i;

  snprintf(key, sizeof key, "hoist.io/%s", src->label);
  for (i = 0; i < 2; i++) {
    if (!objs[i])
      continue;
    if ((v = cj_str(objs[i], "metadata", "labels", key, NULL)) ||
        (v = cj_str(objs[i], "metadata", "annotations", key, NULL)) ||
        (v = cj_str(objs[i], "metadata", "labels", src->legacy, NULL)))
      return v;
    if (streq(src->label, "disk") &&
        (v = cj_str(objs[i], "metadata", "labels", "imageID", NULL)))
      return v;
  }
  if (streq(src->label, "disk") && cr &&
      ((v = cj_str(cr, "spec", "diskId", NULL)) ||
       (v = cj_str(cr, "spec", "imageId", NULL))))
    return v;
  return NULL;
}

static int put(json_t *labels, const char *key, const char *value)
{
  char *v = ctl_label_value(value);

  if (!v)
    return -1;
  if (json_object_set_new(labels, key, json_string(v)) < 0) {
    free(v);
    return -1;
  }
  free(v);
  return 0;
}

json_t *ctl_labels(const json_t *pvc, const json_t *cr)
{
  json_t *labels = json_object();
  const char *uid = cj_str(pvc, "metadata", "uid", NULL);
  size_t i;

  if (!labels)
    return NULL;
  if (json_object_set_new(labels, CTL_MANAGED_BY_KEY,
                          json_string(CTL_MANAGED_BY)) < 0 ||
      (uid && put(labels, CTL_LABEL_PVC_UID, uid) < 0))
    goto fail;
  for (i = 0; i < ARRAY_SIZE(sources); i++) {
    char key[64];
    const char *v = lookup(pvc, cr, &sources[i]);

    snprintf(key, sizeof key, "hoist.io/%s", sources[i].label);
    if (v && *v && put(labels, key, v) < 0)
      goto fail;
  }
  return labels;
fail:
  json_decref(labels);
  return NULL;
}

char *ctl_vm_group(const json_t *pvc, const json_t *cr)
{
  const char *v = lookup(pvc, cr, &sources[2]);

  return v && *v ? ctl_label_value(v) : NULL;
}
