#!/usr/bin/env python3
"""The test node agent: a stand-in for kubelet in hoist's Kubernetes rig.

kubelet cannot run here: it needs a container runtime (containerd or
CRI-O), cgroups it owns and images pulled from a registry, none of which
this machine has. The agent does the part of kubelet's job that hoist's
controllers see through the API, with real processes:

* registers a Node (Ready, capacity and allocatable from this machine, the
  kubernetes.io/hostname label) and keeps its Lease and status fresh;
* watches the pods bound to it (spec.nodeName) and runs each container as
  a local process: the container's `command` + `args` run directly on this
  machine, so the image is ignored (tests give absolute paths of hoist's
  own binaries, or of /bin/sh, as the command); a container without a
  command cannot start (CreateContainerError);
* each container runs in its OWN MOUNT NAMESPACE (`unshare --mount
  --propagation private`, util-linux), where its volumes are bind-mounted:
  PVC volumes at their mountPath (the PV's hostPath or local path),
  Block PVCs (volumeDevices) at their devicePath (the PV's path: a loop
  device or a plain file, bind-mounted over a file), emptyDir, hostPath,
  Secret, ConfigMap, downwardAPI and projected volumes (service account
  token, kube-root-ca.crt, namespace) written as files. Mount points that
  do not exist on the host are created (empty directories or files) and
  removed when no pod uses them any more;
* env, envFrom (Secrets and ConfigMaps resolved through the API), the
  downward API (fieldRef, resourceFieldRef) and $(VAR) expansion;
  KUBERNETES_SERVICE_HOST/PORT point at the API server, so in-cluster
  clients work; securityContext.runAsUser/runAsGroup through setpriv;
* a PVC volume is mounted only when its claim is Bound (for
  WaitForFirstConsumer classes kube-scheduler sets the selected-node
  annotation, the provisioner provisions, and the pod waits in
  ContainerCreating until the claim is bound);
* terminationMessagePath: the file the process wrote (up to 4096 bytes,
  kubelet's rule; FallbackToLogsOnError uses the log's tail) becomes
  containerStatuses[].state.terminated.message;
* pod phase Pending → Running → Succeeded/Failed, exit codes, init
  containers, restartPolicy Never/OnFailure/Always with exponential
  back-off (CrashLoopBackOff) and restartCount;
* pod IPs: pods share the host's network (like hostNetwork: true), and
  each pod gets its own loopback address 127.N.x.y as status.podIP, so a
  program that binds to its $(POD_IP) (downward API status.podIP) is
  reachable there by a controller on this machine (for /metrics);
  containerPorts are informational. The API server's pod proxy refuses
  loopback addresses, so the rig reaches pods directly;
* deletion: SIGTERM to the container's process group, SIGKILL after the
  grace period, then the pod object is removed (a grace-0 delete, as
  kubelet does);
* container logs (stdout and stderr) in files, also served on kubelet's
  API (`/containerLogs/...`, HTTPS) so `kubectl logs` works.

Not done (kubelet does): probes (a running container is ready), resource
limits and cgroups, image pulls, exec/attach/port-forward, network
isolation, volume resizing, updates of Secret/ConfigMap volumes after the
start, static pods.

Run by tests/peers/kube.py as root:
    node_agent.py --server URL --ca CA --token TOKEN --name NODE --root DIR
"""
import argparse
import base64
import datetime
import fcntl
import http.server
import json
import os
import pathlib
import queue
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from kubeapi import ApiError, Kube, NotFound  # noqa: E402

MAX_TERMINATION_MESSAGE = 4096
FALLBACK_LOG_BYTES = 2048
FALLBACK_LOG_LINES = 80
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
PASS_ENV = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS")


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def now_micro():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


