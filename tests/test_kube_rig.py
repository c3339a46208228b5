"""The Kubernetes test rig itself (tests/peers/kube.py): a real control
plane, the test node agent and a real external provisioner, proven with
plain /bin/sh pods before hoist's controllers rely on them."""
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from peers.imageio import imageio_daemon, imageio_pki, imageio_venv, \
    nbd_server  # noqa: F401
from peers.kube import *  # noqa: F401,F403
from peers.kube import loop_devices_available


def pod(name, script, volumes=(), mounts=(), devices=(), restart="Never",
        **container):
    c = {"name": "main", "image": "none",
         "command": ["/bin/sh", "-c", script]}
    if mounts:
        c["volumeMounts"] = list(mounts)
    if devices:
        c["volumeDevices"] = list(devices)
    c.update(container)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"restartPolicy": restart, "containers": [c],
                     "volumes": list(volumes),
                     "terminationGracePeriodSeconds": 5}}


def pvc(name, storage_class, size="16Mi", mode="Filesystem"):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": mode,
                     "storageClassName": storage_class,
                     "resources": {"requests": {"storage": size}}}}


def claim_volume(name, claim):
    return {"name": name, "persistentVolumeClaim": {"claimName": claim}}


def state(p, container=0):
    return p["status"]["containerStatuses"][container]


# ---- the control plane ----

def test_api_answers(kube_cluster):
    k = kube_cluster.kube
    v = k.request("GET", "/version")
    assert v["gitVersion"].startswith("v1."), v
    assert k.request("GET", "/readyz", raw=True) == b"ok"
    names = [n["metadata"]["name"] for n in k.list("v1", "Node")]
    assert names == [kube_cluster.node_name]


def test_kubectl_and_kubeconfig(kube_cluster):
    p = kube_cluster.kubectl("get", "nodes", "-o", "json")
    nodes = json.loads(p.stdout)["items"]
    assert nodes[0]["metadata"]["labels"]["kubernetes.io/hostname"] == \
        kube_cluster.node_name
    p = kube_cluster.kubectl("auth", "can-i", "create", "pods")
    assert p.stdout.strip() == "yes"


def test_objects_round_trip(kube_cluster, kube_ns):
    k = kube_cluster.kube
    k.patch("v1", "Namespace", kube_ns, patch={"metadata": {"labels": {
        "hoist.test/plan": "p1"}}})
    ns = k.get("v1", "Namespace", kube_ns)
    assert ns["metadata"]["labels"]["hoist.test/plan"] == "p1"
    assert ns["status"]["phase"] == "Active"
    assert kube_ns in [n["metadata"]["name"] for n in k.list(
        "v1", "Namespace", labelSelector="hoist.test/plan=p1")]
    k.create({"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "s", "namespace": kube_ns},
              "stringData": {"password": "hunter2"}})
    k.create({"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "c", "namespace": kube_ns},
              "data": {"key": "value"}})
    s = k.get("v1", "Secret", "s", kube_ns)
    assert s["data"]["password"] == "aHVudGVyMg=="
    assert k.get("v1", "ConfigMap", "c", kube_ns)["data"] == {"key": "value"}
    k.patch("v1", "ConfigMap", "c", kube_ns, {"data": {"other": "x"}})
    assert k.get("v1", "ConfigMap", "c", kube_ns)["data"] == {
        "key": "value", "other": "x"}
    k.delete("v1", "ConfigMap", "c", kube_ns)
    assert k.get_or_none("v1", "ConfigMap", "c", kube_ns) is None
    # the controller manager works: service accounts and the root CA
    assert k.get("v1", "ConfigMap", "kube-root-ca.crt", kube_ns)


def test_populator_api_is_served(kube_cluster):
    """PVCs take a dataSourceRef to any kind (AnyVolumeDataSource)."""
    k = kube_cluster.kube
    ns = kube_cluster.create_namespace()
    c = pvc("populated", "hoist-static")
    c["metadata"]["namespace"] = ns
    c["spec"]["dataSourceRef"] = {"apiGroup": "forklift.konveyor.io",
                                  "kind": "OvirtVolumePopulator",
                                  "name": "disk"}
    made = k.create(c)
    assert made["spec"]["dataSourceRef"]["kind"] == "OvirtVolumePopulator"
    assert made["spec"]["dataSource"]["kind"] == "OvirtVolumePopulator"
    k.delete("v1", "Namespace", ns)


# ---- pods ----

