/* The populator pod (see podspec.h). */
#include "controller/podspec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controller/json.h"
#include "util/cleanup.h"
#include "util/error.h"

static const struct ctl_kind_info kinds[CTL_KIND_COUNT] = {
    {"OvirtVolumePopulator", "ovirtvolumepopulators", "ovirt",
     "engineSecretName"},
    {"OpenstackVolumePopulator", "openstackvolumepopulators", "openstack",
     "secretName"},
};

const struct ctl_kind_info *ctl_kind_info(enum ctl_kind k)
{
  return &kinds[k];
}

int ctl_kind_of_pvc(const json_t *pvc)
{
  const char *group = cj_str(pvc, "spec", "dataSourceRef", "apiGroup", NULL);
  const char *kind = cj_str(pvc, "spec", "dataSourceRef", "kind", NULL);
  int k;

  if (!group || !kind || !streq(group, CTL_GROUP) ||
      !cj_str(pvc, "spec", "dataSourceRef", "name", NULL) ||
      cj_str(pvc, "spec", "dataSourceRef", "namespace", NULL))
    return -1;
  for (k = 0; k < CTL_KIND_COUNT; k++)
    if (streq(kind, kinds[k].kind))
      return k;
  return -1;
}

void ctl_pod_name(const char *uid, unsigned attempt, char *buf, size_t len)
{
  if (attempt <= 1)
    snprintf(buf, len, "populate-%s", uid);
  else
    snprintf(buf, len, "populate-%s-%u", uid, attempt);
}

static int add(json_t *args, const char *flag, const char *value)
{
  if (json_array_append_new(args, json_string(flag)) < 0 ||
      json_array_append_new(args, json_string(value)) < 0)
    return error_set(ENOMEM, "out of memory");
  return 0;
}

static int need(const json_t *cr, const char *field, const char **ret)
{
  *ret = cj_str(cr, "spec", field, NULL);
  if (!*ret || !**ret)
    return error_set(EINVAL, "%s/%s: spec.%s is missing",
                     cj_str(cr, "metadata", "namespace", NULL),
                     cj_str(cr, "metadata", "name", NULL), field);
  return 0;
}

/* The CR's source flags, Forklift's names. */
static int source_args(json_t *args, const json_t *cr, enum ctl_kind k)
{
  const char *url, *id, *secret;
  int r;

  if ((r = need(cr, kinds[k].secret, &secret)) < 0)
    return r;
  if (k == CTL_KIND_OVIRT) {
    if ((r = need(cr, "engineUrl", &url)) < 0 ||
        (r = need(cr, "diskId", &id)) < 0)
      return r;
    return add(args, "--engine-url", url) ?: add(args, "--disk-id", id)
                                                 ?: add(args, "--secret-name",
                                                        secret);
  }
  if ((r = need(cr, "identityUrl", &url)) < 0 ||
      (r = need(cr, "imageId", &id)) < 0)
    return r;
  return add(args, "--endpoint", url) ?: add(args, "--image-id", id)
                                             ?: add(args, "--secret-name",
                                                    secret);
}

/* "NS/NAME" of the CR's transferNetwork into buf; false if none. */
static bool network(const json_t *cr, char *buf, size_t len)
{
  const char *name = cj_str(cr, "spec", "transferNetwork", "name", NULL);
  const char *ns = cj_str(cr, "spec", "transferNetwork", "namespace", NULL);

  if (!name || !*name)
    return false;
  if (!ns || !*ns)
    ns = cj_str(cr, "metadata", "namespace", NULL);
  snprintf(buf, len, "%s/%s", ns ? ns : "", name);
  return true;
}

static json_t *security_context(long uid)
{
  if (uid <= 0)
    return json_pack("{s:{s:s}}", "seccompProfile", "type", "RuntimeDefault");
  return json_pack("{s:b, s:I, s:I, s:I, s:{s:s}}", "runAsNonRoot", 1,
                   "runAsUser", (json_int_t)uid, "runAsGroup", (json_int_t)uid,
                   "fsGroup", (json_int_t)uid, "seccompProfile", "type",
                   "RuntimeDefault");
}

