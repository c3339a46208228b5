"""A real Kubernetes control plane on loopback, as a test peer.

Started once per test session (`kube_cluster`), from binaries built from
the Go module proxy by tests/peers/kube/build.sh and cached under
~/.cache/hoist/kube/<version>/bin:

* etcd: one member, data in a temporary directory;
* kube-apiserver: HTTPS on 127.0.0.1:<random>, a CA and serving
  certificate made with openssl, static bearer tokens for the admin (group
  system:masters) and for each component, service-account signing keys,
  authorization Node,RBAC, the default admission plugins;
* kube-controller-manager: every default controller (PV binder, garbage
  collector, namespace, service accounts and their tokens, endpoints…),
  each with its own service account credentials;
* kube-scheduler (it sets the selected-node annotation of
  WaitForFirstConsumer claims);
* the test node agent (tests/peers/node_agent.py): one Node, pods run as
  local processes in their own mount namespaces;
* local-path-provisioner, a real external provisioner built on
  sig-storage-lib-external-provisioner, creating hostPath volumes under a
  temporary directory: StorageClasses `hoist-hostpath` (Immediate) and
  `hoist-hostpath-wffc` (WaitForFirstConsumer);
* the CSI external-provisioner (kubernetes-csi/external-provisioner, real)
  with the rig's host-path CSI plugin (tests/peers/csi_hostpath.py):
  StorageClasses `hoist-csi` (Immediate) and `hoist-csi-wffc`, Filesystem
  and Block volumes. Unlike local-path-provisioner, it leaves claims with a
  dataSourceRef of a kind it does not know to a volume populator;
* StorageClasses `hoist-static` and `hoist-static-wffc`
  (kubernetes.io/no-provisioner) for statically provisioned PVs, which
  `cluster.static_pv()` makes (Filesystem: a directory; Block: a loop
  device, or a plain file where loop devices are not available).

Import the fixtures into a test module with
    from peers.kube import *  # noqa: F401,F403
"""
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from kubeapi import ApiError, Conflict, Kube, NotFound  # noqa: E402,F401

HERE = pathlib.Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "kube" / "build.sh"
NODE_AGENT = HERE / "node_agent.py"
NODE_NAME = "hoist-node"
STORAGE_NS = "hoist-storage"
HOSTPATH_PROVISIONER = "hoist.test/local-path"
CSI_DRIVER = "hostpath.csi.hoist.test"
CSI_PLUGIN = HERE / "csi_hostpath.py"
CLASSES = {
    "hoist-hostpath": (HOSTPATH_PROVISIONER, "Immediate"),
    "hoist-hostpath-wffc": (HOSTPATH_PROVISIONER, "WaitForFirstConsumer"),
    "hoist-csi": (CSI_DRIVER, "Immediate"),
    "hoist-csi-wffc": (CSI_DRIVER, "WaitForFirstConsumer"),
    "hoist-static": ("kubernetes.io/no-provisioner", "Immediate"),
    "hoist-static-wffc": ("kubernetes.io/no-provisioner",
                          "WaitForFirstConsumer"),
}


class ClusterError(Exception):
    pass


