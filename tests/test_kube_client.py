"""hoist's Kubernetes client library (src/kube), driven through
tests/tools/kube-probe against the real control plane of the test rig
(docs/test-rig.md), and its work queue through
tests/tools/kube-workqueue-test."""
import base64
import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid

import pytest

from peers.kube import *  # noqa: F401,F403


@pytest.fixture(scope="module")
def probe_bin(build_dir):
    p = build_dir / "tests" / "tools" / "kube-probe"
    assert p.exists(), "%s not built" % p
    return p


def lines(text):
    return [json.loads(x) for x in text.splitlines() if x.startswith("{")]


class Probe:
    def __init__(self, binary, kubeconfig, ns):
        self.binary, self.kubeconfig, self.ns = binary, kubeconfig, ns

    def argv(self, *args, kubeconfig=None, opts=()):
        return [str(self.binary), "--kubeconfig",
                str(kubeconfig or self.kubeconfig), "--namespace", self.ns,
                *opts, *[str(a) for a in args]]

    def run(self, *args, input=None, check=True, kubeconfig=None, opts=(),
            env=None, timeout=120):
        p = subprocess.run(self.argv(*args, kubeconfig=kubeconfig, opts=opts),
                           input=json.dumps(input) if input else None,
                           capture_output=True, text=True, timeout=timeout,
                           env=env)
        out = lines(p.stdout)
        if check:
            assert p.returncode == 0, p.stdout + p.stderr
        else:
            assert p.returncode == 1, p.stdout + p.stderr
            assert "ERROR: AddressSanitizer" not in p.stderr, p.stderr
        self.last = p
        return out

    def one(self, *args, **kw):
        out = self.run(*args, **kw)
        return out[-1]

    def start(self, *args, opts=()):
        return subprocess.Popen(self.argv(*args, opts=opts),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


@pytest.fixture
def probe(probe_bin, kube_cluster, kube_ns):
    return Probe(probe_bin, kube_cluster.kubeconfig, kube_ns)


def configmap(name, data=None, labels=None):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels or {}},
            "data": data or {}}


def kubeconfig(path, server, user, ca=None, ca_data=None, insecure=False,
               namespace="default"):
    cluster = {"server": server}
    if ca:
        cluster["certificate-authority"] = str(ca)
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    # YAML, as kubectl writes it (JSON is YAML too; the parser reads both)
    text = ("apiVersion: v1\nkind: Config\ncurrent-context: t\n"
            "clusters:\n- name: c\n  cluster: %s\n"
            "users:\n- name: u\n  user: %s\n"
            "contexts:\n- name: t\n  context:\n    cluster: c\n    user: u\n"
            "    namespace: %s\n" % (json.dumps(cluster), json.dumps(user),
                                     namespace))
    path.write_text(text)
    return path


# ---- the work queue (no API server) ----

def test_workqueue(build_dir):
    p = subprocess.run([build_dir / "tests" / "tools" / "kube-workqueue-test"],
                       capture_output=True, text=True, timeout=120)
    res = {r["test"]: r for r in lines(p.stdout)}
    assert set(res) == {"dedup", "dirty_while_processing", "add_after",
                        "add_after_sooner_wins", "backoff",
                        "shutdown_wakes_waiters", "threads"}, p.stdout
    bad = [r for r in res.values() if not r["ok"]]
    assert not bad, bad
    assert p.returncode == 0, p.stderr


# ---- requests ----

def test_crud_and_errors(probe, kube_ns):
    cm = probe.one("create", "configmaps", input=configmap("one", {"a": "1"}))
    assert cm["metadata"]["namespace"] == kube_ns and cm["data"] == {"a": "1"}
    got = probe.one("get", "configmaps", "one")
    assert got["metadata"]["uid"] == cm["metadata"]["uid"]

    err = probe.one("create", "configmaps", input=configmap("one"),
                    check=False)
    assert (err["code"], err["reason"]) == (409, "AlreadyExists"), err
    assert "already exists" in err["error"]

    # an update carrying the resourceVersion read is a compare-and-swap
    got["data"]["a"] = "2"
    upd = probe.one("update", "configmaps", input=got)
    assert upd["data"]["a"] == "2"
    got["data"]["a"] = "3"  # stale resourceVersion
    err = probe.one("update", "configmaps", input=got, check=False)
    assert (err["code"], err["reason"]) == (409, "Conflict"), err
    assert probe.one("get", "configmaps", "one")["data"]["a"] == "2"

    # preconditions on delete: a wrong uid is refused
    err = probe.one("delete", "configmaps", "one", "Background",
                    "00000000-0000-0000-0000-000000000000", check=False)
    assert err["code"] == 409, err
    out = probe.one("delete", "configmaps", "one", "Background",
                    cm["metadata"]["uid"])
    assert out["deleted"] == "one"
    err = probe.one("get", "configmaps", "one", check=False)
    assert (err["code"], err["reason"], err["errno"]) == (404, "NotFound", 2)
    assert err["error"].startswith("GET /api/v1/namespaces/%s/configmaps/one:"
                                   " NotFound (404)" % kube_ns), err


