#!/usr/bin/env python3
"""hoist copy against its peers on the same inputs, in one run.

For each input, runs `hoist copy`, `qemu-img convert -O raw` (with one
flush at the end, as hoist does, and without, for reference) and (where it
reads the format: raw, qcow2) `nbdcopy --flush`, each writing a fresh file
on the same file system, with the page cache dropped of the input's pages
between runs where possible. Reports wall time, CPU time, peak RSS, and the
ratio peer time / hoist time (above 1 means hoist is faster).

Usage: bench/bench.py [--quick] [--keep] [--only NAME] [--workdir DIR]
The inputs are cached in the work directory (default ~/.cache/hoist/bench).
"""
import argparse
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
MiB = 1 << 20
GiB = 1 << 30


def sh(*cmd, **kw):
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def make_payload(path, size):
    """Realistic, moderately compressible data: system binaries and
    libraries concatenated (what a guest's disk mostly holds)."""
    if path.exists() and path.stat().st_size == size:
        return path
    with open(path, "wb") as out:
        written = 0
        for root in ("/usr/lib", "/usr/bin", "/usr/share"):
            for dirpath, _, files in os.walk(root):
                for name in sorted(files):
                    p = os.path.join(dirpath, name)
                    if os.path.islink(p) or not os.path.isfile(p):
                        continue
                    try:
                        data = open(p, "rb").read(min(size - written, 4 * MiB))
                    except OSError:
                        continue
                    out.write(data)
                    written += len(data)
                    if written >= size:
                        return path
        while written < size:  # a small machine: top up with random data
            chunk = os.urandom(min(MiB, size - written))
            out.write(chunk)
            written += len(chunk)
    return path