def build():
    """Builds (once) and returns the bin directory of the rig's binaries."""
    p = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise ClusterError("tests/peers/kube/build.sh failed:\n"
                           + p.stderr[-4000:])
    return pathlib.Path(p.stdout.strip().splitlines()[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_run_pods():
    """Why pods cannot run here, or None."""
    if os.geteuid() != 0:
        return "the node agent needs root (mount namespaces, bind mounts)"
    for tool in ("unshare", "mount", "setpriv"):
        if not shutil.which(tool):
            return "%s is missing (util-linux, mount): run tests/setup" % tool
    return None


def csi_plugin_unavailable():
    """Why the CSI plugin cannot run here, or None."""
    if not os.path.exists("/usr/bin/python3"):
        return "no /usr/bin/python3"
    p = subprocess.run(["/usr/bin/python3", "-c",
                        "import grpc, google.protobuf"], capture_output=True)
    if p.returncode != 0:
        return "python3-grpcio or python3-protobuf is missing: run tests/setup"
    if not shutil.which("protoc"):
        return "protoc is missing (protobuf-compiler): run tests/setup"
    if not os.path.exists("/usr/include/google/protobuf/descriptor.proto"):
        return "the protobuf well-known types are missing (libprotobuf-dev)"
    return None


def loop_devices_available():
    """Why loop devices cannot be used here, or None."""
    if os.geteuid() != 0:
        return "losetup needs root"
    if not shutil.which("losetup"):
        return "losetup is missing (util-linux)"
    if not os.path.exists("/dev/loop-control"):
        return "no /dev/loop-control (loop module not loaded, or a container)"
    return None


# ---- PKI ----

def _openssl(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise ClusterError("openssl %s: %s" % (args[0], p.stderr))


def _ec_key(d, name):
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout",
             "-out", name, cwd=d)


def _cert(d, name, subj, ext):
    """name-key.pem and name.pem signed by ca.pem."""
    _ec_key(d, name + "-key.pem")
    (d / (name + ".ext")).write_text(ext)
    _openssl("req", "-new", "-key", name + "-key.pem", "-subj", subj,
             "-out", name + ".csr", cwd=d)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
             "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "7",
             "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)


def make_pki(d):
    d.mkdir(parents=True, exist_ok=True)
    _ec_key(d, "ca-key.pem")
    _openssl("req", "-x509", "-new", "-key", "ca-key.pem", "-days", "7",
             "-subj", "/CN=hoist test kubernetes CA", "-out", "ca.pem",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign,"
             "digitalSignature", cwd=d)
    _cert(d, "apiserver", "/CN=kube-apiserver",
          "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,"
          "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,"
          "DNS:kubernetes.default.svc.cluster.local\n"
          "extendedKeyUsage=serverAuth\n"
          "keyUsage=critical,digitalSignature,keyEncipherment\n")
    _cert(d, "kubelet", "/CN=" + NODE_NAME,
          "subjectAltName=IP:127.0.0.1,DNS:%s\n"
          "extendedKeyUsage=serverAuth\n" % NODE_NAME)
    _cert(d, "kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet",
          "extendedKeyUsage=clientAuth\n")
    _ec_key(d, "sa-key.pem")
    _openssl("ec", "-in", "sa-key.pem", "-pubout", "-out", "sa.pub", cwd=d)
    return d


def write_kubeconfig(path, url, ca, token, user="hoist"):
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "hoist", "cluster": {
            "server": url, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "hoist", "context": {
            "cluster": "hoist", "user": user, "namespace": "default"}}],
        "current-context": "hoist"}, indent=1))
    os.chmod(path, 0o600)
    return path


# ---- processes ----

class Proc:
    def __init__(self, name, argv, log_dir, env=None):
        self.name = name
        self.log = log_dir / (name + ".log")
        self.argv = [str(a) for a in argv]
        e = dict(os.environ)
        e.update(env or {})
        self.popen = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL,
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, env=e,
            start_new_session=True)

    def alive(self):
        return self.popen.poll() is None

    def tail(self, n=3000):
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def check(self):
        if not self.alive():
            raise ClusterError("%s exited with %s:\n%s" % (
                self.name, self.popen.returncode, self.tail()))

    def stop(self, timeout=10):
        if not self.alive():
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