def test_patches(probe):
    probe.one("create", "configmaps",
              input=configmap("p", {"keep": "1", "drop": "x"}))
    merged = probe.one("patch", "configmaps", "p", "merge",
                       '{"data": {"drop": null, "new": "2"}}')
    assert merged["data"] == {"keep": "1", "new": "2"}
    patched = probe.one("patch", "configmaps", "p", "json",
                        '[{"op": "test", "path": "/data/keep", "value": "1"},'
                        ' {"op": "replace", "path": "/data/keep",'
                        ' "value": "3"}]')
    assert patched["data"]["keep"] == "3"
    # a failed JSON patch test changes nothing
    err = probe.one("patch", "configmaps", "p", "json",
                    '[{"op": "test", "path": "/data/keep", "value": "1"},'
                    ' {"op": "remove", "path": "/data/new"}]', check=False)
    assert err["code"] in (409, 422), err
    assert probe.one("get", "configmaps", "p")["data"]["new"] == "2"

    # strategic merge: containers merge by name (a merge patch would
    # replace the whole list, dropping the command)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sp"},
           "spec": {"schedulerName": "hoist-nobody",  # stays Pending
                    "containers": [
                        {"name": "a", "image": "one", "command": ["/bin/true"]},
                        {"name": "b", "image": "two", "command": ["/bin/true"]}]}}
    probe.one("create", "pods", input=pod)
    out = probe.one("patch", "pods", "sp", "strategic",
                    '{"spec": {"containers": [{"name": "b", "image": "new"}]}}')
    cs = {c["name"]: c for c in out["spec"]["containers"]}
    assert cs["b"]["image"] == "new" and cs["b"]["command"] == ["/bin/true"]
    assert cs["a"]["image"] == "one"
    err = probe.one("patch", "pods", "sp", "merge",
                    '{"spec": {"containers": [{"name": "b", "image": "x"}]}}',
                    check=False)
    assert err["code"] == 422 and err["reason"] == "Invalid", err


def test_list_pages(probe):
    for i in range(7):
        probe.one("create", "configmaps",
                  input=configmap("page-%d" % i, labels={"set": "paged"}))
    probe.one("create", "configmaps", input=configmap("other"))
    out = probe.one("list", "configmaps", 2, "set=paged")
    assert sorted(out["names"]) == ["page-%d" % i for i in range(7)]
    assert out["requests"]["list"] == 4, out  # 2+2+2+1
    assert int(out["rv"]) > 0
    out = probe.one("list", "configmaps", 0, "set=paged")
    assert out["requests"]["list"] == 1 and len(out["names"]) == 7


# ---- watch ----

def test_watch_events_and_bookmarks(probe):
    rv = probe.one("list", "configmaps", 0, "w=1")["rv"]
    w = Reader(probe.start("watch", "configmaps", rv, 100, 15))
    time.sleep(1)
    probe.one("create", "configmaps", input=configmap("w", labels={"w": "1"}))
    probe.one("patch", "configmaps", "w", "merge", '{"data": {"x": "1"}}')
    probe.one("delete", "configmaps", "w")
    out = w.finish()
    kinds = [(e["type"], e.get("name")) for e in out if "type" in e]
    events = [k for k in kinds if k[0] != "BOOKMARK"]
    assert events == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
    # the API server sends a bookmark as a watch nears its end (and every
    # minute), with the version the watch has reached
    marks = [e for e in out if e.get("type") == "BOOKMARK"]
    assert marks and int(marks[-1]["rv"]) >= int(out[2]["rv"]), out
    assert out[-1]["end"] == "closed" and 14 <= out[-1]["seconds"] < 60

    # from the same version again: the events are replayed
    out = probe.run("watch", "configmaps", rv, 3, 15)
    assert [(e["type"], e["name"]) for e in out[:3]] == events
    assert out[-1]["end"] == "max" and out[-1]["seconds"] < 10


