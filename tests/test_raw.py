"""hoist copy on raw sources: the engine's own behaviour (zero detection,
holes, checksum, destinations, errors)."""
import os
import shutil
import stat
import subprocess

import pytest
from diskutil import MiB, GiB, allocated_bytes, assert_same_content, \
    qemu_io, sha256_file


def make_raw(path, size, writes):
    with open(path, "wb") as f:
        f.truncate(size)
    for off, length, pattern in writes:
        qemu_io(path, "raw", f"write -P {pattern} {off} {length}")
    return path


def test_scattered_data_is_identical_and_sparse(tmp_path, hoist):
    src = make_raw(tmp_path / "in.raw", 64 * MiB + 4097, [
        (0, 4096, 0x11), (5 * MiB + 512, 70000, 0x22),
        (33 * MiB, MiB, 0x33), (64 * MiB, 4097, 0x44)])
    # An explicit run of zeros written as data must not become data.
    with open(src, "r+b") as f:
        f.seek(40 * MiB)
        f.write(b"\0" * (8 * MiB))
    out = tmp_path / "out.raw"
    hoist("copy", "--no-progress", src, out)
    assert_same_content(src, out)
    assert os.path.getsize(out) == os.path.getsize(src)
    assert allocated_bytes(out) <= 2 * MiB + 256 * 1024


def test_destination_without_direct_io(tmp_path, hoist_bin):
    # ramfs refuses O_DIRECT: the copy goes through the page cache there.
    # Mounted in a mount namespace of its own, so nothing stays mounted.
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare to mount a ramfs")
    src = make_raw(tmp_path / "in.raw", 20 * MiB + 4097, [
        (0, 4096, 0x11), (3 * MiB + 512, 70000, 0x22), (20 * MiB, 4097, 0x44)])
    mnt = tmp_path / "ramfs"
    mnt.mkdir()
    script = ('mount -t ramfs none "$1" && '
              'dd if=/dev/zero of="$1/probe" bs=4096 count=1 oflag=direct '
              '2>/dev/null && echo "O_DIRECT works"; '
              '"$2" copy --no-progress --checksum sha256 "$3" "$1/out.raw" '
              '&& cmp "$3" "$1/out.raw"')
    p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", mnt,
                        hoist_bin, src], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "O_DIRECT works" not in p.stdout
    assert p.stdout.split()[0] == sha256_file(src)


def test_checksum_matches_sha256sum(tmp_path, hoist):
    src = make_raw(tmp_path / "in.raw", 10 * MiB + 3, [
        (MiB, 3 * MiB, 0x5a), (10 * MiB, 3, 0x01)])
    out = tmp_path / "out.raw"
    p = hoist("copy", "--checksum", "sha256", src, out)
    digest = p.stdout.split()[0]
    assert digest == sha256_file(src)


def test_preallocate_allocates_everything(tmp_path, hoist):
    src = make_raw(tmp_path / "in.raw", 8 * MiB, [(0, 4096, 0x11)])
    out = tmp_path / "out.raw"
    hoist("copy", "--preallocate", src, out)
    assert_same_content(src, out)
    assert allocated_bytes(out) >= 8 * MiB


def test_large_sparse_disk_is_fast_to_copy(tmp_path, hoist):
    src = tmp_path / "big.raw"
    make_raw(src, 12 * GiB, [(7 * GiB + 12345, 100000, 0x77)])
    out = tmp_path / "out.raw"
    hoist("copy", "--workers", "3", src, out)
    assert os.path.getsize(out) == 12 * GiB
    assert_same_content(src, out)
    assert allocated_bytes(out) < 4 * MiB


@pytest.mark.parametrize("workers", ["1", "2", "8"])
def test_workers(tmp_path, hoist, workers):
    src = tmp_path / "in.raw"
    with open(src, "wb") as f:
        f.write(os.urandom(5 * MiB + 1))
    out = tmp_path / "out.raw"
    hoist("copy", "-w", workers, src, out)
    assert_same_content(src, out)


def test_missing_source_fails_cleanly(tmp_path, hoist):
    out = tmp_path / "out.raw"
    p = hoist("copy", tmp_path / "nope.raw", out, check=False)
    assert p.returncode == 1
    assert "nope.raw" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert os.listdir(tmp_path) == []


def test_usage_errors(tmp_path, hoist):
    p = hoist("copy", "only-one-arg", check=False)
    assert p.returncode == 2 and "--help" in p.stderr
    p = hoist("copy", "--workers", "0", "a", "b", check=False)
    assert p.returncode == 2
    p = hoist("copy", "--checksum", "md5", "a", "b", check=False)
    assert p.returncode == 2 and "sha256" in p.stderr
    for cmd in ("copy", "inspect"):
        p = hoist(cmd, "--help")
        assert "Usage: hoist " + cmd in p.stdout


def test_destination_is_a_directory(tmp_path, hoist):
    src = make_raw(tmp_path / "in.raw", MiB, [(0, 4096, 0x11)])
    p = hoist("copy", src, tmp_path, check=False)
    assert p.returncode == 1 and "is a directory" in p.stderr


def test_inspect_json(tmp_path, hoist):
    import json
    src = make_raw(tmp_path / "in.raw", 4 * MiB, [(0, 4096, 0x11)])
    info = json.loads(hoist("inspect", "--json", src).stdout)
    assert info["format"] == "raw"
    assert info["virtual_size"] == 4 * MiB


def test_block_device_destination(tmp_path, hoist):
    """Writes in place to a loop device where the machine allows one."""
    import shutil
    import subprocess
    if not shutil.which("losetup") or os.geteuid() != 0:
        pytest.skip("needs root and losetup")
    backing = tmp_path / "dev.img"
    with open(backing, "wb") as f:
        f.write(b"\xff" * (16 * MiB))
    p = subprocess.run(["losetup", "--find", "--show", str(backing)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("no loop device here: " + p.stderr.strip())
    dev = p.stdout.strip()
    try:
        assert stat.S_ISBLK(os.stat(dev).st_mode)
        src = make_raw(tmp_path / "in.raw", 16 * MiB, [(MiB, 4096, 0x42)])
        hoist("copy", src, dev)
        subprocess.run(["sync"])
        with open(dev, "rb") as d, open(src, "rb") as s:
            assert d.read() == s.read()
    finally:
        subprocess.run(["losetup", "-d", dev])
