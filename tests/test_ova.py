"""OVA packages: what `hoist inspect ova:X` reports for real exports
(VMware, VirtualBox, plain DMTF OVF 1.x/2.0), `hoist copy ova:X#member`,
manifests, and how bad packages are refused."""
import gzip
import io
import json
import os
import tarfile

import pytest
from diskutil import GiB, MiB, assert_same_content, reference_raw, \
    sha256_file
from ovagen import VM, Disk, Nic, fixture, make_disk, make_ovf, write_ova, \
    write_unpacked



def inspect(hoist, target, *opts):
    p = hoist("inspect", "--json", *opts, f"ova:{target}")
    return json.loads(p.stdout)


def fails(p, *words):
    """Exit status 1 and one line of error naming what is wrong."""
    assert p.returncode == 1, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    for w in words:
        assert w in p.stderr, f"{w!r} not in {p.stderr!r}"
    return p.stderr


def concerns(vm, level=None):
    return {c["category"] for c in vm["concerns"]
            if level is None or c["level"] == level}


def by_id(items, key, value):
    [x] = [i for i in items if i[key] == value]
    return x


@pytest.fixture
def simple_ova(tmp_path):
    """A VMware-style OVA with two raw disks and two NICs."""
    d1 = make_disk(tmp_path / "d1.img", 4 * MiB,
                   [(0, 65536, 0x11), (3 * MiB, 4096, 0x12)])
    d2 = make_disk(tmp_path / "d2.img", 2 * MiB, [(MiB, 8192, 0x21)])
    vm = VM("simple", cpus=2, memory_mib=512,
            disks=[Disk("disk1.img", 4 * MiB),
                   Disk("disk2.img", 2, units="byte * 2^20",
                        controller="sata")],
            nics=[Nic("VM Network", "00:50:56:00:00:01"),
                  Nic("Storage", "00:50:56:00:00:02", "E1000e")])

    def build(name="simple.ova", ovf=None, **kw):
        out = tmp_path / name
        write_ova(out, ovf or make_ovf(vm), {"disk1.img": d1,
                                            "disk2.img": d2}, **kw)
        return out
    build.disks = (d1, d2)
    build.vm = vm
    return build


# ---- dialects ----

def test_vmware_export(tmp_path, hoist):
    d1 = make_disk(tmp_path / "d1.vmdk", 16 * MiB, [(0, 65536, 0x11)],
                   fmt="vmdk")
    d2 = make_disk(tmp_path / "d2.vmdk", GiB, [(GiB - 4096, 4096, 0x22)],
                   fmt="vmdk")
    ova = tmp_path / "web01.ova"
    write_ova(ova, fixture("vmware-web01.ovf"),
              {"web01-disk1.vmdk": d1, "web01-disk2.vmdk": d2},
              ovf_name="web01.ovf", manifest="SHA256")
    info = inspect(hoist, ova)
    assert info["manifest"] == "web01.mf"
    [vm] = info["vms"]
    assert vm["name"] == "web01"
    assert vm["description"].startswith("Front-end web server")
    assert vm["os_type"] == "rhel8_64Guest"
    assert vm["firmware"] == "efi" and vm["secure_boot"] is True
    assert vm["cpu"] == {"count": 4, "sockets": 2, "cores_per_socket": 2,
                         "threads_per_core": 1}
    assert vm["memory"] == 4 * GiB
    assert vm["uuid"] == "421e8a2b-4d9c-3e1f-a1b2-c3d4e5f60718"
    disk1 = by_id(vm["disks"], "id", "vmdisk1")
    assert disk1["member"] == "web01-disk1.vmdk"
    assert (disk1["capacity"], disk1["bus"], disk1["controller"]) == \
        (16 * MiB, "scsi", "pvscsi")
    assert disk1["format"] == "vmdk" and disk1["compressed"] is False
    assert disk1["boot_order"] == 1
    disk2 = by_id(vm["disks"], "id", "vmdisk2")
    assert (disk2["capacity"], disk2["bus"], disk2["boot_order"]) == \
        (GiB, "sata", 0)
    nic1 = by_id(vm["nics"], "network", "VM Network")
    assert (nic1["mac"], nic1["source_model"], nic1["model"]) == \
        ("00:50:56:aa:bb:01", "VmxNet3", "virtio")
    nic2 = by_id(vm["nics"], "network", "Backup Net")
    assert (nic2["mac"], nic2["model"]) == (None, "e1000")
    assert {"nic-model", "nic-no-mac", "usb"} <= concerns(vm, "warning")
    assert "cdrom" in concerns(vm, "info")
    # A CD-ROM backed by a remote drive is no passthrough device.
    assert not concerns(vm, "critical")
    # --verify checks the disks too.
    info = inspect(hoist, ova, "--verify")
    assert info["verified"] is True
    assert {f["name"] for f in info["files"] if f["listed"]} == \
        {"web01.ovf", "web01-disk1.vmdk", "web01-disk2.vmdk"}
    text = hoist("inspect", f"ova:{ova}").stdout
    assert "4 (2 sockets × 2 cores × 1 thread)" in text
    assert "efi, secure boot" in text