json_t *ctl_pod_build(const json_t *pvc, const json_t *cr, enum ctl_kind k,
                      const json_t *labels, unsigned attempt,
                      const struct ctl_pod_options *o)
{
  _cleanup_(json_decrefp) json_t *pod = NULL, *args = json_array();
  struct ctl_target t;
  char name[128], prime[96], size[32], net[512];
  const char *secret = cj_str(cr, "spec", kinds[k].secret, NULL);
  json_t *spec, *c, *meta;
  size_t i;

  if (!args)
    goto oom;
  if (ctl_target_parse(pvc, &t) < 0 || source_args(args, cr, k) < 0)
    return NULL;
  ctl_pod_name(t.uid, attempt, name, sizeof name);
  ctl_prime_name(t.uid, prime, sizeof prime);
  snprintf(size, sizeof size, "%llu", (unsigned long long)t.usable);
  if (add(args, "--volume-path", t.block ? "/dev/block" : "/mnt/disk.img") ||
      add(args, "--owner-uid", t.uid) || add(args, "--pvc-size", size) ||
      add(args, "--cr-name", cj_str(cr, "metadata", "name", NULL)) ||
      add(args, "--cr-namespace", t.ns) ||
      add(args, "--metrics-addr", "$(POD_IP):8443"))
    return NULL;
  if (network(cr, net, sizeof net) && add(args, "--transfer-network", net))
    return NULL;
  if (t.block && add(args, "--checkpoint-dir", "/scratch"))
    return NULL;
  for (i = 0; o->extra_args && o->extra_args[i]; i++)
    if (json_array_append_new(args, json_string(o->extra_args[i])) < 0)
      goto oom;

  pod = json_pack(
      "{s:s, s:s, s:{s:s, s:s, s:O, s:o, s:{}}, s:{s:s, s:b, s:o, "
      "s:[{s:s, s:s, s:s, s:[s, s], s:O, s:[{s:s, s:{s:{s:s}}}], "
      "s:[{s:s, s:I, s:s}], s:s, s:s, s:{s:b, s:b, s:{s:[s]}}}], "
      "s:[{s:s, s:{s:s}}]}}",
      "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace",
      t.ns, "labels", labels, "ownerReferences", ctl_owner_ref(pvc),
      "annotations", "spec", "restartPolicy", "Never",
      "automountServiceAccountToken", 0, "securityContext",
      security_context(o->run_as_user), "containers", "name", "populate",
      "image", o->image, "imagePullPolicy", "IfNotPresent", "command",
      o->populator, kinds[k].mode, "args", args, "env", "name", "POD_IP",
      "valueFrom", "fieldRef", "fieldPath", "status.podIP", "ports", "name",
      "metrics", "containerPort", (json_int_t)CTL_METRICS_PORT, "protocol",
      "TCP", "terminationMessagePath", "/dev/termination-log",
      "terminationMessagePolicy", "FallbackToLogsOnError", "securityContext",
      "allowPrivilegeEscalation", 0, "readOnlyRootFilesystem", 0,
      "capabilities", "drop", "ALL", "volumes", "name", "target",
      "persistentVolumeClaim", "claimName", prime);
  if (!pod)
    goto oom;
  meta = json_object_get(pod, "metadata");
  spec = json_object_get(pod, "spec");
  c = json_array_get(json_object_get(spec, "containers"), 0);
  if (o->run_as_user > 0)
    json_object_set_new(json_object_get(c, "securityContext"), "runAsNonRoot",
                        json_true());
  /* envFrom drops keys that are not variable names, so ca.crt is mapped
   * to cacert by hand (as Forklift does) */
  if (secret) {
    json_object_set_new(c, "envFrom",
                        json_pack("[{s:{s:s}}]", "secretRef", "name", secret));
    json_array_append_new(json_object_get(c, "env"),
                          json_pack("{s:s, s:{s:{s:s, s:s, s:b}}}", "name",
                                    "cacert", "valueFrom", "secretKeyRef",
                                    "name", secret, "key", "ca.crt", "optional",
                                    1));
  }
  if (t.block) {
    json_object_set_new(c, "volumeDevices",
                        json_pack("[{s:s, s:s}]", "name", "target",
                                  "devicePath", "/dev/block"));
    json_object_set_new(
        c, "volumeMounts",
        json_pack("[{s:s, s:s}]", "name", "scratch", "mountPath", "/scratch"));
    json_array_append_new(
        json_object_get(spec, "volumes"),
        json_pack("{s:s, s:{}}", "name", "scratch", "emptyDir"));
  } else {
    json_object_set_new(
        c, "volumeMounts",
        json_pack("[{s:s, s:s}]", "name", "target", "mountPath", "/mnt"));
  }
  if (network(cr, net, sizeof net))
    json_object_set_new(json_object_get(meta, "annotations"), CTL_MULTUS_ANN,
                        json_string(net));
  if (t.node)
    json_object_set_new(
        spec, "affinity",
        json_pack("{s:{s:{s:[{s:[{s:s, s:s, s:[s]}]}]}}}", "nodeAffinity",
                  "requiredDuringSchedulingIgnoredDuringExecution",
                  "nodeSelectorTerms", "matchFields", "key", "metadata.name",
                  "operator", "In", "values", t.node));
  return TAKE_PTR(pod);
oom:
  error_set(ENOMEM, "out of memory");
  return NULL;
}
