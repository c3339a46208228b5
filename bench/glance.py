#!/usr/bin/env python3
"""hoist copy against curl and `glance image-download`, downloading the
same image from the same real Glance (tests/peers/openstack.py: Keystone
and Glance under gunicorn, TLS on loopback).

One raw image (default 1 GiB: 3/4 data, 1/4 zeros in runs, like a guest
disk), uploaded once. For it, in the same run, each --reps times, the
tools in a rotating order (interleaved rounds, the same image from the
same server, the output file removed before each run):

  - curl -o FILE: one stream, no checksum, no sparseness (Glance's
    single-stream rate, what Forklift's populator does), with a token
    issued beforehand;
  - curl | tee FILE | sha512sum: the same stream, verified as hoist
    verifies it;
  - glance image-download --file FILE (python-glanceclient, which also
    verifies the md5/multihash), authenticating with the password;
  - hoist copy glance://ID FILE, authenticating with the password as
    glance's client does (default workers: parallel range GETs, sha512
    verified, zeros not written, flushed to disk);
  - hoist copy (token): the same with the token curl gets (OS_TOKEN), to
    compare with curl on equal terms.

With --streams N (N > 1) it also runs N curls at once, each on its share
of the image with a range GET, to show what Glance serves over N streams.

Reports the median wall time, throughput, ratios, the CPU time (user+sys)
of each tool's process tree, its peak RSS, the output's allocated size
the CPU time of Glance and Keystone during the run, and what the rest of
the machine used meanwhile (the noise on a shared machine). Then the floor
that the hash sets: OpenSSL's sha512 over the image (from the page cache)
on one core. Glance caches token validation here (as deployments do with
memcached), so a range GET costs what a real one does.

Usage: bench/glance.py [--size-mib N] [--reps N] [--glance-workers N]
                       [--streams N] [--hoist BIN] [--workdir DIR]
                       [--out FILE]
"""
import argparse
import os
import pathlib
import resource
import shutil
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
from bench import make_payload, human  # noqa: E402

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