@pytest.fixture
def crd(kube_cluster):
    """A namespaced custom resource of its own group: its watch cache
    starts when it is created (and again when it changes), so older
    resource versions are gone for it."""
    group = "t%s.probe.hoist.test" % uuid.uuid4().hex[:8]
    k = kube_cluster.kube
    obj = {"apiVersion": "apiextensions.k8s.io/v1",
           "kind": "CustomResourceDefinition",
           "metadata": {"name": "things." + group},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": "things", "singular": "thing",
                              "kind": "Thing"},
                    "versions": [{"name": "v1", "served": True,
                                  "storage": True, "schema": {
                                      "openAPIV3Schema": {
                                          "type": "object",
                                          "x-kubernetes-preserve-unknown-"
                                          "fields": True}}}]}}
    k.create(obj)

    def established():
        c = k.get("apiextensions.k8s.io/v1", "CustomResourceDefinition",
                  "things." + group)
        return any(x["type"] == "Established" and x["status"] == "True"
                   for x in c.get("status", {}).get("conditions", []))
    wait_for(established)
    yield group
    k.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition",
             "things." + group)


def thing(group, name, spec=None):
    return {"apiVersion": group + "/v1", "kind": "Thing",
            "metadata": {"name": name}, "spec": spec or {}}


def test_watch_from_a_version_too_old_is_gone(probe, crd):
    res = crd + "/v1/things"
    probe.one("create", res, input=thing(crd, "x"))
    err = probe.one("watch", res, "1", 10, 5, check=False)
    assert err["errno"] == 116, err  # KUBE_EGONE (ESTALE): list again
    assert "(410)" in err["error"] and "too old" in err["error"], err


# ---- informer ----

def wait_for(pred, timeout=30, interval=0.1):
    """Polls pred until it returns something true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out")


class Reader:
    """Collects a running probe's JSON lines in a thread."""

    def __init__(self, proc):
        import threading
        self.proc, self.out = proc, []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.out.append(json.loads(line))

    def events(self, kind=None):
        return [e for e in self.out if "event" in e and
                (kind is None or e["event"] == kind)]

    def finish(self, timeout=60):
        self.proc.wait(timeout)
        self.t.join(10)
        err = self.proc.stderr.read()
        assert self.proc.returncode == 0, (self.out, err)
        return self.out


def test_informer_add_update_delete(probe):
    for i in range(3):
        probe.one("create", "configmaps",
                  input=configmap("i%d" % i, labels={"inf": "1"}))
    probe.one("create", "configmaps", input=configmap("unlabelled"))
    r = Reader(probe.start("informer", "configmaps", 12, 3, "inf=1"))
    wait_for(lambda: any("synced" in e for e in r.out))
    assert sorted(e["name"] for e in r.events("add")) == ["i0", "i1", "i2"]
    probe.one("create", "configmaps",
              input=configmap("i3", labels={"inf": "1"}))
    probe.one("patch", "configmaps", "i0", "merge", '{"data": {"x": "1"}}')
    probe.one("delete", "configmaps", "i1")
    wait_for(lambda: r.events("delete"))
    out = r.finish()
    assert [e["name"] for e in r.events("add")][3:] == ["i3"]
    assert [e["name"] for e in r.events("update")] == ["i0"]
    assert [e["name"] for e in r.events("delete")] == ["i1"]
    end = out[-1]
    assert sorted(end["cache"]) == ["i0", "i2", "i3"], end  # no managedFields
    # pages of 2: the first list took 2 requests; watches ended every 3 s
    # and went on from the last version without listing again
    assert end["stats"]["lists"] == 1 and end["stats"]["watches"] >= 3, end
    assert end["requests"]["list"] == 2, end


