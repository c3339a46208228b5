"""deploy/ on a real control plane, and the Containerfiles.

The manifests are applied with the real kubectl (its built-in kustomize) to
the rig's kube-apiserver, so the CRD schemas, RBAC and Pod Security are
judged by Kubernetes itself. The images cannot be built here (no container
registry is reachable), so the Containerfiles are checked against Debian's
package lists and against the libraries of the binaries that tests/run
built.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import urllib.request
import uuid

import pytest
import yaml

from peers.kube import *  # noqa: F401,F403
from peers.ovirt_engine import *  # noqa: F401,F403

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CONTAINERS = ROOT / "containers"
NS = "hoist-system"
CONTROLLER_SA = "system:serviceaccount:%s:hoist-controller" % NS
POPULATOR_SA = "system:serviceaccount:%s:hoist-populator" % NS
GROUP = "forklift.konveyor.io"
KINDS = {  # kind: (plural, short names, Forklift's CRD file, sample file)
    "OvirtVolumePopulator": (
        "ovirtvolumepopulators", ["ovvp", "ovvps"],
        "forklift.konveyor.io_ovirtvolumepopulators.yaml",
        "forklift_v1beta1_ovirt_populator.yaml"),
    "OpenstackVolumePopulator": (
        "openstackvolumepopulators", ["osvp", "osvps"],
        "forklift.konveyor.io_openstackvolumepopulators.yaml",
        "forklift_v1beta1_openstack_populator.yaml"),
}
VALID_SPEC = {
    "OvirtVolumePopulator": {"engineUrl": "https://engine.example.com",
                             "engineSecretName": "engine", "diskId": "d1"},
    "OpenstackVolumePopulator": {"identityUrl": "https://ks:5000/v3",
                                 "secretName": "os", "imageId": "i1"},
}


def meson_version():
    m = re.search(r"version\s*:\s*'([^']+)'",
                  (ROOT / "meson.build").read_text())
    return m.group(1)


def cr(kind, name, spec=None, **extra):
    o = {"apiVersion": GROUP + "/v1beta1", "kind": kind,
         "metadata": {"name": name},
         "spec": dict(VALID_SPEC[kind]) if spec is None else spec}
    o.update(extra)
    return o


def kubectl_json(cluster, *args):
    return json.loads(cluster.kubectl(*args, "-o", "json").stdout)


def can_i(cluster, who, verb, resource, *where):
    p = cluster.kubectl("auth", "can-i", verb, resource, "--as", who, *where,
                        check=False)
    answer = p.stdout.strip()
    assert answer in ("yes", "no"), p.stderr
    return answer == "yes"


def rendered(cluster, path=DEPLOY):
    out = cluster.kubectl("kustomize", str(path)).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def deployed(kube_cluster):
    """deploy/ applied once; its namespace and cluster-wide RBAC removed
    after the module. The two CRDs stay: other tests of the session may
    hold objects of these kinds."""
    p = kube_cluster.kubectl("apply", "-k", DEPLOY)
    for kind, (plural, _, _, _) in KINDS.items():
        kube_cluster.kubectl("wait", "--for=condition=Established",
                             "--timeout=60s", "crd/%s.%s" % (plural, GROUP))
    yield p.stdout
    kube_cluster.kubectl("delete", "namespace", NS, "--wait=false",
                         check=False)
    kube_cluster.kubectl("delete", "clusterrolebinding,clusterrole",
                         "hoist-controller", check=False)


# ---- kubectl apply -k deploy/ ----

def test_apply_creates_everything_then_changes_nothing(kube_cluster,
                                                        deployed):
    objects = rendered(kube_cluster)
    kinds = sorted({o["kind"] for o in objects})
    assert kinds == ["ClusterRole", "ClusterRoleBinding",
                     "CustomResourceDefinition", "Deployment", "Namespace",
                     "Role", "RoleBinding", "ServiceAccount"]
    for o in objects:  # the first apply created each of them
        assert re.search(r"/%s (created|configured|unchanged)" %
                         re.escape(o["metadata"]["name"]), deployed), o
    again = kube_cluster.kubectl("apply", "-k", DEPLOY).stdout.splitlines()
    assert len(again) == len(objects)
    assert all(line.endswith(" unchanged") for line in again), again
    diff = kube_cluster.kubectl("diff", "-k", DEPLOY, check=False)
    assert diff.returncode == 0, diff.stdout + diff.stderr
    dry = kube_cluster.kubectl("apply", "-k", DEPLOY, "--dry-run=server")
    assert "(server dry run)" in dry.stdout


def test_namespace_enforces_restricted_pod_security(kube_cluster, deployed):
    labels = kubectl_json(kube_cluster, "get", "namespace",
                          NS)["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels["pod-security.kubernetes.io/" + mode] == "restricted"


def test_crds_have_forklifts_names(kube_cluster, deployed):
    for kind, (plural, short, _, _) in KINDS.items():
        crd = kubectl_json(kube_cluster, "get", "crd",
                           "%s.%s" % (plural, GROUP))
        assert crd["spec"]["names"]["kind"] == kind
        assert crd["spec"]["names"]["shortNames"] == short
        assert crd["spec"]["scope"] == "Namespaced"
        conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conds.get("NonStructuralSchema") is None
        assert conds["Established"] == "True"
        # the short names work in kubectl
        kube_cluster.kubectl("get", short[0], "-A")


def _walk(schema, path=""):
    """(path, type) of every property under schema, and required lists."""
    yield path, schema.get("type"), sorted(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        yield from _walk(sub, path + "." + name)


def test_schema_is_a_superset_of_forklifts(shared_dir):
    """Every field of Forklift's CRDs is in hoist's with the same type, and
    nothing more is required, so Forklift users' objects validate."""
    theirs_dir = shared_dir / "data" / "forklift" / "crds"
    if not theirs_dir.is_dir():
        pytest.skip("Forklift's CRDs are not in %s" % theirs_dir)
    for kind, (plural, _, crd_file, _) in KINDS.items():
        theirs = yaml.safe_load((theirs_dir / crd_file).read_text())
        ours = yaml.safe_load(
            (DEPLOY / "crds" / crd_file).read_text())
        assert ours["spec"]["names"] == theirs["spec"]["names"]
        assert ours["spec"]["group"] == theirs["spec"]["group"]
        (tv,) = theirs["spec"]["versions"]
        (ov,) = ours["spec"]["versions"]
        assert (ov["name"], ov["served"], ov["storage"]) == (
            tv["name"], tv["served"], tv["storage"])
        mine = {p: (t, r)
                for p, t, r in _walk(ov["schema"]["openAPIV3Schema"])}
        for path, typ, req in _walk(tv["schema"]["openAPIV3Schema"]):
            assert path in mine, "%s: %s is missing" % (kind, path)
            assert mine[path] == (typ, req), "%s: %s differs" % (kind, path)
        spec = ov["schema"]["openAPIV3Schema"]["properties"]["spec"]
        assert spec["properties"]["transferNetwork"][
            "x-kubernetes-map-type"] == "atomic"