def test_virtualbox_ovf10(tmp_path, hoist):
    disk = make_disk(tmp_path / "d.vmdk", 32 * MiB, [(0, 4096, 0x33)],
                     fmt="vmdk")
    ova = tmp_path / "debian.ova"
    write_ova(ova, fixture("vbox-1.0.ovf"),
              {"Debian 11 Server-disk001.vmdk": disk},
              ovf_name="Debian 11 Server.ovf", manifest="SHA1")
    [vm] = inspect(hoist, ova, "--verify")["vms"]
    assert vm["name"] == "Debian 11 Server"
    assert vm["os_type"] == "Debian_64"
    assert vm["firmware"] == "bios" and vm["secure_boot"] is False
    assert vm["cpu"]["count"] == 2 and vm["memory"] == 2 * GiB
    assert vm["uuid"] == "9f2c4d1e-6a3b-4c8d-b0e1-2f3a4b5c6d7e"
    [d] = vm["disks"]
    assert (d["member"], d["capacity"], d["bus"], d["controller"],
            d["boot_order"]) == ("Debian 11 Server-disk001.vmdk", 32 * MiB,
                                 "sata", "sata", 1)
    # The rasd item has no MAC: it comes from vbox:Machine.
    [nic] = vm["nics"]
    assert (nic["mac"], nic["network"], nic["model"]) == \
        ("08:00:27:a1:b2:c3", "NAT", "e1000")
    assert {"usb", "sound", "cdrom"} <= concerns(vm)
    assert "nic-no-mac" not in concerns(vm)


def test_virtualbox_ovf20(tmp_path, hoist):
    disk = make_disk(tmp_path / "d.vmdk", 64 * MiB, [], fmt="vmdk")
    ova = tmp_path / "ubuntu.ova"
    write_ova(ova, fixture("vbox-2.0.ovf"), {"ubuntu24-disk001.vmdk": disk},
              ovf_name="ubuntu24.ovf", manifest="SHA256")
    [vm] = inspect(hoist, ova)["vms"]
    assert vm["name"] == "ubuntu24" and vm["os_type"] == "Ubuntu24_LTS_64"
    assert vm["firmware"] == "efi"
    assert vm["cpu"]["count"] == 4 and vm["memory"] == 8 * GiB
    [d] = vm["disks"]
    assert (d["capacity"], d["bus"]) == (64 * MiB, "sata")
    assert [(n["network"], n["mac"], n["source_model"], n["model"])
            for n in vm["nics"]] == [
        ("NAT", "08:00:27:0a:0b:01", "virtio", "virtio"),
        ("HostOnly", "08:00:27:0a:0b:02", "PCNet32", "virtio")]
    [c] = [c for c in vm["concerns"] if c["category"] == "nic-model"]
    assert "PCNet32" in c["message"] and c["level"] == "warning"


def test_dmtf_ovf1_copy_is_byte_identical(tmp_path, hoist):
    a = make_disk(tmp_path / "a.img", 4 * MiB,
                  [(0, 4096, 0x41), (2 * MiB + 512, 70000, 0x42)])
    b = make_disk(tmp_path / "b.img", 2 * MiB, [(MiB, 4096, 0x43)])
    ova = tmp_path / "appliance.ova"
    write_ova(ova, fixture("dmtf-1.0.ovf"),
              {"dmtf1-disk1.img": a, "dmtf1-disk2.img": b},
              ovf_name="appliance.ovf")
    info = inspect(hoist, ova)
    assert info["manifest"] is None
    [vm] = info["vms"]
    assert (vm["name"], vm["id"]) == ("appliance", "appliance-1")
    assert vm["description"] == "Built by a generic OVF 1.1 tool"
    assert vm["firmware"] == "unknown"
    assert vm["cpu"]["count"] == 2 and vm["memory"] == 1536 * MiB
    system = by_id(vm["disks"], "id", "system")
    data = by_id(vm["disks"], "id", "data")
    assert (system["capacity"], system["bus"], system["controller"],
            system["format"], system["boot_order"]) == \
        (4 * MiB, "scsi", "lsilogic", "raw", 1)
    # KubeVirt has no IDE: the disk becomes SATA, and the user is told.
    assert (data["capacity"], data["bus"], data["controller"]) == \
        (2 * MiB, "sata", "ide")
    assert "ide-disk" in concerns(vm, "info")
    assert [(n["mac"], n["model"]) for n in vm["nics"]] == [
        ("52:54:00:12:34:56", "e1000"), ("52:54:00:12:34:57", "virtio")]
    for member, src in (("dmtf1-disk1.img", a), ("dmtf1-disk2.img", b)):
        out = tmp_path / (member + ".out")
        p = hoist("copy", "--checksum", "sha256", f"ova:{ova}#{member}", out)
        assert_same_content(src, out)
        assert p.stdout.split()[0] == sha256_file(src)


