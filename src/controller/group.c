/* Multi-disk groups: the follow-up Job once a VM's PVCs are populated
 * (see controller.h, ctl_group_job()). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "controller/controller.h"
#include "controller/json.h"
#include "controller/labels.h"
#include "util/cleanup.h"
#include "util/error.h"

/* ---- multi-disk groups ---- */

struct group_ctx {
  struct ctl *c;
  const char *ns, *group;
  json_t *names; /* the group's PVC names */
  bool all_done;
};

static void in_group(json_t *pvc, void *opaque)
{
  struct group_ctx *g = opaque;
  _cleanup_free_ char *vm = NULL;
  const char *ns = kube_obj_namespace(pvc);
  const char *phase = cj_str(pvc, "status", "phase", NULL);

  if (!ns || !streq(ns, g->ns) || ctl_kind_of_pvc(pvc) < 0)
    return;
  vm = ctl_vm_group(pvc, NULL);
  if (!vm || !streq(vm, g->group))
    return;
  json_array_append_new(g->names, json_string(kube_obj_name(pvc)));
  if (!phase || !streq(phase, "Bound"))
    g->all_done = false;
}

/* Once every PVC of the VM group is populated and Bound: the Job of
 * --group-job, named after the group, with HOIST_VM and HOIST_PVCS (the
 * PVC names, comma-separated, sorted) in each container's environment. */
int ctl_group_job(struct ctl *c, const json_t *pvc, const json_t *cr)
{
  _cleanup_free_ char *vm = ctl_vm_group(pvc, cr), *list = NULL;
  const char *ns = kube_obj_namespace(pvc);
  _cleanup_(json_decrefp) json_t *job = NULL, *labels = NULL;
  struct group_ctx g = {c, ns, vm, NULL, true};
  unsigned char md[32];
  unsigned int mdlen = 0, i;
  char name[64];
  json_t *cont, *v;
  size_t k, len = 0;
  int r;

  if (!c->group_job || !vm)
    return 0;
  g.names = json_array();
  kube_informer_foreach(c->inf[CTL_INF_PVC], in_group, &g);
  if (!g.all_done || !json_array_size(g.names) ||
      !ctl_once(c, vm, "group-job", ns)) {
    json_decref(g.names);
    return 0;
  }
  json_array_foreach(g.names, k, v) len += strlen(json_string_value(v)) + 1;
  list = calloc(1, len + 1);
  {
    /* sorted, so every replica and pass makes the same value */
    const char **arr = calloc(json_array_size(g.names), sizeof *arr);
    size_t n = json_array_size(g.names), a, b;

    for (a = 0; arr && a < n; a++)
      arr[a] = json_string_value(json_array_get(g.names, a));
    for (a = 0; arr && a < n; a++)
      for (b = a + 1; b < n; b++)
        if (strcmp(arr[b], arr[a]) < 0) {
          const char *t = arr[a];
          arr[a] = arr[b];
          arr[b] = t;
        }
    for (a = 0; arr && list && a < n; a++) {
      if (a)
        strcat(list, ",");
      strcat(list, arr[a]);
    }
    free(arr);
  }
  json_decref(g.names);
  if (!list)
    return error_set(ENOMEM, "out of memory");
  EVP_Digest(vm, strlen(vm), md, &mdlen, EVP_sha256(), NULL);
  snprintf(name, sizeof name, "hoist-vm-");
  for (i = 0; i < 8 && i < mdlen; i++)
    snprintf(name + 9 + 2 * i, 3, "%02x", md[i]);
  job = json_deep_copy(c->group_job);
  labels = json_pack("{s:s, s:s}", CTL_MANAGED_BY_KEY, CTL_MANAGED_BY,
                     CTL_LABEL_VM, vm);
  if (!job || !labels)
    return error_set(ENOMEM, "out of memory");
  json_object_set_new(cj_obj(job, "metadata"), "name", json_string(name));
  json_object_set_new(cj_obj(job, "metadata"), "namespace", json_string(ns));
  json_object_update(cj_obj(cj_obj(job, "metadata"), "labels"), labels);
  json_array_foreach(
      cj_get(job, "spec", "template", "spec", "containers", NULL), k, cont)
  {
    json_t *env = json_object_get(cont, "env");

    if (!json_is_array(env))
      env = cj_set(cont, "env", json_array());
    json_array_append_new(
        env, json_pack("{s:s, s:s}", "name", "HOIST_VM", "value", vm));
    json_array_append_new(
        env, json_pack("{s:s, s:s}", "name", "HOIST_PVCS", "value", list));
  }
  r = ctl_create(c, &ctl_jobs, ns, job, "group job");
  if (r < 0) {
    ctl_forget_once(c, vm, "group-job", ns);
    return r;
  }
  if (r == 1)
    ctl_event(c, pvc, "Normal", "GroupJobCreated", "group-job",
              "every disk of VM %s is populated: job %s started", vm, name);
  return 0;
}
