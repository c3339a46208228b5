#!/usr/bin/env python3
"""hoist copy against imageio's own client, downloading the same tickets
from the same ovirt-imageio daemon over TLS on loopback.

Two disks, served through the nbd backend (qemu-nbd, as oVirt does for
format=raw transfers): a sparse one (4 GiB virtual, 1 GiB of data) and a
fully allocated one (2 GiB). For each, in the same run:

  - the daemon's read limit: parallel range GETs with curl (4 processes,
    ranges of up to 64 MiB over the data extents, as hoist's work units,
    keep-alive) that discard the data;
  - hoist copy (default workers, TLS verified with the test CA);
  - ovirt_imageio.client.download(fmt="raw"), its defaults (4 workers).

Reports wall time, throughput of the data, the ratio to the client, the
CPU time (user+sys) of each tool's process tree and its peak RSS (the
largest process of the tree), and the daemon's CPU time during the run.
The trees are measured alike (the rusage of the process and of all it
waited for): hoist has no helper processes; the client's tree holds the
qemu-nbd that writes the destination for it, which is part of its work.
Its Python process alone is printed too.

Each tool runs --reps times, in rounds that rotate the order of the
tools, and its best round counts.

Usage: bench/imageio.py [--scale F] [--reps N] [--cold] [--workdir DIR]
                        [--hoist BIN]
--scale 0.25 makes every size a quarter (for a quick run). The disks are
read once before each run so they come from the page cache, unless --cold.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.request
import ssl

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from peers import imageio as peer  # noqa: E402
from bench import make_payload, human, drop_cache  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
# As large as hoist's work units: the daemon pays per request, and with
# smaller ranges the "limit" fell below what hoist reached.
RANGE = 64 * MiB
CURL_PROCS = 4

# Prints the CPU time of the Python process itself, apart from that of
# its helpers (qemu-img create, and qemu-nbd, which writes the
# destination for it).
CLIENT = """
import resource, sys
from ovirt_imageio import client
client.download(sys.argv[1], sys.argv[2], sys.argv[3], fmt="raw")
ru = resource.getrusage(resource.RUSAGE_SELF)
print("self-cpu", ru.ru_utime + ru.ru_stime)
"""


def make_disk(path, virtual, payload, data, pieces):
    """`data` bytes of the payload in `pieces` runs spread over a
    `virtual`-byte raw disk (pieces=1 and data=virtual: fully allocated)."""
    if path.exists() and path.stat().st_size == virtual:
        return path
    piece = data // pieces
    with open(path, "wb") as out, open(payload, "rb") as src:
        out.truncate(virtual)
        for i in range(pieces):
            out.seek((virtual // pieces) * i)
            left = piece
            while left:
                chunk = src.read(min(left, 8 * MiB))
                if not chunk:
                    src.seek(0)
                    continue
                out.write(chunk)
                left -= len(chunk)
    return path


def warm(path):
    """Reads the data of a sparse file once, so that it is cached."""
    with open(path, "rb") as f:
        fd, pos, size = f.fileno(), 0, os.path.getsize(path)
        while pos < size:
            try:
                pos = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, pos, os.SEEK_HOLE)
            while pos < end:
                pos += len(os.pread(fd, min(8 * MiB, end - pos), pos))


def run_tree(cmd, work):
    """Runs cmd under GNU time; returns wall s, CPU s (user+sys of the
    process and all it waited for) and peak RSS in KiB (the largest
    process of the tree)."""
    stats = work / "time.out"
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-o", str(stats), "-f", "%U %S %M"]
                       + [str(c) for c in cmd], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): "
                           f"{p.stderr[-2000:]}")
    user, sys_, rss = stats.read_text().split()[-3:]
    run_tree.self_cpu = None
    for line in p.stdout.splitlines():
        if line.startswith("self-cpu "):
            run_tree.self_cpu = float(line.split()[1])
    return wall, float(user) + float(sys_), int(rss)


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def data_ranges(url, ca):
    ctx = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(url + "/extents?context=zero",
                                context=ctx) as r:
        extents = json.load(r)
    out = []
    for e in extents:
        if e["zero"]:
            continue
        pos, end = e["start"], e["start"] + e["length"]
        while pos < end:
            n = min(RANGE, end - pos)
            out.append((pos, pos + n - 1))
            pos += n
    return out


def curl_limit(url, ca, work):
    """The daemon's read limit: CURL_PROCS curl processes doing range
    GETs of the data extents into /dev/null."""
    ranges = data_ranges(url, ca)
    cmds = []
    for i in range(CURL_PROCS):
        cfg = work / f"curl{i}.cfg"
        with open(cfg, "w") as f:
            first = True
            for a, b in ranges[i::CURL_PROCS]:
                if not first:
                    f.write("next\n")
                first = False
                f.write(f'url = "{url}"\nrange = "{a}-{b}"\n'
                        f'output = "/dev/null"\ncacert = "{ca}"\n'
                        'silent\nfail\n')
        cmds.append(["curl", "-K", str(cfg)])
    total = sum(b - a + 1 for a, b in ranges)
    t0 = time.monotonic()
    procs = [subprocess.Popen(c) for c in cmds]
    cpu = 0.0
    for p in procs:
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        cpu += ru.ru_utime + ru.ru_stime
        if p.returncode:
            raise RuntimeError(f"curl failed: {p.returncode}")
    return time.monotonic() - t0, cpu, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--cold", action="store_true",
                    help="drop the disks from the page cache before each "
                    "run (default: keep them cached, to measure the data "
                    "path rather than the local disk)")
    ap.add_argument("--workdir", default=os.path.expanduser(
        "~/.cache/hoist/bench-imageio"))
    ap.add_argument("--hoist", default=str(ROOT / "build" / "src" / "cli" /
                                           "hoist"))
    args = ap.parse_args()
    work = pathlib.Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    venv = peer.install()
    pypy = venv / "bin" / "python"

    def sz(n):
        return max(int(n * args.scale) // MiB, 1) * MiB

    payload = make_payload(work / "payload.bin", sz(GiB))
    disks = [
        (f"sparse {human(sz(4 * GiB))} virtual, {human(sz(GiB))} data",
         make_disk(work / f"sparse-{sz(GiB)}.raw", sz(4 * GiB), payload,
                   sz(GiB), 16), sz(GiB)),
        (f"allocated {human(sz(2 * GiB))}",
         make_disk(work / f"full-{sz(GiB)}.raw", sz(2 * GiB), payload,
                   sz(2 * GiB), 1), sz(2 * GiB)),
    ]
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="hoist-bench-", dir=work))
    pki = peer.make_pki(tmp / "pki")
    daemon = peer.Daemon(tmp / "daemon", pki).start()
    nbds = []
    print(f"hoist copy vs ovirt_imageio.client.download, {os.cpu_count()} "
          f"cores, ovirt-imageio daemon over TLS on loopback, nbd backend, "
          f"{'cold' if args.cold else 'warm'} page cache; best of "
          f"{args.reps} interleaved rounds")
    try:
        for name, disk, data in disks:
            nbd = peer.QemuNbd(disk, "raw", tmp / f"nbd{len(nbds)}.sock")
            nbds.append(nbd)
            tid = daemon.add_ticket(nbd.url, disk.stat().st_size,
                                    timeout=3600)
            url = daemon.url(tid, scheme="https")
            out = tmp / "out.raw"
            self_cpu = {}
            tools = {
                "daemon limit (curl)": None,
                "hoist": [args.hoist, "copy", "--no-progress", "--cacert",
                          pki["ca"], "imageio+" + url, out],
                "imageio client": [pypy, "-c", CLIENT, url, out, pki["ca"]],
            }
            # Interleaved rounds in a rotating order: a noisy spell of the
            # machine hits every tool alike, not the one running then.
            names = list(tools)
            best = dict.fromkeys(names)
            for rep in range(args.reps):
                k = rep % len(names)
                for tool in names[k:] + names[:k]:
                    cmd = tools[tool]
                    if out.exists():
                        out.unlink()
                    if args.cold:
                        drop_cache(disk)
                    else:
                        warm(disk)
                    d0 = proc_cpu(daemon.proc.pid)
                    if cmd is None:
                        wall, cpu, _ = curl_limit(url, pki["ca"], tmp)
                        rss = 0
                    else:
                        wall, cpu, rss = run_tree(cmd, tmp)
                    dcpu = proc_cpu(daemon.proc.pid) - d0
                    if best[tool] is None or wall < best[tool][0]:
                        best[tool] = (wall, cpu, rss, dcpu)
                        if cmd is not None:
                            self_cpu[tool] = run_tree.self_cpu
            results = best
            if out.exists():
                out.unlink()
            client = results["imageio client"]
            print(f"\n{name} ({human(data)} of data)")
            print(f"  {'':20} {'wall s':>7} {'MiB/s':>7} {'vs client':>9} "
                  f"{'cpu s':>7} {'peak RSS':>10} {'daemon cpu s':>12}")
            for tool, (wall, cpu, rss, dcpu) in results.items():
                rate = data / MiB / wall
                ratio = client[0] / wall
                rss_s = f"{rss / 1024:6.1f} MiB" if rss else "-"
                print(f"  {tool:20} {wall:7.2f} {rate:7.0f} {ratio:8.2f}x "
                      f"{cpu:7.2f} {rss_s:>10} {dcpu:12.2f}")
            h = results["hoist"]
            print(f"  hoist: {client[0] / h[0]:.2f}x the client's "
                  f"throughput, {h[1] / client[1]:.2f}x its CPU time, "
                  f"{h[2] / 1024:.1f} MiB peak RSS; "
                  f"{results['daemon limit (curl)'][0] / h[0] * 100:.0f}% "
                  f"of the daemon's limit")
            own = self_cpu.get("imageio client")
            if own:
                print(f"  the client's CPU time: {own:.2f} s in its Python "
                      f"process, {client[1] - own:.2f} s in qemu-img and "
                      f"the qemu-nbd that writes for it; hoist: "
                      f"{h[1] / own:.2f}x the Python process alone")
            sys.stdout.flush()
    finally:
        daemon.stop()
        for n in nbds:
            n.stop()
        subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    main()
