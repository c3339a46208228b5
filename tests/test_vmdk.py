"""hoist copy/inspect on VMDK sources: every subformat that qemu-img
writes, VMware-style streamOptimized files, hand-written descriptors,
gzip-compressed streams, and damaged files.

The reference is qemu-img: hoist's output must be byte-identical to
`qemu-img convert -O raw` of the same VMDK. Damaged input must fail with
exit status 1, one line naming the file and the problem, and no output
file left behind."""
import gzip
import json
import os
import shutil
import struct
import zlib

import pytest
from diskutil import MiB, GiB, allocated_bytes, assert_same_content, \
    qemu_img, qemu_io, reference_raw

SECTOR = 512
GRAIN = 64 * 1024
SUBFORMATS = ["monolithicSparse", "streamOptimized", "monolithicFlat",
              "twoGbMaxExtentSparse", "twoGbMaxExtentFlat"]


def make_raw(path, size, writes=(), zeros=(), random=()):
    """A sparse raw file of `size` bytes: qemu-io pattern writes
    (offset, length, byte), explicit zeros written as data
    (offset, length), and incompressible random data (offset, length)."""
    with open(path, "wb") as f:
        f.truncate(size)
    for off, length, pattern in writes:
        qemu_io(path, "raw", f"write -P {pattern} {off} {length}")
    with open(path, "r+b") as f:
        for off, length in zeros:
            f.seek(off)
            f.write(b"\0" * length)
        for off, length in random:
            f.seek(off)
            f.write(os.urandom(length))
    return path


def to_vmdk(raw, vmdk, subformat, *opts):
    o = ",".join([f"subformat={subformat}", *opts])
    qemu_img("convert", "-f", "raw", "-O", "vmdk", "-o", o, raw, vmdk)
    return vmdk


def scattered_raw(path, size=24 * MiB + 3 * SECTOR):
    """Data at scattered offsets (partial grains, across grain tables),
    holes, a run of explicit zeros, and data in the last partial grain."""
    return make_raw(path, size, writes=[
        (0, 4096, 0x11), (GRAIN + 512, 70000, 0x22),
        (5 * MiB - 4096, 8192, 0x33), (20 * MiB, MiB, 0x44),
        (size - 1000, 1000, 0x55)],
        zeros=[(8 * MiB, 2 * MiB)], random=[(12 * MiB + 4096, 300000)])


def copy_and_compare(hoist, src, tmp_path, *args):
    """hoist copy src → out.raw; compares with qemu-img's raw output."""
    ref = reference_raw(src, tmp_path / "ref.raw", "vmdk")
    out = tmp_path / "out.raw"
    if out.exists():
        out.unlink()
    hoist("copy", "--no-progress", *args, src, out)
    assert_same_content(ref, out)
    return out


def assert_fails(hoist, src, tmp_path, *words, cmd="copy"):
    """Exit 1, one line naming the file and the problem, no output."""
    out = tmp_path / "fail-out.raw"
    args = [cmd, "--no-progress", src, out] if cmd == "copy" \
        else [cmd, src]
    p = hoist(*args, check=False)
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert os.path.basename(str(src)) in lines[0] or \
        any(os.path.basename(w) in lines[0] for w in words
            if w.endswith(".vmdk")), lines[0]
    for w in words:
        assert w.lower() in lines[0].lower(), lines[0]
    assert not out.exists()
    return lines[0]


def inspect(hoist, src):
    return json.loads(hoist("inspect", "--json", src).stdout)


# ---- good disks ----

@pytest.mark.parametrize("subformat", SUBFORMATS)
def test_subformat_copies_identically(tmp_path, hoist, subformat):
    raw = scattered_raw(tmp_path / "in.raw")
    src = to_vmdk(raw, tmp_path / "disk.vmdk", subformat)
    out = copy_and_compare(hoist, src, tmp_path)
    # Holes and the explicit zeros stay holes.
    assert allocated_bytes(out) < 3 * MiB
    info = inspect(hoist, src)
    assert info["format"] == "vmdk"
    assert info["variant"] == subformat
    assert info["virtual_size"] == os.path.getsize(tmp_path / "ref.raw")
    assert info["data_bytes"] < 4 * MiB


