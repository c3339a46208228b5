#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_qcow2 into fuzz/corpus/qcow2/: small
images made by qemu-img/qemu-io (512-byte clusters keep them a few KiB),
one hand-made image with extended L2 entries, and broken variants patched
byte by byte. Run it again after changing the decoder's checks:

    python3 fuzz/gen_qcow2_corpus.py
"""
import os
import pathlib
import random
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import qcow2util as q2  # noqa: E402

OUT = ROOT / "fuzz" / "corpus" / "qcow2"


def sh(*cmd):
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True)


def qcow2(path, size, cmds=(), **opts):
    o = ",".join(f"{k}={v}" for k, v in dict(cluster_size=512,
                                               **opts).items())
    sh("qemu-img", "create", "-f", "qcow2", "-o", o, path, size)
    for c in cmds:
        sh("qemu-io", "-f", "qcow2", "-c", c, path)
    return path


def extended_l2_image(path):
    """16 KiB clusters with extended L2 entries, laid out tightly: header,
    L1 table (plus a compressed cluster after it), L2 table, and a last
    data cluster of which the 20 KiB disk keeps only 4 KiB."""
    import zlib
    cs, size = 16384, 20480
    hdr = bytearray(cs)
    struct.pack_into(">IIQIIQIIQQIIQQQQII", hdr, 0, 0x514649fb, 3, 0, 0,
                     14, size, 0, 1, cs, 0, 0, 0, 0, 16, 0, 0, 4, 112)
    l1 = bytearray(cs)
    struct.pack_into(">Q", l1, 0, (1 << 63) | 2 * cs)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = comp.compress(b"compressed subclusters " * 700 + b"\0" * 284)
    data += comp.flush()
    l1[512:512 + len(data)] = data
    l2 = bytearray(cs)
    sectors = (512 + len(data) - 1) // 512 - 1
    # Cluster 0: compressed (bitmap 0). Cluster 1: data at 3*cs with
    # subcluster 0 allocated, 1 zero, the rest unallocated.
    struct.pack_into(">QQ", l2, 0, (1 << 62) | (sectors << 56) | (cs + 512),
                     0)
    struct.pack_into(">QQ", l2, 16, (1 << 63) | 3 * cs, (1 << 33) | 1)
    tail = bytes(range(256)) * 16
    path.write_bytes(bytes(hdr) + bytes(l1) + bytes(l2) + tail)
    return path


def main():
    random.seed(1)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    tmp = pathlib.Path(tempfile.mkdtemp())
    try:
        build(tmp)
    finally:
        shutil.rmtree(tmp)
    for f in sorted(OUT.iterdir()):
        print(f"{f.stat().st_size:6d} {f.name}")


def build(tmp):
    v3 = qcow2(OUT / "v3-512.qcow2", 70144, [
        "write -P 0x11 0 1k", "write -P 0 8k 1k", "write -z 16k 2k",
        "write -P 0x22 69000 1000"])
    qcow2(OUT / "v2-512.qcow2", 70144, [
        "write -P 0x11 512 1k", "write -P 0x33 40000 3000"], compat="0.10")
    raw = tmp / "mixed.raw"
    raw.write_bytes(bytes(random.getrandbits(8) for _ in range(6000)) +
                    b"abc" * 4000 + b"\0" * 3000 + b"\x07" * 1500)
    comp = OUT / "compressed-512.qcow2"
    sh("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", "-o",
       "cluster_size=512", raw, comp)
    qcow2(OUT / "compressed-unpadded.qcow2", 8192, [
        "write -P 0x41 512 512", "write -c -P 0x42 0 512",
        "write -c -P 0x43 4096 512"])
    snap = qcow2(OUT / "snapshot-512.qcow2", 16384, ["write -P 0x51 0 4k"])
    sh("qemu-img", "snapshot", "-c", "one", snap)
    sh("qemu-io", "-f", "qcow2", "-c", "write -P 0x52 1k 1k", snap)
    qcow2(OUT / "empty.qcow2", 0)
    ext = extended_l2_image(OUT / "extended-l2.qcow2")

    def broken(name, base, patch):
        p = OUT / name
        shutil.copy(base, p)
        patch(p)

    qcow2(tmp / "base.qcow2", 4096)
    sh("qemu-img", "create", "-f", "qcow2", "-o", "cluster_size=512", "-b",
       "base.qcow2", "-F", "qcow2", tmp / "top.qcow2")
    shutil.copy(tmp / "top.qcow2", OUT / "bad-backing.qcow2")
    broken("bad-incompat-bit.qcow2", v3,
           lambda p: q2.set_u64(p, q2.INCOMPAT, 1 << 9))
    broken("bad-corrupt-bit.qcow2", v3,
           lambda p: q2.set_u64(p, q2.INCOMPAT, 2))
    broken("bad-encrypted.qcow2", v3,
           lambda p: q2.set_u32(p, q2.CRYPT_METHOD, 1))
    broken("bad-zstd.qcow2", v3, lambda p: (
        q2.set_u64(p, q2.INCOMPAT, 8), q2.write_at(p, q2.COMPRESSION_TYPE,
                                                   b"\1")))
    broken("bad-truncated.qcow2", v3,
           lambda p: os.truncate(p, os.path.getsize(p) // 2))
    broken("bad-size.qcow2", v3, lambda p: q2.set_u64(p, q2.SIZE, 1 << 60))
    broken("bad-l1-past-eof.qcow2", v3,
           lambda p: q2.Qcow2(p).set_l1_entry(0, (1 << 63) | (1 << 40)))
    broken("bad-l2-into-l1.qcow2", v3, lambda p: q2.Qcow2(p).set_l2_entry(
        0, (1 << 63) | q2.Qcow2(p).l1_offset))

    def into_header(p):
        img = q2.Qcow2(p)
        assert img.l2_entry(20) & q2.COMPRESSED
        img.set_l2_entry(20, img.l2_entry(20) & ~((1 << 61) - 1) | 100)
    broken("bad-compressed-into-header.qcow2", comp, into_header)

    def garble(p):
        host, csize = q2.Qcow2(p).compressed(20)
        q2.write_at(p, host, b"\xff" * min(csize, 32))
    broken("bad-deflate.qcow2", comp, garble)

    def zero_flag(p):
        img = q2.Qcow2(p)
        img.set_l2_entry(1, img.l2_entry(1) | q2.ZERO)
    broken("bad-v2-zero-flag.qcow2", OUT / "v2-512.qcow2", zero_flag)
    broken("bad-extended-bitmap.qcow2", ext, lambda p: q2.write_at(
        p, 2 * 16384 + 24, struct.pack(">Q", (1 << 32) | 1)))


if __name__ == "__main__":
    main()