def test_status_schema_is_the_same_for_both_kinds():
    status = []
    for kind, (_, _, crd_file, _) in KINDS.items():
        crd = yaml.safe_load((DEPLOY / "crds" / crd_file).read_text())
        status.append(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
                      ["properties"]["status"])
    assert status[0] == status[1]
    assert set(status[0]["properties"]) >= {
        "progress", "bytesCopied", "bytesTotal", "phase", "attempts",
        "conditions", "lastMessage"}


def test_forklifts_samples_are_accepted(kube_cluster, deployed, kube_ns,
                                        shared_dir):
    samples = shared_dir / "data" / "forklift" / "samples"
    if not samples.is_dir():
        pytest.skip("Forklift's samples are not in %s" % samples)
    for kind, (plural, _, _, sample) in KINDS.items():
        text = (samples / sample).read_text().replace("${NAMESPACE}", kube_ns)
        want = yaml.safe_load(text)
        kube_cluster.kubectl("create", "-f", "-", input=text)
        got = kubectl_json(kube_cluster, "get", plural, "-n", kube_ns,
                           want["metadata"]["name"])
        assert got["kind"] == kind
        assert got["spec"] == want["spec"]


def test_hoists_samples_are_accepted(kube_cluster, deployed, kube_ns):
    for f in sorted((DEPLOY / "samples").glob("*.yaml")):
        kube_cluster.kubectl("apply", "-n", kube_ns, "-f", f)
        for doc in yaml.safe_load_all(f.read_text()):
            got = kubectl_json(kube_cluster, "get", doc["kind"], "-n",
                               kube_ns, doc["metadata"]["name"])
            if doc["kind"] == "PersistentVolumeClaim":
                ref = got["spec"]["dataSourceRef"]
                assert ref["apiGroup"] == GROUP
                # the CR it names exists
                kubectl_json(kube_cluster, "get", ref["kind"], "-n", kube_ns,
                             ref["name"])


INVALID = [  # (kind, spec or None for no spec, what the error names)
    ("OvirtVolumePopulator", None, "spec: Required value"),
    ("OvirtVolumePopulator", {"engineUrl": "https://e", "diskId": "d"},
     "spec.engineSecretName: Required value"),
    ("OvirtVolumePopulator", {"engineUrl": "https://e",
                              "engineSecretName": "s"},
     "spec.diskId: Required value"),
    ("OvirtVolumePopulator", {"engineSecretName": "s", "diskId": "d"},
     "spec.engineUrl: Required value"),
    ("OvirtVolumePopulator", dict(VALID_SPEC["OvirtVolumePopulator"],
                                  diskId=42),
     "spec.diskId in body must be of type string"),
    ("OvirtVolumePopulator", dict(VALID_SPEC["OvirtVolumePopulator"],
                                  transferNetwork="ns/net"),
     "spec.transferNetwork in body must be of type object"),
    ("OpenstackVolumePopulator", {"identityUrl": "https://k",
                                  "secretName": "s"},
     "spec.imageId: Required value"),
    ("OpenstackVolumePopulator", {"identityUrl": "https://k",
                                  "imageId": "i"},
     "spec.secretName: Required value"),
    ("OpenstackVolumePopulator", {"secretName": "s", "imageId": "i"},
     "spec.identityUrl: Required value"),
    ("OpenstackVolumePopulator", dict(VALID_SPEC["OpenstackVolumePopulator"],
                                      secretName=["a"]),
     "spec.secretName in body must be of type string"),
    ("OpenstackVolumePopulator", dict(VALID_SPEC["OpenstackVolumePopulator"],
                                      transferNetwork={"name": 7}),
     "spec.transferNetwork.name in body must be of type string"),
]