def test_pod_runs_to_completion_with_env_and_secret(kube_cluster, kube_ns):
    k = kube_cluster.kube
    creds = "/etc/hoist-rig-%s" % uuid.uuid4().hex[:8]  # mounted, then gone
    k.create({"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "creds", "namespace": kube_ns},
              "stringData": {"user": "admin@internal", "ca.pem": "PEM"}})
    k.create({"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "cfg", "namespace": kube_ns},
              "data": {"MODE": "fast"}})
    p = pod("env", 'test "$USER_NAME" = admin@internal && '
                   'test "$CFG_MODE" = fast && '
                   'test "$POD_NAME" = env && test "$MSG" = "hi env" && '
                   'test "$(cat %s/ca.pem)" = PEM && '
                   'test -s /var/run/secrets/kubernetes.io/serviceaccount/'
                   'token && echo "all good"' % creds,
            volumes=[{"name": "creds", "secret": {"secretName": "creds"}}],
            mounts=[{"name": "creds", "mountPath": creds}],
            env=[{"name": "USER_NAME", "valueFrom": {"secretKeyRef": {
                "name": "creds", "key": "user"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {
                    "fieldPath": "metadata.name"}}},
                {"name": "MSG", "value": "hi $(POD_NAME)"}],
            envFrom=[{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}])
    k.create(p, namespace=kube_ns)
    done = kube_cluster.wait_pod(kube_ns, "env")
    t = state(done)["state"]["terminated"]
    assert t["exitCode"] == 0 and t["reason"] == "Completed"
    assert done["status"]["podIP"].startswith("127.")
    assert kube_cluster.pod_log(kube_ns, "env") == "all good\n"
    assert not os.path.exists(creds), \
        "the mount point was not removed from the host"


def test_in_cluster_client(kube_cluster, kube_ns):
    """The service account token, CA and KUBERNETES_SERVICE_* env make
    in-cluster clients work (kubectl here, hoist's controller later)."""
    k = kube_cluster.kube
    k.create(pod("whoami", "exec %s auth whoami -o "
                           "jsonpath='{.status.userInfo.username}'"
                 % kube_cluster.kubectl_path), namespace=kube_ns)
    kube_cluster.wait_pod(kube_ns, "whoami")
    assert kube_cluster.pod_log(kube_ns, "whoami") == \
        "system:serviceaccount:%s:default" % kube_ns


def test_run_as_user_and_missing_command(kube_cluster, kube_ns):
    k = kube_cluster.kube
    k.create(pod("nobody", "id -u; id -g",
                 securityContext={"runAsUser": 65534, "runAsGroup": 65534}),
             namespace=kube_ns)
    kube_cluster.wait_pod(kube_ns, "nobody")
    assert kube_cluster.pod_log(kube_ns, "nobody") == "65534\n65534\n"
    p = pod("missing", "")
    p["spec"]["containers"][0]["command"] = ["/nonexistent/hoist-populator"]
    k.create(p, namespace=kube_ns)
    p = k.wait("v1", "Pod", "missing", kube_ns, timeout=30,
               what="waiting with CreateContainerError",
               until=lambda p: p and p.get("status", {}).get(
                   "containerStatuses") and state(p)["state"].get(
                   "waiting", {}).get("reason") == "CreateContainerError")
    assert "/nonexistent/hoist-populator" in \
        state(p)["state"]["waiting"]["message"]
    assert p["status"]["phase"] == "Pending"


def test_kubectl_logs_follow(kube_cluster, kube_ns):
    k = kube_cluster.kube
    k.create(pod("talker", "for i in 1 2 3; do echo line $i; sleep 0.5; "
                           "done"), namespace=kube_ns)
    kube_cluster.wait_pod(kube_ns, "talker", phases=("Running",
                                                     "Succeeded"))
    p = kube_cluster.kubectl("logs", "-f", "-n", kube_ns, "talker")
    assert p.stdout == "line 1\nline 2\nline 3\n"


def test_termination_message(kube_cluster, kube_ns):
    k = kube_cluster.kube
    k.create(pod("msg", 'printf "copied 42 bytes" > /dev/termination-log; '
                        'exit 3'), namespace=kube_ns)
    done = kube_cluster.wait_pod(kube_ns, "msg", phases=("Failed",))
    t = state(done)["state"]["terminated"]
    assert t["exitCode"] == 3 and t["reason"] == "Error"
    assert t["message"] == "copied 42 bytes"
    # kubelet's cap: the first 4096 bytes
    k.create(pod("big", 'head -c 10000 /dev/zero | tr "\\0" x > /msg',
                 terminationMessagePath="/msg"), namespace=kube_ns)
    done = kube_cluster.wait_pod(kube_ns, "big")
    assert state(done)["state"]["terminated"]["message"] == "x" * 4096
    # FallbackToLogsOnError: the log's tail when no message was written
    k.create(pod("fallback", 'echo "it broke"; exit 1',
                 terminationMessagePolicy="FallbackToLogsOnError"),
             namespace=kube_ns)
    done = kube_cluster.wait_pod(kube_ns, "fallback", phases=("Failed",))
    assert state(done)["state"]["terminated"]["message"] == "it broke"


def test_restart_on_failure(kube_cluster, kube_ns):
    """restartPolicy OnFailure: the container is restarted with back-off
    and restartCount grows; once it succeeds the pod Succeeds."""
    k = kube_cluster.kube
    counter = "/tmp/hoist-rig-%s" % uuid.uuid4().hex
    k.create(pod("flaky", 'n=$(cat %s 2>/dev/null || echo 0); '
                          'echo $((n + 1)) > %s; echo "try $n"; '
                          '[ "$n" -ge 2 ]' % (counter, counter),
                 restart="OnFailure"), namespace=kube_ns)
    try:
        done = kube_cluster.wait_pod(kube_ns, "flaky", timeout=60)
    finally:
        if os.path.exists(counter):
            os.unlink(counter)
    cs = state(done)
    assert cs["restartCount"] == 2
    assert cs["state"]["terminated"]["exitCode"] == 0
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert kube_cluster.pod_log(kube_ns, "flaky") == "try 2\n"
    assert kube_cluster.pod_log(kube_ns, "flaky", previous=True) == "try 1\n"


def test_restart_always_counts(kube_cluster, kube_ns):
    k = kube_cluster.kube
    k.create(pod("crash", "exit 7", restart="Always"), namespace=kube_ns)
    p = k.wait("v1", "Pod", "crash", kube_ns, timeout=30,
               until=lambda p: p and p.get("status", {}).get(
                   "containerStatuses") and
               state(p)["restartCount"] >= 2, what="restarted twice")
    assert p["status"]["phase"] == "Running"
    assert state(p)["lastState"]["terminated"]["exitCode"] == 7


def test_pod_deletion_terms_then_kills(kube_cluster, kube_ns):
    k = kube_cluster.kube
    marker = "/tmp/hoist-rig-term-%s" % uuid.uuid4().hex
    # the first ignores SIGTERM and is killed after its grace period
    k.create(pod("stubborn", "trap '' TERM; while :; do sleep 0.1; done"),
             namespace=kube_ns)
    k.create(pod("polite", "trap 'echo bye > %s; exit 0' TERM; "
                           "while :; do sleep 0.1; done" % marker),
             namespace=kube_ns)
    for name in ("stubborn", "polite"):
        kube_cluster.wait_pod(kube_ns, name, phases=("Running",))
    t0 = time.monotonic()
    k.delete("v1", "Pod", "polite", kube_ns, grace_period=10)
    k.delete("v1", "Pod", "stubborn", kube_ns, grace_period=2)
    for name in ("stubborn", "polite"):
        k.wait("v1", "Pod", name, kube_ns, until=lambda p: p is None,
               timeout=30, what="deleted")
    assert time.monotonic() - t0 >= 2
    try:
        with open(marker) as f:
            assert f.read() == "bye\n"
    finally:
        os.unlink(marker)


def test_mount_namespace_is_private(kube_cluster, kube_ns):
    k = kube_cluster.kube
    tag = uuid.uuid4().hex[:8]
    target = "/mnt/hoist-rig-%s" % tag
    k.create(pod("ns", "echo inside > %s/file; "
                       "grep -q ' %s ' /proc/self/mountinfo || exit 9; "
                       "while :; do sleep 0.1; done" % (target, target),
                 volumes=[{"name": "scratch", "emptyDir": {}}],
                 mounts=[{"name": "scratch", "mountPath": target}]),
             namespace=kube_ns)
    p = kube_cluster.wait_pod(kube_ns, "ns", phases=("Running",))
    time.sleep(0.5)
    p = k.get("v1", "Pod", "ns", kube_ns)
    assert p["status"]["phase"] == "Running", p["status"]
    with open("/proc/self/mountinfo") as f:
        assert target not in f.read()
    assert os.path.isdir(target) and not os.listdir(target), \
        "the pod's writes went to the host's directory"
    k.delete("v1", "Pod", "ns", kube_ns, grace_period=1)
    k.wait("v1", "Pod", "ns", kube_ns, until=lambda p: p is None,
           timeout=20, what="deleted")
    assert not os.path.exists(target)


def test_init_containers_and_shared_empty_dir(kube_cluster, kube_ns):
    k = kube_cluster.kube
    p = pod("init", "cat /scratch/greeting",
            volumes=[{"name": "work", "emptyDir": {}}],
            mounts=[{"name": "work", "mountPath": "/scratch"}])
    p["spec"]["initContainers"] = [{
        "name": "prepare", "image": "none",
        "command": ["/bin/sh", "-c", "echo hello > /scratch/greeting"],
        "volumeMounts": [{"name": "work", "mountPath": "/scratch"}]}]
    k.create(p, namespace=kube_ns)
    done = kube_cluster.wait_pod(kube_ns, "init")
    assert done["status"]["initContainerStatuses"][0]["state"][
        "terminated"]["exitCode"] == 0
    assert kube_cluster.pod_log(kube_ns, "init") == "hello\n"


def test_pod_ip_is_reachable(kube_cluster, kube_ns):
    """A server that binds its pod IP is reachable there (for /metrics)."""
    k = kube_cluster.kube
    p = pod("web", "", env=[{"name": "POD_IP", "valueFrom": {"fieldRef": {
        "fieldPath": "status.podIP"}}}],
        ports=[{"containerPort": 8080, "name": "metrics"}])
    p["spec"]["containers"][0]["command"] = [
        sys.executable, "-c",
        "import http.server as h, os\n"
        "h.HTTPServer((os.environ['POD_IP'], 8080),"
        " h.SimpleHTTPRequestHandler).serve_forever()"]
    k.create(p, namespace=kube_ns)
    running = kube_cluster.wait_pod(kube_ns, "web", phases=("Running",))
    ip = running["status"]["podIP"]
    import urllib.request
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen("http://%s:8080/" % ip,
                                        timeout=2) as r:
                assert r.status == 200
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    k.delete("v1", "Pod", "web", kube_ns, grace_period=1)


# ---- volumes ----

def test_dynamic_immediate_pvc_binds(kube_cluster, kube_ns):
    k = kube_cluster.kube
    k.create(pvc("data", "hoist-hostpath"), namespace=kube_ns)
    bound = kube_cluster.wait_pvc_bound(kube_ns, "data", timeout=60)
    pv = k.get("v1", "PersistentVolume", bound["spec"]["volumeName"])
    path = kube_cluster.pv_host_path(pv)
    assert path.is_dir()
    assert str(path).startswith(str(kube_cluster.storage))


def test_dynamic_wffc_pvc_binds_for_its_first_consumer(kube_cluster,
                                                        kube_ns):
    k = kube_cluster.kube
    k.create(pvc("disk", "hoist-hostpath-wffc"), namespace=kube_ns)
    time.sleep(2)
    c = k.get("v1", "PersistentVolumeClaim", "disk", kube_ns)
    assert c["status"]["phase"] == "Pending"  # no consumer yet
    target = "/mnt/hoist-rig-%s" % uuid.uuid4().hex[:8]
    k.create(pod("writer", "echo populated > %s/disk.img" % target,
                 volumes=[claim_volume("target", "disk")],
                 mounts=[{"name": "target", "mountPath": target}]),
             namespace=kube_ns)
    done = kube_cluster.wait_pod(kube_ns, "writer", timeout=90)
    c = k.get("v1", "PersistentVolumeClaim", "disk", kube_ns)
    assert c["status"]["phase"] == "Bound"
    assert c["metadata"]["annotations"][
        "volume.kubernetes.io/selected-node"] == kube_cluster.node_name
    path = kube_cluster.pvc_host_path(kube_ns, "disk")
    assert (path / "disk.img").read_text() == "populated\n"
    assert not os.path.exists(target)
    assert done["spec"]["nodeName"] == kube_cluster.node_name


def test_static_filesystem_pv_binds(kube_cluster, kube_ns):
    k = kube_cluster.kube
    pv = kube_cluster.static_pv(size="32Mi")
    k.create(pvc("static", "hoist-static", size="32Mi"), namespace=kube_ns)
    bound = kube_cluster.wait_pvc_bound(kube_ns, "static")
    assert bound["spec"]["volumeName"] == pv["metadata"]["name"]
    k.create(pod("w", "echo static > /data/f",
                 volumes=[claim_volume("data", "static")],
                 mounts=[{"name": "data", "mountPath": "/data"}]),
             namespace=kube_ns)
    kube_cluster.wait_pod(kube_ns, "w")
    assert (kube_cluster.pv_host_path(pv) / "f").read_text() == "static\n"


@pytest.mark.parametrize("backing", ["loop", "file"])
def test_static_block_pv_binds_and_pod_writes_device(kube_cluster, kube_ns,
                                                     backing):
    if backing == "loop" and loop_devices_available():
        pytest.skip("Block PVs on loop devices: "
                    + loop_devices_available())
    k = kube_cluster.kube
    pv = kube_cluster.static_pv(size="8Mi", mode="Block", backing=backing,
                                storage_class="hoist-static-wffc")
    k.create(pvc("blk", "hoist-static-wffc", size="8Mi", mode="Block"),
             namespace=kube_ns)
    dev = "/dev/hoist-rig-%s" % uuid.uuid4().hex[:8]
    k.create(pod("dd", "printf hoist-block | dd of=%s bs=512 seek=1 "
                       "conv=notrunc,fsync 2>/dev/null && "
                       "{ [ -b %s ] && echo block || echo file; }"
                       % (dev, dev),
                 volumes=[claim_volume("disk", "blk")],
                 devices=[{"name": "disk", "devicePath": dev}]),
             namespace=kube_ns)
    kube_cluster.wait_pod(kube_ns, "dd", timeout=60)
    bound = k.get("v1", "PersistentVolumeClaim", "blk", kube_ns)
    assert bound["spec"]["volumeName"] == pv["metadata"]["name"]
    img = pv["metadata"]["annotations"]["hoist.test/backing-file"]
    if backing == "loop":
        subprocess.run(["blockdev", "--flushbufs",
                        str(kube_cluster.pv_host_path(pv))], check=False)
    with open(img, "rb") as f:
        f.seek(512)
        assert f.read(11) == b"hoist-block"
    assert kube_cluster.pod_log(kube_ns, "dd") == (
        "block\n" if backing == "loop" else "file\n")
    assert not os.path.exists(dev)


def test_pod_waits_for_its_claim(kube_cluster, kube_ns):
    """A pod whose claim is not bound stays Pending (ContainerCreating) and
    starts once the claim binds."""
    k = kube_cluster.kube
    k.create(pvc("late", "hoist-static", size="40Mi"), namespace=kube_ns)
    k.create({"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": "waiter", "namespace": kube_ns},
              "spec": {"nodeName": kube_cluster.node_name,
                       "restartPolicy": "Never",
                       "containers": [{"name": "main", "image": "none",
                                       "command": ["/bin/true"],
                                       "volumeMounts": [{
                                           "name": "v",
                                           "mountPath": "/v"}]}],
                       "volumes": [claim_volume("v", "late")]}})
    time.sleep(2)
    p = k.get("v1", "Pod", "waiter", kube_ns)
    assert p["status"]["phase"] == "Pending"
    assert state(p)["state"]["waiting"]["reason"] == "ContainerCreating"
    kube_cluster.static_pv(size="40Mi")
    kube_cluster.wait_pod(kube_ns, "waiter", timeout=60)


