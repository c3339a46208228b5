"""hoist-controller, the volume populator controller, on the real control
plane of tests/peers/kube.py: PVCs whose dataSourceRef names an
OvirtVolumePopulator are populated by hoist-populator pods (run by the
node agent) from the real ovirt-imageio daemon behind the fake engine, and
end Bound with the source's bytes. The builders are also checked alone
(tests/tools/ctl-render) and against the API server (dry run)."""
import json
import os
import pathlib
import re
import signal
import subprocess
import threading
import time
import uuid

import pytest
from diskutil import MiB, qemu_io

from peers.kube import *  # noqa: F401,F403
from peers.kube import loop_devices_available
from peers.ovirt_engine import ovirt_engine_factory  # noqa: F401
from peers.imageio import imageio_daemon, imageio_pki, imageio_venv, \
    nbd_server  # noqa: F401
from peers.openstack import openstack, openstack_pki, \
    openstack_venv  # noqa: F401

ROOT = pathlib.Path(__file__).resolve().parent.parent
GROUP = "forklift.konveyor.io"
API = GROUP + "/v1beta1"
PASSWORD = "Ctl-S3cret-pw!"
HOIST_STATUS = {  # hoist's status fields (docs/controller.md)
    "progress": {"type": "string"},
    "phase": {"type": "string"},
    "bytesCopied": {"type": "integer"},
    "bytesTotal": {"type": "integer"},
    "attempts": {"type": "integer"},
    "conditions": {"type": "array", "items": {
        "type": "object", "x-kubernetes-preserve-unknown-fields": True}},
}


# ---- the builders alone ----

@pytest.fixture(scope="session")
def render(build_dir):
    tool = build_dir / "tests" / "tools" / "ctl-render"
    assert tool.exists(), f"{tool} is not built"

    def run(tmp_path, pvc, cr, *more, check=True):
        (tmp_path / "pvc.json").write_text(json.dumps(pvc))
        (tmp_path / "cr.json").write_text(json.dumps(cr))
        p = subprocess.run([tool, tmp_path / "pvc.json",
                            tmp_path / "cr.json"] + [str(m) for m in more],
                           capture_output=True, text=True)
        assert "runtime error" not in p.stderr, p.stderr
        if check:
            assert p.returncode == 0, p.stderr
            return json.loads(p.stdout)
        return p

    return run


def user_pvc(name="disk-1", sclass="fast", size="1Gi", mode="Filesystem",
             kind="OvirtVolumePopulator", cr="cr1", ns="vms", uid=None,
             labels=None, annotations=None, modes=("ReadWriteOnce",)):
    meta = {"name": name, "namespace": ns,
            "labels": labels or {}, "annotations": annotations or {}}
    if uid:
        meta["uid"] = uid
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": meta,
            "spec": {"accessModes": list(modes), "volumeMode": mode,
                     "storageClassName": sclass,
                     "resources": {"requests": {"storage": size}},
                     "dataSourceRef": {"apiGroup": GROUP, "kind": kind,
                                       "name": cr}}}


def ovirt_cr(name="cr1", ns="vms", url="https://engine.example",
             secret="ovirt-creds", disk="d-42", network=None, labels=None):
    spec = {"engineUrl": url, "engineSecretName": secret, "diskId": disk}
    if network:
        spec["transferNetwork"] = network
    return {"apiVersion": API, "kind": "OvirtVolumePopulator",
            "metadata": {"name": name, "namespace": ns,
                         "labels": labels or {}},
            "spec": spec}


UID = "1f0e8a3c-0000-4000-8000-000000000001"


def test_render_filesystem_pod_and_prime(render, tmp_path):
    pvc = user_pvc(uid=UID, modes=("ReadWriteMany",),
                   labels={"migration": "m-1", "vmID": "vm-7"},
                   annotations={"volume.kubernetes.io/selected-node": "n1"})
    out = render(tmp_path, pvc, ovirt_cr(
        network={"name": "transfer", "namespace": "netns"},
        labels={"plan": "p-1"}))
    prime, pod = out["prime"], out["pod"]
    assert prime["metadata"]["name"] == "prime-" + UID
    assert prime["metadata"]["namespace"] == "vms"
    assert prime["spec"]["accessModes"] == ["ReadWriteMany"]
    assert prime["spec"]["storageClassName"] == "fast"
    assert prime["spec"]["volumeMode"] == "Filesystem"
    assert prime["metadata"]["annotations"] == {
        "volume.kubernetes.io/selected-node": "n1"}
    for obj in (prime, pod):
        [ref] = obj["metadata"]["ownerReferences"]
        assert ref == {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "name": "disk-1", "uid": UID, "controller": True}
        assert obj["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "hoist-controller",
            "hoist.io/pvc-uid": UID, "hoist.io/migration": "m-1",
            "hoist.io/plan": "p-1", "hoist.io/vm": "vm-7",
            "hoist.io/disk": "d-42"}
    assert pod["metadata"]["name"] == "populate-" + UID
    assert pod["metadata"]["annotations"] == {
        "k8s.v1.cni.cncf.io/networks": "netns/transfer"}
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 107, "runAsGroup": 107,
        "fsGroup": 107, "seccompProfile": {"type": "RuntimeDefault"}}
    assert spec["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchFields"][0]["values"] == ["n1"]
    [c] = spec["containers"]
    assert c["command"] == ["/usr/bin/hoist-populator", "ovirt"]
    args = dict(zip(c["args"][::2], c["args"][1::2]))
    assert args["--engine-url"] == "https://engine.example"
    assert args["--disk-id"] == "d-42"
    assert args["--secret-name"] == "ovirt-creds"
    assert args["--volume-path"] == "/mnt/disk.img"
    assert args["--owner-uid"] == UID
    assert args["--cr-name"] == "cr1" and args["--cr-namespace"] == "vms"
    assert args["--metrics-addr"] == "$(POD_IP):8443"
    assert args["--transfer-network"] == "netns/transfer"
    # the disk may use the volume less CDI's 5.5 % filesystem overhead
    assert int(args["--pvc-size"]) == out["target"]["usable"]
    assert out["target"]["usable"] == (1 << 30) // 1000 * 945
    assert c["env"][0] == {"name": "POD_IP", "valueFrom": {
        "fieldRef": {"fieldPath": "status.podIP"}}}
    assert c["envFrom"] == [{"secretRef": {"name": "ovirt-creds"}}]
    assert c["env"][1]["valueFrom"]["secretKeyRef"] == {
        "name": "ovirt-creds", "key": "ca.crt", "optional": True}
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert c["volumeMounts"] == [{"name": "target", "mountPath": "/mnt"}]
    assert spec["volumes"] == [{"name": "target", "persistentVolumeClaim": {
        "claimName": "prime-" + UID}}]
    # no other Secret, no service account token
    assert "serviceAccountName" not in spec