class NotReady(Exception):
    """A pod cannot start yet (volume not bound, secret missing, …): the
    reason and message go into the waiting state, and the start is
    retried."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


# ---- mount points and addresses shared with other agents ----

STATE_DIR = pathlib.Path("/run/hoist-node-agent")


class MountPoints:
    """Empty directories and files created on the host as mount points, and
    removed when no container uses them any more.

    Every agent on this machine (several test runs may be going on at once)
    shares one registry, under a lock: a mount point must not be removed
    while a container of another agent is bound on it (unlinking a mount
    point detaches the mounts on it in every namespace). Users are (agent
    pid, key); entries of agents that died are pruned."""

    def __init__(self):
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        self.lock_file = STATE_DIR / "mountpoints.lock"
        self.registry = STATE_DIR / "mountpoints.json"
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.n = 0

    def _update(self, fn):
        with self.lock, open(self.lock_file, "a") as lf:
            fcntl.flock(lf, fcntl.LOCK_EX)
            try:
                reg = json.loads(self.registry.read_text())
            except (OSError, ValueError):
                reg = {}
            for entry in reg.values():
                entry["users"] = [u for u in entry["users"]
                                  if _alive(u[0])]
            result = fn(reg)
            for path in [p for p, e in reg.items() if not e["users"]]:
                for made in reversed(reg.pop(path)["made"]):
                    _remove_empty(made)
            tmp = self.registry.with_suffix(".tmp")
            tmp.write_text(json.dumps(reg))
            os.replace(tmp, self.registry)
            return result

    def acquire(self, path, is_file):
        """Makes path exist; returns a key for release()."""
        path = os.path.normpath(path)
        self.n += 1
        key = [self.pid, self.n]

        def fn(reg):
            entry = reg.setdefault(path, {"made": [], "users": []})
            parts = pathlib.PurePosixPath(path).parts
            cur = "/"
            for i, part in enumerate(parts[1:]):
                cur = os.path.join(cur, part)
                if os.path.lexists(cur):
                    continue
                if i == len(parts) - 2 and is_file:
                    open(cur, "a").close()
                else:
                    os.mkdir(cur)
                entry["made"].append(cur)
            entry["users"].append(key)
        self._update(fn)
        return (path, key)

    def release(self, handle):
        path, key = handle

        def fn(reg):
            entry = reg.get(path)
            if entry and key in entry["users"]:
                entry["users"].remove(key)
        self._update(fn)


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _remove_empty(p):
    try:
        if os.path.isdir(p) and not os.path.islink(p):
            os.rmdir(p)
        elif os.path.isfile(p) and os.path.getsize(p) == 0:
            os.unlink(p)
    except OSError:
        pass


# ---- pod IPs ----

class IPPool:
    """One loopback address per pod: 127.N.x.y, where N (2…254) is this
    agent's own (held with a lock file, so that agents of test runs going
    on at once do not hand out the same addresses)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.used = set()
        self.next = 1
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        for n in range(2, 255):
            f = open(STATE_DIR / ("net-%d.lock" % n), "a")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            self.octet, self._held = n, f
            return
        raise RuntimeError("no free 127.N.0.0/16 for pod IPs")

    def get(self):
        with self.lock:
            for _ in range(65534):
                n = self.next
                self.next = self.next % 65534 + 1
                if n not in self.used and n % 256:
                    self.used.add(n)
                    return "127.%d.%d.%d" % (self.octet, n // 256, n % 256)
        raise RuntimeError("out of pod IPs")

    def put(self, ip):
        a, b = ip.split(".")[2:]
        with self.lock:
            self.used.discard(int(a) * 256 + int(b))


# ---- one container ----

class Container:
    def __init__(self, spec, init=False):
        self.spec = spec
        self.name = spec["name"]
        self.init = init
        self.proc = None
        self.state = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state = {}
        self.restart_count = 0
        self.started_at = None
        self.restart_at = None  # monotonic time of the next start
        self.exit_code = None
        self.container_id = ""
        self.term_file = None
        self.log_file = None
        self.handled = ""  # the container id whose exit was handled
        self.mountpoints = []  # acquired on the host for this run

    @property
    def running(self):
        return self.proc is not None and "running" in self.state

    @property
    def terminated(self):
        return "terminated" in self.state

    def status(self):
        st = {"name": self.name, "state": self.state,
              "lastState": self.last_state,
              "ready": self.running and not self.init,
              "started": self.running,
              "restartCount": self.restart_count,
              "image": self.spec.get("image") or "none",
              "imageID": ""}
        if self.container_id:
            st["containerID"] = self.container_id
        return st


# ---- one pod ----

class PodWorker(threading.Thread):
    def __init__(self, agent, pod):
        super().__init__(daemon=True, name="pod-" + pod["metadata"]["name"])
        self.agent = agent
        self.kube = agent.kube
        self.pod = pod
        m = pod["metadata"]
        self.uid = m["uid"]
        self.ns = m["namespace"]
        self.name = m["name"]
        self.key = "%s/%s" % (self.ns, self.name)
        self.dir = agent.root / "pods" / self.uid
        self.log_dir = agent.root / "logs" / ("%s_%s_%s" % (
            self.ns, self.name, self.uid))
        self.events = queue.Queue()
        self.gone = False  # the object was removed from the API
        self.ip = None
        self.start_time = None
        spec = pod["spec"]
        self.restart_policy = spec.get("restartPolicy", "Always")
        self.init_containers = [Container(c, init=True)
                                for c in spec.get("initContainers", [])]
        self.containers = [Container(c) for c in spec["containers"]]
        self.volumes = {}  # name → (kind, host path, readOnly)
        self.phase = "Pending"
        self.message = None
        self.reason = None
        self.initialized = not self.init_containers
        self.last_status = None

    # ---- messages from the agent ----

    def update(self, pod):
        self.events.put(("pod", pod))

    def deleted(self):
        self.events.put(("gone", None))

    # ---- API helpers ----

    def event(self, type_, reason, message):
        self.agent.event(self.pod, type_, reason, message)

    def set_status(self, force=False):
        conditions = {c["type"]: c for c in
                      self.pod.get("status", {}).get("conditions", [])}

        def cond(t, ok, reason=None):
            old = conditions.get(t, {})
            status = "True" if ok else "False"
            c = {"type": t, "status": status,
                 "lastTransitionTime": old.get("lastTransitionTime")
                 if old.get("status") == status else now(),
                 "lastProbeTime": None}
            if reason:
                c["reason"] = reason
            conditions[t] = c

        started = self.ip is not None
        cond("PodReadyToStartContainers", started)
        cond("Initialized", self.initialized,
             None if self.initialized else "ContainersNotInitialized")
        ready = self.initialized and all(c.running for c in self.containers)
        done = self.phase in ("Succeeded", "Failed")
        reason = "PodCompleted" if done else (
            None if ready else "ContainersNotReady")
        cond("ContainersReady", ready, reason)
        cond("Ready", ready, reason)
        status = {
            "phase": self.phase,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.start_time,
            "conditions": list(conditions.values()),
            "containerStatuses": [c.status() for c in self.containers],
            "qosClass": self.pod.get("status", {}).get("qosClass",
                                                       "BestEffort"),
            "message": self.message,
            "reason": self.reason,
        }
        if self.init_containers:
            status["initContainerStatuses"] = [
                c.status() for c in self.init_containers]
        if self.ip:
            status["podIP"] = self.ip
            status["podIPs"] = [{"ip": self.ip}]
        key = json.dumps(status, sort_keys=True)
        if key == self.last_status and not force:
            return
        try:
            self.pod = self.kube.patch("v1", "Pod", self.name, self.ns,
                                       {"status": status},
                                       subresource="status")
            self.last_status = key
        except NotFound:
            self.gone = True
        except ApiError as e:
            log(self.key, "status update failed:", e)

    # ---- resolving references ----

    def _get(self, kind, name, optional=False):
        try:
            return self.kube.get("v1", kind, name, self.ns)
        except NotFound:
            if optional:
                return None
            raise NotReady("CreateContainerConfigError",
                           '%s "%s" not found' % (kind.lower(), name))
        except ApiError as e:
            if e.status == 403 and not optional:  # the node graph lags
                raise NotReady("CreateContainerConfigError", str(e))
            raise

    def _data(self, kind, obj):
        out = {}
        if obj is None:
            return out
        if kind == "Secret":
            for k, v in (obj.get("data") or {}).items():
                out[k] = base64.b64decode(v)
        else:
            for k, v in (obj.get("data") or {}).items():
                out[k] = v.encode()
            for k, v in (obj.get("binaryData") or {}).items():
                out[k] = base64.b64decode(v)
        return out

    def _field(self, path):
        m = self.pod["metadata"]
        simple = {
            "metadata.name": m["name"], "metadata.namespace": m["namespace"],
            "metadata.uid": m["uid"],
            "spec.nodeName": self.pod["spec"].get("nodeName", ""),
            "spec.serviceAccountName":
                self.pod["spec"].get("serviceAccountName", ""),
            "status.hostIP": "127.0.0.1", "status.hostIPs": "127.0.0.1",
            "status.podIP": self.ip or "", "status.podIPs": self.ip or "",
        }
        if path in simple:
            return simple[path]
        mm = re.fullmatch(r"metadata\.(labels|annotations)\['(.*)'\]", path)
        if mm:
            return (m.get(mm.group(1)) or {}).get(mm.group(2), "")
        if path in ("metadata.labels", "metadata.annotations"):
            d = m.get(path.split(".")[1]) or {}
            return "\n".join('%s="%s"' % (k, d[k]) for k in sorted(d))
        raise NotReady("CreateContainerConfigError",
                       "unsupported fieldRef " + path)

    def _resource_field(self, ref, container):
        cname = ref.get("containerName") or container["name"]
        spec = next((c for c in self.pod["spec"]["containers"]
                     if c["name"] == cname), container)
        res = ref["resource"]
        kind, _, what = res.partition(".")
        value = (spec.get("resources", {}).get(kind) or {}).get(what)
        if value is None:
            value = self.agent.allocatable.get(what, "0")
        divisor = ref.get("divisor", "1")
        return str(max(1, -(-parse_quantity(value) //
                            parse_quantity(divisor))))

    def env(self, container):
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": self.name,
               "HOME": "/root",
               "KUBERNETES_SERVICE_HOST": "127.0.0.1",
               "KUBERNETES_SERVICE_PORT": str(self.agent.api_port),
               "KUBERNETES_SERVICE_PORT_HTTPS": str(self.agent.api_port),
               "KUBERNETES_PORT": "tcp://127.0.0.1:%d" % self.agent.api_port}
        for k in PASS_ENV:
            if k in os.environ:
                env[k] = os.environ[k]
        for src in container.get("envFrom", []):
            prefix = src.get("prefix", "")
            for kind, key in (("ConfigMap", "configMapRef"),
                              ("Secret", "secretRef")):
                if key in src:
                    ref = src[key]
                    obj = self._get(kind, ref["name"],
                                    ref.get("optional", False))
                    for k, v in self._data(kind, obj).items():
                        env[prefix + k] = v.decode(errors="replace")
        for e in container.get("env", []):
            if "valueFrom" not in e:
                env[e["name"]] = expand(e.get("value", ""), env)
                continue
            vf = e["valueFrom"]
            if "fieldRef" in vf:
                env[e["name"]] = self._field(vf["fieldRef"]["fieldPath"])
            elif "resourceFieldRef" in vf:
                env[e["name"]] = self._resource_field(
                    vf["resourceFieldRef"], container)
            else:
                kind, ref = (("ConfigMap", vf["configMapKeyRef"])
                             if "configMapKeyRef" in vf
                             else ("Secret", vf["secretKeyRef"]))
                obj = self._get(kind, ref["name"], ref.get("optional", False))
                data = self._data(kind, obj)
                if ref["key"] in data:
                    env[e["name"]] = data[ref["key"]].decode(errors="replace")
                elif not ref.get("optional", False):
                    raise NotReady("CreateContainerConfigError",
                                   "couldn't find key %s in %s %s"
                                   % (ref["key"], kind, ref["name"]))
        return env

    # ---- volumes ----

    def _write_files(self, d, files, default_mode):
        """files: [(relative path, bytes, mode or None)]"""
        d.mkdir(parents=True, exist_ok=True)
        for rel, data, mode in files:
            p = d / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            os.chmod(p, mode if mode is not None else default_mode)

    def _items(self, data, items, optional, what):
        if not items:
            return [(k, v, None) for k, v in data.items()]
        out = []
        for it in items:
            if it["key"] not in data:
                if optional:
                    continue
                raise NotReady("ContainerCreating",
                               "key %s not found in %s" % (it["key"], what))
            out.append((it["path"], data[it["key"]], it.get("mode")))
        return out

    def _projected(self, vol, d):
        files = []
        for src in vol["sources"]:
            if "serviceAccountToken" in src:
                t = src["serviceAccountToken"]
                files.append((t["path"], self._token(t), None))
            elif "configMap" in src or "secret" in src:
                kind = "ConfigMap" if "configMap" in src else "Secret"
                ref = src["configMap" if kind == "ConfigMap" else "secret"]
                obj = self._get(kind, ref["name"], ref.get("optional", False))
                files += self._items(self._data(kind, obj),
                                     ref.get("items"),
                                     ref.get("optional", False), ref["name"])
            elif "downwardAPI" in src:
                files += self._downward(src["downwardAPI"])
        self._write_files(d, files, vol.get("defaultMode", 0o644))

    def _downward(self, dapi):
        files = []
        for it in dapi.get("items", []):
            if "fieldRef" in it:
                v = self._field(it["fieldRef"]["fieldPath"])
            else:
                v = self._resource_field(it["resourceFieldRef"],
                                         self.pod["spec"]["containers"][0])
            files.append((it["path"], v.encode(), it.get("mode")))
        return files

    def _token(self, t):
        sa = self.pod["spec"].get("serviceAccountName", "default")
        req = {"apiVersion": "authentication.k8s.io/v1",
               "kind": "TokenRequest",
               "metadata": {"name": sa, "namespace": self.ns},
               "spec": {"expirationSeconds": t.get("expirationSeconds",
                                                   3607),
                        "boundObjectRef": {"apiVersion": "v1",
                                           "kind": "Pod", "name": self.name,
                                           "uid": self.uid}}}
        if t.get("audience"):
            req["spec"]["audiences"] = [t["audience"]]
        try:
            resp = self.kube.request(
                "POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token"
                % (self.ns, sa), req)
        except ApiError as e:
            raise NotReady("ContainerCreating",
                           "service account token: %s" % e)
        return resp["status"]["token"].encode()

    def _claim_source(self, claim_name, read_only):
        """(kind, path) of a bound PVC's volume; NotReady until bound."""
        try:
            pvc = self.kube.get("v1", "PersistentVolumeClaim", claim_name,
                                self.ns)
        except NotFound:
            raise NotReady("ContainerCreating",
                           'persistentvolumeclaim "%s" not found' % claim_name)
        except ApiError as e:
            raise NotReady("ContainerCreating", str(e))
        if pvc.get("metadata", {}).get("deletionTimestamp"):
            raise NotReady("ContainerCreating",
                           'persistentvolumeclaim "%s" is being deleted'
                           % claim_name)
        if pvc.get("status", {}).get("phase") != "Bound":
            raise NotReady("ContainerCreating",
                           'persistentvolumeclaim "%s" is not bound'
                           % claim_name)
        pv_name = pvc["spec"]["volumeName"]
        try:
            pv = self.kube.get("v1", "PersistentVolume", pv_name)
        except ApiError as e:
            raise NotReady("ContainerCreating", "volume %s: %s"
                           % (pv_name, e))
        mode = pv["spec"].get("volumeMode", "Filesystem")
        path = self.agent.pv_path(pv)
        if path is None:
            raise NotReady("ContainerCreating",
                           "volume %s: unsupported volume source" % pv_name)
        if not os.path.exists(path):
            raise NotReady("ContainerCreating",
                           "volume %s: %s does not exist" % (pv_name, path))
        kind = "block" if mode == "Block" else "dir"
        return kind, path

    def prepare_volumes(self):
        vols = {}
        vdir = self.dir / "volumes"
        for vol in self.pod["spec"].get("volumes", []):
            name = vol["name"]
            d = vdir / name
            if "emptyDir" in vol:
                d.mkdir(parents=True, exist_ok=True)
                vols[name] = ("dir", str(d), False)
            elif "hostPath" in vol:
                hp = vol["hostPath"]
                path, t = hp["path"], hp.get("type", "")
                if t == "DirectoryOrCreate":
                    os.makedirs(path, exist_ok=True)
                elif t == "FileOrCreate" and not os.path.exists(path):
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    open(path, "a").close()
                elif t and not os.path.exists(path):
                    raise NotReady("ContainerCreating",
                                   "hostPath %s does not exist" % path)
                kind = "dir" if os.path.isdir(path) else "file"
                vols[name] = (kind, path, False)
            elif "persistentVolumeClaim" in vol:
                c = vol["persistentVolumeClaim"]
                kind, path = self._claim_source(c["claimName"],
                                                c.get("readOnly", False))
                vols[name] = (kind, path, c.get("readOnly", False))
            elif "ephemeral" in vol:
                kind, path = self._claim_source(
                    "%s-%s" % (self.name, name), False)
                vols[name] = (kind, path, False)
            elif "secret" in vol or "configMap" in vol:
                kind = "Secret" if "secret" in vol else "ConfigMap"
                ref = vol["secret"] if kind == "Secret" else vol["configMap"]
                obj_name = ref.get("secretName") or ref.get("name")
                obj = self._get(kind, obj_name, ref.get("optional", False))
                files = self._items(self._data(kind, obj), ref.get("items"),
                                    ref.get("optional", False), obj_name)
                self._write_files(d, files, ref.get("defaultMode", 0o644))
                vols[name] = ("dir", str(d), True)
            elif "downwardAPI" in vol:
                self._write_files(d, self._downward(vol["downwardAPI"]),
                                  vol["downwardAPI"].get("defaultMode",
                                                         0o644))
                vols[name] = ("dir", str(d), True)
            elif "projected" in vol:
                self._projected(vol["projected"], d)
                vols[name] = ("dir", str(d), True)
            else:
                raise NotReady("ContainerCreating",
                               "volume %s: unsupported volume type" % name)
        self.volumes = vols

    # ---- processes ----

    def _mount_script(self, container, c):
        """Shell commands that bind the container's volumes in its own mount
        namespace; mount points on the host are acquired first."""
        binds = []  # (target, source, is_file, read_only, what)
        for vm in container.get("volumeMounts", []):
            if vm["name"] not in self.volumes:
                raise NotReady("CreateContainerConfigError",
                               "volume %s not found" % vm["name"])
            kind, src, ro = self.volumes[vm["name"]]
            if kind == "block":
                raise NotReady("CreateContainerConfigError",
                               "volume %s is a Block volume: use "
                               "volumeDevices" % vm["name"])
            if vm.get("subPath"):
                src = os.path.join(src, vm["subPath"])
                if kind == "dir" and not os.path.exists(src):
                    os.makedirs(src)
            binds.append((vm["mountPath"], src, not os.path.isdir(src),
                          ro or vm.get("readOnly", False),
                          "volume " + vm["name"]))
        for vd in container.get("volumeDevices", []):
            kind, src, ro = self.volumes.get(vd["name"], (None, None, None))
            if kind != "block":
                raise NotReady("CreateContainerConfigError",
                               "volume %s is not a Block volume"
                               % vd["name"])
            binds.append((vd["devicePath"], src, True, ro,
                          "device " + vd["name"]))
        tpath = container.get("terminationMessagePath",
                              "/dev/termination-log")
        binds.append((tpath, str(c.term_file), True, False,
                      "termination message file"))
        binds.sort(key=lambda b: len(pathlib.PurePosixPath(b[0]).parts))
        lines = ['fail() { echo "hoist-node: $*" >&2; '
                 'echo "$*" > %s; exit 128; }'
                 % shlex.quote(str(self.dir / ("start-error-" + c.name)))]
        placed = []
        for target, src, is_file, ro, what in binds:
            target = os.path.normpath(target)
            under = any(target.startswith(p.rstrip("/") + "/")
                        for p in placed)
            if under:  # inside another volume: make it there
                q = shlex.quote(target)
                lines.append(
                    ("[ -e %s ] || { mkdir -p %s && : > %s; } || fail "
                     "cannot create %s" % (q, shlex.quote(
                         os.path.dirname(target)), q, q)) if is_file else
                    "mkdir -p %s || fail cannot create %s" % (q, q))
            else:
                c.mountpoints.append(
                    self.agent.mountpoints.acquire(target, is_file))
            placed.append(target)
            lines.append("mount --bind %s %s || fail cannot mount %s at %s"
                         % (shlex.quote(src), shlex.quote(target),
                            shlex.quote(what), shlex.quote(target)))
            if ro:
                q = shlex.quote(target)
                lines.append("mount -o remount,bind,ro %s || fail cannot "
                             "make %s read-only" % (q, q))
        return lines

    def start_container(self, c):
        spec = c.spec
        argv = list(spec.get("command") or [])
        if not argv:
            raise NotReady("CreateContainerError",
                           "container %s has no command: the test node runs "
                           "commands directly, images are ignored" % c.name)
        env = self.env(spec)
        argv = [expand(a, env) for a in argv + list(spec.get("args") or [])]
        exe = argv[0]
        if "/" not in exe:
            found = shutil.which(exe, path=env.get("PATH", DEFAULT_PATH))
            if not found:
                raise NotReady("CreateContainerError",
                               'exec: "%s": executable file not found in '
                               '$PATH' % exe)
        elif not os.access(os.path.join(spec.get("workingDir") or "/", exe),
                           os.X_OK):
            raise NotReady("CreateContainerError",
                           'exec: "%s": no such file or not executable'
                           % exe)
        self.dir.mkdir(parents=True, exist_ok=True)
        c.term_file = self.dir / ("termination-%s-%d" % (c.name,
                                                         c.restart_count))
        c.term_file.write_bytes(b"")
        os.chmod(c.term_file, 0o666)
        try:
            lines = self._mount_script(spec, c)
            sc = dict(self.pod["spec"].get("securityContext") or {})
            sc.update(spec.get("securityContext") or {})
            wd = spec.get("workingDir") or "/"
            lines.append("cd %s || fail cannot enter %s"
                         % (shlex.quote(wd), shlex.quote(wd)))
            if "runAsUser" in sc or "runAsGroup" in sc:
                uid = sc.get("runAsUser", 0)
                gid = sc.get("runAsGroup", uid)
                lines.append('exec setpriv --reuid=%d --regid=%d '
                             '--clear-groups -- "$@"' % (uid, gid))
            else:
                lines.append('exec "$@"')
            self.log_dir.mkdir(parents=True, exist_ok=True)
            c.log_file = self.log_dir / ("%s-%d.log"
                                         % (c.name, c.restart_count))
            out = open(c.log_file, "ab")
            try:
                c.proc = subprocess.Popen(
                    ["unshare", "--mount", "--propagation", "private", "--",
                     "/bin/sh", "-c", "\n".join(lines), "hoist-container"]
                    + argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True, cwd="/")
            finally:
                out.close()
        except BaseException:
            self.release_mountpoints(c)
            raise
        c.started_at = now()
        c.container_id = "hoist://%s-%s-%d" % (self.uid[:8], c.name,
                                               c.restart_count)
        c.state = {"running": {"startedAt": c.started_at}}
        proc = c.proc
        threading.Thread(target=lambda: self.events.put(
            ("exit", (c, proc, proc.wait()))), daemon=True).start()
        self.event("Normal", "Started", "Started container " + c.name)

    def on_exit(self, c, proc, code):
        if c.proc is not proc:
            return
        c.proc = None
        self.release_mountpoints(c)
        start_error = self.dir / ("start-error-" + c.name)
        msg = ""
        if c.term_file and c.term_file.exists():
            with open(c.term_file, "rb") as f:
                msg = f.read(MAX_TERMINATION_MESSAGE).decode(
                    errors="replace")
        if code < 0:
            code = 128 - code  # killed by a signal, as a runtime reports it
        if start_error.exists():
            reason = "StartError"
            msg = msg or start_error.read_text().strip()
            start_error.unlink()
        else:
            reason = "Completed" if code == 0 else "Error"
        if (not msg and code != 0 and c.spec.get("terminationMessagePolicy")
                == "FallbackToLogsOnError"):
            msg = tail(c.log_file, FALLBACK_LOG_LINES, FALLBACK_LOG_BYTES)
        term = {"exitCode": code, "reason": reason,
                "startedAt": c.started_at, "finishedAt": now(),
                "containerID": c.container_id}
        if msg:
            term["message"] = msg
        c.exit_code = code
        c.state = {"terminated": term}
        log(self.key, c.name, "exited", code)

    def kill_all(self, grace):
        running = [c for c in self.init_containers + self.containers
                   if c.proc is not None]
        for c in running:
            try:
                os.killpg(c.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        for c in running:
            proc = c.proc
            if proc is None:
                continue
            try:
                proc.wait(max(0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
            # the process group may outlive its leader
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.on_exit(c, proc, proc.returncode)

    # ---- the state machine ----

    def backoff(self, c):
        n = c.restart_count
        return min(self.agent.backoff_base * (2 ** n), self.agent.backoff_max)

    def should_restart(self, c):
        if c.init:
            return c.exit_code != 0 and self.restart_policy != "Never"
        if self.restart_policy == "Always":
            return True
        if self.restart_policy == "OnFailure":
            return c.exit_code != 0
        return False

    def compute_phase(self):
        if not self.initialized:
            if any(c.terminated and c.exit_code != 0 and
                   not self.should_restart(c) for c in self.init_containers):
                return "Failed"
            return "Pending"
        cs = self.containers
        if any(c.running for c in cs):
            return "Running"
        if all(c.terminated for c in cs):
            if any(c.restart_at is not None for c in cs):
                return "Running"
            if any(c.exit_code != 0 for c in cs):
                return "Failed"
            return "Succeeded"
        if any(c.started_at for c in cs):  # restarting
            return "Running"
        return "Pending"

    def terminating(self):
        return bool(self.pod["metadata"].get("deletionTimestamp"))

    def run(self):
        try:
            self._run()
        except Exception:
            log(self.key, "worker crashed:\n" + traceback.format_exc())
            self.kill_all(0)
        finally:
            self.cleanup()

    def _drain(self, timeout):
        """Handles queued events; returns after timeout seconds or the
        first event."""
        try:
            what, arg = self.events.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            if what == "pod":
                self.pod = arg
            elif what == "gone":
                self.gone = True
            elif what == "exit":
                self.on_exit(*arg)
            try:
                what, arg = self.events.get_nowait()
            except queue.Empty:
                return

    def _run(self):
        log(self.key, "pod", self.uid)
        st = self.pod.get("status", {})
        if st.get("phase") in ("Succeeded", "Failed"):
            self.phase = st["phase"]  # ran before the agent restarted
        self.start_time = st.get("startTime") or now()
        # 1. volumes (retried until they are ready)
        waiting_since = None
        while self.phase == "Pending":
            if self.gone or self.terminating():
                return self.finish()
            try:
                self.prepare_volumes()
                break
            except NotReady as e:
                self._waiting(e)
                if waiting_since is None:
                    waiting_since = time.monotonic()
                    self.event("Warning", "FailedMount", e.message)
                self.set_status()
                self._drain(1.0)
        if self.phase == "Pending":
            self.ip = self.agent.ips.get()
            self.set_status()
        # 2. containers, until the pod ends or is deleted
        while self.phase not in ("Succeeded", "Failed"):
            if self.gone or self.terminating():
                break
            self.step()
            self.phase = self.compute_phase()
            self.set_status()
            if self.phase in ("Succeeded", "Failed"):
                break
            wake = [c.restart_at for c in self.init_containers +
                    self.containers if c.restart_at is not None]
            timeout = 5.0
            if wake:
                timeout = max(0.01, min(wake) - time.monotonic())
            self._drain(timeout)
        self.finish()

    def _waiting(self, e):
        for c in self.init_containers + self.containers:
            if not c.terminated and not c.running:
                c.state = {"waiting": {"reason": e.reason,
                                       "message": e.message}}

    def _start_or_wait(self, c):
        try:
            self.start_container(c)
        except NotReady as e:
            c.state = {"waiting": {"reason": e.reason, "message": e.message}}
            c.restart_at = time.monotonic() + 1.0

    def _after_exit(self, c):
        """A container has terminated: restart it later, or not."""
        if c.restart_at is not None or not c.terminated:
            return
        if not self.should_restart(c):
            return
        delay = self.backoff(c)
        c.last_state = c.state
        c.restart_count += 1
        c.restart_at = time.monotonic() + delay
        c.state = {"waiting": {
            "reason": "CrashLoopBackOff",
            "message": "back-off %gs restarting failed container=%s pod=%s"
                       % (delay, c.name, self.name)}}
        self.event("Warning", "BackOff",
                   "Back-off restarting failed container " + c.name)

    def _tick(self, c, t):
        if c.running:
            return
        if c.terminated and c.handled != c.container_id:
            c.handled = c.container_id
            self._after_exit(c)
        if c.restart_at is not None:
            if c.restart_at <= t:
                c.restart_at = None
                self._start_or_wait(c)
        elif not c.terminated:
            self._start_or_wait(c)

    def step(self):
        t = time.monotonic()
        if not self.initialized:
            for c in self.init_containers:
                if c.terminated and c.exit_code == 0:
                    continue
                self._tick(c, t)
                return
            self.initialized = True
        for c in self.containers:
            self._tick(c, t)

    def finish(self):
        """The pod is over (or deleted): stop what runs, report, and remove
        the object if it is being deleted."""
        if self.gone:
            self.kill_all(0)
            return
        if self.terminating():
            grace = self.pod["metadata"].get(
                "deletionGracePeriodSeconds",
                self.pod["spec"].get("terminationGracePeriodSeconds", 30))
            if any(c.proc for c in self.init_containers + self.containers):
                self.event("Normal", "Killing", "Stopping containers")
            self.kill_all(grace)
            for c in self.init_containers + self.containers:
                if not c.terminated:
                    c.state = {"terminated": {
                        "exitCode": 137 if c.restart_at else 0,
                        "reason": "ContainerStatusUnknown"
                        if c.restart_at else "Completed",
                        "finishedAt": now()}} if c.started_at else {
                        "terminated": {"exitCode": 0, "reason":
                                       "Completed", "finishedAt": now()}}
                    c.restart_at = None
            if self.phase not in ("Succeeded", "Failed"):
                self.phase = "Failed" if any(
                    c.exit_code for c in self.containers) else "Succeeded"
            self.set_status()
            self.kube.delete("v1", "Pod", self.name, self.ns,
                             grace_period=0, uid=self.uid)
            log(self.key, "removed")
            return
        # Succeeded or Failed: nothing runs; wait for the deletion.
        self.kill_all(0)
        self.set_status()
        while not self.gone:
            self._drain(5.0)
            if self.terminating():
                self.kube.delete("v1", "Pod", self.name, self.ns,
                                 grace_period=0, uid=self.uid)
                log(self.key, "removed")
                return

    def release_mountpoints(self, c):
        for p in c.mountpoints:
            self.agent.mountpoints.release(p)
        c.mountpoints = []

    def cleanup(self):
        for c in self.init_containers + self.containers:
            self.release_mountpoints(c)
        if self.ip:
            self.agent.ips.put(self.ip)
            self.ip = None
        shutil.rmtree(self.dir, ignore_errors=True)
        self.agent.forget(self.uid)


def expand(s, env):
    """Kubernetes' $(VAR) expansion: $$ escapes, unknown names stay."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", sub, s)


def tail(path, lines, nbytes):
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError:
        return ""
    data = b"\n".join(data.splitlines()[-lines:])[-nbytes:]
    return data.decode(errors="replace")


_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
           "Ei": 2**60, "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3,
           "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


def parse_quantity(q):
    m = re.fullmatch(r"([0-9.]+(?:[eE][0-9]+)?)([a-zA-Z]*)", str(q))
    if not m or m.group(2) not in _SUFFIX:
        raise ValueError("bad quantity %r" % q)
    v = float(m.group(1)) * _SUFFIX[m.group(2)]
    return int(v) if v >= 1 else v


# ---- kubelet's API: logs ----

class KubeletHandler(http.server.BaseHTTPRequestHandler):
    agent = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = self.path.split("?", 1)
        params = {}
        if len(url) > 1:
            for kv in url[1].split("&"):
                k, _, v = kv.partition("=")
                params[k] = v
        parts = [p for p in url[0].split("/") if p]
        if parts == ["healthz"]:
            return self._send(200, b"ok")
        if len(parts) != 4 or parts[0] != "containerLogs":
            return self._send(404, b"not found")
        _, ns, pod, container = parts
        d = self.agent.root / "logs"
        dirs = sorted(d.glob("%s_%s_*" % (ns, pod)),
                      key=lambda p: p.stat().st_mtime)
        if not dirs:
            return self._send(404, b"no logs for pod")
        files = sorted(dirs[-1].glob(container + "-*.log"),
                       key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        if params.get("previous") == "true":
            files = files[:-1]
        if not files:
            return self._send(404, b"no logs for container")
        data = files[-1].read_bytes()
        if "tailLines" in params:
            n = int(params["tailLines"])
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-n:]) if n else b""
        if "limitBytes" in params:
            data = data[:int(params["limitBytes"])]
        if params.get("follow") != "true" or "previous" in params:
            return self._send(200, data)
        # follow: stream what the running container writes, until it ends
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        path, offset = files[-1], files[-1].stat().st_size
        try:
            self._chunk(data)
            while True:
                running = self.agent.container_running(ns, pod, container,
                                                       path)
                with open(path, "rb") as f:
                    f.seek(offset)
                    more = f.read()
                offset += len(more)
                self._chunk(more)
                if not running:
                    break
                time.sleep(0.2)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    def _chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def _send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# ---- the agent ----

class Agent:
    def __init__(self, args):
        self.args = args
        self.name = args.name
        self.root = pathlib.Path(args.root)
        self.kube = Kube(args.server, token=args.token, ca=args.ca,
                         user_agent="hoist-node-agent/" + args.name)
        self.api_port = int(args.server.rsplit(":", 1)[1].rstrip("/"))
        self.backoff_base = args.backoff_base
        self.backoff_max = args.backoff_max
        self.csi_root = pathlib.Path(args.csi_root) if args.csi_root else None
        self.mountpoints = MountPoints()
        self.ips = IPPool()
        self.workers = {}
        self.finished = set()  # uids whose worker is done
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.allocatable = self._resources()
        self.port = 0

    def _resources(self):
        mem = 0
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
        st = os.statvfs(str(self.root))
        return {"cpu": str(os.cpu_count() or 1),
                "memory": "%dKi" % (mem // 1024),
                "ephemeral-storage": "%dKi" % (
                    st.f_blocks * st.f_frsize // 1024),
                "pods": "110"}

    # ---- PVs ----

    def pv_path(self, pv):
        s = pv["spec"]
        if "hostPath" in s:
            return s["hostPath"]["path"]
        if "local" in s:
            return s["local"]["path"]
        if "csi" in s and self.csi_root:
            handle = s["csi"]["volumeHandle"]
            if "/" in handle or handle.startswith("."):
                return None
            return str(self.csi_root / handle)
        return None

    # ---- events ----

    def event(self, obj, type_, reason, message):
        m = obj["metadata"]
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"generateName": m["name"] + ".",
                           "namespace": m.get("namespace", "default")},
              "involvedObject": {"apiVersion": obj.get("apiVersion", "v1"),
                                 "kind": obj.get("kind", "Pod"),
                                 "name": m["name"],
                                 "namespace": m.get("namespace"),
                                 "uid": m["uid"]},
              "reason": reason, "message": message[:1024], "type": type_,
              "source": {"component": "kubelet", "host": self.name},
              "firstTimestamp": now(), "lastTimestamp": now(), "count": 1,
              "reportingComponent": "kubelet", "reportingInstance": self.name}
        try:
            self.kube.create(ev)
        except ApiError:
            pass

    # ---- the Node and its Lease ----

    def node_status(self):
        t = now()

        def cond(type_, status, reason, message):
            return {"type": type_, "status": status, "reason": reason,
                    "message": message, "lastHeartbeatTime": t,
                    "lastTransitionTime": self.started}
        u = os.uname()
        return {
            "capacity": self.allocatable, "allocatable": self.allocatable,
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory",
                     "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure",
                     "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID",
                     "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady",
                     "hoist test node agent is posting ready status")],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            "nodeInfo": {
                "machineID": "hoist-test", "systemUUID": "hoist-test",
                "bootID": "hoist-test", "kernelVersion": u.release,
                "osImage": "hoist test node agent",
                "containerRuntimeVersion": "hoist://1",
                "kubeletVersion": self.args.kubelet_version,
                "kubeProxyVersion": "", "operatingSystem": "linux",
                "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(
                    u.machine, u.machine)},
        }

    def register(self):
        self.started = now()
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": {
                    "kubernetes.io/hostname": self.name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux",
                    "beta.kubernetes.io/arch": "amd64"}},
                "spec": {}}
        for _ in range(100):
            try:
                self.kube.create(node)
                break
            except ApiError as e:
                if e.status == 409:
                    break
                log("node registration:", e)
                time.sleep(0.5)
        self.kube.patch("v1", "Node", self.name,
                        patch={"status": self.node_status()},
                        subresource="status")
        log("node", self.name, "registered")

    def heartbeat(self):
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": self.name,
                              "namespace": "kube-node-lease"},
                 "spec": {"holderIdentity": self.name,
                          "leaseDurationSeconds": 40}}
        last_status = time.monotonic()
        while not self.stopping.is_set():
            lease["spec"]["renewTime"] = now_micro()
            try:
                try:
                    self.kube.patch("coordination.k8s.io/v1", "Lease",
                                    self.name, "kube-node-lease",
                                    {"spec": lease["spec"]})
                except NotFound:
                    self.kube.create(lease)
                if time.monotonic() - last_status > 30:
                    self.kube.patch("v1", "Node", self.name,
                                    patch={"status": self.node_status()},
                                    subresource="status")
                    last_status = time.monotonic()
            except (ApiError, OSError) as e:
                log("heartbeat:", e)
            self.stopping.wait(self.args.lease_interval)

    # ---- pods ----

    def dispatch(self, type_, pod):
        uid = pod["metadata"]["uid"]
        with self.lock:
            w = self.workers.get(uid)
            if w is None:
                if type_ == "DELETED" or uid in self.finished:
                    return
                w = PodWorker(self, pod)
                self.workers[uid] = w
                w.start()
                return
        if type_ == "DELETED":
            w.deleted()
        else:
            w.update(pod)

    def container_running(self, ns, pod, container, log_file):
        """Whether the container that writes log_file still runs."""
        with self.lock:
            workers = list(self.workers.values())
        for w in workers:
            if (w.ns, w.name) == (ns, pod):
                for c in w.init_containers + w.containers:
                    if c.name == container and c.log_file == log_file:
                        return c.running
        return False

    def forget(self, uid):
        with self.lock:
            self.workers.pop(uid, None)
            self.finished.add(uid)

    def watch_pods(self):
        selector = "spec.nodeName=" + self.name
        while not self.stopping.is_set():
            try:
                lst = self.kube.request("GET", "/api/v1/pods", params={
                    "fieldSelector": selector})
                seen = set()
                for pod in lst["items"]:
                    pod.setdefault("apiVersion", "v1")
                    pod.setdefault("kind", "Pod")
                    seen.add(pod["metadata"]["uid"])
                    self.dispatch("ADDED", pod)
                with self.lock:
                    missing = [w for uid, w in self.workers.items()
                               if uid not in seen]
                for w in missing:
                    w.deleted()
                rv = lst["metadata"]["resourceVersion"]
                while not self.stopping.is_set():
                    for ev in self.kube.watch("v1", "Pod", None, rv,
                                              timeout=300,
                                              fieldSelector=selector):
                        if ev["type"] == "ERROR":
                            raise ApiError(ev["object"].get("code", 500),
                                           "watch", str(ev["object"]))
                        obj = ev["object"]
                        rv = obj["metadata"]["resourceVersion"]
                        if ev["type"] == "BOOKMARK":
                            continue
                        self.dispatch(ev["type"], obj)
            except Exception as e:  # re-list after any watch failure
                if not self.stopping.is_set():
                    log("pod watch:", e)
                    time.sleep(0.5)

    def serve_kubelet_api(self):
        KubeletHandler.agent = self
        srv = http.server.ThreadingHTTPServer(("127.0.0.1",
                                               self.args.port),
                                              KubeletHandler)
        if self.args.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.args.tls_cert, self.args.tls_key)
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        self.port = srv.server_address[1]
        threading.Thread(target=srv.serve_forever, daemon=True).start()

    def stop(self, *_):
        if self.stopping.is_set():
            return
        self.stopping.set()
        with self.lock:
            workers = list(self.workers.values())
        for w in workers:
            w.kill_all(2)
            w.cleanup()
        os._exit(0)

    def run(self):
        self.root.mkdir(parents=True, exist_ok=True)
        self.serve_kubelet_api()
        self.register()
        threading.Thread(target=self.heartbeat, daemon=True).start()
        self.watch_pods()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--name", default="hoist-node")
    ap.add_argument("--root", required=True,
                    help="working directory: pod files and logs")
    ap.add_argument("--csi-root",
                    help="directory of the CSI volumes (volumeHandle → "
                         "path under it)")
    ap.add_argument("--port", type=int, default=0,
                    help="port of the kubelet API (logs)")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--backoff-base", type=float, default=1.0,
                    help="first restart delay in seconds (kubelet: 10)")
    ap.add_argument("--backoff-max", type=float, default=30.0,
                    help="longest restart delay in seconds (kubelet: 300)")
    ap.add_argument("--lease-interval", type=float, default=10.0)
    ap.add_argument("--kubelet-version", default="v0.0.0-hoist")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("node_agent: must run as root (mount namespaces)")
    agent = Agent(args)
    signal.signal(signal.SIGTERM, agent.stop)
    signal.signal(signal.SIGINT, agent.stop)
    agent.run()


if __name__ == "__main__":
    main()
