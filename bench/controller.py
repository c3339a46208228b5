#!/usr/bin/env python3
"""hoist-controller populating many PVCs at once on the test rig's real
control plane (tests/peers/kube.py).

N PVCs (default 200) on the CSI class hoist-csi, each with its own
OvirtVolumePopulator on a small raw disk (1 MiB virtual, 3 written
extents) served by the real ovirt-imageio daemon behind the fake engine,
are created in one go; the populator pods run as local processes (the
node agent admits 110 pods at a time, like a kubelet's default). The
controller (the optimised build) runs until every PVC is Bound, then
gets SIGTERM and logs the API requests it made.

Reports: wall time from the first PVC created to the last one Bound,
the controller's CPU time (user+sys) and peak RSS, and its API requests
per PVC (reads and writes, as its client counted them; the informers'
lists and watches and the leader election's Lease updates included).
Targets: at most 12 writes per PVC, RSS under 64 MiB.

Usage: bench/controller.py [--count N] [--workdir DIR] [--build DIR]
Needs root (the node agent) and the rig's binaries (tests/peers/kube/).
"""
import argparse
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "lib"))

from peers import kube as rig  # noqa: E402
from peers import imageio as iio  # noqa: E402
from peers.ovirt_engine import FakeEngine  # noqa: E402
from test_controller import API, _served, shipped_crds, ovirt_cr, \
    user_pvc  # noqa: E402

MiB = 1024 * 1024


def make_disk(path):
    with open(path, "wb") as f:
        f.truncate(MiB)
        for off, b in ((0, 0x11), (300 * 1024, 0x22), (MiB - 4096, 0x33)):
            f.seek(off)
            f.write(bytes([b]) * 4096)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--workdir")
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--timeout", type=float, default=1800)
    a = ap.parse_args()
    build = pathlib.Path(a.build).resolve()
    ctl_bin = build / "src" / "controller" / "program" / "hoist-controller"
    pop_bin = build / "src" / "populator" / "hoist-populator"
    work = pathlib.Path(a.workdir or tempfile.mkdtemp(prefix="hoist-ctl-"))
    work.mkdir(parents=True, exist_ok=True)
    why = rig.can_run_pods() or rig.csi_plugin_unavailable()
    if why:
        sys.exit("bench/controller.py: " + why)

    iio.install()
    pki = iio.make_pki(work / "pki")
    daemon = iio.Daemon(work / "daemon", pki)
    daemon.start()
    engine = FakeEngine(work / "engine", pki, daemon, password="bench-pw")
    engine.start()
    cluster = rig.Cluster(work / "kube", rig.build())
    ctl = None
    try:
        cluster.start()
        k = cluster.kube
        for c in shipped_crds():
            k.create(c)
        k.poll(lambda: _served(k), timeout=60, what="CRDs served")
        ns = cluster.create_namespace("bench")
        k.create({"apiVersion": "v1", "kind": "Secret",
                  "metadata": {"name": "ovirt-creds", "namespace": ns},
                  "stringData": {"user": "admin@internal",
                                 "password": "bench-pw",
                                 "ca.crt": pki["ca"].read_text()}})
        disks = []
        for i in range(a.count):
            src = work / ("disk-%03d.raw" % i)
            make_disk(src)
            disks.append(engine.add_disk(src, fmt="raw", backend="file"))
            k.create(ovirt_cr("disk-%03d" % i, ns, url=engine.url,
                              disk=disks[-1]["id"]))
        log = open(work / "controller.log", "w")
        ctl = subprocess.Popen(
            [str(ctl_bin), "--kubeconfig", str(cluster.kubeconfig),
             "--namespace", ns, "--populator-image", "none",
             "--populator-command", str(pop_bin), "--populator-uid", "0",
             "--leader-elect-namespace", ns, "--qps", "50", "--burst", "100"],
            stdout=log, stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        names = ["pvc-%03d" % i for i in range(a.count)]
        threads = []

        def create(chunk):
            for n in chunk:
                k.create(user_pvc(n, "hoist-csi", "4Mi", ns=ns,
                                  cr="disk-" + n[4:]))
        for j in range(4):
            t = threading.Thread(target=create, args=(names[j::4],))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        deadline = t0 + a.timeout
        bound = 0
        while time.monotonic() < deadline:
            items = k.list("v1", "PersistentVolumeClaim", ns)
            bound = sum(1 for c in items if c["metadata"]["name"] in names
                        and c.get("status", {}).get("phase") == "Bound")
            if bound == a.count:
                break
            if ctl.poll() is not None:
                break
            time.sleep(1)
        wall = time.monotonic() - t0
        # wait for the cleanup (pods, prime PVCs) before stopping
        k.poll(lambda: not k.list("v1", "Pod", ns), timeout=300,
               what="populator pods gone")
        time.sleep(2)
        ctl.send_signal(signal.SIGTERM)
        _, status, ru = os.wait4(ctl.pid, 0)
        ctl.returncode = os.waitstatus_to_exitcode(status)
        log.close()
        text = (work / "controller.log").read_text()
        m = re.search(r"API requests: (\d+) reads \((\d+) get, (\d+) list, "
                      r"(\d+) watch\), (\d+) writes \((\d+) create, "
                      r"(\d+) update, (\d+) patch, (\d+) delete\)", text)
        crs = k.list(API, "OvirtVolumePopulator", ns)
        done = sum(1 for c in crs
                   if c.get("status", {}).get("phase") == "Succeeded")
        res = {"pvcs": a.count, "bound": bound, "cr_succeeded": done,
               "wall_s": round(wall, 1),
               "controller_cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
               "controller_peak_rss_mib": round(ru.ru_maxrss / 1024, 1),
               "exit": ctl.returncode}
        if m:
            v = [int(x) for x in m.groups()]
            res.update({"reads": v[0], "gets": v[1], "lists": v[2],
                        "watches": v[3], "writes": v[4], "creates": v[5],
                        "updates": v[6], "patches": v[7], "deletes": v[8],
                        "reads_per_pvc": round(v[0] / a.count, 2),
                        "writes_per_pvc": round(v[4] / a.count, 2)})
        print(json.dumps(res, indent=1))
        ok = (bound == a.count and m and res["writes_per_pvc"] <= 12
              and res["controller_peak_rss_mib"] < 64)
        print("targets (<= 12 writes per PVC, RSS < 64 MiB, all Bound): %s"
              % ("met" if ok else "NOT met"))
    finally:
        if ctl and ctl.poll() is None:
            ctl.kill()
        cluster.stop()
        engine.stop()
        daemon.stop()


if __name__ == "__main__":
    main()
