/* The prime PVC and sizes (see prime.h). */
#include "controller/prime.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controller/json.h"
#include "kubevirt/builder.h"
#include "util/cleanup.h"
#include "util/error.h"

#define MiB (1024ull * 1024)
#define MAX_BYTES ((unsigned __int128)INT64_MAX)

static int suffix(const char *s, unsigned __int128 *mul, unsigned *div)
{
  static const struct {
    const char *s;
    unsigned shift;
  } bin[] = {{"Ki", 10}, {"Mi", 20}, {"Gi", 30},
             {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
  static const char dec[] = "kMGTPE";
  const char *p;
  size_t i;

  *mul = 1;
  *div = 1;
  if (!*s)
    return 0;
  for (i = 0; i < ARRAY_SIZE(bin); i++)
    if (streq(s, bin[i].s)) {
      *mul = (unsigned __int128)1 << bin[i].shift;
      return 0;
    }
  if (streq(s, "m")) {
    *div = 1000;
    return 0;
  }
  if (s[1] == 0 && (p = strchr(dec, s[0]))) {
    for (i = 0; i <= (size_t)(p - dec); i++)
      *mul *= 1000;
    return 0;
  }
  if (s[0] == 'e' || s[0] == 'E') {
    unsigned e = 0;

    for (p = s + 1; *p >= '0' && *p <= '9' && e < 100; p++)
      e = e * 10 + (unsigned)(*p - '0');
    if (p == s + 1 || *p || e > 18)
      return -EINVAL;
    while (e--)
      *mul *= 10;
    return 0;
  }
  return -EINVAL;
}

int ctl_quantity_bytes(const char *q, uint64_t *ret)
{
  unsigned __int128 whole = 0, frac = 0, scale = 1, mul, v;
  unsigned div, digits = 0;
  const char *p = q;

  if (*p == '+')
    p++;
  for (; *p >= '0' && *p <= '9'; p++, digits++) {
    whole = whole * 10 + (unsigned)(*p - '0');
    if (whole > MAX_BYTES)
      return -ERANGE;
  }
  if (*p == '.') {
    for (p++; *p >= '0' && *p <= '9'; p++, digits++)
      if (scale < (unsigned __int128)1e18) {
        frac = frac * 10 + (unsigned)(*p - '0');
        scale *= 10;
      }
  }
  if (!digits || suffix(p, &mul, &div) < 0)
    return -EINVAL;
  if (whole > MAX_BYTES / mul)
    return -ERANGE;
  /* ceil((whole + frac/scale) * mul / div) */
  v = whole * mul * scale + frac * mul;
  scale *= div;
  v = (v + scale - 1) / scale;
  if (v > MAX_BYTES)
    return -ERANGE;
  *ret = (uint64_t)v;
  return 0;
}

int ctl_target_parse(const json_t *pvc, struct ctl_target *t)
{
  const char *mode = cj_str(pvc, "spec", "volumeMode", NULL);
  const char *req =
      cj_str(pvc, "spec", "resources", "requests", "storage", NULL);
  const char *disk =
      cj_str(pvc, "metadata", "annotations", CTL_DISK_SIZE_ANN, NULL);
  uint64_t bytes, need;

  memset(t, 0, sizeof *t);
  t->ns = cj_str(pvc, "metadata", "namespace", NULL);
  t->name = cj_str(pvc, "metadata", "name", NULL);
  t->uid = cj_str(pvc, "metadata", "uid", NULL);
  t->node = cj_str(pvc, "metadata", "annotations", CTL_SELECTED_NODE, NULL);
  t->sclass = cj_str(pvc, "spec", "storageClassName", NULL);
  if (!t->ns || !t->name || !t->uid)
    return error_set(EINVAL, "the PVC has no namespace, name or uid");
  t->block = mode && streq(mode, "Block");
  if (!req)
    return error_set(EINVAL, "the PVC requests no storage");
  if (ctl_quantity_bytes(req, &bytes) < 0 || bytes == 0)
    return error_set(EINVAL, "the PVC's storage request \"%s\" is not a size",
                     req);
  if (bytes > UINT64_MAX - MiB)
    return error_set(ERANGE, "the PVC's storage request is too large");
  t->request = (bytes + MiB - 1) / MiB * MiB;
  if (disk) {
    if (ctl_quantity_bytes(disk, &bytes) < 0 || bytes > (1ull << 60))
      return error_set(EINVAL, "annotation %s: \"%s\" is not a size",
                       CTL_DISK_SIZE_ANN, disk);
    need = kv_pvc_request_mib(bytes, t->block ? KV_VOLUME_BLOCK
                                              : KV_VOLUME_FILESYSTEM) *
           MiB;
    t->request = MAX(t->request, need);
  }
  t->usable = t->block ? t->request
                       : t->request / 1000 * (1000 - KV_FS_OVERHEAD_PERMILLE);
  return 0;
}

void ctl_prime_name(const char *uid, char *buf, size_t len)
{
  snprintf(buf, len, "prime-%s", uid);
}

json_t *ctl_owner_ref(const json_t *pvc)
{
  return json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", "v1", "kind",
                   "PersistentVolumeClaim", "name",
                   cj_str(pvc, "metadata", "name", NULL), "uid",
                   cj_str(pvc, "metadata", "uid", NULL), "controller", 1);
}

json_t *ctl_prime_build(const json_t *pvc, const json_t *labels)
{
  _cleanup_(json_decrefp) json_t *prime = NULL;
  struct ctl_target t;
  char name[96], size[32];
  json_t *modes = cj_get(pvc, "spec", "accessModes", NULL);
  json_t *meta, *spec;

  modes = json_is_array(modes) ? json_incref(modes)
                               : json_pack("[s]", "ReadWriteOnce");
  if (ctl_target_parse(pvc, &t) < 0) {
    json_decref(modes);
    return NULL;
  }
  ctl_prime_name(t.uid, name, sizeof name);
  snprintf(size, sizeof size, "%llu", (unsigned long long)t.request);
  prime =
      json_pack("{s:s, s:s, s:{s:s, s:s, s:O, s:o, s:{}}, s:{s:o, "
                "s:{s:{s:s}}, s:s}}",
                "apiVersion", "v1", "kind", "PersistentVolumeClaim", "metadata",
                "name", name, "namespace", t.ns, "labels", labels,
                "ownerReferences", ctl_owner_ref(pvc), "annotations", "spec",
                "accessModes", modes, "resources", "requests", "storage", size,
                "volumeMode", t.block ? "Block" : "Filesystem");
  if (!prime) {
    error_set(ENOMEM, "out of memory");
    return NULL;
  }
  meta = json_object_get(prime, "metadata");
  spec = json_object_get(prime, "spec");
  if (t.sclass)
    json_object_set_new(spec, "storageClassName", json_string(t.sclass));
  if (t.node)
    json_object_set_new(json_object_get(meta, "annotations"), CTL_SELECTED_NODE,
                        json_string(t.node));
  return TAKE_PTR(prime);
}