def _wait(what, check, timeout, procs=(), interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for p in procs:
            p.check()
        try:
            if check():
                return
        except Exception as e:  # not up yet
            last = e
        time.sleep(interval)
    detail = "".join("\n--- %s:\n%s" % (p.name, p.tail(1500)) for p in procs)
    raise ClusterError("%s: not ready after %ss (%s)%s" % (
        what, timeout, last, detail))


# ---- the cluster ----

class Cluster:
    """One control plane, node agent and provisioner. After start():
    url, ca, token (admin), kubeconfig, kube (a Kube client as admin)."""

    def __init__(self, workdir, bin_dir, backoff_base=1.0,
                 feature_gates=None):
        self.dir = pathlib.Path(workdir)
        # e.g. {"CrossNamespaceVolumeDataSource": True}; none are needed for
        # volume populators (AnyVolumeDataSource is GA and locked on)
        self.feature_gates = ",".join(
            "%s=%s" % (k, str(v).lower())
            for k, v in sorted((feature_gates or {}).items()))
        self.bin = pathlib.Path(bin_dir)
        self.backoff_base = backoff_base
        self.logs = self.dir / "logs"
        self.procs = {}
        self.loops = []
        self.node_name = NODE_NAME
        self.storage = self.dir / "storage"  # provisioned volumes
        self.static = self.dir / "static"  # static PVs' backing stores
        self.node_root = self.dir / "node"
        self.kube = None
        self.kubectl_path = self.bin / "kubectl"

    # ---- starting ----

    def _start(self, name, argv, env=None):
        p = Proc(name, argv, self.logs, env)
        self.procs[name] = p
        return p

    def start(self, timeout=60):
        t0 = time.monotonic()
        for d in (self.logs, self.storage, self.static, self.node_root):
            d.mkdir(parents=True, exist_ok=True)
        pki = make_pki(self.dir / "pki")
        self.ca = pki / "ca.pem"
        tokens = {u: secrets.token_hex(16) for u in (
            "admin", "kcm", "scheduler", "node", "provisioner")}
        self.token = tokens["admin"]
        (self.dir / "tokens.csv").write_text(
            '%s,admin,admin,"system:masters"\n'
            "%s,system:kube-controller-manager,kcm\n"
            "%s,system:kube-scheduler,scheduler\n"
            '%s,system:node:%s,node,"system:nodes"\n'
            '%s,hoist-provisioner,provisioner,"system:masters"\n'
            % (tokens["admin"], tokens["kcm"], tokens["scheduler"],
               tokens["node"], NODE_NAME, tokens["provisioner"]))
        os.chmod(self.dir / "tokens.csv", 0o600)

        # etcd
        etcd_port, peer_port = free_port(), free_port()
        etcd_url = "http://127.0.0.1:%d" % etcd_port
        peer_url = "http://127.0.0.1:%d" % peer_port
        etcd = self._start("etcd", [
            self.bin / "etcd", "--name", "hoist",
            "--data-dir", self.dir / "etcd",
            "--listen-client-urls", etcd_url,
            "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", peer_url,
            "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", "hoist=" + peer_url,
            "--unsafe-no-fsync", "--log-level", "warn"])

        def etcd_ok():
            import urllib.request
            with urllib.request.urlopen(etcd_url + "/health", timeout=2) as r:
                return json.load(r).get("health") == "true"
        _wait("etcd", etcd_ok, 20, [etcd])

        # kube-apiserver
        self.port = free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        api = self._start("kube-apiserver", [
            self.bin / "kube-apiserver",
            "--etcd-servers", etcd_url,
            "--bind-address", "127.0.0.1", "--advertise-address",
            "127.0.0.1", "--secure-port", self.port,
            "--cert-dir", self.dir / "apiserver-certs",
            "--tls-cert-file", pki / "apiserver.pem",
            "--tls-private-key-file", pki / "apiserver-key.pem",
            "--client-ca-file", self.ca,
            "--token-auth-file", self.dir / "tokens.csv",
            "--service-account-issuer",
            "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", pki / "sa.pub",
            "--service-account-signing-key-file", pki / "sa-key.pem",
            "--service-cluster-ip-range", "10.0.0.0/24",
            "--authorization-mode", "Node,RBAC",
            "--kubelet-client-certificate", pki / "kubelet-client.pem",
            "--kubelet-client-key", pki / "kubelet-client-key.pem",
            "--kubelet-preferred-address-types", "InternalIP",
            # the "kubernetes" Service cannot have a loopback endpoint
            "--endpoint-reconciler-type", "none",
            "--allow-privileged=true",
            "--feature-gates", self.feature_gates,
            "--profiling=false", "--v", "1"])
        self.kube = Kube(self.url, token=self.token, ca=self.ca)

        def api_ok():
            return self.kube.request("GET", "/readyz", raw=True) == b"ok"
        _wait("kube-apiserver", api_ok, 60, [etcd, api])

        self.kubeconfig = write_kubeconfig(self.dir / "admin.kubeconfig",
                                           self.url, self.ca, self.token)
        kcm_kc = write_kubeconfig(self.dir / "kcm.kubeconfig", self.url,
                                  self.ca, tokens["kcm"])
        sched_kc = write_kubeconfig(self.dir / "scheduler.kubeconfig",
                                    self.url, self.ca, tokens["scheduler"])
        prov_kc = write_kubeconfig(self.dir / "provisioner.kubeconfig",
                                   self.url, self.ca, tokens["provisioner"])

        self._start("kube-controller-manager", [
            self.bin / "kube-controller-manager",
            "--kubeconfig", kcm_kc,
            "--authentication-kubeconfig", kcm_kc,
            "--authorization-kubeconfig", kcm_kc,
            "--bind-address", "127.0.0.1", "--secure-port", free_port(),
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            "--service-account-private-key-file", pki / "sa-key.pem",
            "--root-ca-file", self.ca,
            "--cluster-signing-cert-file", self.ca,
            "--cluster-signing-key-file", pki / "ca-key.pem",
            "--cluster-name", "hoist",
            "--controllers", "*",
            # claims and volumes are re-examined every 15 s by default;
            # tests wait less for static binding and PV rebinds
            "--pvclaimbinder-sync-period", "2s",
            "--feature-gates", self.feature_gates,
            "--v", "1"])
        self._start("kube-scheduler", [
            self.bin / "kube-scheduler",
            "--kubeconfig", sched_kc,
            "--authentication-kubeconfig", sched_kc,
            "--authorization-kubeconfig", sched_kc,
            "--bind-address", "127.0.0.1", "--secure-port", free_port(),
            "--leader-elect=false", "--v", "1"])
        self._start("node-agent", [
            sys.executable, NODE_AGENT, "--server", self.url,
            "--ca", self.ca, "--token", tokens["node"],
            "--name", NODE_NAME, "--root", self.node_root,
            "--csi-root", self.storage / "csi",
            "--tls-cert", pki / "kubelet.pem",
            "--tls-key", pki / "kubelet-key.pem",
            "--backoff-base", self.backoff_base,
            "--kubelet-version", "v1.37.2"])
        self._setup_storage(prov_kc)
        self._wait_ready(timeout - (time.monotonic() - t0))
        self.start_seconds = time.monotonic() - t0
        return self

    def _setup_storage(self, kubeconfig):
        k = self.kube
        k.apply({"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": STORAGE_NS}})
        for name, (prov, mode) in CLASSES.items():
            k.apply({"apiVersion": "storage.k8s.io/v1", "kind":
                     "StorageClass", "metadata": {"name": name},
                     "provisioner": prov, "reclaimPolicy": "Delete",
                     "volumeBindingMode": mode})
        # local-path-provisioner: one configuration per class; its helper
        # pods run `sh /script/setup` (from the ConfigMap) on the node
        (self.storage / "hostpath").mkdir(exist_ok=True)
        (self.storage / "hostpath-wffc").mkdir(exist_ok=True)
        config = {"storageClassConfigs": {
            "hoist-hostpath": {
                "sharedFileSystemPath": str(self.storage / "hostpath")},
            "hoist-hostpath-wffc": {"nodePathMap": [{
                "node": "DEFAULT_PATH_FOR_NON_LISTED_NODES",
                "paths": [str(self.storage / "hostpath-wffc")]}]}}}
        helper_pod = {"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": "helper-pod"},
                      "spec": {"containers": [{
                          "name": "helper-pod", "image": "none"}]}}
        cfg = self.dir / "local-path"
        cfg.mkdir(exist_ok=True)
        (cfg / "config.json").write_text(json.dumps(config, indent=1))
        (cfg / "helperPod.yaml").write_text(json.dumps(helper_pod))
        k.apply({"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "local-path-config",
                              "namespace": STORAGE_NS},
                 "data": {
                     "config.json": json.dumps(config),
                     "helperPod.yaml": json.dumps(helper_pod),
                     "setup": '#!/bin/sh\nset -eu\nmkdir -m 0777 -p '
                              '"$VOL_DIR"\n',
                     "teardown": '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n'}})
        self._start("local-path-provisioner", [
            self.bin / "local-path-provisioner", "start",
            "--config", cfg / "config.json",
            "--helper-pod-file", cfg / "helperPod.yaml",
            "--configmap-name", "local-path-config",
            "--provisioner-name", HOSTPATH_PROVISIONER,
            "--namespace", STORAGE_NS, "--helper-image", "none",
            "--service-account-name", "default",
            "--kubeconfig", kubeconfig])
        # the CSI external-provisioner and the rig's CSI plugin
        self.csi_unavailable = csi_plugin_unavailable()
        if self.csi_unavailable:
            return
        k.apply({"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver",
                 "metadata": {"name": CSI_DRIVER},
                 "spec": {"attachRequired": False, "podInfoOnMount": False,
                          "volumeLifecycleModes": ["Persistent"]}})
        sock = self.dir / "csi.sock"
        self._start("csi-plugin", [
            "/usr/bin/python3", CSI_PLUGIN, "--endpoint", sock,
            "--root", self.storage / "csi", "--proto",
            self.bin / "csi.proto", "--name", CSI_DRIVER] + (
            [] if loop_devices_available() else ["--loop"]))
        self._start("csi-provisioner", [
            self.bin / "csi-provisioner", "--csi-address", sock,
            "--kubeconfig", kubeconfig, "--leader-election=false",
            "--timeout", "30s", "--retry-interval-start", "500ms",
            "--v", "2"])

    def _wait_ready(self, timeout):
        k = self.kube
        procs = list(self.procs.values())

        def node_ok():
            n = k.get("v1", "Node", NODE_NAME)
            ready = any(c["type"] == "Ready" and c["status"] == "True"
                        for c in n["status"].get("conditions", []))
            return ready and not n["spec"].get("taints")

        def controllers_ok():  # the serviceaccount and root-CA controllers
            k.get("v1", "ServiceAccount", "default", STORAGE_NS)
            k.get("v1", "ConfigMap", "kube-root-ca.crt", STORAGE_NS)
            return True
        _wait("node " + NODE_NAME, node_ok, max(timeout, 5), procs)
        _wait("kube-controller-manager", controllers_ok, max(timeout, 5),
              procs)

    def stop(self):
        order = ["csi-provisioner", "csi-plugin", "local-path-provisioner",
                 "node-agent", "kube-scheduler",
                 "kube-controller-manager", "kube-apiserver", "etcd"]
        for name in order + [n for n in self.procs if n not in order]:
            if name in self.procs:
                self.procs[name].stop()
        for dev in self.loops:
            subprocess.run(["losetup", "-d", dev], capture_output=True)
        self.loops = []

    def check(self):
        """Raises if a component has died."""
        for p in self.procs.values():
            p.check()

    # ---- helpers for tests ----

    def kubectl(self, *args, check=True, input=None):
        """Runs kubectl against the cluster; returns the CompletedProcess."""
        cmd = [str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig)]
        cmd += [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, text=True, input=input)
        if check and p.returncode != 0:
            raise AssertionError("%s failed (%d):\n%s" % (
                " ".join(cmd), p.returncode, p.stderr))
        return p

    def create_namespace(self, name=None, labels=None):
        """A namespace whose default service account exists (pods can be
        created in it at once)."""
        name = name or "t-" + uuid.uuid4().hex[:8]
        self.kube.create({"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": name,
                                       "labels": labels or {}}})
        self.kube.wait("v1", "ServiceAccount", "default", name,
                       until=lambda o: o is not None, timeout=30,
                       what="created")
        return name

    def wait_pod(self, ns, name, phases=("Succeeded",), timeout=60):
        """Waits until the pod is in one of phases; returns it. A pod that
        ends in another terminal phase fails at once."""
        def done(p):
            if p is None:
                return False
            phase = p.get("status", {}).get("phase")
            if phase in phases:
                return True
            if phase in ("Succeeded", "Failed"):
                logs = ""
                for c in p["spec"]["containers"]:
                    try:
                        logs += "\n--- log of %s:\n%s" % (
                            c["name"], self.pod_log(ns, name, c["name"])[
                                -3000:])
                    except (ApiError, OSError):
                        pass
                raise AssertionError("pod %s/%s is %s, not %s:\n%s%s" % (
                    ns, name, phase, "/".join(phases),
                    json.dumps(p["status"], indent=1), logs))
            return False
        return self.kube.wait("v1", "Pod", name, ns, until=done,
                              timeout=timeout, what="/".join(phases))

    def wait_pvc_bound(self, ns, name, timeout=60):
        return self.kube.wait(
            "v1", "PersistentVolumeClaim", name, ns, timeout=timeout,
            until=lambda c: c and c.get("status", {}).get("phase") == "Bound",
            what="Bound")

    def pod_log(self, ns, name, container=None, previous=False):
        """The container's log, through the API server and the node's
        kubelet API (as `kubectl logs`)."""
        params = {}
        if container:
            params["container"] = container
        if previous:
            params["previous"] = "true"
        return self.kube.request(
            "GET", "/api/v1/namespaces/%s/pods/%s/log" % (ns, name),
            params=params, raw=True).decode(errors="replace")

    def pv_host_path(self, pv):
        """Where a PV's bytes are on this machine (a directory, loop device
        or file)."""
        if isinstance(pv, str):
            pv = self.kube.get("v1", "PersistentVolume", pv)
        s = pv["spec"]
        if "hostPath" in s:
            return pathlib.Path(s["hostPath"]["path"])
        if "local" in s:
            return pathlib.Path(s["local"]["path"])
        if "csi" in s:
            return self.storage / "csi" / s["csi"]["volumeHandle"]
        raise ValueError("no host path for PV %s" % pv["metadata"]["name"])

    def pvc_host_path(self, ns, name):
        pvc = self.kube.get("v1", "PersistentVolumeClaim", name, ns)
        return self.pv_host_path(pvc["spec"]["volumeName"])

    def static_pv(self, name=None, size="64Mi", mode="Filesystem",
                  storage_class="hoist-static", backing=None,
                  access_modes=("ReadWriteOnce",), claim_ref=None,
                  reclaim="Retain"):
        """Creates an Available PV (statically provisioned) and returns it.

        Filesystem: a hostPath directory. Block: a `local` PV (node
        affinity to the node) whose path is a loop device over a sparse
        file (backing="loop", the default where loop devices work) or the
        sparse file itself (backing="file"). The PV's host path is
        pv_host_path(pv); the file behind a loop device is
        <path of the loop device's file> in the PV's annotations."""
        name = name or "static-" + uuid.uuid4().hex[:8]
        size_bytes = _quantity_bytes(size)
        ann = {}
        if mode == "Filesystem":
            path = self.static / name
            path.mkdir()
            source = {"hostPath": {"path": str(path), "type": "Directory"}}
        else:
            img = self.static / (name + ".img")
            with open(img, "wb") as f:
                f.truncate(size_bytes)
            if backing is None:
                backing = "file" if loop_devices_available() else "loop"
            if backing == "loop":
                why = loop_devices_available()
                if why:
                    raise ClusterError("no loop device: " + why)
                p = subprocess.run(["losetup", "--find", "--show", str(img)],
                                   capture_output=True, text=True)
                if p.returncode != 0:
                    raise ClusterError("losetup: " + p.stderr)
                dev = p.stdout.strip()
                self.loops.append(dev)
                path = dev
            else:
                path = img
            ann["hoist.test/backing-file"] = str(img)
            source = {"local": {"path": str(path)}, "nodeAffinity": {
                "required": {"nodeSelectorTerms": [{"matchExpressions": [{
                    "key": "kubernetes.io/hostname", "operator": "In",
                    "values": [NODE_NAME]}]}]}}}
        pv = {"apiVersion": "v1", "kind": "PersistentVolume",
              "metadata": {"name": name, "annotations": ann,
                           "labels": {"hoist.test/static": "true"}},
              "spec": {"capacity": {"storage": size},
                       "accessModes": list(access_modes),
                       "volumeMode": mode,
                       "persistentVolumeReclaimPolicy": reclaim,
                       "storageClassName": storage_class}}
        pv["spec"].update(source)
        if claim_ref:
            pv["spec"]["claimRef"] = claim_ref
        return self.kube.create(pv)