@pytest.mark.parametrize("kind,spec,error", INVALID,
                         ids=["%s-%d" % (k[:6], i)
                              for i, (k, _, _) in enumerate(INVALID)])
def test_invalid_objects_are_rejected(kube_cluster, deployed, kube_ns, kind,
                                      spec, error):
    o = cr(kind, "bad")
    if spec is None:
        del o["spec"]
    else:
        o["spec"] = spec
    p = kube_cluster.kubectl("create", "-n", kube_ns, "-f", "-",
                             input=json.dumps(o), check=False)
    assert p.returncode != 0
    assert error in p.stderr, p.stderr


def test_status_subresource(kube_cluster, deployed, kube_ns):
    for kind, (plural, short, _, _) in KINDS.items():
        name = "s-" + uuid.uuid4().hex[:6]
        # status in a create or an update of the object itself is dropped
        kube_cluster.kubectl("create", "-n", kube_ns, "-f", "-",
                             input=json.dumps(cr(kind, name, status={
                                 "progress": "77", "phase": "Running"})))
        assert "status" not in kubectl_json(kube_cluster, "get", plural,
                                            "-n", kube_ns, name)
        status = {
            "progress": "42", "phase": "Running", "bytesCopied": 4 << 20,
            "bytesTotal": 10 << 20, "attempts": 1,
            "lastMessage": "copying",
            "conditions": [{
                "type": "Populated", "status": "False", "reason": "Copying",
                "message": "", "lastTransitionTime": "2026-01-02T03:04:05Z"}]}
        kube_cluster.kubectl("patch", plural, name, "-n", kube_ns,
                             "--subresource=status", "--type=merge", "-p",
                             json.dumps({"status": status}))
        got = kubectl_json(kube_cluster, "get", plural, "-n", kube_ns, name)
        assert got["status"] == status
        assert got["metadata"]["generation"] == 1  # status is not spec
        # the printer columns show it
        table = kube_cluster.kubectl("get", short[0], name, "-n",
                                     kube_ns).stdout.splitlines()
        assert table[0].split()[:3] == ["NAME", "PROGRESS", "PHASE"]
        assert table[1].split()[:3] == [name, "42", "Running"]
        # a spec update keeps the status
        kube_cluster.kubectl("patch", plural, name, "-n", kube_ns,
                             "--type=merge", "-p",
                             json.dumps({"spec": {"transferNetwork": {
                                 "name": "net", "namespace": kube_ns}},
                                 "status": {"progress": "1"}}))
        got = kubectl_json(kube_cluster, "get", plural, "-n", kube_ns, name)
        assert got["status"] == status
        assert got["metadata"]["generation"] == 2


BAD_STATUS = [
    ({"phase": "Done"}, "status.phase: Unsupported value"),
    ({"bytesCopied": -1}, "status.bytesCopied"),
    ({"bytesTotal": "10"}, "status.bytesTotal: Invalid value: \"string\""),
    ({"attempts": -2}, "status.attempts"),
    ({"progress": 42}, "status.progress: Invalid value: \"integer\""),
    ({"conditions": [{"type": "Populated", "status": "Maybe",
                      "reason": "X", "message": "",
                      "lastTransitionTime": "2026-01-02T03:04:05Z"}]},
     "status.conditions[0].status: Unsupported value"),
    ({"conditions": [{"type": "Populated", "status": "True"}]},
     "status.conditions[0].reason: Required value"),
]


@pytest.mark.parametrize("status,error", BAD_STATUS,
                         ids=["%d-%s" % (i, e.split(":")[0])
                              for i, (_, e) in enumerate(BAD_STATUS)])
def test_invalid_status_is_rejected(kube_cluster, deployed, kube_ns, status,
                                    error):
    name = "st-" + uuid.uuid4().hex[:6]
    kube_cluster.kubectl("create", "-n", kube_ns, "-f", "-", input=json.dumps(
        cr("OvirtVolumePopulator", name)))
    p = kube_cluster.kubectl("patch", "ovirtvolumepopulators", name, "-n",
                             kube_ns, "--subresource=status", "--type=merge",
                             "-p", json.dumps({"status": status}),
                             check=False)
    assert p.returncode != 0
    assert error in p.stderr, p.stderr


# ---- RBAC ----

