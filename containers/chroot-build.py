#!/usr/bin/env python3
"""Checks a Containerfile where no container engine or registry is at hand.

    sudo containers/chroot-build.py hoist-controller [--keep]

Debian's own debootstrap makes a bookworm root filesystem (minbase, as the
debian:bookworm images; cached in ~/.cache/hoist/containers), then each
stage of containers/NAME/Containerfile runs in a chroot made from it: RUN
as /bin/sh -c, COPY of the build context (less .dockerignore's entries)
and COPY --from=STAGE. At the end the final stage's ENTRYPOINT runs with
--help as its USER. It is not an image build (no layers, no isolation
beyond chroot), but it runs the Containerfile's own commands, so a missing
package, a wrong path or a missing runtime library shows up. Needs root,
debootstrap and Debian's package mirror.
"""
import argparse
import fnmatch
import json
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path(os.environ.get("HOIST_CACHE",
                                    pathlib.Path.home() / ".cache" / "hoist"))
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
       "LANG": "C.UTF-8"}


def parse(path):
    """[{from, name, instructions: [(op, args)]}] with continuations
    joined and comments dropped (tests/test_deploy.py reads the
    Containerfiles with it too)."""
    stages, line = [], ""
    for raw in path.read_text().splitlines():
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        if s.endswith("\\"):
            line += s[:-1] + " "
            continue
        op, _, args = (line + s).partition(" ")
        line = ""
        op = op.upper()
        if op == "FROM":
            words = args.split()
            stages.append({"from": words[0], "name":
                           words[2] if len(words) > 2 else None,
                           "instructions": []})
        else:
            stages[-1]["instructions"].append((op, args.strip()))
    return stages


def base_rootfs():
    rootfs = CACHE / "containers" / "bookworm-rootfs"
    if not (rootfs / "etc" / "debian_version").exists():
        shutil.rmtree(rootfs, ignore_errors=True)
        rootfs.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm",
                        str(rootfs), "http://deb.debian.org/debian"],
                       check=True)
        shutil.rmtree(rootfs / "var" / "cache" / "apt" / "archives",
                      ignore_errors=True)
    return rootfs


def ignored():
    """.dockerignore's patterns: at the top of the context, or anywhere
    with a leading **/."""
    top, anywhere = [], []
    f = ROOT / ".dockerignore"
    for p in f.read_text().splitlines() if f.exists() else []:
        p = p.strip().rstrip("/")
        if not p or p.startswith("#"):
            continue
        if p.startswith("**/"):
            anywhere.append(p[3:])
        else:
            top.append(p)

    def ignore(d, names):
        pats = anywhere + (top if pathlib.Path(d) == ROOT else [])
        return [n for n in names if any(fnmatch.fnmatch(n, p) for p in pats)]
    return ignore


def run_stage(work, base, i, name, steps, roots):
    root = work / ("stage%d" % i)
    subprocess.run(["cp", "-a", str(base), str(root)], check=True)
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")],
                   check=True)
    roots[name or str(i)] = root
    user = "0:0"
    try:
        for op, args in steps:
            print("[stage %d] %s %s" % (i, op, args[:100]), flush=True)
            if op == "RUN":
                subprocess.run(["chroot", str(root), "/bin/sh", "-c", args],
                               check=True, env=ENV)
            elif op == "COPY":
                words = args.split()
                if words[0].startswith("--from="):
                    src = roots[words[0][len("--from="):]] / words[1].lstrip(
                        "/")
                    subprocess.run(["cp", "-a", str(src) + "/.",
                                    str(root / words[2].lstrip("/"))],
                                   check=True)
                else:
                    shutil.copytree(ROOT / words[0], root / words[1].lstrip(
                        "/"), ignore=ignored(), symlinks=True)
            elif op == "USER":
                user = args
            elif op == "ENTRYPOINT":
                argv = json.loads(args) + ["--help"]
                p = subprocess.run(["chroot", "--userspec=" + user,
                                    str(root)] + argv, env=ENV,
                                   capture_output=True, text=True)
                print((p.stdout + p.stderr)[:400])
                if p.returncode != 0:
                    sys.exit("%s as %s: exit status %d" % (
                        " ".join(argv), user, p.returncode))
                print("%s as %s: exit status 0" % (" ".join(argv), user))
    finally:
        subprocess.run(["umount", str(root / "proc")])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", help="a directory of containers/")
    ap.add_argument("--keep", action="store_true",
                    help="keep the stages' root filesystems")
    a = ap.parse_args()
    stages = parse(ROOT / "containers" / a.image / "Containerfile")
    for st in stages:
        if not st["from"].endswith(("debian:bookworm", "debian:bookworm-slim")):
            sys.exit("%s: only Debian bookworm bases are made here"
                     % st["from"])
    base = base_rootfs()
    work = CACHE / "containers" / ("build-" + a.image)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    roots = {}
    try:
        for i, st in enumerate(stages):
            run_stage(work, base, i, st["name"], st["instructions"], roots)
        final = roots[stages[-1]["name"] or str(len(stages) - 1)]
        du = subprocess.run(["du", "-sm", str(final)], capture_output=True,
                            text=True).stdout.split()[0]
        print("%s: final stage %s MiB (on a minbase root filesystem)" % (
            a.image, du))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