def test_render_block_pod_and_sizes(render, tmp_path):
    pvc = user_pvc(uid=UID, mode="Block", size="100M",
                   annotations={"hoist.io/disk-size": "200Mi"})
    out = render(tmp_path, pvc, ovirt_cr(), 3)
    pod = out["pod"]
    assert pod["metadata"]["name"] == "populate-%s-3" % UID
    [c] = pod["spec"]["containers"]
    assert c["volumeDevices"] == [{"name": "target",
                                   "devicePath": "/dev/block"}]
    assert c["volumeMounts"] == [{"name": "scratch",
                                  "mountPath": "/scratch"}]
    args = dict(zip(c["args"][::2], c["args"][1::2]))
    assert args["--volume-path"] == "/dev/block"
    assert args["--checkpoint-dir"] == "/scratch"
    # Block: the disk's size rounded up to a MiB, no overhead
    assert out["prime"]["spec"]["resources"]["requests"]["storage"] == \
        str(200 * MiB)
    assert int(args["--pvc-size"]) == 200 * MiB
    assert "affinity" not in pod["spec"]
    assert "annotations" not in out["prime"]["metadata"] or \
        out["prime"]["metadata"]["annotations"] == {}
    # Filesystem: the disk's size / (1 - 0.055), rounded up to a MiB
    pvc = user_pvc(uid=UID, size="1Mi",
                   annotations={"hoist.io/disk-size": "1000Mi"})
    out = render(tmp_path, pvc, ovirt_cr())
    assert out["target"]["request"] == 1059 * MiB
    # the user's request wins when larger, rounded up to a MiB
    pvc = user_pvc(uid=UID, size="1.5Gi")
    assert render(tmp_path, pvc, ovirt_cr())["target"]["request"] == \
        1536 * MiB
    pvc = user_pvc(uid=UID, size="1000001")
    assert render(tmp_path, pvc, ovirt_cr())["target"]["request"] == MiB


def test_render_labels_are_valid_and_distinct(render, tmp_path):
    long_a = "VM with spaces/and:slashes " + "x" * 80
    long_b = long_a + "y"
    outs = [render(tmp_path, user_pvc(uid=UID, labels={"hoist.io/vm": v}),
                   ovirt_cr())["labels"]["hoist.io/vm"]
            for v in (long_a, long_b, "ok-value")]
    assert outs[2] == "ok-value"
    assert outs[0] != outs[1]
    for v in outs:
        assert len(v) <= 63 and v[0].isalnum() and v[-1].isalnum()
        assert all(ch.isalnum() or ch in "-_." for ch in v)


def test_render_openstack_and_refusals(render, tmp_path):
    cr = {"apiVersion": API, "kind": "OpenstackVolumePopulator",
          "metadata": {"name": "img", "namespace": "vms"},
          "spec": {"identityUrl": "https://keystone:5000/v3",
                   "secretName": "os-creds", "imageId": "i-1"}}
    out = render(tmp_path, user_pvc(uid=UID, kind="OpenstackVolumePopulator",
                                    cr="img"), cr)
    [c] = out["pod"]["spec"]["containers"]
    assert c["command"][1] == "openstack"
    args = dict(zip(c["args"][::2], c["args"][1::2]))
    assert args["--endpoint"] == "https://keystone:5000/v3"
    assert args["--image-id"] == "i-1"
    assert c["envFrom"] == [{"secretRef": {"name": "os-creds"}}]
    # a CR without its required field
    bad = ovirt_cr()
    del bad["spec"]["diskId"]
    p = render(tmp_path, user_pvc(uid=UID), bad, check=False)
    assert p.returncode == 1 and "spec.diskId is missing" in p.stderr
    # not a populator of hoist's
    other = user_pvc(uid=UID, kind="Hello")
    p = render(tmp_path, other, ovirt_cr(), check=False)
    assert p.returncode == 1 and "not a hoist populator PVC" in p.stderr
    p = render(tmp_path, user_pvc(uid=UID, size="lots"), ovirt_cr(),
               check=False)
    assert p.returncode == 1 and "is not a size" in p.stderr