CONTROLLER_MAY = [  # verb, resource, subresource
    (v, "persistentvolumeclaims", None) for v in (
        "get", "list", "watch", "create", "delete", "patch", "update")] + [
    (v, "persistentvolumes", None) for v in (
        "get", "list", "watch", "patch", "update")] + [
    (v, "pods", None) for v in ("get", "list", "watch", "create", "delete")
] + [
    ("get", "pods", "log"), ("get", "pods", "proxy"),
    ("create", "events", None), ("patch", "events", None),
    ("create", "events.events.k8s.io", None),
    ("get", "storageclasses", None), ("list", "storageclasses", None),
    ("watch", "storageclasses", None),
] + [
    (v, "%s.%s" % (plural, GROUP), None)
    for plural in ("ovirtvolumepopulators", "openstackvolumepopulators")
    for v in ("get", "list", "watch")
] + [
    (v, "%s.%s" % (plural, GROUP), "status")
    for plural in ("ovirtvolumepopulators", "openstackvolumepopulators")
    for v in ("update", "patch")
] + [
    (v, "jobs.batch", None)
    for v in ("create", "get", "list", "watch", "delete")
]

CONTROLLER_MUST_NOT = [
    ("get", "secrets", None), ("list", "secrets", None),
    ("watch", "secrets", None), ("create", "secrets", None),
    ("create", "pods", "exec"), ("create", "pods", "attach"),
    ("create", "pods", "portforward"), ("update", "pods", None),
    ("patch", "pods", None), ("create", "pods", "eviction"),
    ("delete", "persistentvolumes", None),
    ("create", "persistentvolumes", None),
    ("get", "nodes", None), ("list", "nodes", None),
    ("patch", "nodes", "status"), ("get", "configmaps", None),
    ("create", "serviceaccounts", None),
    ("create", "serviceaccounts", "token"),
    ("create", "clusterroles.rbac.authorization.k8s.io", None),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", None),
    ("create", "rolebindings.rbac.authorization.k8s.io", None),
    ("escalate", "clusterroles.rbac.authorization.k8s.io", None),
    ("bind", "clusterroles.rbac.authorization.k8s.io", None),
    ("impersonate", "serviceaccounts", None), ("impersonate", "users", None),
    ("create", "%s.%s" % ("ovirtvolumepopulators", GROUP), None),
    ("update", "%s.%s" % ("ovirtvolumepopulators", GROUP), None),
    ("delete", "%s.%s" % ("openstackvolumepopulators", GROUP), None),
    ("delete", "storageclasses", None),
    ("create", "customresourcedefinitions.apiextensions.k8s.io", None),
    ("update", "deployments.apps", None),
    ("update", "jobs.batch", None),
    ("delete", "namespaces", None),
    ("create", "validatingwebhookconfigurations"
     ".admissionregistration.k8s.io", None),
    ("*", "*", None),
]
ELSEWHERE_MUST_NOT = [  # allowed in its own namespace only
    ("get", "leases.coordination.k8s.io", None),
    ("create", "leases.coordination.k8s.io", None),
]


def _sub(sub):
    return ["--subresource", sub] if sub else []


def test_controller_can_do_what_it_needs(kube_cluster, deployed, kube_ns):
    for verb, resource, sub in CONTROLLER_MAY:
        for where in (["-n", kube_ns], ["--all-namespaces"]):
            assert can_i(kube_cluster, CONTROLLER_SA, verb, resource,
                         *where, *_sub(sub)), (verb, resource, sub, where)
    # leader election: its Lease, in its own namespace
    for verb in ("get", "update"):
        assert can_i(kube_cluster, CONTROLLER_SA, verb,
                     "leases.coordination.k8s.io/hoist-controller", "-n", NS)
    assert can_i(kube_cluster, CONTROLLER_SA, "create",
                 "leases.coordination.k8s.io", "-n", NS)


def test_controller_cannot_do_anything_else(kube_cluster, deployed, kube_ns):
    for verb, resource, sub in CONTROLLER_MUST_NOT + ELSEWHERE_MUST_NOT:
        for where in (["-n", kube_ns], ["-n", NS], ["--all-namespaces"]):
            if (verb, resource, sub) in ELSEWHERE_MUST_NOT and NS in where:
                continue
            assert not can_i(kube_cluster, CONTROLLER_SA, verb, resource,
                             *where, *_sub(sub)), (verb, resource, sub, where)
    # no other Lease, and none elsewhere
    assert not can_i(kube_cluster, CONTROLLER_SA, "update",
                     "leases.coordination.k8s.io/kube-scheduler", "-n", NS)
    assert not can_i(kube_cluster, CONTROLLER_SA, "delete",
                     "leases.coordination.k8s.io/hoist-controller", "-n", NS)
    assert not can_i(kube_cluster, CONTROLLER_SA, "update",
                     "leases.coordination.k8s.io/hoist-controller", "-n",
                     "kube-system")


