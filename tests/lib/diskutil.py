"""Helpers for making disks with qemu-img/qemu-io and comparing results."""
import os
import subprocess

MiB = 1024 * 1024
GiB = 1024 * MiB


def run(*cmd, **kw):
    return subprocess.run([str(c) for c in cmd], check=True,
                          capture_output=True, text=True, **kw)


def qemu_img(*args):
    return run("qemu-img", *args)


def qemu_io(image, fmt, *cmds):
    """Runs qemu-io commands (e.g. "write -P 0xab 1M 64k") on image."""
    args = ["qemu-io", "-f", fmt]
    for c in cmds:
        args += ["-c", c]
    return run(*args, image)


def reference_raw(src, dst, fmt=None):
    """qemu-img convert -O raw: the reference decoder."""
    args = ["convert"]
    if fmt:
        args += ["-f", fmt]
    qemu_img(*args, "-O", "raw", src, dst)
    return dst


def data_segments(path):
    """(offset, end) of the data segments of a sparse file."""
    segs = []
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        fd = f.fileno()
        pos = 0
        while pos < size:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            hole = os.lseek(fd, data, os.SEEK_HOLE)
            segs.append((data, min(hole, size)))
            pos = hole
    return segs


def _merge(segs):
    out = []
    for a, b in sorted(segs):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def assert_same_content(a, b):
    """Byte-identical comparison that reads only the data segments of both
    files (so multi-GiB sparse disks compare quickly); outside them both
    read as zeros by definition of a hole."""
    sa, sb = os.path.getsize(a), os.path.getsize(b)
    assert sa == sb, f"sizes differ: {a} is {sa}, {b} is {sb}"
    segs = _merge(data_segments(a) + data_segments(b))
    chunk = 4 * MiB
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for start, end in segs:
            pos = start
            while pos < end:
                n = min(chunk, end - pos)
                fa.seek(pos)
                fb.seek(pos)
                da, db = fa.read(n), fb.read(n)
                if da != db:
                    for i in range(n):
                        if da[i] != db[i]:
                            raise AssertionError(
                                f"{a} and {b} differ at byte {pos + i}")
                pos += n


def allocated_bytes(path):
    return os.stat(path).st_blocks * 512


def sha256_file(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for blk in iter(lambda: f.read(4 * MiB), b""):
            h.update(blk)
    return h.hexdigest()