def _quantity_bytes(q):
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    for u, m in units.items():
        if q.endswith(u):
            return int(q[:-2]) * m
    return int(q)


# ---- fixtures ----

@pytest.fixture(scope="session")
def kube_bin():
    if not shutil.which("go"):
        pytest.skip("go is missing: the Kubernetes rig is built from the Go "
                    "module proxy")
    if not shutil.which("openssl"):
        pytest.fail("openssl is missing: run tests/setup")
    return build()


@pytest.fixture(scope="session")
def kube_cluster(kube_bin, tmp_path_factory):
    """The session's cluster (see Cluster): url, ca, token, kubeconfig,
    kube (admin client), kubectl(), create_namespace(), wait_pod(),
    static_pv(), pv_host_path()."""
    why = can_run_pods()
    if why:
        pytest.skip("the Kubernetes rig cannot run pods here: " + why)
    c = Cluster(tmp_path_factory.mktemp("kube"), kube_bin)
    try:
        c.start()
    except BaseException:
        c.stop()
        raise
    yield c
    c.stop()


@pytest.fixture
def kube_ns(kube_cluster):
    """A fresh namespace for one test, deleted after it."""
    ns = kube_cluster.create_namespace()
    yield ns
    kube_cluster.kube.delete("v1", "Namespace", ns)