# ---- CSI: the external-provisioner with the rig's host-path plugin ----

@pytest.fixture
def csi(kube_cluster):
    if kube_cluster.csi_unavailable:
        pytest.skip("CSI classes: " + kube_cluster.csi_unavailable)
    return kube_cluster


def test_csi_filesystem_and_block(csi, kube_ns):
    k = csi.kube
    k.create(pvc("fs", "hoist-csi"), namespace=kube_ns)
    k.create(pvc("blk", "hoist-csi", size="4Mi", mode="Block"),
             namespace=kube_ns)
    csi.wait_pvc_bound(kube_ns, "fs")
    csi.wait_pvc_bound(kube_ns, "blk")
    k.create(pod("rw", "echo csi > /fs/f && printf disk | "
                       "dd of=/dev/vdb conv=notrunc 2>/dev/null && "
                       "{ [ -b /dev/vdb ] && echo block || echo file; }",
                 volumes=[claim_volume("fs", "fs"),
                          claim_volume("blk", "blk")],
                 mounts=[{"name": "fs", "mountPath": "/fs"}],
                 devices=[{"name": "blk", "devicePath": "/dev/vdb"}]),
             namespace=kube_ns)
    csi.wait_pod(kube_ns, "rw")
    assert (csi.pvc_host_path(kube_ns, "fs") / "f").read_text() == "csi\n"
    with open(csi.pvc_host_path(kube_ns, "blk"), "rb") as f:
        assert f.seek(0, 2) == 4 << 20
        f.seek(0)
        assert f.read(4) == b"disk"
    assert csi.pod_log(kube_ns, "rw") == (
        "file\n" if loop_devices_available() else "block\n")
    pv = k.get("v1", "PersistentVolumeClaim", "blk", kube_ns)["spec"][
        "volumeName"]
    assert k.get("v1", "PersistentVolume", pv)["spec"]["csi"]["driver"] == \
        "hostpath.csi.hoist.test"