def test_controller_help(build_dir):
    exe = build_dir / "src" / "controller" / "program" / "hoist-controller"
    p = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    for flag in ("--kubeconfig", "--namespace", "--populator-image",
                 "--populator-command", "--restart-limit", "--qps",
                 "--leader-elect-name", "--progress-interval"):
        assert flag in p.stdout
    p = subprocess.run([exe, "--restart-limit", "0"], capture_output=True,
                       text=True)
    assert p.returncode == 2 and "--restart-limit" in p.stderr


def _self_signed(d, name):
    key, crt = d / (name + ".key"), d / (name + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "1",
                    "-subj", "/CN=" + name], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "x509", "-in", crt, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    import hashlib
    h = hashlib.sha256(der).hexdigest().upper()
    return key, crt, ":".join(h[i:i + 2] for i in range(0, 64, 2))


def test_scrape_pins_the_logged_certificate(build_dir, tmp_path):
    """The controller reads /metrics over TLS accepting only the certificate
    whose fingerprint the populator logged; any other is refused."""
    import http.server
    import ssl
    tool = build_dir / "tests" / "tools" / "ctl-scrape"
    key, crt, fp = _self_signed(tmp_path, "pod")
    _, _, other_fp = _self_signed(tmp_path, "other")
    body = ("# TYPE hoist_populator_bytes_copied gauge\n"
            'hoist_populator_bytes_copied{owner_uid="u1",disk_id="d"} 4096\n'
            'hoist_populator_bytes_total{owner_uid="u1",disk_id="d"} 8192\n'
            'hoist_populator_bytes_copied{owner_uid="u2",disk_id="d"} 1\n')

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    url = "https://127.0.0.1:%d/metrics" % srv.server_address[1]
    try:
        good = tmp_path / "good.log"
        good.write_text("hoist-populator: metrics at %s (self-signed "
                        "certificate, SHA-256 %s)\n" % (url, fp))
        p = subprocess.run([tool, url, good, "u1"], capture_output=True,
                           text=True)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout) == {"bytes_copied": 4096,
                                        "bytes_total": 8192}
        bad = tmp_path / "bad.log"
        bad.write_text("metrics at %s (self-signed certificate, SHA-256 "
                       "%s)\n" % (url, other_fp))
        p = subprocess.run([tool, url, bad, "u1"], capture_output=True,
                           text=True)
        assert p.returncode == 1
        assert "not the pinned one" in p.stderr, p.stderr
        none = tmp_path / "none.log"
        none.write_text("hoist-populator: starting\n")
        p = subprocess.run([tool, url, none], capture_output=True, text=True)
        assert p.returncode == 1 and "no fingerprint" in p.stderr
    finally:
        srv.shutdown()


# ---- on the cluster ----

def crd(kind, plural, spec_props, required):
    status = {"type": "object", "properties": dict(HOIST_STATUS)}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "%s.%s" % (plural, GROUP)},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"kind": kind, "plural": plural,
                           "singular": kind.lower(),
                           "listKind": kind + "List"},
                 "versions": [{"name": "v1beta1", "served": True,
                               "storage": True, "schema": {
                                   "openAPIV3Schema": {
                                       "type": "object",
                                       "required": ["spec"],
                                       "properties": {
                                           "apiVersion": {"type": "string"},
                                           "kind": {"type": "string"},
                                           "metadata": {"type": "object"},
                                           "spec": {
                                               "type": "object",
                                               "required": required,
                                               "properties": spec_props},
                                           "status": status}}}}]}}


def populator_crds():
    """Forklift's populator CRDs (their spec fields) with hoist's status
    fields; deploy/ holds the shipped ones."""
    ref = {"type": "object", "x-kubernetes-map-type": "atomic",
           "properties": {k: {"type": "string"} for k in (
               "apiVersion", "fieldPath", "kind", "name", "namespace",
               "resourceVersion", "uid")}}
    s = {"type": "string"}
    return [
        crd("OvirtVolumePopulator", "ovirtvolumepopulators",
            {"engineUrl": s, "engineSecretName": s, "diskId": s,
             "transferNetwork": ref},
            ["diskId", "engineSecretName", "engineUrl"]),
        crd("OpenstackVolumePopulator", "openstackvolumepopulators",
            {"identityUrl": s, "secretName": s, "imageId": s,
             "transferNetwork": ref},
            ["identityUrl", "imageId", "secretName"]),
    ]


def shipped_crds():
    """deploy/'s CRDs (status subresource, hoist's status fields), else
    the ones above."""
    import yaml
    files = sorted((ROOT / "deploy" / "crds").glob("*volumepopulators.yaml"))
    if not files:
        return populator_crds()
    return [yaml.safe_load(f.read_text()) for f in files]


@pytest.fixture(scope="session")
def crds(kube_cluster):
    k = kube_cluster.kube
    for c in shipped_crds():
        try:
            k.create(c)
        except Exception:  # noqa: BLE001 - made by an earlier test run
            pass
        k.wait("apiextensions.k8s.io/v1", "CustomResourceDefinition",
               c["metadata"]["name"], timeout=60, what="Established",
               until=lambda o: o and any(
                   x["type"] == "Established" and x["status"] == "True"
                   for x in (o.get("status") or {}).get("conditions")
                   or []))
    k.poll(lambda: _served(k), timeout=30, what="the CR kinds served")
    return True


def _served(k):
    try:
        k.resource(API, "OvirtVolumePopulator")
        return True
    except Exception:  # noqa: BLE001
        k._resources.pop(API, None)
        return False


@pytest.fixture(scope="session")
def controller_bin(build_dir):
    exe = build_dir / "src" / "controller" / "program" / "hoist-controller"
    assert exe.exists(), f"{exe} is not built"
    return exe