def test_dmtf_ovf2(tmp_path, hoist):
    os_img = make_disk(tmp_path / "os.img", 6 * MiB, [(5 * MiB, 4096, 0x51)])
    ova = tmp_path / "dmtf2.ova"
    write_ova(ova, fixture("dmtf-2.0.ovf"), {"dmtf2-os.img": os_img},
              ovf_name="dmtf2.ovf", manifest="SHA512")
    info = inspect(hoist, ova, "--verify")
    [vm] = info["vms"]
    # The default deployment option ("large") applies.
    assert vm["cpu"]["count"] == 8 and vm["memory"] == 16 * GiB
    os_disk = by_id(vm["disks"], "id", "os")
    assert (os_disk["member"], os_disk["capacity"], os_disk["populated"],
            os_disk["bus"], os_disk["controller"], os_disk["boot_order"]) == \
        ("dmtf2-os.img", 6 * MiB, MiB, "scsi", "virtio-scsi", 1)
    # A disk without a file is created empty, with its capacity.
    scratch = by_id(vm["disks"], "id", "scratch")
    assert (scratch["member"], scratch["capacity"]) == (None, 2 * GiB)
    assert "empty-disk" in concerns(vm, "info")
    [nic] = vm["nics"]
    assert (nic["mac"], nic["network"], nic["model"]) == \
        ("52:54:00:ab:cd:ef", "frontend", "virtio")
    out = tmp_path / "os.raw"
    hoist("copy", f"ova:{ova}#dmtf2-os.img", out)
    assert_same_content(os_img, out)


def test_virtual_system_collection(tmp_path, hoist):
    e = make_disk(tmp_path / "e.vmdk", 32 * MiB, [], fmt="vmdk")
    f = make_disk(tmp_path / "f.vmdk", 16 * MiB, [], fmt="vmdk")
    ova = tmp_path / "shop.ova"
    write_ova(ova, fixture("collection.ovf"),
              {"shop-db01-disk1.vmdk": e, "shop-app01-disk1.vmdk": f},
              ovf_name="shop.ovf")
    vms = inspect(hoist, ova)["vms"]
    assert [(v["name"], v["firmware"], v["cpu"]["count"], v["memory"])
            for v in vms] == [("db01", "bios", 2, 8 * GiB),
                              ("app01", "efi", 1, 2 * GiB)]
    assert [(v["disks"][0]["member"], v["disks"][0]["controller"])
            for v in vms] == [("shop-db01-disk1.vmdk", "lsilogicsas"),
                              ("shop-app01-disk1.vmdk", "pvscsi")]
    assert [v["nics"][0]["model"] for v in vms] == ["virtio", "e1000e"]
    text = hoist("inspect", f"ova:{ova}").stdout
    assert "machines:      2" in text and "VM 2: app01" in text


def test_generated_collection_and_shared_disk(tmp_path, hoist):
    d = make_disk(tmp_path / "d.img", MiB, [(0, 4096, 0x61)])
    a = VM("a", disks=[Disk("d.img", MiB, disk_id="shared")])
    b = VM("b", disks=[])
    ovf = make_ovf([a, b])
    # b attaches the same disk as a.
    ovf = ovf.replace(
        "</VirtualHardwareSection>\n  </VirtualSystem>\n"
        "  </VirtualSystemCollection>",
        """  <Item>
        <rasd:HostResource>ovf:/disk/shared</rasd:HostResource>
        <rasd:InstanceID>90</rasd:InstanceID>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
    </VirtualHardwareSection>
  </VirtualSystem>
  </VirtualSystemCollection>""")
    ova = tmp_path / "c.ova"
    write_ova(ova, ovf, {"d.img": d})
    vms = inspect(hoist, ova)["vms"]
    assert [v["name"] for v in vms] == ["a", "b"]
    for v in vms:
        assert v["disks"][0]["shareable"] is True
        assert "shared-disk" in concerns(v, "warning")
    # The disk of b names no controller.
    assert "unknown-controller" in concerns(vms[1])
    assert vms[1]["disks"][0]["bus"] == "virtio"