def make_raw_with_data(path, virtual, payload, spread):
    """A sparse raw disk: the payload split into `spread` pieces placed at
    evenly spaced offsets of a `virtual`-byte disk."""
    if path.exists():
        return path
    size = payload.stat().st_size
    piece = size // spread
    with open(path, "wb") as out, open(payload, "rb") as src:
        out.truncate(virtual)
        for i in range(spread):
            out.seek((virtual // spread) * i)
            out.write(src.read(piece))
    return path


def convert(raw, path, fmt, *opts):
    if not path.exists():
        sh("qemu-img", "convert", "-f", "raw", "-O", fmt, *opts, raw, path)
    return path


def drop_cache(path):
    try:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    except OSError:
        pass


def timed(cmd):
    """Wall time, CPU seconds (user+sys) and peak RSS (KiB) of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + [str(c) for c in cmd],
                       capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))}: {p.stderr}")
    rss = int(p.stderr.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, rss


def run_case(name, src, fmt, work, hoist, reps):
    out = work / "out.raw"
    tools = {
        "hoist": [hoist, "copy", "--no-progress", src, out],
        # hoist flushes once at the end, so its result is on stable
        # storage when it exits. qemu-img convert's default cache mode
        # for the target is "unsafe" (no flush at all): the fair peer is
        # -t writeback (one flush at the end); the unsafe run is shown
        # for reference only.
        "qemu-img": ["qemu-img", "convert", "-t", "writeback", "-f", fmt,
                     "-O", "raw", src, out],
        "qemu-img-unsafe": ["qemu-img", "convert", "-f", fmt, "-O", "raw",
                            src, out],
    }
    if fmt in ("raw", "qcow2") and shutil.which("nbdcopy"):
        # nbdcopy reads qcow2 through qemu-nbd (its usual set-up).
        tools["nbdcopy"] = ["nbdcopy", "--flush", "--", "[", "qemu-nbd", "-r", "-f", fmt,
                            src, "]", out]
    # Interleave the tools in every round so that the machine's load
    # changes hit all of them alike; report the median round.
    runs = {tool: [] for tool in tools}
    for _ in range(reps):
        for tool, cmd in tools.items():
            if out.exists():
                out.unlink()
            if tool == "nbdcopy":
                pathlib.Path(out).touch()
                os.truncate(out, os.path.getsize(src) if fmt == "raw"
                            else virtual_size(src))
            drop_cache(src)
            runs[tool].append(timed(cmd))
    results = {tool: sorted(r)[len(r) // 2] for tool, r in runs.items()}
    if out.exists():
        out.unlink()
    h = results["hoist"]
    print(f"\n{name}  ({fmt}, {human(os.path.getsize(src))} file)")
    print(f"  {'tool':10} {'wall s':>8} {'cpu s':>8} {'peak RSS':>10} "
          f"{'peer/hoist':>10}")
    for tool, (wall, cpu, rss) in results.items():
        ratio = "" if tool == "hoist" else f"{wall / h[0]:9.2f}x"
        print(f"  {tool:10} {wall:8.2f} {cpu:8.2f} {rss / 1024:8.1f} MiB "
              f"{ratio:>10}")
    sys.stdout.flush()
    return results


def virtual_size(path):
    import json
    p = subprocess.run(["qemu-img", "info", "--output=json", str(path)],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout)["virtual-size"]


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024:
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="small inputs (for a smoke run)")
    ap.add_argument("--only", help="run only the cases whose name has this")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--workdir", default=os.path.expanduser(
        "~/.cache/hoist/bench"))
    ap.add_argument("--hoist", default=str(ROOT / "build" / "src" / "cli" /
                                           "hoist"))
    args = ap.parse_args()
    work = pathlib.Path(args.workdir) / ("quick" if args.quick else "full")
    work.mkdir(parents=True, exist_ok=True)

    data = 64 * MiB if args.quick else GiB
    payload = make_payload(work / "payload.bin", data)
    raw = make_raw_with_data(work / "disk.raw", 4 * data, payload, 16)
    huge = make_raw_with_data(work / "huge.raw", 64 * data, payload, 64)
    cases = [
        ("qcow2", convert(raw, work / "disk.qcow2", "qcow2"), "qcow2"),
        ("qcow2-compressed", convert(raw, work / "disk-c.qcow2", "qcow2",
                                     "-c"), "qcow2"),
        ("vmdk-monolithicSparse", convert(raw, work / "sparse.vmdk", "vmdk",
                                          "-o", "subformat=monolithicSparse"),
         "vmdk"),
        ("vmdk-streamOptimized", convert(raw, work / "stream.vmdk", "vmdk",
                                         "-o", "subformat=streamOptimized"),
         "vmdk"),
        ("raw-sparse", raw, "raw"),
        (f"qcow2-{human(64 * data)}-virtual-{human(data)}-data",
         convert(huge, work / "huge.qcow2", "qcow2"), "qcow2"),
    ]
    print(f"hoist copy vs peers, {os.cpu_count()} cores, "
          f"median of {args.reps} interleaved rounds; ratio > 1: hoist is "
          f"faster")
    summary = []
    for name, src, fmt in cases:
        if args.only and args.only not in name:
            continue
        res = run_case(name, src, fmt, work, args.hoist, args.reps)
        summary.append((name, res))
    print("\nsummary (qemu-img -t writeback time / hoist time, "
          "hoist peak RSS):")
    for name, res in summary:
        h = res["hoist"]
        print(f"  {name:40} {res['qemu-img'][0] / h[0]:6.2f}x  "
              f"{h[2] / 1024:6.1f} MiB")
    times = {name: res["hoist"][0] for name, res in summary}
    huge = [n for n in times if n.startswith("qcow2-") and "virtual" in n]
    if "qcow2" in times and huge:
        print(f"\nsame data, 16x the virtual size ({huge[0]} vs qcow2): "
              f"hoist takes {times[huge[0]] / times['qcow2']:.2f}x the time "
              f"(1.00 = proportional to the data alone)")


if __name__ == "__main__":
    main()