def _rights(cluster, who, ns):
    """kubectl auth can-i --list: the set of (resource, verbs) lines."""
    out = cluster.kubectl("auth", "can-i", "--list", "--as", who, "-n",
                          ns).stdout.splitlines()
    return {re.sub(r"\s+", " ", line.strip()) for line in out[1:]}


def test_populator_account_has_no_rights(kube_cluster, deployed, kube_ns):
    sa = kubectl_json(kube_cluster, "get", "serviceaccount", "-n", NS,
                      "hoist-populator")
    assert sa["automountServiceAccountToken"] is False
    # the same account in a target namespace
    kube_cluster.kubectl("apply", "-n", kube_ns, "-k",
                         DEPLOY / "target-namespace")
    sa = kubectl_json(kube_cluster, "get", "serviceaccount", "-n", kube_ns,
                      "hoist-populator")
    assert sa["automountServiceAccountToken"] is False
    # exactly what every authenticated account has: discovery, and asking
    # what it may do
    baseline = _rights(kube_cluster, "system:serviceaccount:%s:default" %
                       kube_ns, kube_ns)
    for who in (POPULATOR_SA,
                "system:serviceaccount:%s:hoist-populator" % kube_ns):
        for ns in (NS, kube_ns):
            assert _rights(kube_cluster, who, ns) == baseline
        for verb, resource in (("get", "secrets"), ("list", "pods"),
                               ("get", "persistentvolumeclaims"),
                               ("patch", "ovirtvolumepopulators." + GROUP)):
            assert not can_i(kube_cluster, who, verb, resource, "-n", kube_ns)
    # the controller's own rights show in the same listing
    assert _rights(kube_cluster, CONTROLLER_SA, kube_ns) != baseline


# ---- the Deployment ----

def _deployment(cluster):
    (d,) = [o for o in rendered(cluster) if o["kind"] == "Deployment"]
    return d


def test_deployment(kube_cluster, deployed):
    d = _deployment(kube_cluster)
    spec = d["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    v = meson_version()
    assert c["image"] == "quay.io/hoist/hoist-controller:" + v
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HOIST_POPULATOR_IMAGE"] == "quay.io/hoist/hoist-populator:" + v
    assert d["spec"]["replicas"] == 2
    assert "--leader-elect-identity=$(POD_NAME)" in c["args"]
    assert "--health-addr=:8081" in c["args"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz",
                                             "port": "health"}
    assert {"name": "health", "containerPort": 8081,
            "protocol": "TCP"} in c["ports"]
    assert spec["serviceAccountName"] == "hoist-controller"
    limits = c["resources"]["limits"]
    assert limits["memory"] == "64Mi" and "cpu" in limits
    assert c["resources"]["requests"]["memory"]
    # the ReplicaSet's pods were admitted in the restricted namespace
    kube_cluster.kube.poll(
        lambda: len(kube_cluster.kube.list(
            "v1", "Pod", NS,
            labelSelector="app.kubernetes.io/name=hoist-controller")) == 2,
        timeout=60, what="two controller pods")


def _pod_of(d, ns):
    spec = dict(d["spec"]["template"]["spec"])
    del spec["serviceAccountName"]  # not in the check's namespace
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "pss-check", "namespace": ns,
                         "labels": d["spec"]["template"]["metadata"][
                             "labels"]},
            "spec": spec}


def test_deployment_meets_restricted_pod_security(kube_cluster, deployed):
    ns = kube_cluster.create_namespace(labels={
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted"})
    try:
        d = _deployment(kube_cluster)
        d["metadata"]["namespace"] = ns
        # a Deployment is only warned about; its pods are enforced
        p = kube_cluster.kubectl("apply", "--dry-run=server", "-f", "-",
                                 input=json.dumps(d))
        assert "PodSecurity" not in p.stderr, p.stderr
        pod = _pod_of(d, ns)
        p = kube_cluster.kubectl("create", "--dry-run=server", "-f", "-",
                                 input=json.dumps(pod))
        assert "PodSecurity" not in p.stderr, p.stderr
        # and the check bites: each setting removed is refused
        for drop in ("allowPrivilegeEscalation", "capabilities",
                     "runAsNonRoot"):
            bad = json.loads(json.dumps(pod))
            del bad["spec"]["containers"][0]["securityContext"][drop]
            if drop == "runAsNonRoot":
                del bad["spec"]["securityContext"]["runAsNonRoot"]
            p = kube_cluster.kubectl("create", "--dry-run=server", "-f", "-",
                                     input=json.dumps(bad), check=False)
            assert p.returncode != 0 and "violates PodSecurity" in p.stderr, (
                drop, p.stderr)
    finally:
        kube_cluster.kubectl("delete", "namespace", ns, "--wait=false")


def test_kustomize_images_rewrite_both_images(kube_cluster, tmp_path):
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": [os.path.relpath(DEPLOY, overlay)],
        "images": [
            {"name": "quay.io/hoist/hoist-controller",
             "newName": "registry.example/hoist-controller",
             "newTag": "dev1"},
            {"name": "quay.io/hoist/hoist-populator",
             "newName": "registry.example/hoist-populator",
             "digest": "sha256:" + "ab" * 32}]}))
    (d,) = [o for o in rendered(kube_cluster, overlay)
            if o["kind"] == "Deployment"]
    (c,) = d["spec"]["template"]["spec"]["containers"]
    assert c["image"] == "registry.example/hoist-controller:dev1"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HOIST_POPULATOR_IMAGE"] == (
        "registry.example/hoist-populator@sha256:" + "ab" * 32)
    assert env["POD_NAMESPACE"] is None  # other variables left alone