@pytest.fixture(scope="session")
def populator_bin(build_dir):
    exe = (build_dir / "src" / "populator" / "hoist-populator").resolve()
    assert exe.exists(), f"{exe} is not built"
    return exe


class Controller:
    """hoist-controller as a process; its stderr in a file."""

    def __init__(self, exe, cluster, ns, populator, log, *more):
        self.log_path = log
        self.argv = [str(exe), "--kubeconfig", str(cluster.kubeconfig),
                     "--namespace", ns,
                     "--populator-image", "none",
                     "--populator-command", str(populator),
                     # the node agent cannot give a non-root uid a volume
                     "--populator-uid", "0",
                     "--populator-arg=--progress-interval",
                     "--populator-arg=1",
                     "--progress-interval", "1", "--scrape-interval", "0.5",
                     "--leader-elect-namespace", ns,
                     "--lease-duration", "6", "--renew-deadline", "4",
                     "--retry-period", "1"] + list(more)
        self.start()

    def start(self):
        self.logf = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.argv, stdout=self.logf,
                                     stderr=subprocess.STDOUT)

    @property
    def log(self):
        return pathlib.Path(self.log_path).read_text(errors="replace")

    def wait_log(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log:
                return
            assert self.proc.poll() is None, self.log
            time.sleep(0.2)
        raise AssertionError("no %r in the controller's log:\n%s"
                             % (text, self.log[-4000:]))

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.logf.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("hoist-controller ignored SIGTERM:\n"
                                     + self.log[-3000:])
        self.logf.close()
        log = self.log
        assert "AddressSanitizer" not in log, log[-6000:]
        assert "runtime error" not in log, log[-6000:]
        assert "LeakSanitizer" not in log, log[-6000:]
        return self.proc.returncode


@pytest.fixture
def controller(controller_bin, populator_bin, kube_cluster, kube_ns, crds,
               tmp_path):
    made = []

    def start(*more, name="controller"):
        c = Controller(controller_bin, kube_cluster, kube_ns, populator_bin,
                       tmp_path / (name + ".log"), *more)
        made.append(c)
        return c

    yield start
    for c in made:
        if c.proc.poll() is None:
            assert c.stop() == 0, c.log[-3000:]
        else:
            c.logf.close()


def make_source(tmp_path, size=8 * MiB):
    src = tmp_path / "disk.raw"
    with open(src, "wb") as f:
        f.truncate(size)
    for off, pat in ((0, 0x11), (3 * MiB, 0x22), (size - MiB, 0x33)):
        qemu_io(src, "raw", "write -P %d %d %d" % (pat, off, 512 * 1024))
    return src


class Setup:
    """An engine with a disk, its Secret and CR in the namespace."""

    def __init__(self, cluster, ns, engine, src, cr_name="disk-1",
                 backend="file", labels=None):
        self.k = cluster.kube
        self.ns = ns
        self.engine = engine
        self.src = src
        self.disk = engine.add_disk(src, fmt="raw", backend=backend)
        self.k.create({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "ovirt-creds", "namespace": ns},
                       "stringData": {
                           "user": "admin@internal",
                           "password": engine.password,
                           "ca.crt": engine.pki["ca"].read_text()}})
        self.cr = self.k.create(ovirt_cr(
            cr_name, ns, url=engine.url, disk=self.disk["id"],
            labels=labels or {"plan": "plan-1"}))

    def pvc(self, name, sclass, size, mode="Filesystem", cr=None):
        obj = user_pvc(name, sclass, size, mode, cr=cr or "disk-1",
                       ns=self.ns, labels={"migration": "mig-1",
                                           "vmID": "vm-1"})
        return self.k.create(obj)


def events(k, ns, pvc_name):
    return [e for e in k.list("v1", "Event", ns)
            if e["involvedObject"].get("name") == pvc_name]


def hoist_objects(k, ns, uid):
    sel = "hoist.io/pvc-uid=" + uid
    return (k.list("v1", "Pod", ns, labelSelector=sel),
            k.list("v1", "PersistentVolumeClaim", ns, labelSelector=sel))


def read_volume(cluster, ns, name, mode, size):
    path = cluster.pvc_host_path(ns, name)
    if mode == "Filesystem":
        path = path / "disk.img"
    with open(path, "rb") as f:
        return f.read(size)


def assert_populated(cluster, ns, name, mode, src, cr_name="disk-1",
                     kind="OvirtVolumePopulator", attempts=1):
    k = cluster.kube
    pvc = cluster.wait_pvc_bound(ns, name, timeout=180)
    data = src.read_bytes()
    assert read_volume(cluster, ns, name, mode, len(data)) == data
    pv = k.get("v1", "PersistentVolume", pvc["spec"]["volumeName"])
    assert pv["metadata"]["annotations"]["hoist.io/populated-from"] == \
        "%s/%s" % (ns, cr_name)
    uid = pvc["metadata"]["uid"]
    # nothing of hoist's is left
    k.poll(lambda: hoist_objects(k, ns, uid) == ([], []), timeout=60,
           what="the prime PVC and the pods deleted")
    cr = k.wait(API, kind, cr_name, ns, timeout=30,
                what="Succeeded", until=lambda o: o.get("status", {}).get(
                    "phase") == "Succeeded")
    st = cr["status"]
    assert st["progress"] == "100"
    # the source's data (all of it where imageio gives no extents)
    assert st["bytesCopied"] == st["bytesTotal"]
    assert 0 < st["bytesTotal"] <= len(data)
    assert st["attempts"] == attempts
    reasons = [e["reason"] for e in events(k, ns, name)]
    assert "PopulatorCreated" in reasons and "PopulatorFinished" in reasons
    return pvc