@pytest.mark.parametrize("workers", ["1", "2", "8"])
def test_stream_optimized_random_data(tmp_path, hoist, workers):
    """Incompressible grains (compressed size above the grain size), in
    several chunks, decoded by any number of workers."""
    raw = make_raw(tmp_path / "in.raw", 6 * MiB + 4 * SECTOR,
                   random=[(0, 3 * MiB + 12345), (5 * MiB, MiB + 2048)])
    src = to_vmdk(raw, tmp_path / "disk.vmdk", "streamOptimized")
    copy_and_compare(hoist, src, tmp_path, "--workers", workers)


def test_zeroed_grain_entries(tmp_path, hoist):
    """Version 2 sparse files: grain table entries of 1 read as zeros."""
    src = tmp_path / "z.vmdk"
    qemu_img("create", "-f", "vmdk", "-o", "zeroed_grain=on", src, "4M")
    qemu_io(src, "vmdk", "write -P 0x33 0 512k", "write -z 64k 128k",
            "write -z 448k 64k", "write -P 0x44 3M 4k")
    with open(src, "rb") as f:
        head = f.read(16)
    assert struct.unpack_from("<I", head, 4)[0] == 2
    assert struct.unpack_from("<I", head, 8)[0] & 4
    copy_and_compare(hoist, src, tmp_path)
    runs = [(r["offset"], r["length"], r["zero"])
            for r in inspect(hoist, src)["map"]]
    assert (GRAIN, 2 * GRAIN, True) in runs


def test_zeroed_grain_option_on_convert(tmp_path, hoist):
    raw = scattered_raw(tmp_path / "in.raw")
    src = to_vmdk(raw, tmp_path / "disk.vmdk", "monolithicSparse",
                  "zeroed_grain=on")
    copy_and_compare(hoist, src, tmp_path)


@pytest.mark.parametrize("subformat", ["monolithicSparse", "streamOptimized"])
def test_large_sparse_disk(tmp_path, hoist, subformat):
    size = 9 * GiB + 64 * 1024
    raw = make_raw(tmp_path / "in.raw", size, writes=[
        (4096, 8192, 0x61), (8 * GiB + 12345, 100000, 0x62),
        (size - 4096, 4096, 0x63)])
    src = to_vmdk(raw, tmp_path / "disk.vmdk", subformat)
    os.unlink(raw)
    out = copy_and_compare(hoist, src, tmp_path, "--workers", "3")
    assert os.path.getsize(out) == size
    assert allocated_bytes(out) < 2 * MiB


def test_split_sparse_with_several_extents(tmp_path, hoist):
    """twoGbMaxExtentSparse past 2 GiB: several KDMV extent files."""
    size = 4 * GiB + 3 * MiB
    raw = make_raw(tmp_path / "in.raw", size, writes=[
        (MiB, 4096, 0x71), (2 * GiB - 4096, 8192, 0x72),
        (4 * GiB + MiB, 65536, 0x73)])
    src = to_vmdk(raw, tmp_path / "disk.vmdk", "twoGbMaxExtentSparse")
    os.unlink(raw)
    assert (tmp_path / "disk-s003.vmdk").exists()
    out = copy_and_compare(hoist, src, tmp_path)
    assert allocated_bytes(out) < MiB


def test_split_flat_with_several_extents(tmp_path, hoist):
    size = 2 * GiB + 5 * MiB
    raw = make_raw(tmp_path / "in.raw", size, writes=[
        (0, 4096, 0x71), (2 * GiB - 1024, 4096, 0x72),
        (2 * GiB + 4 * MiB, 65536, 0x73)])
    src = to_vmdk(raw, tmp_path / "disk.vmdk", "twoGbMaxExtentFlat")
    os.unlink(raw)
    assert (tmp_path / "disk-f002.vmdk").exists()
    out = copy_and_compare(hoist, src, tmp_path)
    assert allocated_bytes(out) < MiB
    # The holes of the flat files are found without reading them.
    info = inspect(hoist, src)
    assert info["data_bytes"] < 4 * MiB


def test_inspect_json_stream(tmp_path, hoist):
    raw = make_raw(tmp_path / "in.raw", 4 * MiB, writes=[
        (MiB, GRAIN, 0x21)])
    src = to_vmdk(raw, tmp_path / "disk.vmdk", "streamOptimized")
    info = inspect(hoist, src)
    assert info["variant"] == "streamOptimized"
    assert info["virtual_size"] == 4 * MiB
    runs = [(r["offset"], r["length"], r["zero"]) for r in info["map"]]
    assert runs == [(0, MiB, True), (MiB, GRAIN, False),
                    (MiB + GRAIN, 3 * MiB - GRAIN, True)]


# ---- VMware-style streamOptimized (grain directory at the end) ----