def test_informer_relists_after_gone_and_sees_missed_deletes(
        probe, kube_cluster, crd):
    res = crd + "/v1/things"
    for n in ("a", "b", "c"):
        probe.one("create", res, input=thing(crd, n))
    proc = probe.start("informer", res, 40, 1)
    r = Reader(proc)
    wait_for(lambda: any("synced" in e for e in r.out))
    assert sorted(e["name"] for e in r.events("add")) == ["a", "b", "c"]
    # Disconnected: the server ends the 1 s watch while the process is
    # stopped; meanwhile objects change, and a change of the CRD restarts
    # its storage, so the informer's resource version is gone.
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        time.sleep(1.5)
        probe.one("delete", res, "a")
        probe.one("patch", res, "b", "merge", '{"spec": {"v": 2}}')
        probe.one("create", res, input=thing(crd, "d"))
        kube_cluster.kube.patch(
            "apiextensions.k8s.io/v1", "CustomResourceDefinition",
            "things." + crd, patch={"spec": {"names": {
                "shortNames": ["thg"]}}})
        time.sleep(2)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    wait_for(lambda: r.events("delete"))
    out = r.finish()
    assert [e["name"] for e in r.events("delete")] == ["a"]
    assert [e["name"] for e in r.events("update")] == ["b"]
    assert [e["name"] for e in r.events("add")][3:] == ["d"]
    end = out[-1]
    assert sorted(end["cache"]) == ["b", "c", "d"], end
    assert end["stats"]["relists"] >= 1 and end["stats"]["lists"] >= 2, end


# ---- conflicts and rate limits ----

def test_concurrent_updates_lose_nothing(probe):
    probe.one("create", "configmaps", input=configmap("counter", {"n": "0"}))
    procs = [probe.start("increment", "counter", "n", 15,
                         opts=("--qps", "-1")) for _ in range(3)]
    outs = []
    for p in procs:
        o, e = p.communicate(timeout=120)
        assert p.returncode == 0, o + e
        outs.append(lines(o)[-1])
    assert probe.one("get", "configmaps", "counter")["data"]["n"] == "45"
    # each increment is one successful update; conflicts cost more gets
    assert sum(o["requests"]["get"] for o in outs) >= 45
    conflicts = sum(o["requests"]["update"] for o in outs) - 45
    assert conflicts >= 0


def test_client_side_qps_limit(probe):
    t0 = time.monotonic()
    out = probe.one("requests", 11, opts=("--qps", "5", "--burst", "1"))
    # the first is free, the next 10 wait 1/5 s each
    assert out["seconds"] >= 1.9, out
    assert out["requests"]["get"] == 11
    # threads sharing the client share its limit
    out = probe.one("requests", 12, 4, opts=("--qps", "5", "--burst", "2"))
    assert out["seconds"] >= 1.9, out
    assert out["requests"]["get"] == 12
    fast = probe.one("requests", 11, 4, opts=("--qps", "-1"))
    assert fast["seconds"] < 1.5, fast
    assert time.monotonic() - t0 < 60