# ---- copying members ----

def test_copy_raw_members(simple_ova, tmp_path, hoist):
    ova = simple_ova()
    for member, src in zip(("disk1.img", "disk2.img"), simple_ova.disks):
        out = tmp_path / (member + ".raw")
        hoist("copy", "-w", "2", f"ova:{ova}#{member}", out)
        assert_same_content(src, out)
    [vm] = inspect(hoist, ova)["vms"]
    assert [(d["capacity"], d["bus"]) for d in vm["disks"]] == \
        [(4 * MiB, "scsi"), (2 * MiB, "sata")]
    assert [(n["mac"], n["model"]) for n in vm["nics"]] == \
        [("00:50:56:00:00:01", "virtio"), ("00:50:56:00:00:02", "e1000e")]


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_long_member_names(tmp_path, hoist, fmt):
    """Names over 100 bytes: pax `path` records and GNU 'L' headers."""
    name = "a-very-long-disk-name-" + "x" * 120 + ".img"
    src = make_disk(tmp_path / "d.img", MiB, [(4096, 4096, 0x71)])
    ova = tmp_path / "long.ova"
    write_ova(ova, make_ovf(VM("long", disks=[Disk(name, MiB)])),
              {name: src}, tar_format=fmt)
    [vm] = inspect(hoist, ova)["vms"]
    assert vm["disks"][0]["member"] == name
    out = tmp_path / "out.raw"
    hoist("copy", f"ova:{ova}#{name}", out)
    assert_same_content(src, out)


def test_unpacked_export(simple_ova, tmp_path, hoist):
    d1, d2 = simple_ova.disks
    folder = tmp_path / "export"
    ovf_path = write_unpacked(folder, make_ovf(simple_ova.vm),
                              {"disk1.img": d1, "disk2.img": d2},
                              manifest="SHA256")
    for target in (folder, ovf_path):
        info = inspect(hoist, target, "--verify")
        assert info["manifest"] == "vm.mf"
        assert [d["member"] for d in info["vms"][0]["disks"]] == \
            ["disk1.img", "disk2.img"]
    out = tmp_path / "out.raw"
    hoist("copy", f"ova:{ovf_path}#disk2.img", out)
    assert_same_content(d2, out)
    # A directory with two descriptors is ambiguous.
    (folder / "other.ovf").write_text("<x/>")
    fails(hoist("inspect", f"ova:{folder}", check=False), "two .ovf")


def test_copy_stream_optimized_member(tmp_path, hoist):
    vmdk = make_disk(tmp_path / "d.vmdk", 8 * MiB,
                     [(0, 65536, 0x11), (5 * MiB, 4096, 0x12)], fmt="vmdk")
    ova = tmp_path / "v.ova"
    write_ova(ova, make_ovf(VM("v", disks=[Disk("d.vmdk", 8 * MiB,
                                                fmt="vmdk")])),
              {"d.vmdk": vmdk})
    out = tmp_path / "out.raw"
    hoist("copy", f"ova:{ova}#d.vmdk", out)
    assert_same_content(reference_raw(vmdk, tmp_path / "ref.raw"), out)


def test_copy_gzip_stream_optimized_member(tmp_path, hoist):
    vmdk = make_disk(tmp_path / "d.vmdk", 8 * MiB, [(MiB, 65536, 0x13)],
                     fmt="vmdk")
    ova = tmp_path / "gz.ova"
    write_ova(ova, make_ovf(VM("gz", disks=[Disk("d.vmdk", 8 * MiB,
                                                 fmt="vmdk", gzip=True)])),
              {"d.vmdk": vmdk}, gzip_members={"d.vmdk"})
    out = tmp_path / "out.raw"
    hoist("copy", f"ova:{ova}#d.vmdk", out)
    assert_same_content(reference_raw(vmdk, tmp_path / "ref.raw"), out)


def test_gzip_member_of_random_access_format_is_refused(tmp_path, hoist):
    src = make_disk(tmp_path / "d.img", MiB, [(0, 4096, 0x14)])
    ova = tmp_path / "gz.ova"
    write_ova(ova, make_ovf(VM("gz", disks=[Disk("d.img", MiB,
                                                 gzip=True)])),
              {"d.img": src}, gzip_members={"d.img"}, manifest="SHA256")
    [vm] = inspect(hoist, ova, "--verify")["vms"]
    assert vm["disks"][0]["compressed"] is True
    assert vm["disks"][0]["compression"] == "gzip"
    out = tmp_path / "out.raw"
    fails(hoist("copy", f"ova:{ova}#d.img", out, check=False),
          "gz.ova", "d.img", "gzip", "random offsets")
    assert not out.exists()