def vmware_header(capacity, gd_offset, grain=128, overhead=128,
                  version=3, flags=0x30001):
    h = struct.pack("<4sIIQQQQIQQQB4sH", b"KDMV", version, flags, capacity,
                    grain, 1, 20, 512, 0, gd_offset, overhead, 0,
                    b"\n \r\n", 1)
    return h.ljust(SECTOR, b"\0")


def descriptor_text(create_type, extent_lines, parent="ffffffff",
                    extra=""):
    return ("# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\n"
            f"CID=12345678\nparentCID={parent}\n"
            f"createType=\"{create_type}\"\n\n# Extent description\n" +
            "".join(line + "\n" for line in extent_lines) +
            "\n# The Disk Data Base\n#DDB\n\n"
            "ddb.adapterType = \"lsilogic\"\n"
            "ddb.virtualHWVersion = \"14\"\n"
            "ddb.uuid = \"60 00 C2 9a 4b 3c 11 22-33 44 55 66 77 88 99 aa\"\n"
            + extra)


def marker(value, size, type_=None):
    if type_ is None:
        return struct.pack("<QI", value, size)
    return struct.pack("<QII", value, size, type_).ljust(SECTOR, b"\0")


def pad(b):
    return b + b"\0" * (-len(b) % SECTOR)