# ---- the Deployment, running ----

def _controller_pods(cluster, command):
    pods = cluster.kube.list(
        "v1", "Pod", NS,
        labelSelector="app.kubernetes.io/name=hoist-controller")
    return [p for p in pods
            if p["spec"]["containers"][0].get("command") == command
            and not p["metadata"].get("deletionTimestamp")]


def _write_source(path, size):
    """A raw disk with data in three places and holes between."""
    with open(path, "wb") as f:
        f.truncate(size)
        for off, byte in ((0, 0x11), (3 << 20, 0x22),
                          (size - (1 << 20), 0x33)):
            f.seek(off)
            f.write(bytes([byte]) * (512 << 10))


def test_deployment_runs_the_controller(kube_cluster, deployed, kube_ns,
                                        build_dir, ovirt_engine_factory,
                                        tmp_path):
    """deploy/ with only the command (and the rig's populator settings)
    patched by a kustomize overlay: the two replicas run under the
    Deployment's ServiceAccount and RBAC, one leads, and a PVC is
    populated end to end."""
    exe = build_dir / "src" / "controller" / "program" / "hoist-controller"
    populator = (build_dir / "src" / "populator" / "hoist-populator").resolve()
    if not exe.exists():
        pytest.skip("hoist-controller is not built in this tree")
    exe = exe.resolve()
    c = _deployment(kube_cluster)["spec"]["template"]["spec"]["containers"][0]
    args = list(c["args"])
    helptext = subprocess.run([str(exe), "--help"], capture_output=True,
                              text=True).stdout
    assert "--health-addr" in helptext, "no --health-addr for the probes"
    # pods share the host's network here: one address each
    args = [a for a in args if not a.startswith("--health-addr")]
    args.append("--health-addr=$(POD_IP):8081")
    args += ["--populator-command=%s" % populator,
             # the node agent cannot give a non-root user the volume
             "--populator-uid=0",
             "--progress-interval=1", "--scrape-interval=0.5",
             "--lease-duration=6", "--renew-deadline=4", "--retry-period=1"]
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": [os.path.relpath(DEPLOY, overlay)],
        "patches": [{"target": {"kind": "Deployment",
                                "name": "hoist-controller"},
                     "patch": json.dumps([
                         {"op": "add", "path":
                          "/spec/template/spec/containers/0/command",
                          "value": [str(exe)]},
                         {"op": "replace", "path":
                          "/spec/template/spec/containers/0/args",
                          "value": args},
                         {"op": "add", "path":
                          "/spec/template/spec/containers/0/env/-",
                          "value": {"name": "POD_IP", "valueFrom": {
                              "fieldRef": {"fieldPath": "status.podIP"}}}},
                         # the rig's own files are under the host's /tmp,
                         # which the emptyDir would hide from the node
                         # agent's later mounts
                         {"op": "replace", "path": "/spec/template/spec/"
                          "containers/0/volumeMounts/0/mountPath",
                          "value": "/var/tmp"}])}]}))
    k = kube_cluster.kube
    kube_cluster.kubectl("apply", "-k", overlay)
    try:
        k.poll(lambda: [p["status"].get("phase") for p in _controller_pods(
            kube_cluster, [str(exe)])] == ["Running"] * 2, timeout=90,
            what="two controller pods running")
        pods = _controller_pods(kube_cluster, [str(exe)])
        names = sorted(p["metadata"]["name"] for p in pods)
        lease = k.wait("coordination.k8s.io/v1", "Lease", "hoist-controller",
                       NS, timeout=60, what="held by a replica",
                       until=lambda o: o and o["spec"].get(
                           "holderIdentity") in names)
        leader = lease["spec"]["holderIdentity"]
        (standby,) = [n for n in names if n != leader]

        def log(name):
            return kube_cluster.pod_log(NS, name)
        k.poll(lambda: "caches filled" in log(leader), timeout=60,
               what="the leader's caches filled")
        assert "waiting to lead" in log(standby)
        for p in pods:  # the probes' endpoint, on both replicas
            url = "http://%s:8081/healthz" % p["status"]["podIP"]
            with urllib.request.urlopen(url, timeout=5) as r:
                assert r.status == 200
        assert "leading" not in log(standby).replace("waiting to lead", "")

        # a PVC populated by the Deployment's controller
        engine = ovirt_engine_factory()
        src = tmp_path / "disk.raw"
        _write_source(src, 8 << 20)
        disk = engine.add_disk(src, fmt="raw", backend="file")
        k.create({"apiVersion": "v1", "kind": "Secret",
                  "metadata": {"name": "engine", "namespace": kube_ns},
                  "stringData": {"user": "admin@internal",
                                 "password": engine.password,
                                 "ca.crt": engine.pki["ca"].read_text()}})
        k.create(cr("OvirtVolumePopulator", "disk-1", spec={
            "engineUrl": engine.url, "engineSecretName": "engine",
            "diskId": disk["id"]}), namespace=kube_ns)
        sclass = "hoist-csi"
        if kube_cluster.csi_unavailable:
            sclass = "hoist-static"
            kube_cluster.static_pv(size="16Mi", storage_class=sclass)
        k.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                  "metadata": {"name": "disk-1", "namespace": kube_ns},
                  "spec": {"accessModes": ["ReadWriteOnce"],
                           "storageClassName": sclass,
                           "resources": {"requests": {"storage": "16Mi"}},
                           "dataSourceRef": {"apiGroup": GROUP,
                                             "kind": "OvirtVolumePopulator",
                                             "name": "disk-1"}}})
        kube_cluster.wait_pvc_bound(kube_ns, "disk-1", timeout=180)
        path = kube_cluster.pvc_host_path(kube_ns, "disk-1") / "disk.img"
        assert path.read_bytes()[:8 << 20] == src.read_bytes()
        got = k.wait(GROUP + "/v1beta1", "OvirtVolumePopulator", "disk-1",
                     kube_ns, timeout=60, what="Succeeded",
                     until=lambda o: o.get("status", {}).get("phase") ==
                     "Succeeded")
        assert got["status"]["progress"] == "100"
        st = got["status"]
        assert st["bytesCopied"] == st["bytesTotal"] > 0
        for name in names:  # RBAC let it do all of that
            assert "forbidden" not in log(name).lower(), log(name)
        assert engine.password not in log(leader)
    finally:
        kube_cluster.kubectl("apply", "-k", DEPLOY)