# ---- volume populators: what the provisioners do with a dataSourceRef ----

POPULATOR_SOURCE = {"apiGroup": "forklift.konveyor.io",
                    "kind": "OvirtVolumePopulator", "name": "disk-1"}


def populated_pvc(name, storage_class, size="8Mi", mode="Filesystem"):
    c = pvc(name, storage_class, size, mode)
    c["spec"]["dataSourceRef"] = dict(POPULATOR_SOURCE)
    return c


def test_csi_leaves_populated_claims_to_a_populator(csi, kube_ns):
    k = csi.kube
    k.create(populated_pvc("target", "hoist-csi"), namespace=kube_ns)
    k.poll(lambda: [e for e in k.list(
        "v1", "Event", kube_ns, fieldSelector="involvedObject.name=target")
        if "external populator" in e["message"]],
        timeout=30, what="an event from the provisioner")
    time.sleep(1)
    c = k.get("v1", "PersistentVolumeClaim", "target", kube_ns)
    assert c["status"]["phase"] == "Pending"


def test_hostpath_provisioner_fills_populated_claims_itself(kube_cluster,
                                                            kube_ns):
    """local-path-provisioner (sig-storage-lib-external-provisioner, as
    every provisioner built on it) ignores dataSourceRef: it binds a
    populator's target claim to a new, empty volume. A populator must not
    rely on such a class; this pins the behaviour the rig offers."""
    k = kube_cluster.kube
    k.create(populated_pvc("target", "hoist-hostpath"), namespace=kube_ns)
    bound = kube_cluster.wait_pvc_bound(kube_ns, "target")
    assert bound["spec"]["dataSourceRef"]["kind"] == "OvirtVolumePopulator"