def test_declared_format_must_match_content(tmp_path, hoist):
    src = make_disk(tmp_path / "d.img", MiB, [(0, 4096, 0x15)])
    ova = tmp_path / "lie.ova"
    write_ova(ova, make_ovf(VM("lie", disks=[Disk("d.vmdk", MiB,
                                                  fmt="vmdk")])),
              {"d.vmdk": src})
    out = tmp_path / "out.raw"
    fails(hoist("copy", f"ova:{ova}#d.vmdk", out, check=False),
          "d.vmdk", "vmdk", "raw")
    assert not out.exists()


def test_copy_of_a_member_that_is_no_disk(simple_ova, tmp_path, hoist):
    ova = simple_ova()
    out = tmp_path / "out.raw"
    fails(hoist("copy", f"ova:{ova}#vm.ovf", out, check=False),
          "simple.ova", "vm.ovf", "not a disk", "disk1.img")
    assert not out.exists()


# ---- manifests ----

@pytest.mark.parametrize("algo", ["SHA1", "SHA256"])
@pytest.mark.parametrize("space", [True, False])
def test_manifest_verifies(simple_ova, hoist, algo, space):
    edit = None if space else (lambda t: t.replace(")= ", ")="))
    ova = simple_ova(manifest=algo, manifest_edit=edit)
    info = inspect(hoist, ova, "--verify")
    assert info["manifest"] == "vm.mf" and info["verified"] is True
    assert all(f["listed"] for f in info["files"] if f["name"] != "vm.mf")


def _corrupt_digest(member):
    def edit(text):
        out = []
        for line in text.splitlines():
            if f"({member})" in line:
                digest = line.split("=")[-1].strip()
                bad = ("0" if digest[0] != "0" else "1") + digest[1:]
                line = line.replace(digest, bad)
            out.append(line)
        return "\n".join(out) + "\n"
    return edit


def test_ovf_digest_mismatch_fails_at_open(simple_ova, tmp_path, hoist):
    ova = simple_ova(manifest="SHA256", manifest_edit=_corrupt_digest("vm.ovf"))
    fails(hoist("inspect", f"ova:{ova}", check=False),
          "simple.ova", "vm.ovf does not match its SHA256 digest", "expected")
    out = tmp_path / "out.raw"
    fails(hoist("copy", f"ova:{ova}#disk1.img", out, check=False), "vm.ovf")
    assert not out.exists()


def test_disk_digest_mismatch_fails_verify(simple_ova, hoist):
    ova = simple_ova(manifest="SHA1", manifest_edit=_corrupt_digest("disk2.img"))
    inspect(hoist, ova)  # the OVF itself is fine
    err = fails(hoist("inspect", "--verify", f"ova:{ova}", check=False),
                "simple.ova", "disk2.img does not match its SHA1 digest",
                "expected", "got")
    assert "disk1.img" not in err


def test_manifest_naming_a_missing_file(simple_ova, hoist):
    def edit(text):
        return text + "SHA256(ghost.vmdk)= " + "ab" * 32 + "\n"
    ova = simple_ova(manifest="SHA256", manifest_edit=edit)
    fails(hoist("inspect", f"ova:{ova}", check=False),
          "vm.mf line 4", "ghost.vmdk", "does not hold")


def test_malformed_manifest(simple_ova, hoist):
    ova = simple_ova(manifest="SHA256",
                     manifest_edit=lambda t: t + "MD5(disk1.img)= abcd\n")
    fails(hoist("inspect", f"ova:{ova}", check=False), "vm.mf line 4", "MD5")


def test_verify_without_manifest(simple_ova, hoist):
    ova = simple_ova()
    fails(hoist("inspect", "--verify", f"ova:{ova}", check=False),
          "simple.ova", "no manifest")


def test_certificate_is_noted(simple_ova, hoist):
    ova = simple_ova(manifest="SHA256",
                     extra_members=[("vm.cert", b"-----BEGIN CERT...\n")])
    [vm] = inspect(hoist, ova)["vms"]
    [c] = [c for c in vm["concerns"] if c["category"] == "certificate"]
    assert c["level"] == "info" and "vm.cert" in c["message"]


# ---- bad archives ----

def _member_offsets(path):
    with tarfile.open(path) as t:
        return {m.name: (m.offset, m.offset_data, m.size)
                for m in t.getmembers()}