def write_vmware_stream(path, content, capacity_sectors, eos=True,
                        footer=True, order=None, full_last=False):
    """Writes `content` (bytes of the virtual disk, zero grains omitted) as
    VMware writes streamOptimized: header with the grain directory at the
    end, grains with markers, a grain table after each table's grains, the
    directory, a footer and an end-of-stream marker."""
    gsize = 128 * SECTOR
    ngrains = -(-capacity_sectors // 128)
    ngts = -(-ngrains // 512)
    desc = descriptor_text("streamOptimized", [
        f"RW {capacity_sectors} SPARSE \"{os.path.basename(path)}\""])
    out = bytearray(vmware_header(capacity_sectors, 0xffffffffffffffff))
    out += desc.encode().ljust(20 * SECTOR, b"\0")
    out += b"\0" * (128 * SECTOR - len(out))
    gd = [0] * ngts
    grains = [i for i in range(ngrains)
              if content[i * gsize:(i + 1) * gsize].strip(b"\0")]
    if order:
        grains = order(grains)
    gts = {}
    for i in grains:
        data = content[i * gsize:(i + 1) * gsize]
        if full_last:  # the last grain compressed whole, past the end
            data = data.ljust(gsize, b"\0")
        gts.setdefault(i // 512, [0] * 512)[i % 512] = len(out) // SECTOR
        comp = zlib.compress(data)
        out += pad(marker(i * 128, len(comp)) + comp)
        if i == grains[-1] or grains[grains.index(i) + 1] // 512 != i // 512:
            out += marker(4, 0, 1)
            gd[i // 512] = len(out) // SECTOR
            out += struct.pack("<512I", *gts[i // 512])
    out += marker((ngts * 4 + SECTOR - 1) // SECTOR, 0, 2)
    gd_sector = len(out) // SECTOR
    out += pad(struct.pack(f"<{ngts}I", *gd))
    if footer:
        out += marker(1, 0, 3)
        out += vmware_header(capacity_sectors, gd_sector)
    if eos:
        out += marker(0, 0, 0)
    with open(path, "wb") as f:
        f.write(out)
    return path


def vmware_content(size):
    content = bytearray(size)
    content[0:5000] = b"\x5a" * 5000
    content[GRAIN * 3 + 100:GRAIN * 5] = os.urandom(GRAIN * 2 - 100)
    content[40 * MiB:40 * MiB + 4096] = b"\x77" * 4096
    content[size - 300:] = b"\x12" * 300
    return content


@pytest.mark.parametrize("full_last", [False, True])
def test_vmware_stream_optimized(tmp_path, hoist, full_last):
    size = 40 * MiB + 7 * SECTOR
    src = write_vmware_stream(tmp_path / "vmw.vmdk", vmware_content(size),
                              size // SECTOR, full_last=full_last)
    out = copy_and_compare(hoist, src, tmp_path)
    assert os.path.getsize(out) == size
    info = inspect(hoist, src)
    assert info["variant"] == "streamOptimized"
    assert info["virtual_size"] == size


def test_vmware_stream_optimized_gzip(tmp_path, hoist):
    size = 40 * MiB + 7 * SECTOR
    content = vmware_content(size)
    src = write_vmware_stream(tmp_path / "vmw.vmdk", content, size // SECTOR)
    gz = tmp_path / "vmw.vmdk.gz"
    with open(src, "rb") as f, gzip.open(gz, "wb") as g:
        shutil.copyfileobj(f, g)
    out = tmp_path / "out.raw"
    hoist("copy", "--no-progress", gz, out)
    with open(out, "rb") as f:
        assert f.read() == bytes(content)


def test_vmware_stream_without_end_marker_is_truncated(tmp_path, hoist):
    size = 8 * MiB
    content = vmware_content(size)
    src = write_vmware_stream(tmp_path / "vmw.vmdk", content, size // SECTOR,
                              eos=False, footer=False)
    # Cut right after the last grain: a clean sector boundary.
    with open(src, "r+b") as f:
        data = f.read()
        f.truncate(data.rindex(marker(4, 0, 1)))
    assert_fails(hoist, src, tmp_path, "vmw.vmdk", "truncated",
                 "end-of-stream")


def test_stream_grains_out_of_order(tmp_path, hoist):
    size = 4 * MiB
    content = bytearray(size)
    content[0:GRAIN] = b"\x01" * GRAIN
    content[MiB:MiB + GRAIN] = b"\x02" * GRAIN
    src = write_vmware_stream(tmp_path / "vmw.vmdk", content, size // SECTOR,
                              order=lambda g: list(reversed(g)))
    assert_fails(hoist, src, tmp_path, "vmw.vmdk", "order")


# ---- gzip-compressed images are streams ----

def gzip_file(src, dst):
    with open(src, "rb") as f, gzip.open(dst, "wb", compresslevel=1) as g:
        shutil.copyfileobj(f, g)
    return dst


def test_gzip_stream_optimized(tmp_path, hoist):
    raw = scattered_raw(tmp_path / "in.raw", 22 * MiB + 5 * SECTOR)
    src = to_vmdk(raw, tmp_path / "disk.vmdk", "streamOptimized")
    ref = reference_raw(src, tmp_path / "ref.raw", "vmdk")
    gz = gzip_file(src, tmp_path / "disk.vmdk.gz")
    out = tmp_path / "out.raw"
    hoist("copy", "--no-progress", gz, out)
    assert_same_content(ref, out)
    info = inspect(hoist, gz)
    assert info["variant"] == "streamOptimized"


@pytest.mark.parametrize("fmt", ["qcow2", "raw", "monolithicSparse"])
def test_gzip_of_random_access_formats_is_refused(tmp_path, hoist, fmt):
    raw = make_raw(tmp_path / "in.raw", 2 * MiB, writes=[(0, 4096, 0x11)])
    if fmt == "qcow2":
        src = tmp_path / "disk.qcow2"
        qemu_img("convert", "-f", "raw", "-O", "qcow2", raw, src)
    elif fmt == "raw":
        src = raw
    else:
        src = to_vmdk(raw, tmp_path / "disk.vmdk", fmt)
    gz = gzip_file(src, tmp_path / (src.name + ".gz"))
    assert_fails(hoist, gz, tmp_path, gz.name, "random", "stream")


def test_truncated_gzip_stream(tmp_path, hoist):
    raw = make_raw(tmp_path / "in.raw", 4 * MiB, random=[(0, 2 * MiB)])
    src = to_vmdk(raw, tmp_path / "disk.vmdk", "streamOptimized")
    gz = gzip_file(src, tmp_path / "disk.vmdk.gz")
    with open(gz, "r+b") as f:
        f.truncate(os.path.getsize(gz) // 2)
    assert_fails(hoist, gz, tmp_path, "disk.vmdk.gz", "truncated")


# ---- hand-written descriptors ----

def write_descriptor(path, text, crlf=False):
    if crlf:
        text = text.replace("\n", "\r\n")
    with open(path, "w", newline="") as f:
        f.write(text)
    return path


def test_mixed_extents_with_crlf_and_comments(tmp_path, hoist):
    """FLAT extents at an offset and a hosted sparse extent, composed;
    CRLF line endings, comments, blank lines."""
    a = make_raw(tmp_path / "a.bin", 3 * MiB, writes=[(MiB, 4096, 0x31),
                                                      (2 * MiB, MiB, 0x32)])
    part = make_raw(tmp_path / "p.raw", 2 * MiB, writes=[(4096, 8192, 0x33)])
    to_vmdk(part, tmp_path / "sp.vmdk", "twoGbMaxExtentSparse")
    os.unlink(tmp_path / "sp.vmdk")  # keep only its extent sp-s001.vmdk
    text = descriptor_text("twoGbMaxExtentSparse", [
        "# the first megabyte of a.bin is not part of the disk",
        "RW 2048 FLAT \"a.bin\" 2048",
        "  RW 4096 SPARSE \"sp-s001.vmdk\"  ",
        "RW 4096 FLAT \"a.bin\" 0"])
    src = write_descriptor(tmp_path / "disk.vmdk", text, crlf=True)
    out = copy_and_compare(hoist, src, tmp_path)
    with open(a, "rb") as f:
        abin = f.read()
    with open(part, "rb") as f:
        pbin = f.read()
    with open(out, "rb") as f:
        assert f.read() == abin[MiB:2 * MiB] + pbin + abin[:2 * MiB]
    info = inspect(hoist, src)
    assert info["variant"] == "twoGbMaxExtentSparse"
    assert info["virtual_size"] == 5 * MiB


def test_read_only_extent(tmp_path, hoist):
    """RDONLY extents are part of the disk (qemu-img skips them)."""
    make_raw(tmp_path / "a.bin", MiB, writes=[(0, MiB, 0x61)])
    make_raw(tmp_path / "b.bin", MiB, writes=[(0, MiB, 0x62)])
    text = descriptor_text("monolithicFlat", ["RDONLY 2048 FLAT \"a.bin\" 0",
                                              "RW 2048 FLAT \"b.bin\" 0"])
    src = write_descriptor(tmp_path / "disk.vmdk", text)
    out = tmp_path / "out.raw"
    hoist("copy", "--no-progress", src, out)
    with open(out, "rb") as f:
        assert f.read() == b"\x61" * MiB + b"\x62" * MiB


def test_zero_extents(tmp_path, hoist):
    """ZERO extents (which qemu-img skips) read as zeros in place."""
    flat = make_raw(tmp_path / "f.bin", MiB, writes=[(0, MiB, 0x41)])
    text = descriptor_text("monolithicFlat", [
        "RW 1024 ZERO", "RW 2048 FLAT \"f.bin\" 0", "RW 4096 ZERO"])
    src = write_descriptor(tmp_path / "disk.vmdk", text)
    out = tmp_path / "out.raw"
    hoist("copy", "--no-progress", src, out)
    with open(out, "rb") as f:
        data = f.read()
    assert data == b"\0" * (512 * 1024) + b"\x41" * MiB + b"\0" * (2 * MiB)
    runs = [(r["offset"], r["length"], r["zero"])
            for r in inspect(hoist, src)["map"]]
    assert runs == [(0, 512 * 1024, True), (512 * 1024, MiB, False),
                    (512 * 1024 + MiB, 2 * MiB, True)]
    assert allocated_bytes(out) <= MiB + 64 * 1024


def test_vmfs_flat_descriptor(tmp_path, hoist):
    """ESXi's "vmfs" create type: a VMFS extent without an offset."""
    flat = make_raw(tmp_path / "d-flat.vmdk", 3 * MiB,
                    writes=[(MiB, 4096, 0x51)])
    text = descriptor_text("vmfs", ["RW 6144 VMFS \"d-flat.vmdk\""])
    src = write_descriptor(tmp_path / "d.vmdk", text)
    out = copy_and_compare(hoist, src, tmp_path)
    with open(out, "rb") as f, open(flat, "rb") as g:
        assert f.read() == g.read()


# ---- damaged and unsupported disks ----

def read_header(path):
    with open(path, "rb") as f:
        h = f.read(SECTOR)
    return {
        "capacity": struct.unpack_from("<Q", h, 12)[0],
        "grain": struct.unpack_from("<Q", h, 20)[0],
        "gd": struct.unpack_from("<Q", h, 56)[0],
        "rgd": struct.unpack_from("<Q", h, 48)[0],
        "overhead": struct.unpack_from("<Q", h, 64)[0],
    }


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def small_sparse(tmp_path, subformat="monolithicSparse", size=40 * MiB):
    """Data in the first grains, incompressible grains, and data in a
    second grain table when the disk has one."""
    second = 33 * MiB if size > 34 * MiB else size - MiB
    raw = make_raw(tmp_path / "in.raw", size, writes=[
        (0, 3 * GRAIN, 0x11), (second, GRAIN, 0x22)],
        random=[(size // 8, 2 * GRAIN)])
    src = to_vmdk(raw, tmp_path / "bad.vmdk", subformat)
    os.unlink(raw)
    return src


def gt_offset(src, index=0):
    h = read_header(src)
    with open(src, "rb") as f:
        f.seek(h["gd"] * SECTOR + 4 * index)
        return struct.unpack("<I", f.read(4))[0] * SECTOR


@pytest.mark.parametrize("cut", [100, 700, "gd", "gt", "grain"])
def test_truncated_sparse(tmp_path, hoist, cut):
    src = small_sparse(tmp_path)
    h = read_header(src)
    at = {"gd": h["gd"] * SECTOR + 2, "gt": gt_offset(src) + 1000,
          "grain": os.path.getsize(src) - 5000}.get(cut, cut)
    with open(src, "r+b") as f:
        f.truncate(at)
    words = ["past the end"] if cut == "grain" else ["truncated"]
    assert_fails(hoist, src, tmp_path, "bad.vmdk", *words)


@pytest.mark.parametrize("cut", [100, 5000, "gt", "grain", "boundary"])
def test_truncated_stream(tmp_path, hoist, cut):
    src = small_sparse(tmp_path, "streamOptimized")
    h = read_header(src)
    with open(src, "rb") as f:
        data = f.read()
    # The grain markers, in order.
    pos, grains = h["overhead"] * SECTOR, []
    while pos + 12 <= len(data):
        lba, size = struct.unpack_from("<QI", data, pos)
        if size == 0:
            break
        grains.append(pos)
        pos += (12 + size + SECTOR - 1) // SECTOR * SECTOR
    at = {"gt": gt_offset(src) + 1000, "grain": grains[-1] + 700,
          "boundary": grains[-1]}.get(cut, cut)
    with open(src, "r+b") as f:
        f.truncate(at)
    assert_fails(hoist, src, tmp_path, "bad.vmdk", "truncated")


def test_gd_entry_past_end_of_file(tmp_path, hoist):
    src = small_sparse(tmp_path)
    patch(src, read_header(src)["gd"] * SECTOR + 4,
          struct.pack("<I", 0x7fffff00))
    assert_fails(hoist, src, tmp_path, "bad.vmdk", "grain directory",
                 "past the end")


def test_gd_entry_pointing_into_metadata(tmp_path, hoist):
    src = small_sparse(tmp_path)
    patch(src, read_header(src)["gd"] * SECTOR, struct.pack("<I", 0))
    patch(src, read_header(src)["gd"] * SECTOR + 4, struct.pack("<I", 0))
    # Entry 0 unallocated is fine: the data there reads as zeros...
    p = hoist("copy", "--no-progress", src, tmp_path / "ok.raw", check=False)
    assert p.returncode == 0
    # ...but a table inside the descriptor is refused.
    h = read_header(src)
    with open(src, "r+b") as f:
        f.seek(h["gd"] * SECTOR)
        f.write(struct.pack("<I", 1))
    # Sector 1 is the descriptor.
    assert_fails(hoist, src, tmp_path, "bad.vmdk", "grain directory",
                 "descriptor")


def test_grain_table_loop(tmp_path, hoist):
    """A directory entry pointing at the directory itself."""
    src = small_sparse(tmp_path)
    h = read_header(src)
    patch(src, h["gd"] * SECTOR + 4, struct.pack("<I", h["gd"]))
    assert_fails(hoist, src, tmp_path, "bad.vmdk", "grain directory")


def test_grain_tables_overlap(tmp_path, hoist):
    src = small_sparse(tmp_path)
    h = read_header(src)
    patch(src, h["gd"] * SECTOR + 4,
          struct.pack("<I", gt_offset(src) // SECTOR))
    assert_fails(hoist, src, tmp_path, "bad.vmdk", "overlap")


def test_gt_entry_past_end_of_file(tmp_path, hoist):
    src = small_sparse(tmp_path)
    patch(src, gt_offset(src) + 4, struct.pack("<I", 0x10000000))
    assert_fails(hoist, src, tmp_path, "bad.vmdk", "grain table",
                 "past the end")


def test_gt_entry_pointing_into_metadata(tmp_path, hoist):
    src = small_sparse(tmp_path)
    patch(src, gt_offset(src) + 8, struct.pack("<I", 1))
    assert_fails(hoist, src, tmp_path, "bad.vmdk", "grain table",
                 "metadata")


HEADER_DAMAGE = [
    ("capacity", 12, struct.pack("<Q", 1 << 60), ["capacity"]),
    ("grain", 20, struct.pack("<Q", 3), ["grain size"]),
    ("grain", 20, struct.pack("<Q", 0), ["grain size"]),
    ("grain", 20, struct.pack("<Q", 1 << 20), ["grain size"]),
    ("gtes", 44, struct.pack("<I", 100000), ["grain table"]),
    ("version", 4, struct.pack("<I", 7), ["version 7"]),
    ("newline", 73, b"\n \n\n", ["text mode"]),
    ("gd", 56, struct.pack("<Q", 1 << 40), ["grain directory"]),
]


@pytest.mark.parametrize("subformat,field,offset,value,words", [
    (sub, *damage) for sub in ("monolithicSparse", "streamOptimized")
    for damage in HEADER_DAMAGE
    # The stream reader does not use the grain directory.
    if not (sub == "streamOptimized" and damage[0] == "gd")])
def test_absurd_header_fields(tmp_path, hoist, subformat, field, offset,
                              value, words):
    src = small_sparse(tmp_path, subformat, size=4 * MiB)
    patch(src, offset, value)
    assert_fails(hoist, src, tmp_path, "bad.vmdk", *words)
    assert_fails(hoist, src, tmp_path, "bad.vmdk", *words, cmd="inspect")


def test_garbled_compressed_grain(tmp_path, hoist):
    src = small_sparse(tmp_path, "streamOptimized", size=4 * MiB)
    h = read_header(src)
    first = h["overhead"] * SECTOR
    with open(src, "rb") as f:
        f.seek(first)
        lba, size = struct.unpack("<QI", f.read(12))
    patch(src, first + 12 + size // 2, b"\xde\xad\xbe\xef" * 4)
    msg = assert_fails(hoist, src, tmp_path, "bad.vmdk", "corrupt")
    assert hex(first) in msg


def test_stream_marker_with_absurd_size(tmp_path, hoist):
    src = small_sparse(tmp_path, "streamOptimized", size=4 * MiB)
    first = read_header(src)["overhead"] * SECTOR
    patch(src, first + 8, struct.pack("<I", 0x7fffffff))
    assert_fails(hoist, src, tmp_path, "bad.vmdk", "compressed bytes")
    patch(src, first, struct.pack("<QII", 1 << 50, 0, 1))
    assert_fails(hoist, src, tmp_path, "bad.vmdk", "sectors")
    patch(src, first, struct.pack("<QII", 0, 0, 9))
    assert_fails(hoist, src, tmp_path, "bad.vmdk", "marker type 9")


def test_stream_grain_beyond_capacity(tmp_path, hoist):
    src = small_sparse(tmp_path, "streamOptimized", size=4 * MiB)
    first = read_header(src)["overhead"] * SECTOR
    patch(src, first, struct.pack("<Q", 4 * MiB // SECTOR))
    assert_fails(hoist, src, tmp_path, "bad.vmdk", "beyond the end")


@pytest.mark.parametrize("create_type", ["custom", "vmfsSparse", "seSparse",
                                         "vmfsRawDeviceMap", "fancyNew"])
def test_unsupported_create_type(tmp_path, hoist, create_type):
    make_raw(tmp_path / "f.bin", MiB)
    text = descriptor_text(create_type, ["RW 2048 FLAT \"f.bin\" 0"])
    src = write_descriptor(tmp_path / "disk.vmdk", text)
    assert_fails(hoist, src, tmp_path, "disk.vmdk", create_type)


@pytest.mark.parametrize("line,words", [
    ("RW 2048 VMFSSPARSE \"f.bin\"", ["VMFSSPARSE"]),
    ("RW 2048 SESPARSE \"f.bin\"", ["SESPARSE"]),
    ("NOACCESS 2048 FLAT \"f.bin\" 0", ["NOACCESS"]),
    ("RW 2048 FLAT \"/etc/f.bin\" 0", ["/etc/f.bin"]),
    ("RW 2048 FLAT \"../f.bin\" 0", ["../f.bin", "leaves"]),
    ("RW 2048 FLAT \"sub/../../f.bin\" 0", ["leaves"]),
    ("RW 2048 FLAT \"..\\\\f.bin\" 0", ["leaves"]),
    ("RW 2048 FLAT f.bin 0", ["quoted"]),
    ("RW 2048 WEIRD \"f.bin\"", ["WEIRD"]),
    ("RW 4096 FLAT \"f.bin\" 0", ["truncated"]),
    ("RW 1024 FLAT \"f.bin\" 1025", ["truncated"]),
    ("RW -5 FLAT \"f.bin\" 0", ["size"]),
    ("RW 99999999999999999999 FLAT \"f.bin\" 0", ["size"]),
    ("this is not a descriptor line", ["line"]),
])
def test_bad_extent_lines(tmp_path, hoist, line, words):
    make_raw(tmp_path / "f.bin", MiB)
    text = descriptor_text("monolithicFlat", [line])
    src = write_descriptor(tmp_path / "disk.vmdk", text)
    assert_fails(hoist, src, tmp_path, "disk.vmdk", *words)


def test_missing_extent_file(tmp_path, hoist):
    raw = make_raw(tmp_path / "in.raw", 3 * MiB, writes=[(0, 4096, 1)])
    src = to_vmdk(raw, tmp_path / "disk.vmdk", "twoGbMaxExtentFlat")
    os.unlink(tmp_path / "disk-f001.vmdk")
    assert_fails(hoist, src, tmp_path, "disk.vmdk", "disk-f001.vmdk")


def test_sparse_extent_size_mismatch(tmp_path, hoist):
    raw = make_raw(tmp_path / "in.raw", 3 * MiB, writes=[(0, 4096, 1)])
    src = to_vmdk(raw, tmp_path / "disk.vmdk", "twoGbMaxExtentSparse")
    text = open(src).read().replace("RW 6144 SPARSE", "RW 4096 SPARSE")
    write_descriptor(src, text)
    assert_fails(hoist, src, tmp_path, "disk.vmdk", "4096", "6144")


def test_cowd_extent(tmp_path, hoist):
    with open(tmp_path / "d-s001.vmdk", "wb") as f:
        f.write(b"COWD" + b"\0" * 2044)
    text = descriptor_text("twoGbMaxExtentSparse",
                           ["RW 2048 SPARSE \"d-s001.vmdk\""])
    src = write_descriptor(tmp_path / "disk.vmdk", text)
    assert_fails(hoist, src, tmp_path, "d-s001.vmdk", "COWD")


def test_delta_disk_with_parent(tmp_path, hoist):
    base = tmp_path / "base.vmdk"
    qemu_img("create", "-f", "vmdk", base, "4M")
    delta = tmp_path / "delta.vmdk"
    qemu_img("create", "-f", "vmdk", "-b", base, "-F", "vmdk", delta)
    msg = assert_fails(hoist, delta, tmp_path, "delta.vmdk", "parent",
                       "standalone")
    assert "snapshot" in msg


def test_descriptor_with_parent(tmp_path, hoist):
    make_raw(tmp_path / "f.bin", MiB)
    text = descriptor_text("monolithicFlat", ["RW 2048 FLAT \"f.bin\" 0"],
                           parent="1a2b3c4d")
    src = write_descriptor(tmp_path / "disk.vmdk", text)
    assert_fails(hoist, src, tmp_path, "disk.vmdk", "parent")


def test_split_extent_opened_alone(tmp_path, hoist):
    """An extent of a split disk whose embedded descriptor says so."""
    src = small_sparse(tmp_path, size=4 * MiB)
    h = read_header(src)
    text = descriptor_text("twoGbMaxExtentSparse",
                           ["RW 8192 SPARSE \"bad.vmdk\""]).encode()
    patch(src, SECTOR, text.ljust(20 * SECTOR, b"\0"))
    assert h["capacity"] == 8192
    assert_fails(hoist, src, tmp_path, "bad.vmdk", "split disk")


@pytest.mark.parametrize("text,words", [
    ("# Disk DescriptorFile\nversion=1\nRW 2048 FLAT \"f.bin\" 0\n",
     ["no createType"]),
    ("# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n",
     ["no extents"]),
    ("# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n"
     "createType=\"vmfs\"\nRW 2048 FLAT \"f.bin\" 0\n", ["twice"]),
    ("# Disk DescriptorFile\ncreateType=\"monolithicFlat\n"
     "RW 2048 FLAT \"f.bin\" 0\n", ["unterminated"]),
    ("# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n"
     "RW 2048 FLAT \"f.bin 0\n", ["unterminated"]),
    ("# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n"
     "parentFileNameHint=\"base.vmdk\"\nRW 2048 FLAT \"f.bin\" 0\n",
     ["parent"]),
])
def test_bad_descriptors(tmp_path, hoist, text, words):
    make_raw(tmp_path / "f.bin", MiB)
    src = write_descriptor(tmp_path / "disk.vmdk", text)
    assert_fails(hoist, src, tmp_path, "disk.vmdk", *words)