# ---- VolumePopulator registrations ----

def test_populator_registration(kube_cluster, deployed):
    reg = DEPLOY / "populator-registration"
    # without volume-data-source-validator's CRD it cannot apply, which is
    # why it is not part of deploy/
    if kube_cluster.kubectl("get", "crd",
                            "volumepopulators.populator.storage.k8s.io",
                            check=False).returncode != 0:
        p = kube_cluster.kubectl("apply", "-k", reg, check=False)
        assert p.returncode != 0 and "VolumePopulator" in p.stderr
    kube_cluster.kubectl("apply", "-k", DEPLOY / "volume-populator-crd")
    try:
        kube_cluster.kubectl("wait", "--for=condition=Established",
                             "--timeout=60s",
                             "crd/volumepopulators.populator.storage.k8s.io")
        kube_cluster.kubectl("apply", "-k", reg)
        again = kube_cluster.kubectl("apply", "-k", reg).stdout.splitlines()
        assert again and all(x.endswith(" unchanged") for x in again)
        items = kubectl_json(kube_cluster, "get",
                             "volumepopulators.populator.storage.k8s.io")[
                                 "items"]
        kinds = sorted((i["sourceKind"]["group"], i["sourceKind"]["kind"])
                       for i in items)
        assert kinds == sorted((GROUP, k) for k in KINDS)
        # each names a kind the cluster serves
        for _, kind in kinds:
            kube_cluster.kubectl("get", "%s.%s" % (kind.lower(), GROUP), "-A")
        bad = {"apiVersion": "populator.storage.k8s.io/v1beta1",
               "kind": "VolumePopulator", "metadata": {"name": "bad"},
               "sourceKind": {"group": GROUP}}
        p = kube_cluster.kubectl("create", "-f", "-", input=json.dumps(bad),
                                 check=False)
        assert "sourceKind.kind: Required value" in p.stderr
    finally:
        kube_cluster.kubectl("delete", "-k", reg, "--ignore-not-found",
                             check=False)
        kube_cluster.kubectl("delete", "-k", DEPLOY / "volume-populator-crd",
                             "--ignore-not-found", check=False)


# ---- Containerfiles ----

IMAGES = {  # Containerfile directory: (program, ninja target)
    "hoist": ("/usr/bin/hoist", "src/cli/hoist"),
    "hoist-populator": ("/usr/bin/hoist-populator",
                        "src/populator/hoist-populator"),
    "hoist-controller": ("/usr/bin/hoist-controller",
                         "src/controller/program/hoist-controller"),
}


def _chroot_build():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "chroot_build", CONTAINERS / "chroot-build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# The Containerfile reader of containers/chroot-build.py.
parse_containerfile = _chroot_build().parse