def test_static_claim_binds_an_available_pv_directly(kube_cluster, kube_ns):
    """The gap a static populator strategy must close: an Available PV of
    the class binds a populated claim before any populator runs."""
    k = kube_cluster.kube
    pv = kube_cluster.static_pv(size="24Mi")
    k.create(populated_pvc("target", "hoist-static", size="24Mi"),
             namespace=kube_ns)
    bound = kube_cluster.wait_pvc_bound(kube_ns, "target")
    assert bound["spec"]["volumeName"] == pv["metadata"]["name"]


@pytest.mark.parametrize("storage_class,mode", [
    ("hoist-csi", "Filesystem"), ("hoist-csi-wffc", "Filesystem"),
    ("hoist-csi", "Block"), ("hoist-static", "Filesystem")])
def test_populator_flow_by_hand(kube_cluster, kube_ns, storage_class, mode):
    """The lib-volume-populator flow, done by hand through the API, works on
    the rig: a target claim with a dataSourceRef, a prime claim, a
    populator pod as the prime's first consumer, then the PV rebound from
    the prime claim to the target; the VM's pod then reads the data."""
    if "csi" in storage_class and kube_cluster.csi_unavailable:
        pytest.skip("CSI classes: " + kube_cluster.csi_unavailable)
    k = kube_cluster.kube
    wffc = storage_class.endswith("-wffc")
    size = "12Mi" if storage_class == "hoist-static" else "8Mi"
    target = k.create(populated_pvc("target", storage_class, size, mode),
                      namespace=kube_ns)
    uid = target["metadata"]["uid"]
    prime_name = "prime-" + uid

    def volume(claim):
        return [claim_volume("disk", claim)]

    def use(script_fs, script_block):
        if mode == "Block":
            return dict(script=script_block,
                        devices=[{"name": "disk", "devicePath": "/dev/disk"}])
        return dict(script=script_fs,
                    mounts=[{"name": "disk", "mountPath": "/disk"}])

    # the VM's pod: consumes the target; for WFFC it makes the scheduler
    # pick the node (selected-node on the target), then waits for binding
    vm = use("cat /disk/disk.img", "head -c 9 /dev/disk")
    k.create(pod("vm", vm["script"], volumes=volume("target"),
                 mounts=vm.get("mounts", ()), devices=vm.get("devices", ())),
             namespace=kube_ns)
    ann = {}
    if wffc:
        t = k.wait("v1", "PersistentVolumeClaim", "target", kube_ns,
                   timeout=30, what="given a node",
                   until=lambda c: "volume.kubernetes.io/selected-node" in
                   c["metadata"].get("annotations", {}))
        node = t["metadata"]["annotations"][
            "volume.kubernetes.io/selected-node"]
        ann["volume.kubernetes.io/selected-node"] = node
    if storage_class == "hoist-static":  # reserve a PV for the prime claim
        kube_cluster.static_pv(size=size, claim_ref={
            "namespace": kube_ns, "name": prime_name})
    prime = pvc(prime_name, storage_class, size, mode)
    prime["metadata"]["annotations"] = ann
    k.create(prime, namespace=kube_ns)
    # the populator pod: the prime claim's first consumer
    pop = use("printf populated > /disk/disk.img",
              "printf populated | dd of=/dev/disk conv=notrunc 2>/dev/null")
    pp = pod("populate-" + uid, pop["script"], volumes=volume(prime_name),
             mounts=pop.get("mounts", ()), devices=pop.get("devices", ()))
    if wffc:
        pp["spec"]["nodeName"] = ann["volume.kubernetes.io/selected-node"]
    k.create(pp, namespace=kube_ns)
    kube_cluster.wait_pod(kube_ns, "populate-" + uid, timeout=60)
    # rebind: the prime claim's PV now claims the target
    prime = kube_cluster.wait_pvc_bound(kube_ns, prime_name)
    pv_name = prime["spec"]["volumeName"]
    target = k.get("v1", "PersistentVolumeClaim", "target", kube_ns)
    k.patch("v1", "PersistentVolume", pv_name, patch={
        "metadata": {"annotations": {
            "hoist.test/populated-from": kube_ns + "/disk-1"}},
        "spec": {"claimRef": {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "namespace": kube_ns, "name": "target", "uid": uid,
            "resourceVersion": target["metadata"]["resourceVersion"]}}})
    bound = kube_cluster.wait_pvc_bound(kube_ns, "target", timeout=60)
    assert bound["spec"]["volumeName"] == pv_name
    k.wait("v1", "PersistentVolumeClaim", prime_name, kube_ns, timeout=30,
           until=lambda c: c["status"].get("phase") == "Lost", what="Lost")
    k.delete("v1", "PersistentVolumeClaim", prime_name, kube_ns)
    done = kube_cluster.wait_pod(kube_ns, "vm", timeout=60)
    assert done["spec"]["nodeName"] == kube_cluster.node_name
    out = kube_cluster.pod_log(kube_ns, "vm")
    assert out == "populated", out
    # the volume outlives the prime claim
    assert k.get("v1", "PersistentVolume", pv_name)["status"]["phase"] == \
        "Bound"