def test_truncated_tar_header(simple_ova, tmp_path, hoist):
    ova = simple_ova()
    hdr, _, _ = _member_offsets(ova)["disk1.img"]
    with open(ova, "r+b") as f:
        f.truncate(hdr + 300)
    fails(hoist("inspect", f"ova:{ova}", check=False),
          "simple.ova", "truncated", f"offset {hdr}")


def test_member_running_past_eof(simple_ova, tmp_path, hoist):
    ova = simple_ova()
    _, data, size = _member_offsets(ova)["disk2.img"]
    with open(ova, "r+b") as f:
        f.truncate(data + size // 2)
    fails(hoist("inspect", f"ova:{ova}", check=False),
          "simple.ova", "truncated", "disk2.img", "needs")
    out = tmp_path / "out.raw"
    fails(hoist("copy", f"ova:{ova}#disk1.img", out, check=False),
          "disk2.img")
    assert not out.exists()


def test_corrupt_header_checksum(simple_ova, hoist):
    ova = simple_ova()
    hdr, _, _ = _member_offsets(ova)["disk1.img"]
    with open(ova, "r+b") as f:
        f.seek(hdr + 3)
        f.write(b"Z")
    fails(hoist("inspect", f"ova:{ova}", check=False),
          "simple.ova", "corrupt tar header", f"offset {hdr}", "checksum")


@pytest.mark.parametrize("kind", ["random", "gzip", "zip", "empty"])
def test_not_a_tar(tmp_path, hoist, simple_ova, kind):
    bad = tmp_path / "bad.ova"
    if kind == "random":
        bad.write_bytes(os.urandom(4096))
        word = "not a tar archive"
    elif kind == "gzip":
        bad.write_bytes(gzip.compress(simple_ova().read_bytes()))
        word = "gzip"
    elif kind == "zip":
        bad.write_bytes(b"PK\3\4" + bytes(2000))
        word = "zip"
    else:
        bad.write_bytes(b"")
        word = "empty"
    fails(hoist("inspect", f"ova:{bad}", check=False), "bad.ova", word)


def test_archive_without_ovf(tmp_path, hoist):
    ova = tmp_path / "none.ova"
    with tarfile.open(ova, "w") as t:
        t.add(make_disk(tmp_path / "d.img", 4096), arcname="d.img")
    fails(hoist("inspect", f"ova:{ova}", check=False), "none.ova", "no .ovf")


def test_duplicate_member(simple_ova, hoist, tmp_path):
    ova = simple_ova(extra_members=[("disk1.img", b"\0" * 512)])
    fails(hoist("inspect", f"ova:{ova}", check=False),
          "simple.ova", "disk1.img", "twice")


# ---- bad descriptors ----

def _ova_with(tmp_path, ovf, files=None):
    ova = tmp_path / "bad.ova"
    write_ova(ova, ovf, files or {})
    return ova


def test_malformed_xml(tmp_path, hoist):
    ovf = make_ovf(VM("x"))
    ovf = ovf.replace("</VirtualHardwareSection>", "</VirtualHardware>")
    err = fails(hoist("inspect", f"ova:{_ova_with(tmp_path, ovf)}",
                      check=False),
                "bad.ova: vm.ovf line", "malformed XML")
    assert "VirtualHardware" in err


def test_doctype_is_refused(tmp_path, hoist):
    ovf = make_ovf(VM("x")).replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?>\n<!DOCTYPE Envelope [\n'
        '  <!ENTITY leak SYSTEM "file:///etc/passwd">\n]>')
    ovf = ovf.replace("<Name>x</Name>", "<Name>&leak;</Name>")
    fails(hoist("inspect", f"ova:{_ova_with(tmp_path, ovf)}", check=False),
          "vm.ovf line 2", "DOCTYPE")


def test_not_an_ovf_envelope(tmp_path, hoist):
    ovf = make_ovf(VM("x")).replace("schemas.dmtf.org/ovf/envelope/1",
                                    "example.com/ovf")
    fails(hoist("inspect", f"ova:{_ova_with(tmp_path, ovf)}", check=False),
          "vm.ovf", "namespace")


@pytest.mark.parametrize("units", ["byte * 2^", "furlongs", "byte * 2^99",
                                   "byte * 0"])
def test_unknown_capacity_units(tmp_path, hoist, units):
    src = make_disk(tmp_path / "d.img", MiB)
    ovf = make_ovf(VM("x", disks=[Disk("d.img", 1, units=units)]))
    fails(hoist("inspect", f"ova:{_ova_with(tmp_path, ovf, {'d.img': src})}",
                check=False),
          "bad.ova: vm.ovf line", "vmdisk1", "capacity units")


def test_capacity_units_are_applied(tmp_path, hoist):
    ovf = make_ovf(VM("x", disks=[
        Disk(None, 3, units="byte * 2^30"),
        Disk(None, 5, units="MegaBytes", controller="sata"),
        Disk(None, 7, units="byte*1024", controller="ide")]))
    [vm] = inspect(hoist, _ova_with(tmp_path, ovf))["vms"]
    assert [d["capacity"] for d in vm["disks"]] == [3 * GiB, 5 * MiB,
                                                    7 * 1024]


@pytest.mark.parametrize("case", ["memory", "cpus", "capacity"])
def test_absurd_values(tmp_path, hoist, case):
    vm = VM("x", disks=[Disk(None, 1, units="byte * 2^30")])
    word = {"memory": "memory size", "cpus": "CPU count",
            "capacity": "capacity"}[case]
    if case == "memory":
        vm.memory_mib = 1 << 40
    elif case == "cpus":
        vm.cpus = 1000000
    else:
        vm.disks[0].capacity = 1 << 40
    fails(hoist("inspect", f"ova:{_ova_with(tmp_path, make_ovf(vm))}",
                check=False), "bad.ova: vm.ovf line", word)


def test_reference_to_undeclared_file(tmp_path, hoist):
    ovf = make_ovf(VM("x", disks=[Disk("d.img", MiB)]))
    ovf = ovf.replace('ovf:fileRef="file1"', 'ovf:fileRef="file9"')
    fails(hoist("inspect", f"ova:{_ova_with(tmp_path, ovf)}", check=False),
          "bad.ova: vm.ovf line", "disk vmdisk1 refers to file file9",
          "References")


def test_file_missing_from_archive(tmp_path, hoist):
    ovf = make_ovf(VM("x", disks=[Disk("d.img", MiB)]))
    fails(hoist("inspect", f"ova:{_ova_with(tmp_path, ovf)}", check=False),
          "bad.ova: vm.ovf line", "file1 (d.img)", "not in the archive")


def test_reference_to_undeclared_disk(tmp_path, hoist):
    src = make_disk(tmp_path / "d.img", MiB)
    ovf = make_ovf(VM("x", disks=[Disk("d.img", MiB)]))
    ovf = ovf.replace("ovf:/disk/vmdisk1", "ovf:/disk/vmdisk7")
    fails(hoist("inspect", f"ova:{_ova_with(tmp_path, ovf, {'d.img': src})}",
                check=False),
          "bad.ova: vm.ovf line", "vmdisk7", "DiskSection")


def test_file_outside_the_package(tmp_path, hoist):
    ovf = make_ovf(VM("x", disks=[Disk("../etc/d.img", MiB)]))
    fails(hoist("inspect", f"ova:{_ova_with(tmp_path, ovf)}", check=False),
          "bad.ova: vm.ovf line", "outside the package")


def test_chunked_file_is_refused(tmp_path, hoist):
    ovf = make_ovf(VM("x", disks=[Disk("d.img", MiB)]))
    ovf = ovf.replace('ovf:id="file1"', 'ovf:id="file1" ovf:chunkSize="1024"')
    fails(hoist("inspect", f"ova:{_ova_with(tmp_path, ovf)}", check=False),
          "bad.ova: vm.ovf line", "chunkSize")


def test_no_virtual_system(tmp_path, hoist):
    ovf = make_ovf(VM("x"))
    start = ovf.index("  <VirtualSystem ")
    ovf = ovf[:start] + "</Envelope>\n"
    fails(hoist("inspect", f"ova:{_ova_with(tmp_path, ovf)}", check=False),
          "vm.ovf", "no VirtualSystem")


# ---- concerns and mapping details ----

def test_devices_that_raise_concerns(tmp_path, hoist):
    extra = """      <Item>
        <rasd:ElementName>PCI device 0</rasd:ElementName>
        <rasd:InstanceID>80</rasd:InstanceID>
        <rasd:ResourceSubType>vmware.pcipassthrough.dvx</rasd:ResourceSubType>
        <rasd:ResourceType>1</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:ElementName>Floppy drive 1</rasd:ElementName>
        <rasd:InstanceID>81</rasd:InstanceID>
        <rasd:ResourceType>14</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:ElementName>Sound card</rasd:ElementName>
        <rasd:InstanceID>82</rasd:InstanceID>
        <rasd:ResourceSubType>vmware.soundcard.hdaudio</rasd:ResourceSubType>
        <rasd:ResourceType>1</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:ElementName>Serial port 1</rasd:ElementName>
        <rasd:InstanceID>83</rasd:InstanceID>
        <rasd:ResourceType>21</rasd:ResourceType>
      </Item>"""
    vm = VM("dev", disks=[Disk(None, MiB, controller=(7, "fc")),
                          Disk(None, MiB, controller="nvme")],
            nics=[Nic("n", None, "VmxNet3"), Nic("n", "01:00:5e:00:00:01",
                                                 "E1000")],
            extra_items=extra)
    [v] = inspect(hoist, _ova_with(tmp_path, make_ovf(vm)))["vms"]
    assert "passthrough-device" in concerns(v, "critical")
    assert {"floppy", "unknown-controller", "nvme-disk", "nic-no-mac",
            "nic-bad-mac"} <= concerns(v, "warning")
    assert {"sound", "serial-port"} <= concerns(v, "info")
    assert [d["bus"] for d in v["disks"]] == ["virtio", "virtio"]
    assert [n["mac"] for n in v["nics"]] == [None, None]


def test_pci_passthrough_in_extra_config(tmp_path, hoist):
    vm = VM("gpu", extra_config={"pciPassthru0.present": "TRUE"})
    [v] = inspect(hoist, _ova_with(tmp_path, make_ovf(vm)))["vms"]
    assert "passthrough-device" in concerns(v, "critical")


def test_boot_order_and_serial(tmp_path, hoist):
    vm = VM("boot", firmware="bios",
            disks=[Disk(None, MiB), Disk(None, MiB)], boot_disk=1,
            extra_config={"scsi0:1.serialNumber": "SN-0042"})
    [v] = inspect(hoist, _ova_with(tmp_path, make_ovf(vm)))["vms"]
    assert [d["boot_order"] for d in v["disks"]] == [0, 1]
    assert [d["serial"] for d in v["disks"]] == [None, "SN-0042"]
    assert v["firmware"] == "bios" and v["secure_boot"] is False


def test_first_disk_on_first_controller_boots(tmp_path, hoist):
    vm = VM("boot", disks=[Disk(None, MiB, controller="sata", unit=1),
                           Disk(None, MiB, controller="lsilogic", unit=3),
                           Disk(None, MiB, controller="sata", unit=0)])
    [v] = inspect(hoist, _ova_with(tmp_path, make_ovf(vm)))["vms"]
    assert [d["boot_order"] for d in v["disks"]] == [0, 0, 1]


def test_cpu_topology_that_does_not_divide(tmp_path, hoist):
    vm = VM("cpu", cpus=6, cores_per_socket=4)
    [v] = inspect(hoist, _ova_with(tmp_path, make_ovf(vm)))["vms"]
    assert v["cpu"] == {"count": 6, "sockets": 6, "cores_per_socket": 1,
                        "threads_per_core": 1}
    assert "cpu-topology" in concerns(v, "warning")


def test_inspect_help(hoist):
    out = hoist("inspect", "--help").stdout
    assert "ova:PATH" in out and "--verify" in out
    p = hoist("inspect", "--verify", "disk.img", check=False)
    assert p.returncode == 2


def test_duplicate_macs_and_size_mismatch(tmp_path, hoist):
    src = make_disk(tmp_path / "d.img", MiB)
    a = VM("a", disks=[Disk("d.img", MiB)],
           nics=[Nic("n", "00:50:56:00:00:09")])
    b = VM("b", nics=[Nic("n", "00:50:56:00:00:09", "E1000")])
    ova = tmp_path / "dup.ova"
    # ovf:size="0" is left as it is: the OVF lies about the file's size.
    write_ova(ova, make_ovf([a, b]), {"d.img": src}, fix_sizes=False)
    vms = inspect(hoist, ova)["vms"]
    for v in vms:
        assert "duplicate-mac" in concerns(v, "warning")
    assert "file-size" in concerns(vms[0], "warning")


def test_package_in_a_folder_of_the_archive(simple_ova, tmp_path, hoist):
    """tar cf x.ova folder/: the OVF's names are relative to its folder."""
    flat = simple_ova(manifest="SHA256")
    ova = tmp_path / "folder.ova"
    with tarfile.open(flat) as src, tarfile.open(ova, "w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()
            m.name = "export/" + m.name
            dst.addfile(m, io.BytesIO(data))
    info = inspect(hoist, ova, "--verify")
    assert (info["ovf"], info["manifest"]) == ("vm.ovf", "vm.mf")
    out = tmp_path / "out.raw"
    hoist("copy", f"ova:{ova}#disk2.img", out)
    assert_same_content(simple_ova.disks[1], out)