STORAGE = [
    ("hoist-csi", "Filesystem"),
    ("hoist-csi", "Block"),
    ("hoist-csi-wffc", "Filesystem"),
    ("hoist-static", "Filesystem"),
    ("hoist-static-wffc", "Block"),
]


@pytest.mark.parametrize("sclass,mode", STORAGE)
def test_populates_end_to_end(kube_cluster, kube_ns, controller,
                              ovirt_engine_factory, tmp_path, sclass, mode):
    """A PVC whose dataSourceRef is an OvirtVolumePopulator ends Bound,
    holding the disk's bytes; the prime PVC and the pod are gone."""
    if "csi" in sclass and kube_cluster.csi_unavailable:
        pytest.skip("CSI classes: " + kube_cluster.csi_unavailable)
    if mode == "Block" and loop_devices_available():
        pytest.skip("Block volumes need loop devices: "
                    + loop_devices_available())
    engine = ovirt_engine_factory(password=PASSWORD)
    src = make_source(tmp_path)
    s = Setup(kube_cluster, kube_ns, engine, src)
    size = "16Mi" if mode == "Filesystem" else "8Mi"
    if sclass.startswith("hoist-static"):
        # one PV too small, one of the wrong mode, the one that fits
        kube_cluster.static_pv(size="4Mi", mode=mode, storage_class=sclass)
        other = "Block" if mode == "Filesystem" else "Filesystem"
        if other == "Filesystem" or not loop_devices_available():
            kube_cluster.static_pv(size="64Mi", mode=other,
                                   storage_class=sclass)
    c = controller()
    c.wait_log("caches filled")
    pvc = s.pvc("disk", sclass, size, mode)
    if sclass.startswith("hoist-static"):
        # no PV fits yet: the PVC gets an event saying so
        k = kube_cluster.kube
        k.poll(lambda: any(e["reason"] == "NoMatchingPV" for e in
                           events(k, kube_ns, "disk")),
               timeout=30, what="a NoMatchingPV event")
        pv = kube_cluster.static_pv(size=size, mode=mode, storage_class=sclass)
    got = assert_populated(kube_cluster, kube_ns, "disk", mode, src)
    assert got["metadata"]["uid"] == pvc["metadata"]["uid"]
    if sclass.startswith("hoist-static"):
        assert got["spec"]["volumeName"] == pv["metadata"]["name"]
    assert not engine.open_transfers()