# ---- controllers hoist relies on ----

def test_garbage_collector_follows_owner_references(kube_cluster, kube_ns):
    k = kube_cluster.kube
    owner = k.create(pod("owner", "sleep 30"), namespace=kube_ns)
    k.create({"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "owned", "namespace": kube_ns,
                           "ownerReferences": [{
                               "apiVersion": "v1", "kind": "Pod",
                               "name": "owner",
                               "uid": owner["metadata"]["uid"]}]}})
    k.delete("v1", "Pod", "owner", kube_ns, grace_period=1)
    k.wait("v1", "ConfigMap", "owned", kube_ns, until=lambda o: o is None,
           timeout=30, what="collected")


def test_namespace_deletion_ends_its_pods(kube_cluster):
    k = kube_cluster.kube
    ns = kube_cluster.create_namespace()
    k.create(pod("long", "while :; do sleep 0.1; done"), namespace=ns)
    kube_cluster.wait_pod(ns, "long", phases=("Running",))
    k.delete("v1", "Namespace", ns)
    k.wait("v1", "Namespace", ns, until=lambda o: o is None, timeout=60,
           what="deleted")


# ---- hoist's own programs as pods ----

def test_hoist_copy_in_a_pod_onto_a_block_pvc(kube_cluster, kube_ns,
                                              hoist_bin, tmp_path):
    """hoist (the ASan build) runs as a pod's command and writes a qcow2
    image onto a Block PVC (a loop device at the devicePath), byte for byte
    what qemu-img makes of it."""
    if loop_devices_available():
        pytest.skip("needs a loop device: " + loop_devices_available())
    from diskutil import MiB, assert_same_content, qemu_img, qemu_io, \
        reference_raw
    src = tmp_path / "in.qcow2"
    qemu_img("create", "-f", "qcow2", src, "8M")
    qemu_io(src, "qcow2", "write -P 0x5a 1M 64k", "write -P 0x33 7M 4k")
    k = kube_cluster.kube
    pv = kube_cluster.static_pv(size="8Mi", mode="Block", backing="loop",
                                storage_class="hoist-static-wffc")
    k.create(pvc("disk", "hoist-static-wffc", size="8Mi", mode="Block"),
             namespace=kube_ns)
    p = pod("copy", "", volumes=[
        claim_volume("disk", "disk"),
        {"name": "src", "hostPath": {"path": str(tmp_path),
                                     "type": "Directory"}}],
        mounts=[{"name": "src", "mountPath": "/source", "readOnly": True}],
        devices=[{"name": "disk", "devicePath": "/dev/xvda"}])
    p["spec"]["containers"][0]["command"] = [
        str(hoist_bin.resolve()), "copy", "--no-progress", "/source/in.qcow2",
        "/dev/xvda"]
    k.create(p, namespace=kube_ns)
    kube_cluster.wait_pod(kube_ns, "copy", timeout=120)
    ref = reference_raw(src, tmp_path / "ref.raw")
    out = tmp_path / "out.raw"
    with open(kube_cluster.pv_host_path(pv), "rb") as dev, \
            open(out, "wb") as f:
        f.write(dev.read(8 * MiB))
    assert_same_content(ref, out)