def machine_busy():
    """CPU seconds all CPUs spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


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


def hash_floor(image):
    """CPU seconds of `openssl dgst -sha512` over the image (read once
    before, so that it comes from the page cache): the rate of the hash
    alone on one core, the floor of any verified copy."""
    subprocess.run(["cat", str(image)], stdout=subprocess.DEVNULL,
                   check=True)
    best = None
    for _ in range(3):
        t = resource_usage(["openssl", "dgst", "-sha512", str(image)])
        best = t if best is None else min(best, t)
    return best


def resource_usage(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime -
                                                 before.ru_stime)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--glance-workers", type=int, default=2)
    ap.add_argument("--streams", type=int, default=0)
    ap.add_argument("--out", help="also write the report to this file")
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
        tok_env = {k: v for k, v in env.items()
                   if not k.startswith(("OS_PASSWORD", "OS_USERNAME",
                                        "OS_USER_ID", "OS_USER_DOMAIN"))}
        tok_env["OS_TOKEN"] = token
        curl = ["curl", "-sSf", "--cacert", str(o.ca), "-H",
                "X-Auth-Token: " + token]
        tools = {
            "curl -o": (curl + ["-o", out, url], env),
            "curl | sha512sum": (["sh", "-c", "curl -sSf --cacert \"$1\" "
                                  "-H \"X-Auth-Token: $2\" \"$3\" | tee "
                                  "\"$4\" | sha512sum >/dev/null", "sh",
                                  o.ca, token, url, out], env),
            "glance image-download": ([
                peer.VENV / "bin" / "glance", "--os-image-api-version", "2",
                "image-download", "--file", out, iid], env),
            "hoist copy": ([a.hoist, "copy", "--no-progress",
                            "glance://" + iid, out], env),
            "hoist copy (token)": ([a.hoist, "copy", "--no-progress",
                                    "glance://" + iid, out], tok_env),
        }
        if a.streams > 1:
            # N curls at once, each on its share, into N files.
            share = -(-size // a.streams)
            script = " ".join(
                "curl -sSf --cacert \"$1\" -H \"X-Auth-Token: $2\" -r "
                "%d-%d -o \"$4.%d\" \"$3\" &" % (
                    i * share, min(size, (i + 1) * share) - 1, i)
                for i in range(a.streams)) + " wait"
            tools["curl -r x%d" % a.streams] = (
                ["sh", "-c", script + "; mv \"$4.0\" \"$4\"", "sh", o.ca,
                 token, url, out], env)
        results = {k: [] for k in tools}
        names = list(tools)
        for rep in range(a.reps):
            # A rotating order: no tool always runs first or after another.
            k = rep % len(names)
            for name in names[k:] + names[:k]:
                cmd, tenv = tools[name]
                for f in tmp.glob(out.name + "*"):
                    f.unlink()
                g0 = tree_cpu(o.glance.pid) + tree_cpu(o.keystone.pid)
                m0 = machine_busy()
                wall, cpu, rss = run_tree(cmd, tmp, tenv)
                gcpu = tree_cpu(o.glance.pid) + tree_cpu(o.keystone.pid) - g0
                # What the rest of the machine ran meanwhile.
                others = max(0.0, machine_busy() - m0 - cpu - gcpu)
                alloc = sum(f.stat().st_blocks * 512
                            for f in tmp.glob(out.name + "*"))
                if rep == 0 and name.startswith("hoist"):
                    with open(out, "rb") as f1, open(image, "rb") as f2:
                        while True:
                            b1, b2 = f1.read(8 * MiB), f2.read(8 * MiB)
                            if b1 != b2:
                                raise RuntimeError("hoist's copy differs")
                            if not b1:
                                break
                results[name].append((wall, cpu, rss, alloc, gcpu, others))
        floor = hash_floor(image)
        lines = []
        lines.append("Glance image: %s raw (%s of data), Glance %s under "
                     "gunicorn (%d workers), TLS, loopback; %d CPUs; median "
                     "of %d interleaved rounds"
                     % (human(size), human(size * 3 // 4),
                        peer.versions()["glance"], a.glance_workers,
                        os.cpu_count(), a.reps))
        lines.append("%-24s %8s %8s %7s %7s %10s %9s %7s %7s" % (
            "tool", "wall s", "MiB/s", "ratio", "CPU s", "peak RSS",
            "on disk", "server", "others"))
        med = {}
        base = statistics.median(r[0] for r in results["hoist copy"])
        for name, rs in results.items():
            wall = statistics.median(r[0] for r in rs)
            cpu = statistics.median(r[1] for r in rs)
            rss = max(r[2] for r in rs)
            gcpu = statistics.median(r[4] for r in rs)
            others = statistics.median(r[5] for r in rs)
            med[name] = wall
            lines.append("%-24s %8.2f %8.0f %6.2fx %7.2f %10s %9s %7.2f %7.2f"
                         % (name, wall, size / MiB / wall, wall / base, cpu,
                            human(rss * 1024), human(rs[-1][3]), gcpu,
                            others))
        lines.append("(ratio: the tool's time over hoist's; above 1 means "
                     "hoist is faster; CPU s: the tool's, user+sys; server: "
                     "Glance's and Keystone's CPU s during the run; others: "
                     "CPU s that the rest of the machine used meanwhile, "
                     "out of CPUs x wall)")
        lines.append("targets: hoist (token) at %.2fx curl -o's rate "
                     "(target 1x); hoist at %.2fx glance image-download's "
                     "(target 2x)"
                     % (med["curl -o"] / med["hoist copy (token)"],
                        med["glance image-download"] / med["hoist copy"]))
        lines.append("floor: OpenSSL sha512 of the image from the page "
                     "cache takes %.2f s of one core (%.0f MiB/s); hoist "
                     "must spend it besides what curl -o spends"
                     % (floor, size / MiB / floor))
        print("\n".join(lines))
        if a.out:
            pathlib.Path(a.out).write_text("\n".join(lines) + "\n")
    finally:
        o.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