def test_labels_progress_and_wffc_selected_node(
        kube_cluster, kube_ns, controller, ovirt_engine_factory, tmp_path):
    """While it copies, the pod and prime PVC carry the labels, and the CR's
    status shows bytes copied; a selected node on the user's PVC is
    honoured."""
    if kube_cluster.csi_unavailable:
        pytest.skip("CSI classes: " + kube_cluster.csi_unavailable)
    k = kube_cluster.kube
    engine = ovirt_engine_factory(password=PASSWORD, nbd_bps=MiB // 2)
    src = make_source(tmp_path, 8 * MiB)
    s = Setup(kube_cluster, kube_ns, engine, src, backend="nbd")
    c = controller()
    c.wait_log("caches filled")
    obj = user_pvc("disk", "hoist-csi-wffc", "16Mi", ns=kube_ns,
                   labels={"migration": "mig-1", "vmID": "vm-1"},
                   annotations={"volume.kubernetes.io/selected-node":
                                kube_cluster.node_name})
    obj["spec"]["dataSourceRef"]["name"] = "disk-1"
    uid = k.create(obj)["metadata"]["uid"]
    pod = kube_cluster.wait_pod(kube_ns, "populate-" + uid,
                                phases=("Running",), timeout=60)
    prime = k.get("v1", "PersistentVolumeClaim", "prime-" + uid, kube_ns)
    for o in (pod, prime):
        labels = o["metadata"]["labels"]
        assert labels["hoist.io/migration"] == "mig-1"
        assert labels["hoist.io/plan"] == "plan-1"
        assert labels["hoist.io/vm"] == "vm-1"
        assert labels["hoist.io/disk"] == s.disk["id"]
        assert labels["hoist.io/pvc-uid"] == uid
    assert prime["metadata"]["annotations"][
        "volume.kubernetes.io/selected-node"] == kube_cluster.node_name
    assert pod["spec"]["nodeName"] == kube_cluster.node_name
    mid = k.wait(API, "OvirtVolumePopulator", "disk-1", kube_ns, timeout=60,
                 what="progress", until=lambda o: 0 < o.get(
                     "status", {}).get("bytesCopied", 0) < 3 * 512 * 1024)
    assert mid["status"]["bytesTotal"] == 3 * 512 * 1024
    assert mid["status"]["phase"] == "Running"
    assert 0 <= int(mid["status"]["progress"]) < 100
    assert_populated(kube_cluster, kube_ns, "disk", "Filesystem", src)


def test_restart_limit(kube_cluster, kube_ns, controller,
                       ovirt_engine_factory, tmp_path):
    """A pod that fails is started again, up to 3 attempts; then an event
    and a Failed condition with the pod's last message; the failed pods
    stay for their logs."""
    if kube_cluster.csi_unavailable:
        pytest.skip("CSI classes: " + kube_cluster.csi_unavailable)
    k = kube_cluster.kube
    engine = ovirt_engine_factory(password=PASSWORD, reject_credentials=True)
    src = make_source(tmp_path)
    s = Setup(kube_cluster, kube_ns, engine, src)
    controller()
    uid = s.pvc("disk", "hoist-csi", "16Mi")["metadata"]["uid"]
    cr = k.wait(API, "OvirtVolumePopulator", "disk-1", kube_ns, timeout=180,
                what="Failed", until=lambda o: o.get("status", {}).get(
                    "phase") == "Failed")
    [cond] = cr["status"]["conditions"]
    assert cond["type"] == "Failed" and cond["status"] == "True"
    assert cond["reason"] == "PopulatorFailed"
    assert "401" in cond["message"] or "password" in cond["message"] or \
        "credentials" in cond["message"], cond
    assert PASSWORD not in json.dumps(cr)
    assert cr["status"]["attempts"] == 3
    pods, _ = hoist_objects(k, kube_ns, uid)
    assert sorted(p["metadata"]["name"] for p in pods) == sorted(
        ["populate-" + uid, "populate-%s-2" % uid, "populate-%s-3" % uid])
    assert all(p["status"]["phase"] == "Failed" for p in pods)
    evs = [e for e in events(k, kube_ns, "disk")
           if e["reason"] == "PopulatorFailed"]
    assert any("giving up" in e["message"] for e in evs), evs
    assert all(PASSWORD not in e["message"] for e in evs)
    time.sleep(3)  # and no fourth attempt
    pods, _ = hoist_objects(k, kube_ns, uid)
    assert len(pods) == 3


def test_source_unreachable(kube_cluster, kube_ns, controller, tmp_path):
    """An engine that does not answer: the attempts fail with a message
    that says so."""
    if kube_cluster.csi_unavailable:
        pytest.skip("CSI classes: " + kube_cluster.csi_unavailable)
    k = kube_cluster.kube
    port = free_port()
    k.create({"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "ovirt-creds", "namespace": kube_ns},
              "stringData": {"user": "u", "password": PASSWORD}})
    k.create(ovirt_cr("disk-1", kube_ns, url="https://127.0.0.1:%d" % port))
    controller("--restart-limit", "2")
    k.create(user_pvc("disk", "hoist-csi", "16Mi", ns=kube_ns, cr="disk-1"))
    cr = k.wait(API, "OvirtVolumePopulator", "disk-1", kube_ns, timeout=180,
                what="Failed", until=lambda o: o.get("status", {}).get(
                    "phase") == "Failed")
    msg = cr["status"]["conditions"][0]["message"]
    assert "127.0.0.1:%d" % port in msg or "connect" in msg.lower(), msg
    assert cr["status"]["attempts"] == 2


def test_pvc_deleted_mid_way_leaves_nothing(
        kube_cluster, kube_ns, controller, ovirt_engine_factory, tmp_path):
    if kube_cluster.csi_unavailable:
        pytest.skip("CSI classes: " + kube_cluster.csi_unavailable)
    k = kube_cluster.kube
    engine = ovirt_engine_factory(password=PASSWORD, nbd_bps=MiB // 4)
    src = make_source(tmp_path)
    s = Setup(kube_cluster, kube_ns, engine, src, backend="nbd")
    controller()
    uid = s.pvc("disk", "hoist-csi", "16Mi")["metadata"]["uid"]
    kube_cluster.wait_pod(kube_ns, "populate-" + uid, phases=("Running",),
                          timeout=60)
    prime = kube_cluster.wait_pvc_bound(kube_ns, "prime-" + uid)
    pv_name = prime["spec"]["volumeName"]
    k.delete("v1", "PersistentVolumeClaim", "disk", kube_ns)
    k.poll(lambda: hoist_objects(k, kube_ns, uid) == ([], []), timeout=60,
           what="the pod and the prime PVC deleted")
    k.wait("v1", "PersistentVolumeClaim", "disk", kube_ns, timeout=30,
           until=lambda o: o is None, what="deleted")
    # the CSI volume of the prime PVC went with it (reclaim policy Delete)
    k.wait("v1", "PersistentVolume", pv_name, timeout=60,
           until=lambda o: o is None, what="deleted")
    # the populator was stopped: the engine's transfer was cancelled
    k.poll(lambda: not engine.open_transfers(), timeout=30,
           what="no open transfer")


def test_controller_killed_mid_way(kube_cluster, kube_ns, controller,
                                   ovirt_engine_factory, tmp_path):
    """SIGKILL in the middle; a new controller adopts the running pod (no
    second pod) and finishes, with the progress kept."""
    if kube_cluster.csi_unavailable:
        pytest.skip("CSI classes: " + kube_cluster.csi_unavailable)
    k = kube_cluster.kube
    engine = ovirt_engine_factory(password=PASSWORD, nbd_bps=MiB // 2)
    src = make_source(tmp_path)
    s = Setup(kube_cluster, kube_ns, engine, src, backend="nbd")
    first = controller()
    uid = s.pvc("disk", "hoist-csi", "16Mi")["metadata"]["uid"]
    k.wait(API, "OvirtVolumePopulator", "disk-1", kube_ns, timeout=60,
           what="progress", until=lambda o: o.get("status", {}).get(
               "bytesCopied", 0) > 0)
    first.kill()
    second = controller(name="second")
    second.wait_log("caches filled")
    assert_populated(kube_cluster, kube_ns, "disk", "Filesystem", src)
    assert "populate-%s-2" % uid not in first.log + second.log
    assert "created populator pod" not in second.log
    assert len(engine.transfers) == 1


def test_two_replicas_only_one_acts(kube_cluster, kube_ns, controller,
                                    ovirt_engine_factory, tmp_path):
    if kube_cluster.csi_unavailable:
        pytest.skip("CSI classes: " + kube_cluster.csi_unavailable)
    engine = ovirt_engine_factory(password=PASSWORD)
    src = make_source(tmp_path)
    s = Setup(kube_cluster, kube_ns, engine, src)
    ports = [free_port(), free_port()]
    # Leases long enough that a leader slowed down by a loaded machine
    # (sanitizers, parallel builds) keeps its lease: a hand-over is right,
    # but it is not what this test looks at.
    lease = ("--lease-duration", "30", "--renew-deadline", "20")
    a = controller("--health-addr", "127.0.0.1:%d" % ports[0], *lease,
                   name="a")
    b = controller("--health-addr", "127.0.0.1:%d" % ports[1], *lease,
                   name="b")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "leading" in a.log + b.log.replace("waiting to lead", ""):
            break
        time.sleep(0.2)
    s.pvc("disk", "hoist-csi", "16Mi")
    assert_populated(kube_cluster, kube_ns, "disk", "Filesystem", src)
    logs = [a.log, b.log]
    leaders = [lg for lg in logs if "hoist-controller: leading" in lg]
    assert len(leaders) == 1, logs
    idle = [lg for lg in logs if "hoist-controller: leading" not in lg][0]
    assert "created" not in idle and "handed over" not in idle
    assert len(engine.transfers) == 1
    # both answer their probes, the standby too; the leader's /metrics
    # count its writes
    import urllib.request
    creates = []
    for port in ports:
        base = "http://127.0.0.1:%d" % port
        with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
            assert r.status == 200 and r.read() == b"ok\n"
        with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
            text = r.read().decode()
        # (both may have tried to create the Lease: deletes tell them apart)
        creates += [int(line.split()[-1]) for line in text.splitlines()
                    if line.startswith(
                        'hoist_controller_api_requests_total{verb="delete"}')]
    assert sorted(c > 0 for c in creates) == [False, True], creates


def test_vm_group_job(kube_cluster, kube_ns, controller,
                      ovirt_engine_factory, tmp_path):
    """The disks of one VM are populated in parallel; once all are Bound,
    the --group-job Job runs once, told the VM and its PVCs."""
    if kube_cluster.csi_unavailable:
        pytest.skip("CSI classes: " + kube_cluster.csi_unavailable)
    k = kube_cluster.kube
    engine = ovirt_engine_factory(password=PASSWORD)
    src = make_source(tmp_path)
    s = Setup(kube_cluster, kube_ns, engine, src)
    disk2 = engine.add_disk(src, fmt="raw", backend="file")
    k.create(ovirt_cr("disk-2", kube_ns, url=engine.url, disk=disk2["id"]))
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {},
           "spec": {"backoffLimit": 0, "template": {"spec": {
               "restartPolicy": "Never", "containers": [{
                   "name": "convert", "image": "none", "command": [
                       "/bin/sh", "-c",
                       "echo vm=$HOIST_VM pvcs=$HOIST_PVCS"]}]}}}}
    (tmp_path / "job.json").write_text(json.dumps(job))
    c = controller("--group-job", str(tmp_path / "job.json"))
    c.wait_log("caches filled")
    s.pvc("disk-b", "hoist-csi", "16Mi", cr="disk-2")
    s.pvc("disk-a", "hoist-csi", "16Mi")
    assert_populated(kube_cluster, kube_ns, "disk-a", "Filesystem", src)
    assert_populated(kube_cluster, kube_ns, "disk-b", "Filesystem", src,
                     cr_name="disk-2")
    [j] = k.poll(lambda: k.list("batch/v1", "Job", kube_ns,
                                labelSelector="hoist.io/vm=vm-1"),
                 timeout=60, what="the group's job")
    done = k.wait("batch/v1", "Job", j["metadata"]["name"], kube_ns,
                  timeout=90, what="complete", until=lambda o: o.get(
                      "status", {}).get("succeeded"))
    [pod] = k.list("v1", "Pod", kube_ns, labelSelector="job-name="
                   + done["metadata"]["name"])
    out = kube_cluster.pod_log(kube_ns, pod["metadata"]["name"])
    assert out.strip() == "vm=vm-1 pvcs=disk-a,disk-b"
    time.sleep(2)
    assert len(k.list("batch/v1", "Job", kube_ns)) == 1


def test_openstack_end_to_end(kube_cluster, kube_ns, controller, openstack,
                              tmp_path):
    """An OpenstackVolumePopulator: the image from the real Glance, the
    credentials from the CR's Secret (Forklift's keys)."""
    if kube_cluster.csi_unavailable:
        pytest.skip("CSI classes: " + kube_cluster.csi_unavailable)
    from peers.openstack import PASSWORD as OS_PASSWORD, PROJECT, USER
    k = kube_cluster.kube
    src = make_source(tmp_path, 6 * MiB)
    iid = openstack.upload_image(src, "ctl-disk")
    k.create({"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "os-creds", "namespace": kube_ns},
              "stringData": {
                  "authType": "password", "username": USER,
                  "password": OS_PASSWORD, "projectName": PROJECT,
                  "userDomainName": "Default",
                  "projectDomainName": "Default", "regionName": "RegionOne",
                  "availability": "public",
                  "cacert": pathlib.Path(openstack.ca).read_text()}})
    k.create({"apiVersion": API, "kind": "OpenstackVolumePopulator",
              "metadata": {"name": "img-1", "namespace": kube_ns},
              "spec": {"identityUrl": openstack.auth_url,
                       "secretName": "os-creds", "imageId": iid}})
    controller()
    k.create(user_pvc("disk", "hoist-csi", "16Mi", ns=kube_ns,
                      kind="OpenstackVolumePopulator", cr="img-1"))
    assert_populated(kube_cluster, kube_ns, "disk", "Filesystem", src,
                     cr_name="img-1", kind="OpenstackVolumePopulator")


def test_provisioner_that_ignores_data_sources_is_reported(
        kube_cluster, kube_ns, controller, tmp_path):
    """local-path-provisioner binds a populated PVC to an empty volume
    itself: hoist does not write into it, and says so on the PVC."""
    k = kube_cluster.kube
    k.create({"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "ovirt-creds", "namespace": kube_ns},
              "stringData": {"user": "u", "password": PASSWORD}})
    k.create(ovirt_cr("disk-1", kube_ns))
    c = controller()
    c.wait_log("caches filled")
    uid = k.create(user_pvc("disk", "hoist-hostpath", "16Mi", ns=kube_ns,
                            cr="disk-1"))["metadata"]["uid"]
    kube_cluster.wait_pvc_bound(kube_ns, "disk", timeout=60)
    [ev] = k.poll(lambda: [e for e in events(k, kube_ns, "disk")
                           if e["reason"] == "NotPopulated"],
                  timeout=30, what="a NotPopulated event")
    assert ev["type"] == "Warning" and "never writes" in ev["message"]
    # what hoist had started meanwhile is gone
    k.poll(lambda: hoist_objects(k, kube_ns, uid) == ([], []), timeout=60,
           what="nothing of hoist's left")


def test_failed_attempt_resumes_from_its_checkpoint(
        kube_cluster, kube_ns, controller, ovirt_engine_factory, tmp_path):
    """The engine pauses the first transfer half-way (a host failure): the
    pod fails, the next attempt resumes from the checkpoint on the volume,
    and the PVC ends populated after 2 attempts."""
    if kube_cluster.csi_unavailable:
        pytest.skip("CSI classes: " + kube_cluster.csi_unavailable)
    k = kube_cluster.kube
    engine = ovirt_engine_factory(password=PASSWORD, nbd_bps=MiB,
                                  fail_after_bytes=5 * MiB // 2)
    src = tmp_path / "disk.raw"
    with open(src, "wb") as f:
        f.truncate(16 * MiB)
    for i, off in enumerate((0, 4 * MiB, 9 * MiB, 15 * MiB)):
        qemu_io(src, "raw", "write -P %d %d %d" % (0x41 + i, off, MiB))
    s = Setup(kube_cluster, kube_ns, engine, src, backend="nbd")
    # one worker: units finish in order, so some are done at the failure
    controller("--populator-arg=-w", "--populator-arg=1")
    s.pvc("disk", "hoist-csi", "32Mi")
    assert_populated(kube_cluster, kube_ns, "disk", "Filesystem", src,
                     attempts=2)
    failed = [e for e in events(k, kube_ns, "disk")
              if e["reason"] == "PopulatorFailed"]
    assert len(failed) == 1 and "attempt 1 of 3" in failed[0]["message"]
    [done] = [e for e in events(k, kube_ns, "disk")
              if e["reason"] == "PopulatorFinished"]
    m = re.search(r"(\d+) of them resumed", done["message"])
    assert m and int(m.group(1)) >= MiB, done["message"]
    assert len(engine.transfers) == 2


def test_static_pvc_deleted_mid_way_drops_its_reservation(
        kube_cluster, kube_ns, controller, ovirt_engine_factory, tmp_path):
    """A static PV reserved for a prime PVC: the user's PVC deleted
    mid-way, hoist's label and objects go; the PV, which the prime PVC had
    been bound to, is Released under its reclaim policy (it may hold part
    of a disk), never bound to anything else by hoist."""
    k = kube_cluster.kube
    engine = ovirt_engine_factory(password=PASSWORD, nbd_bps=MiB // 4)
    src = make_source(tmp_path)
    s = Setup(kube_cluster, kube_ns, engine, src, backend="nbd")
    sclass = "hoist-static-wffc"
    pv = kube_cluster.static_pv(size="16Mi", storage_class=sclass)
    name = pv["metadata"]["name"]
    controller()
    uid = s.pvc("disk", sclass, "16Mi")["metadata"]["uid"]
    got = k.wait("v1", "PersistentVolume", name, timeout=60,
                 what="reserved", until=lambda o: o["spec"].get(
                     "claimRef", {}).get("name") == "prime-" + uid)
    assert got["metadata"]["labels"]["hoist.io/reserved-for"] == uid
    pvc = k.get("v1", "PersistentVolumeClaim", "disk", kube_ns)
    assert pvc["spec"]["volumeName"] == name
    assert pvc["status"]["phase"] == "Pending"
    kube_cluster.wait_pod(kube_ns, "populate-" + uid, phases=("Running",),
                          timeout=60)
    k.delete("v1", "PersistentVolumeClaim", "disk", kube_ns)
    k.poll(lambda: hoist_objects(k, kube_ns, uid) == ([], []), timeout=60,
           what="the pod and the prime PVC deleted")
    k.poll(lambda: not engine.open_transfers(), timeout=30,
           what="the transfer cancelled")
    left = k.wait("v1", "PersistentVolume", name, timeout=60,
                  what="Released and unlabelled",
                  until=lambda o: o["status"].get("phase") == "Released"
                  and "hoist.io/reserved-for" not in
                  o["metadata"].get("labels", {}))
    assert left["spec"]["claimRef"]["name"] == "prime-" + uid