def test_hoist_populator_pod_onto_a_csi_block_volume(
        kube_cluster, kube_ns, build_dir, tmp_path, imageio_daemon,
        nbd_server):
    """hoist-populator as a populator pod runs it: the imageio source (the
    real daemon), the target a CSI Block volume at /dev/block, the CA from
    a Secret volume, /metrics on the pod's IP scraped during the copy, and
    the summary in the pod's termination message."""
    import urllib.request
    from diskutil import MiB, qemu_io
    populator = (build_dir / "src" / "populator" / "hoist-populator").resolve()
    if not populator.exists():
        pytest.skip("hoist-populator is not built")
    if kube_cluster.csi_unavailable:
        pytest.skip("CSI classes: " + kube_cluster.csi_unavailable)
    if loop_devices_available():
        pytest.skip("needs loop devices: " + loop_devices_available())
    size = 24 * MiB
    src = tmp_path / "in.raw"
    with open(src, "wb") as f:
        f.truncate(size)
    for off, pattern in ((0, 0x11), (9 * MiB, 0x22), (20 * MiB, 0x33)):
        qemu_io(src, "raw", "write -P %d %d %d" % (pattern, off, 4 * MiB))
    nbd = nbd_server(src, "raw", bps=4 * MiB)  # about 3 s
    tid = imageio_daemon.add_ticket(nbd.url, size)
    k = kube_cluster.kube
    k.create({"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "imageio-ca", "namespace": kube_ns},
              "stringData": {"ca.pem": imageio_daemon.pki["ca"].read_text()}})
    k.create(pvc("disk", "hoist-csi", size="32Mi", mode="Block"),
             namespace=kube_ns)
    p = pod("populate", "", volumes=[
        claim_volume("target", "disk"),
        {"name": "ca", "secret": {"secretName": "imageio-ca"}}],
        mounts=[{"name": "ca", "mountPath": "/etc/hoist-ca"}],
        devices=[{"name": "target", "devicePath": "/dev/block"}],
        env=[{"name": "POD_IP", "valueFrom": {"fieldRef": {
            "fieldPath": "status.podIP"}}}],
        ports=[{"name": "metrics", "containerPort": 8443}])
    p["spec"]["containers"][0]["command"] = [
        str(populator), "imageio", "--url", imageio_daemon.url(tid),
        "--cacert", "/etc/hoist-ca/ca.pem", "--volume-path", "/dev/block",
        "--owner-uid", "pvc-uid-1", "--secret-dir", "/nonexistent",
        "--metrics-addr", "$(POD_IP):8443", "--metrics-insecure-http",
        "--progress-interval", "0.5"]
    k.create(p, namespace=kube_ns)
    running = kube_cluster.wait_pod(kube_ns, "populate",
                                    phases=("Running", "Succeeded"))
    url = "http://%s:8443/metrics" % running["status"]["podIP"]
    seen = None
    deadline = time.monotonic() + 30
    while seen is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                text = r.read().decode()
            for line in text.splitlines():
                if line.startswith("hoist_populator_bytes_copied"):
                    if float(line.split()[-1]) > 0:
                        seen = line
        except OSError:
            pass
        time.sleep(0.1)
    assert seen and 'owner_uid="pvc-uid-1"' in seen, "no progress scraped"
    done = kube_cluster.wait_pod(kube_ns, "populate", timeout=120)
    summary = json.loads(state(done)["state"]["terminated"]["message"])
    assert summary["result"] == "succeeded", summary
    assert summary["bytes_copied"] == 12 * MiB
    with open(kube_cluster.pvc_host_path(kube_ns, "disk"), "rb") as dev, \
            open(src, "rb") as s:
        assert dev.read(size) == s.read()