def apt_packages(stage):
    pkgs = []
    for op, args in stage["instructions"]:
        if op != "RUN":
            continue
        for cmd in args.split("&&"):
            words = cmd.split()
            if "apt-get" in words and "install" in words:
                pkgs += [w for w in words[words.index("install") + 1:]
                         if not w.startswith("-")]
    return pkgs


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_containerfile_shape(image):
    program, target = IMAGES[image]
    stages = parse_containerfile(CONTAINERS / image / "Containerfile")
    build, runtime = stages
    assert build["from"] == "docker.io/library/debian:bookworm"
    assert runtime["from"] == "docker.io/library/debian:bookworm-slim"
    runs = " ".join(a for op, a in build["instructions"] if op == "RUN")
    assert "meson setup" in runs and "ninja -C /build %s" % target in runs
    ops = dict(runtime["instructions"])
    assert ops["COPY"] == "--from=%s /out/ /" % build["name"]
    assert ops["USER"] == "65532:65532"
    # exec form: the program is PID 1, no shell involved
    assert json.loads(ops["ENTRYPOINT"]) == [program]
    assert "SHELL" not in ops and "CMD" not in ops
    assert "rm -rf /var/lib/apt/lists/*" in ops["RUN"]


def _apt_ready():
    if not shutil.which("apt-cache"):
        return "no apt-cache here"
    try:
        osr = pathlib.Path("/etc/os-release").read_text()
    except OSError:
        return "no /etc/os-release"
    if "VERSION_CODENAME=bookworm" not in osr:
        return "this machine is not Debian bookworm, the images' base"
    if subprocess.run(["apt-cache", "show", "libc6"],
                      capture_output=True).returncode != 0:
        return "apt's package lists are empty (apt-get update)"
    return None


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_containerfile_packages_exist_in_debian(image):
    why = _apt_ready()
    if why:
        pytest.skip(why)
    for stage in parse_containerfile(CONTAINERS / image / "Containerfile"):
        pkgs = apt_packages(stage)
        assert pkgs
        for pkg in pkgs:
            p = subprocess.run(["apt-cache", "show", "--no-all-versions",
                                pkg], capture_output=True, text=True)
            assert p.returncode == 0 and "Package: %s" % pkg in p.stdout, (
                "%s: %s is not a Debian bookworm package" % (image, pkg))


def _owner(path):
    """The Debian package that installed a file (usrmerge-aware)."""
    cands = [path, os.path.realpath(path)]
    for c in list(cands):
        if c.startswith("/usr/lib/"):
            cands.append(c[4:])
        elif c.startswith("/lib/"):
            cands.append("/usr" + c)
    for c in cands:
        p = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
        if p.returncode == 0:
            return p.stdout.split(":")[0].strip()
    raise AssertionError("no Debian package owns %s" % path)


def _with_dependencies(pkgs):
    """The packages apt installs for pkgs: them and their dependencies."""
    p = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends",
                        "--no-suggests", "--no-conflicts", "--no-breaks",
                        "--no-replaces", "--no-enhances"] + sorted(pkgs),
                       capture_output=True, text=True, check=True)
    return {line.strip() for line in p.stdout.splitlines()
            if line and not line.startswith(" ")}


def test_builder_installs_every_meson_dependency():
    why = _apt_ready()
    if why:
        pytest.skip(why)
    deps = set()
    for f in ROOT.glob("**/meson.build"):
        if any(part.startswith("build") for part in
               f.relative_to(ROOT).parts[:-1]):
            continue
        deps |= set(re.findall(r"dependency\('([^']+)'", f.read_text()))
    deps.discard("threads")
    assert deps
    for image in IMAGES:
        build = parse_containerfile(CONTAINERS / image / "Containerfile")[0]
        pkgs = set(apt_packages(build))
        for dep in sorted(deps):
            p = subprocess.run(["pkg-config", "--path", dep],
                               capture_output=True, text=True)
            assert p.returncode == 0, "%s.pc not found (tests/setup)" % dep
            owner = _owner(p.stdout.strip())
            assert owner in pkgs, "%s: %s needs %s in the build stage" % (
                image, dep, owner)


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_runtime_stage_has_every_library_the_program_links(image):
    why = _apt_ready()
    if why:
        pytest.skip(why)
    program, target = IMAGES[image]
    built = pathlib.Path(os.environ.get("HOIST_OPT_BUILD",
                                        ROOT / "build")) / target
    if not built.exists():
        pytest.skip("%s is not built in this tree" % target)
    runtime = parse_containerfile(CONTAINERS / image / "Containerfile")[1]
    pkgs = set(apt_packages(runtime))
    installed = _with_dependencies(pkgs)
    needed = re.findall(r"NEEDED\s+(\S+)", subprocess.run(
        ["objdump", "-p", str(built)], capture_output=True,
        text=True).stdout)
    assert "libc.so.6" in needed
    paths = {}
    for line in subprocess.run(["ldd", str(built)], capture_output=True,
                               text=True).stdout.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            paths[m.group(1)] = m.group(2)
    for lib in needed:
        if lib.startswith("ld-linux"):
            continue
        owner = _owner(paths[lib])
        assert owner in installed, (
            "%s links %s (%s): not installed in the runtime stage" % (
                image, lib, owner))
    assert "ca-certificates" in pkgs  # TLS to the sources, verification on
