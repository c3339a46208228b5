/* Picking and reserving a static PV (see staticpv.h). */
#include "controller/staticpv.h"

#include <string.h>

#include "controller/json.h"
#include "controller/labels.h"
#include "util/cleanup.h"

bool ctl_class_is_static(const json_t *sc)
{
  const char *p = cj_str(sc, "provisioner", NULL);

  return p && streq(p, CTL_NO_PROVISIONER);
}

static uint64_t capacity(const json_t *pv)
{
  const char *q = cj_str(pv, "spec", "capacity", "storage", NULL);
  uint64_t b = 0;

  if (!q || ctl_quantity_bytes(q, &b) < 0)
    return 0;
  return b;
}

static bool has_modes(const json_t *pv, const json_t *pvc)
{
  json_t *want = cj_get(pvc, "spec", "accessModes", NULL);
  json_t *have = cj_get(pv, "spec", "accessModes", NULL), *w, *h;
  size_t i, j;

  json_array_foreach(want, i, w)
  {
    bool found = false;

    json_array_foreach(have, j, h) found = found || json_equal(w, h);
    if (!found)
      return false;
  }
  return true;
}

/* Only the hostname key can be judged without the Node's labels; other
 * terms are left to the scheduler. */
static bool admits_node(const json_t *pv, const char *node)
{
  json_t *terms =
      cj_get(pv, "spec", "nodeAffinity", "required", "nodeSelectorTerms", NULL);
  json_t *term, *expr, *v;
  size_t i, j, k;

  if (!node || !json_array_size(terms))
    return true;
  json_array_foreach(terms, i, term)
  {
    bool ok = true;

    json_array_foreach(json_object_get(term, "matchExpressions"), j, expr)
    {
      const char *key = cj_str(expr, "key", NULL);
      const char *op = cj_str(expr, "operator", NULL);
      bool in = false;

      if (!key || !op || !streq(key, "kubernetes.io/hostname"))
        continue;
      json_array_foreach(json_object_get(expr, "values"), k, v)
      {
        const char *s = json_string_value(v);
        in = in || (s && streq(s, node));
      }
      if (streq(op, "In") ? !in : streq(op, "NotIn") ? in : false)
        ok = false;
    }
    if (ok)
      return true;
  }
  return false;
}

bool ctl_pv_reserved_for(const json_t *pv, const struct ctl_target *t)
{
  char prime[96];
  const char *ns = cj_str(pv, "spec", "claimRef", "namespace", NULL);
  const char *name = cj_str(pv, "spec", "claimRef", "name", NULL);

  ctl_prime_name(t->uid, prime, sizeof prime);
  return ns && name && streq(ns, t->ns) && streq(name, prime);
}

bool ctl_pv_fits(const json_t *pv, const json_t *pvc,
                 const struct ctl_target *t)
{
  const char *phase = cj_str(pv, "status", "phase", NULL);
  const char *sc = cj_str(pv, "spec", "storageClassName", NULL);
  const char *mode = cj_str(pv, "spec", "volumeMode", NULL);
  bool block = mode && streq(mode, "Block");

  if (cj_get(pv, "metadata", "deletionTimestamp", NULL))
    return false;
  if (cj_get(pv, "spec", "claimRef", NULL)) {
    if (!ctl_pv_reserved_for(pv, t))
      return false;
  } else if (!phase || !streq(phase, "Available")) {
    return false;
  }
  return streq(sc ? sc : "", t->sclass ? t->sclass : "") && block == t->block &&
         capacity(pv) >= t->request && has_modes(pv, pvc) &&
         admits_node(pv, t->node);
}

bool ctl_pv_better(const json_t *a, const json_t *b)
{
  uint64_t ca = capacity(a), cb = capacity(b);
  const char *na = cj_str(a, "metadata", "name", NULL);
  const char *nb = cj_str(b, "metadata", "name", NULL);

  if (ca != cb)
    return ca < cb;
  return strcmp(na ? na : "", nb ? nb : "") < 0;
}

json_t *ctl_pv_reserve_patch(const json_t *pv, const struct ctl_target *t)
{
  char prime[96];

  ctl_prime_name(t->uid, prime, sizeof prime);
  return json_pack(
      "{s:{s:s, s:{s:s}}, s:{s:{s:s, s:s, s:s, s:s}}}", "metadata",
      "resourceVersion", cj_str(pv, "metadata", "resourceVersion", NULL),
      "labels", CTL_LABEL_RESERVED, t->uid, "spec", "claimRef", "apiVersion",
      "v1", "kind", "PersistentVolumeClaim", "namespace", t->ns, "name", prime);
}