def test_too_many_requests_are_retried_after_retry_after(
        probe, kube_cluster, kube_ns, tmp_path):
    """The API server's own flow control (API Priority and Fairness)
    rejects a service account's requests with 429 and Retry-After while
    its few seats are taken; the client waits and tries again."""
    service_account(kube_cluster, kube_ns, "busy", READ_CONFIGMAPS)
    probe.one("create", "configmaps", input=configmap("c"))
    kc = kubeconfig(tmp_path / "kc", kube_cluster.url,
                    {"token": sa_token(kube_cluster, kube_ns, "busy")},
                    ca=kube_cluster.ca, namespace=kube_ns)
    k = kube_cluster.kube
    name = "hoist-probe-" + kube_ns
    fc = "flowcontrol.apiserver.k8s.io/v1"
    k.create({"apiVersion": fc, "kind": "PriorityLevelConfiguration",
              "metadata": {"name": name},
              "spec": {"type": "Limited", "limited": {
                  "nominalConcurrencyShares": 0, "lendablePercent": 0,
                  "borrowingLimitPercent": 0,
                  "limitResponse": {"type": "Reject"}}}})
    k.create({"apiVersion": fc, "kind": "FlowSchema",
              "metadata": {"name": name},
              "spec": {"priorityLevelConfiguration": {"name": name},
                       "matchingPrecedence": 100,
                       "distinguisherMethod": {"type": "ByUser"},
                       "rules": [{"subjects": [{
                           "kind": "ServiceAccount", "serviceAccount": {
                               "name": "busy", "namespace": kube_ns}}],
                           "resourceRules": [{
                               "verbs": ["*"], "apiGroups": ["*"],
                               "resources": ["*"], "namespaces": ["*"],
                               "clusterScope": True}]}]}})

    def one_round():
        # Lists that ask for a future resourceVersion wait 3 s for it
        # (twice: a 504 is retried once), each holding a seat of the
        # account's priority level.
        blockers = [probe.start("list", "configmaps", 0, "", "999999999",
                                opts=("--kubeconfig", kc, "--max-retries",
                                      "1")) for _ in range(12)]
        try:
            time.sleep(1.5)
            refused = probe.one("poll", "configmaps", "c", 1, 0,
                                kubeconfig=kc, opts=("--max-retries", "1"))
            # with retries to spare, the same request gets through once
            # seats are free again
            patient = probe.one("poll", "configmaps", "c", 1, 0,
                                kubeconfig=kc, opts=("--max-retries", "30"))
            return refused, patient
        finally:
            for b in blockers:
                b.kill()
                b.communicate()
    try:
        # The blockers' timing is the machine's: gather the evidence over
        # a few rounds.
        refusals, retried = [], []
        for _ in range(6):
            refused, patient = one_round()
            refusals += [x for x in (refused, patient) if not x["ok"]]
            retried += [x for x in (refused, patient)
                        if x["ok"] and x["requests"]["retries"]]
            if refusals and retried:
                break
        assert refusals and retried, (refused, patient)
        for x in refusals:  # retries spent: the 429 is the error
            assert (x["code"], x["reason"]) == (429, "TooManyRequests"), x
            assert "TooManyRequests (429)" in x["error"], x
    finally:
        k.delete(fc, "FlowSchema", name)
        k.delete(fc, "PriorityLevelConfiguration", name)


# ---- authentication ----

def test_client_certificate(probe, kube_cluster, tmp_path):
    pki = kube_cluster.dir / "pki"
    if not (pki / "ca-key.pem").exists():
        pytest.skip("the rig does not expose its CA key")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey",
                    "-noout", "-out", tmp_path / "key.pem"], check=True)
    subprocess.run(["openssl", "req", "-new", "-key", tmp_path / "key.pem",
                    "-subj", "/O=system:masters/CN=hoist-probe",
                    "-out", tmp_path / "csr.pem"], check=True)
    (tmp_path / "ext").write_text("extendedKeyUsage=clientAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", tmp_path / "csr.pem",
                    "-CA", pki / "ca.pem", "-CAkey", pki / "ca-key.pem",
                    "-CAcreateserial", "-days", "1",
                    "-extfile", tmp_path / "ext",
                    "-out", tmp_path / "cert.pem"], check=True,
                   capture_output=True)
    files = kubeconfig(tmp_path / "files.yaml", kube_cluster.url,
                       {"client-certificate": "cert.pem",  # relative
                        "client-key": "key.pem"}, ca=kube_cluster.ca)
    out = probe.one("get", "namespaces", probe.ns, kubeconfig=files)
    assert out["metadata"]["name"] == probe.ns

    def b64(p):
        return base64.b64encode(p.read_bytes()).decode()
    data = kubeconfig(tmp_path / "data.yaml", kube_cluster.url,
                      {"client-certificate-data": b64(tmp_path / "cert.pem"),
                       "client-key-data": b64(tmp_path / "key.pem")},
                      ca_data=b64(kube_cluster.ca))
    out = probe.one("get", "namespaces", probe.ns, kubeconfig=data)
    assert out["metadata"]["name"] == probe.ns


def test_wrong_token_is_refused_without_showing_it(probe, kube_cluster,
                                                   tmp_path):
    token = uuid.uuid4().hex
    kc = kubeconfig(tmp_path / "kc", kube_cluster.url, {"token": token},
                    ca=kube_cluster.ca)
    err = probe.one("get", "configmaps", "x", kubeconfig=kc, check=False)
    assert (err["code"], err["reason"]) == (401, "Unauthorized"), err
    assert "check the credentials" in err["error"]
    assert token not in probe.last.stdout + probe.last.stderr
    assert token[:8] not in probe.last.stdout + probe.last.stderr


