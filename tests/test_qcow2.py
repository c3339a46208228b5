"""hoist's qcow2 decoder against the real qemu-img/qemu-io: every image is
made by QEMU (broken ones are QEMU's images patched byte by byte), and
hoist's raw output must be byte-identical to `qemu-img convert -O raw`."""
import json
import os
import pathlib
import subprocess

import pytest
from diskutil import GiB, MiB, allocated_bytes, assert_same_content, \
    qemu_img, qemu_io, reference_raw
import qcow2util as q2

KiB = 1024
ROOT = pathlib.Path(__file__).resolve().parent.parent


def make_qcow2(path, size, cmds=(), **opts):
    """qemu-img create -f qcow2 -o k=v,…, then qemu-io commands."""
    o = ",".join(f"{k}={v}" for k, v in opts.items())
    qemu_img("create", "-f", "qcow2", *(["-o", o] if o else []), path,
             str(size))
    if cmds:
        qemu_io(path, "qcow2", *cmds)
    return path


def check_copy(hoist, tmp_path, src, *args):
    """hoist copy SRC equals qemu-img convert -O raw SRC; returns both."""
    out = tmp_path / (pathlib.Path(src).stem + ".hoist.raw")
    ref = tmp_path / (pathlib.Path(src).stem + ".qemu.raw")
    hoist("copy", "--no-progress", *args, src, out)
    reference_raw(src, ref, "qcow2")
    assert_same_content(ref, out)
    return out, ref


def inspect(hoist, src):
    info = json.loads(hoist("inspect", "--json", src).stdout)
    assert info["format"] == "qcow2"
    return info


# Scattered data, an explicit run of zeros written as data, zero clusters
# and a write at the very end of a size that is not a cluster multiple.
def scattered_writes(size, cluster):
    return [
        "write -P 0x11 0 3k",
        f"write -P 0x22 {5 * MiB + 512} 70000",
        f"write -P 0 {8 * MiB} {2 * MiB}",
        f"write -P 0x33 {12 * MiB} {MiB}",
        f"write -z {12 * MiB + 4 * cluster} {2 * cluster}",
        f"write -z {20 * MiB} {4 * MiB}",
        f"write -P 0x44 {size - 5000} 5000",
    ]


@pytest.mark.parametrize("compat", ["0.10", "1.1"])
@pytest.mark.parametrize("cluster", [512, 4 * KiB, 64 * KiB, 2 * MiB])
def test_scattered_data(tmp_path, hoist, compat, cluster):
    size = 37 * MiB + 1536  # QEMU sizes are whole sectors
    src = make_qcow2(tmp_path / "in.qcow2", size,
                     scattered_writes(size, cluster),
                     compat=compat, cluster_size=cluster)
    out, _ = check_copy(hoist, tmp_path, src)
    assert os.path.getsize(out) == size
    # 3k + 70000 + 1M + 5000 of data; whole clusters at most around each.
    assert allocated_bytes(out) <= 1200 * KiB + 6 * max(cluster, 64 * KiB)
    info = inspect(hoist, src)
    assert info["variant"].startswith("v2" if compat == "0.10" else "v3")
    assert info["virtual_size"] == size
    # Zero clusters and the zeros written as data cost no read in v3 (in
    # v2, `write -z` writes data clusters of zeros).
    assert info["data_bytes"] <= 14 * MiB + 2 * max(cluster, 64 * KiB)
    assert info["allocated"] == info["data_bytes"]


def test_zero_clusters_are_zero_extents(tmp_path, hoist):
    # v3 zero clusters, with and without an allocated offset.
    src = make_qcow2(tmp_path / "z.qcow2", 4 * MiB, [
        "write -P 0x55 0 1M",
        "write -z 0 256k",          # zero flag on allocated clusters
        "write -z -u 1M 512k",      # zero flag, unallocated
        "write -P 0x66 3M 64k",
    ])
    check_copy(hoist, tmp_path, src)
    runs = [(r["offset"], r["length"], r["zero"])
            for r in inspect(hoist, src)["map"]]
    assert runs == [(0, 256 * KiB, True), (256 * KiB, 768 * KiB, False),
                    (MiB, 2 * MiB, True), (3 * MiB, 64 * KiB, False),
                    (3 * MiB + 64 * KiB, MiB - 64 * KiB, True)]


