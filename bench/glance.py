#!/usr/bin/env python3
"""hoist copy against curl and `glance image-download`, downloading the
same image from the same real Glance (tests/peers/openstack.py: Keystone
and Glance under gunicorn, TLS on loopback).

One raw image (default 1 GiB: 3/4 data, 1/4 zeros in runs, like a guest
disk), uploaded once. For it, in the same run, each --reps times:

  - curl -o FILE: one stream, no checksum, no sparseness (Glance's
    single-stream rate, what Forklift's populator does);
  - curl | tee FILE | sha512sum: the same stream, verified as hoist
    verifies it;
  - glance image-download --file FILE (python-glanceclient, which also
    verifies the md5/multihash);
  - hoist copy glance://ID FILE (default workers: parallel range GETs,
    sha512 verified, zeros not written).

Reports the median wall time, throughput, ratios, the CPU time (user+sys)
of each tool's process tree, its peak RSS, and the output's allocated
size. Glance caches token validation here (as deployments do with
memcached), so a range GET costs what a real one does.

Usage: bench/glance.py [--size-mib N] [--reps N] [--glance-workers N]
                       [--hoist BIN] [--workdir DIR]
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "lib"))
sys.path.insert(0, str(ROOT / "bench"))

from peers import openstack as peer  # noqa: E402
from peers.imageio import make_pki  # noqa: E402
from bench import make_payload, human, drop_cache  # noqa: E402

MiB = 1 << 20


def make_image(path, size, payload):
    """size bytes: 3 MiB of payload then 1 MiB of zeros, repeated."""
    if path.exists() and path.stat().st_size == size:
        return path
    with open(path, "wb") as out, open(payload, "rb") as src:
        out.truncate(size)
        pos = 0
        while pos < size:
            n = min(3 * MiB, size - pos)
            chunk = src.read(n)
            if len(chunk) < n:
                src.seek(0)
                chunk += src.read(n - len(chunk))
            out.seek(pos)
            out.write(chunk)
            pos += 4 * MiB
    return path


def upload(o, path, name):
    """Streams the file into Glance (curl: the test client reads all into
    memory)."""
    token = o.user_token()[0]
    _, j, _ = o.api.call("POST", o.glance_url + "/v2/images",
                         {"name": name, "disk_format": "raw",
                          "container_format": "bare"}, token=token,
                         expect=201)
    subprocess.run(["curl", "-sSf", "--cacert", str(o.ca), "-X", "PUT",
                    "-H", "X-Auth-Token: " + token,
                    "-H", "Content-Type: application/octet-stream",
                    "-T", str(path),
                    "%s/v2/images/%s/file" % (o.glance_url, j["id"])],
                   check=True)
    return j["id"]


def tree_cpu(pid):
    """CPU seconds (user+sys) of a process and its live children."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                             text=True).stdout.split()
        pids += [int(x) for x in out]
    except OSError:
        pass
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            pass
    return total


def run_tree(cmd, work, env):
    stats = work / "time.out"
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-o", str(stats), "-f", "%U %S %M"]
                       + [str(c) for c in cmd], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, env=env)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (cmd[0], p.returncode,
                                                   p.stderr[-2000:]))
    user, sys_, rss = stats.read_text().split()[-3:]
    return wall, float(user) + float(sys_), int(rss)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--glance-workers", type=int, default=2)
    ap.add_argument("--hoist", default=str(ROOT / "build" / "src" / "cli" /
                                           "hoist"))
    ap.add_argument("--workdir", default=os.path.expanduser(
        "~/.cache/hoist/bench"))
    a = ap.parse_args()

    work = pathlib.Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    size = a.size_mib * MiB
    payload = make_payload(work / "payload.bin", 256 * MiB)
    image = make_image(work / ("glance-%d.raw" % size), size, payload)
    peer.install()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="hoist-bench-glance-",
                                        dir=work))
    pki = make_pki(tmp / "pki")
    o = peer.OpenStack(tmp / "os", pki, glance_workers=a.glance_workers,
                       token_cache=True)
    o.start()
    try:
        iid = upload(o, image, "bench")
        env = peer.clean_os_env(o.env())
        env["PATH"] = str(peer.VENV / "bin") + os.pathsep + env["PATH"]
        token = o.user_token()[0]
        out = tmp / "out.raw"
        url = "%s/v2/images/%s/file" % (o.glance_url, iid)
        tools = {
            "curl -o": ["curl", "-sSf", "--cacert", o.ca, "-H",
                        "X-Auth-Token: " + token, "-o", out, url],
            "curl | sha512sum": [
                "sh", "-c", "curl -sSf --cacert \"$1\" -H \"X-Auth-Token: "
                "$2\" \"$3\" | tee \"$4\" | sha512sum >/dev/null", "sh",
                o.ca, token, url, out],
            "glance image-download": [
                peer.VENV / "bin" / "glance", "--os-image-api-version", "2",
                "image-download", "--file", out, iid],
            "hoist copy": [a.hoist, "copy", "--no-progress",
                           "glance://" + iid, out],
        }
        results = {k: [] for k in tools}
        for rep in range(a.reps):
            for name, cmd in tools.items():
                if out.exists():
                    out.unlink()
                drop_cache(out)
                g0 = tree_cpu(o.glance.pid) + tree_cpu(o.keystone.pid)
                wall, cpu, rss = run_tree(cmd, tmp, env)
                gcpu = tree_cpu(o.glance.pid) + tree_cpu(o.keystone.pid) - g0
                alloc = os.stat(out).st_blocks * 512
                if rep == 0 and name == "hoist copy":
                    with open(out, "rb") as f1, open(image, "rb") as f2:
                        while True:
                            b1, b2 = f1.read(8 * MiB), f2.read(8 * MiB)
                            if b1 != b2:
                                raise RuntimeError("hoist's copy differs")
                            if not b1:
                                break
                results[name].append((wall, cpu, rss, alloc, gcpu))
        print("Glance image: %s raw (%s of data), Glance %s under gunicorn "
              "(%d workers), TLS, loopback; median of %d"
              % (human(size), human(size * 3 // 4),
                 peer.versions()["glance"], a.glance_workers, a.reps))
        print("%-24s %8s %10s %8s %9s %10s %8s %10s" % (
            "tool", "wall s", "MiB/s", "ratio", "CPU s", "peak RSS",
            "on disk", "server CPU"))
        base = statistics.median(r[0] for r in results["hoist copy"])
        for name, rs in results.items():
            wall = statistics.median(r[0] for r in rs)
            cpu = statistics.median(r[1] for r in rs)
            rss = max(r[2] for r in rs)
            gcpu = statistics.median(r[4] for r in rs)
            print("%-24s %8.2f %10.0f %7.2fx %9.2f %10s %8s %10.2f" % (
                name, wall, size / MiB / wall, wall / base, cpu,
                human(rss * 1024), human(rs[-1][3]), gcpu))
        print("(ratio: the tool's time over hoist's; above 1 means hoist "
              "is faster; server CPU: Glance's and Keystone's during the "
              "run)")
    finally:
        o.stop()


if __name__ == "__main__":
    main()