def test_tls_trust(probe, kube_cluster, tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", tmp_path / "k.pem", "-out", tmp_path / "ca.pem",
                    "-subj", "/CN=some other CA", "-days", "1"],
                   check=True, capture_output=True)
    user = {"token": kube_cluster.token}
    wrong = kubeconfig(tmp_path / "wrong", kube_cluster.url, user,
                       ca=tmp_path / "ca.pem")
    err = probe.one("get", "namespaces", probe.ns, kubeconfig=wrong,
                    check=False)
    assert "not trusted" in err["error"] and err["errno"] == 1, err
    assert kube_cluster.token not in probe.last.stdout + probe.last.stderr
    insecure = kubeconfig(tmp_path / "insecure", kube_cluster.url, user,
                          insecure=True)
    out = probe.one("get", "namespaces", probe.ns, kubeconfig=insecure)
    assert out["metadata"]["name"] == probe.ns


def service_account(kube_cluster, ns, name, rules):
    k = kube_cluster.kube
    k.create({"apiVersion": "v1", "kind": "ServiceAccount",
              "metadata": {"name": name}}, namespace=ns)
    if rules:
        k.create({"apiVersion": "rbac.authorization.k8s.io/v1",
                  "kind": "Role", "metadata": {"name": name},
                  "rules": rules}, namespace=ns)
        k.create({"apiVersion": "rbac.authorization.k8s.io/v1",
                  "kind": "RoleBinding", "metadata": {"name": name},
                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                              "kind": "Role", "name": name},
                  "subjects": [{"kind": "ServiceAccount", "name": name,
                                "namespace": ns}]}, namespace=ns)