def mixed_raw(path, size):
    """Random (incompressible), text, zeros and a tail, in turns."""
    chunk = 96 * KiB + 512
    text = b"".join(b"line %d of a compressible file\n" % i
                    for i in range(4000))
    with open(path, "wb") as f:
        pos, i = 0, 0
        while pos < size:
            n = min(chunk, size - pos)
            kind = i % 4
            if kind == 0:
                f.write(os.urandom(n))
            elif kind == 1:
                f.write((text * (n // len(text) + 1))[:n])
            elif kind == 2:
                f.write(b"\0" * n)
            else:
                f.write(bytes([i % 251]) * n)
            pos += n
            i += 1
    return path


@pytest.mark.parametrize("cluster", [512, 4 * KiB, 64 * KiB, 2 * MiB])
def test_compressed(tmp_path, hoist, cluster):
    raw = mixed_raw(tmp_path / "mixed.raw", 9 * MiB + 3 * KiB)
    src = tmp_path / "c.qcow2"
    qemu_img("convert", "-c", "-f", "raw", "-O", "qcow2", "-o",
             f"cluster_size={cluster}", raw, src)
    os.unlink(raw)
    check_copy(hoist, tmp_path, src)
    info = inspect(hoist, src)
    assert info["variant"].startswith("v3")
    assert "compressed" in info["variant"]


def test_incompressible_random_data(tmp_path, hoist):
    raw = tmp_path / "random.raw"
    raw.write_bytes(os.urandom(3 * MiB + 777))
    src = tmp_path / "r.qcow2"
    qemu_img("convert", "-c", "-f", "raw", "-O", "qcow2", raw, src)
    os.unlink(raw)
    check_copy(hoist, tmp_path, src, "-w", "8")


def test_compressed_writes_with_unpadded_end(tmp_path, hoist):
    # qemu-io's `write -c` does not pad the file to a sector: the last
    # descriptor runs past the end of the file, which QEMU reads as zeros.
    src = make_qcow2(tmp_path / "c.qcow2", 2 * MiB, [
        "write -P 0x62 64k 64k", "write -c -P 0x61 0 64k",
        "write -c -P 0x63 1M 64k"])
    assert os.path.getsize(src) % 512 != 0
    check_copy(hoist, tmp_path, src)


def test_large_sparse_disk(tmp_path, hoist):
    size = 12 * GiB + 4096
    src = make_qcow2(tmp_path / "big.qcow2", size, [
        "write -P 0x71 0 64k",
        f"write -P 0x72 {4 * GiB - 32 * KiB} 64k",   # across L2 tables
        f"write -P 0x73 {9 * GiB + 12345} 100000",
        f"write -P 0x74 {size - 4096} 4096"])
    out, _ = check_copy(hoist, tmp_path, src)
    assert os.path.getsize(out) == size
    assert allocated_bytes(out) < 2 * MiB
    info = inspect(hoist, src)
    assert info["virtual_size"] == size
    # Five whole clusters, and the 4 KiB the disk keeps of its last one.
    assert info["data_bytes"] == 5 * 64 * KiB + 4096


def test_preallocated_metadata_holes_are_zero_extents(tmp_path, hoist):
    # preallocation=metadata maps every cluster to a hole of the file:
    # those are zeros without a read, as qemu-img convert finds them.
    src = make_qcow2(tmp_path / "pre.qcow2", 2 * GiB, [
        "write -P 0xa1 1G 1M"], preallocation="metadata")
    out, _ = check_copy(hoist, tmp_path, src)
    assert allocated_bytes(out) < 2 * MiB
    info = inspect(hoist, src)
    assert info["data_bytes"] == MiB


def test_snapshots_read_the_active_layer(tmp_path, hoist):
    src = make_qcow2(tmp_path / "s.qcow2", 16 * MiB, [
        "write -P 0x81 0 4M", "write -P 0x82 8M 1M"])
    qemu_img("snapshot", "-c", "first", src)
    qemu_io(src, "qcow2", "write -P 0x83 1M 1M", "write -z 8M 512k",
            "write -P 0x84 12M 64k")
    qemu_img("snapshot", "-c", "second", src)
    qemu_io(src, "qcow2", "write -P 0x85 2M 4k")
    out, _ = check_copy(hoist, tmp_path, src)
    with open(out, "rb") as f:
        f.seek(MiB)
        assert f.read(4) == b"\x83" * 4
        f.seek(2 * MiB)
        assert f.read(4) == b"\x85" * 4


@pytest.mark.parametrize("cluster", [16 * KiB, 64 * KiB, 2 * MiB])
def test_extended_l2(tmp_path, hoist, cluster):
    sub = cluster // 32
    size = 12 * MiB + 1536
    src = make_qcow2(tmp_path / "e.qcow2", size, [
        f"write -P 0x91 {sub} {sub}",               # one subcluster
        f"write -P 0x92 {3 * sub + 100} {5 * sub}",  # partial ones
        f"write -z {4 * sub} {sub}",                 # zero inside data
        f"write -z {cluster * 3} {3 * sub}",         # zero, unallocated
        f"write -c -P 0x93 {4 * MiB} {cluster}",     # compressed
        f"write -P 0x94 {size - 777} 777",
    ], extended_l2="on", cluster_size=cluster)
    check_copy(hoist, tmp_path, src)
    info = inspect(hoist, src)
    assert "extended L2" in info["variant"]
    assert info["map"][0] == {"offset": 0, "length": sub, "zero": True}
    assert info["map"][1] == {"offset": sub, "length": sub, "zero": False}


def test_inspect_reports_allocation(tmp_path, hoist):
    src = make_qcow2(tmp_path / "i.qcow2", 64 * MiB, [
        "write -P 1 0 1M", "write -P 2 32M 3M"])
    info = inspect(hoist, src)
    assert info["variant"] == "v3"
    assert info["allocated"] == 4 * MiB
    assert info["data_bytes"] == 4 * MiB
    assert info["zero_bytes"] == 60 * MiB
    text = hoist("inspect", src).stdout
    assert "qcow2 (v3)" in text


def opt_hoist():
    build = pathlib.Path(os.environ.get("HOIST_OPT_BUILD", ROOT / "build"))
    path = build / "src" / "cli" / "hoist"
    if not path.exists():
        pytest.skip(f"{path} is not built")
    return path


def test_memory_stays_small_on_huge_disks(tmp_path):
    """Touches 1024 L2 tables (64 MiB of them) over a 2 TiB disk; RSS of
    the optimised build must stay under 64 MiB while copying it."""
    hoist_bin = opt_hoist()
    size = 2048 * GiB
    cmds = [f"write -P {i % 250 + 1} {i * 2 * GiB + (i % 7) * 4096} 4k"
            for i in range(1024)]
    src = make_qcow2(tmp_path / "huge.qcow2", size)
    for i in range(0, len(cmds), 256):
        qemu_io(src, "qcow2", *cmds[i:i + 256])
    out = tmp_path / "huge.raw"
    code = (f"import resource, subprocess, sys\n"
            f"subprocess.run(sys.argv[1:], check=True)\n"
            f"print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    p = subprocess.run(["python3", "-c", code, hoist_bin, "copy",
                        "--no-progress", src, out],
                       capture_output=True, text=True, check=True)
    rss_kib = int(p.stdout.split()[-1])
    assert rss_kib < 64 * 1024, f"hoist used {rss_kib} KiB"
    assert os.path.getsize(out) == size
    with open(out, "rb") as f:
        for i in (0, 1, 511, 1023):
            f.seek(i * 2 * GiB + (i % 7) * 4096)
            assert f.read(4096) == bytes([i % 250 + 1]) * 4096
    assert allocated_bytes(out) < 16 * MiB
    out.unlink()


# ---- refusals and corrupt images ----

def expect_failure(hoist, tmp_path, src, *words, inspect_fails=True):
    """hoist copy (and inspect, unless the problem is in data that inspect
    does not read) fail with exit 1 and one line naming the file and the
    problem; the copy leaves nothing behind."""
    before = sorted(os.listdir(tmp_path))
    out = tmp_path / "out.raw"
    p = hoist("copy", "--no-progress", src, out, check=False)
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert pathlib.Path(src).name in lines[0], p.stderr
    for w in words:
        assert w in lines[0], p.stderr
    assert sorted(os.listdir(tmp_path)) == before
    p = hoist("inspect", src, check=False)
    assert p.returncode == (1 if inspect_fails else 0), p.stderr
    return lines[0]


def test_backing_file_is_refused(tmp_path, hoist):
    base = make_qcow2(tmp_path / "base.qcow2", 4 * MiB, ["write -P 1 0 1M"])
    top = tmp_path / "top.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", base.name, "-F", "qcow2", top)
    expect_failure(hoist, tmp_path, top, "backing file", "base.qcow2")


@pytest.mark.parametrize("fmt,name", [("luks", "LUKS"), ("aes", "AES")])
def test_encryption_is_refused(tmp_path, hoist, fmt, name):
    src = tmp_path / f"{fmt}.qcow2"
    cmd = ["qemu-img", "create", "--object", "secret,id=sec0,data=123456",
           "-f", "qcow2", "-o", f"encrypt.format={fmt},encrypt.key-secret=sec0"
           + (",encrypt.iter-time=10" if fmt == "luks" else ""), src, "4M"]
    # LUKS times its key derivation with the thread's CPU clock, which
    # some virtual machines report too coarsely ("Unable to get accurate
    # CPU usage"): try again.
    for _ in range(10):
        if subprocess.run(cmd, capture_output=True).returncode == 0:
            break
    else:
        pytest.fail(f"qemu-img cannot create a {name} image here")
    expect_failure(hoist, tmp_path, src, "encrypted", name)


def test_external_data_file_is_refused(tmp_path, hoist):
    src = tmp_path / "ext.qcow2"
    qemu_img("create", "-f", "qcow2", "-o",
             f"data_file={tmp_path / 'ext.data'}", src, "4M")
    expect_failure(hoist, tmp_path, src, "external data file")


def test_zstd_is_refused(tmp_path, hoist):
    src = make_qcow2(tmp_path / "zstd.qcow2", 4 * MiB,
                     ["write -c -P 7 0 64k"], compression_type="zstd")
    expect_failure(hoist, tmp_path, src, "zstd")


def test_unknown_incompatible_bit_is_refused(tmp_path, hoist):
    src = make_qcow2(tmp_path / "bit.qcow2", 4 * MiB, ["write -P 1 0 64k"])
    q2.set_u64(src, q2.INCOMPAT, 1 << 9)
    expect_failure(hoist, tmp_path, src, "unknown incompatible", "0x200")


def test_corrupt_bit_is_refused_and_dirty_bit_is_not(tmp_path, hoist):
    src = make_qcow2(tmp_path / "bit.qcow2", 4 * MiB, ["write -P 1 0 64k"])
    q2.set_u64(src, q2.INCOMPAT, 1)  # dirty
    check_copy(hoist, tmp_path, src)
    for f in tmp_path.glob("*.raw"):
        f.unlink()
    q2.set_u64(src, q2.INCOMPAT, 2)  # corrupt
    expect_failure(hoist, tmp_path, src, "corrupt")


def test_unsupported_version_is_refused(tmp_path, hoist):
    src = make_qcow2(tmp_path / "v4.qcow2", MiB)
    q2.set_u32(src, q2.VERSION, 4)
    expect_failure(hoist, tmp_path, src, "version 4")


@pytest.mark.parametrize("size", [1 << 60, (1 << 64) - 512, 65 << 40])
def test_absurd_size_is_refused(tmp_path, hoist, size):
    src = make_qcow2(tmp_path / "huge.qcow2", MiB, ["write -P 1 0 64k"])
    q2.set_u64(src, q2.SIZE, size)
    expect_failure(hoist, tmp_path, src, "64 TiB")


def test_size_beyond_the_l1_table_is_refused(tmp_path, hoist):
    src = make_qcow2(tmp_path / "l1.qcow2", MiB, ["write -P 1 0 64k"])
    q2.set_u64(src, q2.SIZE, 4 * GiB)
    expect_failure(hoist, tmp_path, src, "L1 table has 1 entries")


@pytest.mark.parametrize("keep,words", [
    (50, ["truncated", "qcow2 header"]),
    (90, ["truncated", "v3 header"]),
    (0.5, ["past the end of the file"]),
])
def test_truncated_file(tmp_path, hoist, keep, words):
    src = make_qcow2(tmp_path / "cut.qcow2", 8 * MiB,
                     ["write -P 1 0 1M", "write -P 2 6M 1M"])
    size = os.path.getsize(src)
    os.truncate(src, int(size * keep) if keep < 1 else keep)
    expect_failure(hoist, tmp_path, src, *words)


def test_truncated_l1_table(tmp_path, hoist):
    src = make_qcow2(tmp_path / "cut.qcow2", 8 * MiB, ["write -P 1 0 1M"])
    img = q2.Qcow2(src)
    os.truncate(src, img.l1_offset + 4)
    expect_failure(hoist, tmp_path, src, "truncated", "L1 table")


def test_l1_entry_past_eof(tmp_path, hoist):
    src = make_qcow2(tmp_path / "l1.qcow2", 8 * MiB, ["write -P 1 0 1M"])
    q2.Qcow2(src).set_l1_entry(0, (1 << 63) | (1 << 40))
    expect_failure(hoist, tmp_path, src, "L1 entry 0", "past the end")


def test_l1_entry_into_metadata(tmp_path, hoist):
    src = make_qcow2(tmp_path / "l1.qcow2", 8 * MiB, ["write -P 1 0 1M"])
    img = q2.Qcow2(src)
    img.set_l1_entry(0, img.l1_offset)
    expect_failure(hoist, tmp_path, src, "L1 entry 0", "inside the L1 table")


def test_l2_entry_past_eof(tmp_path, hoist):
    src = make_qcow2(tmp_path / "l2.qcow2", 8 * MiB,
                     ["write -P 1 0 1M", "write -P 2 2M 64k"])
    img = q2.Qcow2(src)
    img.set_l2_entry(32, (1 << 63) | (1 << 45))  # virtual offset 2 MiB
    msg = expect_failure(hoist, tmp_path, src, "past the end of the file")
    assert "virtual offset 2097152" in msg


def test_l2_entry_into_metadata(tmp_path, hoist):
    src = make_qcow2(tmp_path / "l2.qcow2", 8 * MiB, ["write -P 1 0 1M"])
    img = q2.Qcow2(src)
    table = img.l2_entry_pos(0)
    img.set_l2_entry(3, (1 << 63) | table)
    expect_failure(hoist, tmp_path, src, "virtual offset 196608",
                   "its own L2 table")
    img.set_l2_entry(3, (1 << 63) | img.l1_offset)
    expect_failure(hoist, tmp_path, src, "inside the L1 table")
    img.set_l2_entry(3, (1 << 63) | 512)
    expect_failure(hoist, tmp_path, src, "not aligned")


def test_compressed_descriptor_into_header_or_past_eof(tmp_path, hoist):
    raw = mixed_raw(tmp_path / "m.raw", MiB)
    src = tmp_path / "c.qcow2"
    qemu_img("convert", "-c", "-f", "raw", "-O", "qcow2", raw, src)
    os.unlink(raw)
    img = q2.Qcow2(src)
    entry = img.l2_entry(1)
    assert entry & q2.COMPRESSED
    shift = 62 - (img.cluster_bits - 8)
    sectors = entry & ~((1 << shift) - 1)
    img.set_l2_entry(1, sectors | 100)
    expect_failure(hoist, tmp_path, src, "virtual offset 65536",
                   "inside the header")
    img.set_l2_entry(1, sectors | (os.path.getsize(src) - 10))
    expect_failure(hoist, tmp_path, src, "past the end of the file")


def test_garbled_compressed_cluster(tmp_path, hoist):
    raw = mixed_raw(tmp_path / "m.raw", 2 * MiB)
    src = tmp_path / "g.qcow2"
    qemu_img("convert", "-c", "-f", "raw", "-O", "qcow2", raw, src)
    os.unlink(raw)
    img = q2.Qcow2(src)
    host, csize = img.compressed(5)
    q2.write_at(src, host, b"\xff" * min(csize, 64))
    msg = expect_failure(hoist, tmp_path, src, "compressed cluster",
                         inspect_fails=False)
    assert "virtual offset 327680" in msg


def test_zero_flag_in_v2_image_is_refused(tmp_path, hoist):
    src = make_qcow2(tmp_path / "v2.qcow2", 4 * MiB, ["write -P 1 0 64k"],
                     compat="0.10")
    img = q2.Qcow2(src)
    img.set_l2_entry(0, img.l2_entry(0) | q2.ZERO)
    expect_failure(hoist, tmp_path, src, "version 2")


def test_raw_file_named_qcow2_is_copied_as_raw(tmp_path, hoist):
    # Format comes from the content, never the name.
    src = tmp_path / "plain.qcow2"
    src.write_bytes(b"\x01" * 4096)
    info = json.loads(hoist("inspect", "--json", src).stdout)
    assert info["format"] == "raw"


def test_fuzz_corpus_is_present():
    corpus = ROOT / "fuzz" / "corpus" / "qcow2"
    files = list(corpus.iterdir())
    assert 5 <= len(files) <= 30
    assert all(f.stat().st_size <= 64 * KiB for f in files)