def sa_token(kube_cluster, ns, name):
    """A token of the service account, from the TokenRequest API."""
    tr = kube_cluster.kube.request(
        "POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (ns, name),
        body={"apiVersion": "authentication.k8s.io/v1",
              "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}})
    return tr["status"]["token"]


READ_CONFIGMAPS = [{"apiGroups": [""], "resources": ["configmaps"],
                    "verbs": ["get", "list"]}]


def test_in_cluster_pod_with_least_privilege(probe, probe_bin, kube_cluster,
                                             kube_ns):
    service_account(kube_cluster, kube_ns, "prober", READ_CONFIGMAPS)
    probe.one("create", "configmaps", input=configmap("visible", {"k": "v"}))
    probe.one("create", "secrets",
              input={"apiVersion": "v1", "kind": "Secret",
                     "metadata": {"name": "hidden"},
                     "stringData": {"password": "p"}})
    script = ("%s --in-cluster get configmaps visible; "
              "%s --in-cluster get secrets hidden; exit 0"
              % (probe_bin, probe_bin))
    kube_cluster.kube.create({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "prober"},
        "spec": {"serviceAccountName": "prober", "restartPolicy": "Never",
                 "containers": [{"name": "main", "image": "none",
                                 "command": ["/bin/sh", "-c", script]}]}},
        namespace=kube_ns)
    kube_cluster.wait_pod(kube_ns, "prober")
    out = lines(kube_cluster.pod_log(kube_ns, "prober"))
    assert out[0]["data"] == {"k": "v"}, out
    err = out[1]
    assert (err["code"], err["reason"]) == (403, "Forbidden"), err
    assert ('cannot get resource "secrets"' in err["error"] and
            "system:serviceaccount:%s:prober" % kube_ns in err["error"]), err


def test_in_cluster_token_rotation(probe, kube_cluster, kube_ns, tmp_path):
    service_account(kube_cluster, kube_ns, "reader", READ_CONFIGMAPS)
    service_account(kube_cluster, kube_ns, "nobody", [])
    probe.one("create", "configmaps", input=configmap("c"))
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "ca.crt").write_bytes(kube_cluster.ca.read_bytes())
    (sa / "namespace").write_text(kube_ns)
    (sa / "token").write_text(sa_token(kube_cluster, kube_ns, "nobody"))
    host, port = kube_cluster.url[len("https://"):].rsplit(":", 1)
    env = dict(os.environ, KUBERNETES_SERVICE_HOST=host,
               KUBERNETES_SERVICE_PORT=port)
    proc = subprocess.Popen(
        [str(probe.binary), "--in-cluster=%s" % sa, "poll", "configmaps", "c",
         "60", "0.25"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env)
    r = Reader(proc)
    wait_for(lambda: len(r.out) >= 2)
    assert not r.out[0]["ok"] and r.out[0]["reason"] == "Forbidden", r.out
    # rotated as kubelet does: a new file renamed over the old one
    new = sa_token(kube_cluster, kube_ns, "reader")
    (sa / "token.new").write_text(new)
    os.rename(sa / "token.new", sa / "token")
    t_rotated = time.time()
    wait_for(lambda: any(e["ok"] for e in r.out), timeout=20)
    first_ok = next(e for e in r.out if e["ok"])
    # the file is looked at every 5 s at most
    assert first_ok["t"] - t_rotated < 8, (first_ok, t_rotated)
    proc.kill()
    r.proc.wait()
    text = "".join(json.dumps(e) for e in r.out) + proc.stderr.read()
    assert new not in text


# ---- leader election ----

def test_leader_election(probe):
    lease = ("hoist-test", )
    a = Reader(probe.start("lease", *lease, "a", 3, 2, 0.4, 40))
    b = Reader(probe.start("lease", *lease, "b", 3, 2, 0.4, 40))
    readers = {"a": a, "b": b}

    def starts():
        return [e for r in readers.values() for e in r.out
                if e.get("lead") == "start"]
    wait_for(lambda: starts(), timeout=20)
    time.sleep(2)
    assert len(starts()) == 1, starts()
    first = starts()[0]["id"]
    other = "b" if first == "a" else "a"
    lease_obj = probe.one("get", "leases", "hoist-test")
    assert lease_obj["spec"]["holderIdentity"] == first
    # the leader dies without releasing: the other waits out the lease
    readers[first].proc.kill()
    t_kill = time.time()
    readers[first].proc.wait()
    wait_for(lambda: any(e.get("lead") == "start"
                         for e in readers[other].out), timeout=30)
    took = next(e for e in readers[other].out if e.get("lead") == "start")
    assert took["t"] - t_kill >= 1.5, (took["t"] - t_kill)  # ~3 s lease
    last_tick = max(e["t"] for e in readers[first].out
                    if e.get("lead") == "tick")
    assert took["t"] > last_tick  # never both at once
    lease_obj = probe.one("get", "leases", "hoist-test")
    assert lease_obj["spec"]["holderIdentity"] == other
    assert lease_obj["spec"]["leaseTransitions"] >= 1
    # a leader that stops hands over at once: its lease is released
    readers[other].proc.send_signal(signal.SIGTERM)
    out = readers[other].finish()
    assert out[-1]["lead"] == "stop"
    lease_obj = probe.one("get", "leases", "hoist-test")
    assert lease_obj["spec"]["holderIdentity"] == ""
    c = Reader(probe.start("lease", *lease, "c", 3, 2, 0.4, 3))
    out = c.finish()
    assert any(e.get("lead") == "start" for e in out)
    lead = next(e for e in out if e.get("lead") == "start")
    cand = next(e for e in out if e.get("lead") == "candidate")
    assert lead["t"] - cand["t"] < 1.5


def test_stalled_leader_stops_leading(probe):
    """A leader that cannot renew (here: stopped) gives up on its own
    clock: after it resumes it never acts again, even for a moment, while
    the other candidate leads."""
    a = Reader(probe.start("lease", "hoist-stall", "a", 3, 2, 0.4, 30))
    wait_for(lambda: any(e.get("lead") == "start" for e in a.out))
    b = Reader(probe.start("lease", "hoist-stall", "b", 3, 2, 0.4, 30))
    time.sleep(1)
    os.kill(a.proc.pid, signal.SIGSTOP)
    t_stop = time.time()
    try:
        wait_for(lambda: any(e.get("lead") == "start" for e in b.out),
                 timeout=30)
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)
    t_b = next(e["t"] for e in b.out if e.get("lead") == "start")
    assert t_b - t_stop >= 1.5
    out_a = a.finish()  # a stops leading and exits, as client-go does
    assert out_a[-1]["lead"] == "stop", out_a
    ticks_a = [e["t"] for e in out_a if e.get("lead") == "tick"]
    assert max(ticks_a) < t_b, (max(ticks_a), t_b)
    b.proc.send_signal(signal.SIGTERM)
    b.finish()
