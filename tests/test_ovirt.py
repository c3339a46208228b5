"""hoist and oVirt: `hoist inventory` and `hoist migrate --source ovirt://`.

The engine is a FAKE (tests/peers/ovirt_engine.py: oVirt's engine cannot
be installed here) that speaks the engine's REST API and SSO; the data
path is REAL: each image transfer is a ticket on the real ovirt-imageio
daemon, served by its file backend or by qemu-nbd (format raw), and
qemu-img is the reference the copied disks must match byte for byte.

Every hoist run goes through run(), which checks that the password never
appears in anything hoist prints.
"""
import json
import os
import copy
import re
import shutil
import signal
import subprocess
import time

import pytest
import yaml
from diskutil import MiB, assert_same_content, qemu_img, qemu_io, \
    reference_raw
from kubevirt_schema import KubevirtSchema, parse_quantity

from peers.ovirt_engine import *  # noqa: F401,F403
from peers.ovirt_engine import PASSWORD, USER, ref


@pytest.fixture(scope="session")
def schema(shared_dir):
    return KubevirtSchema.from_shared(shared_dir)


@pytest.fixture
def pwfile(tmp_path):
    f = tmp_path / "engine.password"
    f.write_text(PASSWORD + "\n")
    return f


def check_output(p):
    """What every hoist run must hold to."""
    for text in (p.stdout, p.stderr):
        assert PASSWORD not in text
        assert PASSWORD[:8] not in text
        assert "AddressSanitizer" not in text
        assert "runtime error" not in text
    return p


@pytest.fixture
def run(hoist_bin):
    def go(*args, check=True, env=None):
        cmd = [str(hoist_bin)] + [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        check_output(p)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):"
                                 f"\n{p.stderr}")
        return p
    return go


def creds(engine, pwfile):
    return ["--engine", engine.url, "--user", USER, "--password-file",
            pwfile, "--cacert", engine.pki["ca"]]


def migrate_args(engine, pwfile, out, *vms):
    args = ["migrate", "--no-progress", "--source",
            "ovirt://" + engine.host_port, "--target", f"dir:{out}",
            "--user", USER, "--password-file", pwfile, "--cacert",
            engine.pki["ca"]]
    for v in vms:
        args += ["--vm", v]
    return args


def one_line_error(p):
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    return lines[0]


def make_raw(path, size, writes):
    with open(path, "wb") as f:
        f.truncate(size)
    for off, length, pattern in writes:
        qemu_io(path, "raw", f"write -P {pattern} {off} {length}")
    return path


def make_qcow2(path, size, writes):
    qemu_img("create", "-f", "qcow2", path, str(size))
    for off, length, pattern in writes:
        qemu_io(path, "qcow2", f"write -P {pattern} {off} {length}")
    return path


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def vm_spec(doc):
    return doc["spec"]["template"]["spec"]


# ---- the sample environment ----

WEB_ID = "4c8f6a52-0d1e-4f3a-9b7c-2e5d8a1f6b30"


def web_engine(engine, tmp_path, **vm_fields):
    """The engine of the end-to-end test: a VM with a qcow2 system disk
    (served as raw through qemu-nbd) and a raw data disk (file backend),
    two NICs on two networks, UEFI with secure boot, a custom serial, a
    time zone."""
    mgmt = engine.add_network("ovirtmgmt", description="Management")
    lan = engine.add_network("storage-lan", vlan=20)
    sysd = make_qcow2(tmp_path / "system.qcow2", 64 * MiB, [
        (0, 64 * 1024, "0x11"), (5 * MiB, 1 * MiB, "0x22"),
        (63 * MiB, 4096, "0x33")])
    datad = make_raw(tmp_path / "data.raw", 24 * MiB + 512, [
        (MiB, 8192, "0x44"), (20 * MiB, 3 * MiB, "0x55")])
    d1 = engine.add_disk(sysd, "qcow2", alias="web01_system")
    d2 = engine.add_disk(datad, "raw", alias="web01_data")
    fields = dict(
        id=WEB_ID, description="the web server",
        memory=4 * 2**30,
        cpu={"architecture": "x86_64",
             "topology": {"sockets": 2, "cores": 2, "threads": 1}},
        bios={"type": "q35_secure_boot", "boot_menu": {"enabled": False}},
        serial_number={"policy": "custom", "value": "WEB-SERIAL-0001"},
        time_zone={"name": "Europe/Paris", "utc_offset": "+01:00"},
        os={"type": "rhel_9x64"},
        memory_policy={"guaranteed": 4 * 2**30, "ballooning": False})
    fields.update(vm_fields)
    vm = engine.add_vm("web01", disks=[d1, d2],
                       interfaces=["virtio_scsi", "virtio"],
                       nics=[(mgmt, "56:6f:1a:00:00:01", "virtio"),
                             (lan, "56:6f:1a:00:00:02", "e1000")],
                       **fields)
    return {"vm": vm, "disks": [d1, d2], "images": [sysd, datad],
            "formats": ["qcow2", "raw"]}


NETMAP = "ovirtmgmt=pod\nstorage-lan=multus:infra/storage-lan\n"


# ---- inventory ----

def test_inventory_vms_table(tmp_path, run, ovirt_engine, pwfile):
    web_engine(ovirt_engine, tmp_path)
    p = run("inventory", "vms", *creds(ovirt_engine, pwfile))
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["NAME", "POWER", "CPU", "MEMORY", "FIRMWARE",
                                "DISKS", "NICS", "CONCERNS"]
    row = lines[1].split()
    assert row[:4] == ["web01", "off", "4", "4.0"]
    assert "efi+sb" in row and "88.0" in lines[1]
    # The concerns under it, one a line.
    assert re.search(r"warning +UEFI secure boot stays on.*\[secure-boot\]",
                     p.stdout)
    assert p.stderr == ""


def test_inventory_vms_json(tmp_path, run, ovirt_engine, pwfile):
    web = web_engine(ovirt_engine, tmp_path)
    p = run("inventory", "vms", "--json", *creds(ovirt_engine, pwfile))
    [vm] = json.loads(p.stdout)
    assert vm["name"] == "web01" and vm["id"] == WEB_ID
    assert vm["uuid"] == WEB_ID
    assert vm["power"] == "off"
    assert vm["firmware"] == "efi" and vm["secure_boot"] is True
    assert vm["cpu"] == {"sockets": 2, "cores": 2, "threads": 1}
    assert vm["memory"] == 4 * 2**30
    assert vm["serial"] == "WEB-SERIAL-0001"
    assert vm["timezone"] == "Europe/Paris"
    assert vm["os_type"] == "rhel_9x64"
    d0, d1 = vm["disks"]
    assert (d0["id"], d0["name"], d0["format"], d0["bus"], d0["interface"],
            d0["bootable"], d0["capacity"], d0["storage"]) == (
        web["disks"][0]["id"], "web01_system", "qcow2", "scsi",
        "virtio_scsi", True, 64 * MiB, "data1")
    assert (d1["format"], d1["bus"], d1["bootable"], d1["capacity"]) == (
        "raw", "virtio", False, 24 * MiB + 512)
    assert [(n["name"], n["mac"], n["network"], n["interface"], n["model"])
            for n in vm["nics"]] == [
        ("nic1", "56:6f:1a:00:00:01", "ovirtmgmt", "virtio", "virtio"),
        ("nic2", "56:6f:1a:00:00:02", "storage-lan", "e1000", "e1000")]
    assert [c["category"] for c in vm["concerns"]] == ["secure-boot"]


def test_inventory_networks_storage_hosts(run, ovirt_engine, pwfile):
    ovirt_engine.add_network("ovirtmgmt", description="Management")
    ovirt_engine.add_network("storage-lan", vlan=20)
    ovirt_engine.add_network("migration", vm=False)
    ovirt_engine.add_storage_domain("iscsi-fast", storage_type="iscsi",
                                    available=2**40, used=2**39)
    ovirt_engine.add_host("host2", address="10.0.0.2", status="maintenance")
    c = creds(ovirt_engine, pwfile)

    p = run("inventory", "networks", *c)
    rows = {line.split()[0]: line.split() for line in p.stdout.splitlines()}
    assert rows["NAME"][:3] == ["NAME", "VLAN", "VM"]
    assert rows["ovirtmgmt"][1:3] == ["-", "yes"]
    assert rows["storage-lan"][1:3] == ["20", "yes"]
    assert rows["migration"][2] == "no"
    nets = json.loads(run("inventory", "networks", "--json", *c).stdout)
    by = {n["name"]: n for n in nets}
    assert by["storage-lan"]["vlan"] == 20 and by["storage-lan"]["vm_network"]
    assert "vlan" not in by["ovirtmgmt"]
    assert by["ovirtmgmt"]["description"] == "Management"

    p = run("inventory", "storage", *c)
    assert re.search(r"iscsi-fast +data +iscsi +1\.0 TiB +512\.0 GiB",
                     p.stdout)
    sds = json.loads(run("inventory", "storage", "--json", *c).stdout)
    [sd] = [s for s in sds if s["name"] == "iscsi-fast"]
    assert (sd["type"], sd["storage_type"], sd["available"], sd["used"]) == (
        "data", "iscsi", 2**40, 2**39)

    p = run("inventory", "hosts", *c)
    assert re.search(r"host2 +10\.0\.0\.2 +maintenance +Default", p.stdout)
    hosts = json.loads(run("inventory", "hosts", "--json", *c).stdout)
    assert sorted(h["name"] for h in hosts) == ["host1", "host2"]
    assert {h["cluster"] for h in hosts} == {"Default"}
    # Each run logged in once and out once.
    assert len(ovirt_engine.logins) == 6 and ovirt_engine.logouts == 6
    # The API was asked for JSON, version 4.
    for method, path, headers in ovirt_engine.headers:
        if path.startswith("/ovirt-engine/api/"):
            assert headers.get("Accept") == "application/json"
            assert headers.get("Version") == "4"


# ---- concerns: every kind the engine can express ----

def concerns_of(run, engine, pwfile, **vm):
    """The VM (built by the caller on engine) as `inventory vms --json`
    shows it."""
    p = run("inventory", "vms", "--json", *creds(engine, pwfile))
    [out] = [v for v in json.loads(p.stdout) if v["name"] == vm["name"]]
    return out, {(c["level"], c["category"]) for c in out["concerns"]}


def one_disk_vm(engine, tmp_path, disk_kw=None, att_iface="virtio",
                nic=None, **fields):
    img = make_raw(tmp_path / "d.raw", MiB, [(0, 4096, "0x01")])
    d = engine.add_disk(img, "raw", alias="d0", **(disk_kw or {}))
    nics = []
    if nic is not None:
        net = engine.add_network("net", **nic.pop("profile", {}))
        nics = [dict({"network": net, "mac": "56:6f:00:00:00:09"}, **nic)]
    return engine.add_vm("cvm", disks=[d], interfaces=[att_iface], nics=nics,
                         **fields)


CONCERN_CASES = {
    "running": (dict(status="up"), ("critical", "vm-not-down")),
    "illegal images": (dict(has_illegal_images=True),
                       ("critical", "illegal-images")),
    "illegal disk": (dict(disk_kw={"status": "illegal"}),
                     ("critical", "disk-status")),
    "locked disk": (dict(disk_kw={"status": "locked"}),
                    ("critical", "disk-status")),
    "host device": (dict(host_devices=[{
        "name": "pci_0000_3b_00_0", "capability": "pci",
        "product": {"name": "GA102GL [A40]"}}]), ("critical", "host-device")),
    "shared disk": (dict(disk_kw={"shareable": True}),
                    ("warning", "shared-disk")),
    "memory snapshot": (dict(snapshots=[{
        "description": "before upgrade", "snapshot_type": "regular",
        "persist_memorystate": True}]), ("warning", "memory-snapshot")),
    "snapshot": (dict(snapshots=[{
        "description": "plain", "snapshot_type": "regular",
        "persist_memorystate": False}]), ("info", "snapshots")),
    "usb": (dict(usb={"enabled": True, "type": "native"}),
            ("warning", "usb")),
    "watchdog": (dict(watchdogs=[{"model": "i6300esb", "action": "reset"}]),
                 ("warning", "watchdog")),
    "ballooning": (dict(memory_policy={"guaranteed": 2 * 2**30,
                                       "ballooning": True}),
                   ("info", "ballooning")),
    "guaranteed memory": (dict(memory_policy={"guaranteed": 2**30,
                                              "ballooning": False}),
                          ("info", "guaranteed-memory")),
    "numa": (dict(numa_tune_mode="strict", numa_nodes=[
        {"index": 0, "memory": 1024, "cpu": {"cores": {"core": [
            {"index": 0}]}}}]), ("warning", "numa")),
    "vcpu pins": (dict(cpu={"topology": {"sockets": 1, "cores": 2,
                                         "threads": 1},
                            "cpu_tune": {"vcpu_pins": {"vcpu_pin": [
                                {"vcpu": 0, "cpu_set": "2"}]}}}),
                  ("warning", "cpu-pinning")),
    "dedicated cpus": (dict(cpu_pinning_policy="dedicated"),
                       ("warning", "cpu-pinning")),
    "host passthrough cpu": (dict(cpu={"mode": "host_passthrough",
                                       "topology": {"sockets": 1,
                                                    "cores": 1,
                                                    "threads": 1}}),
                             ("warning", "cpu-host-passthrough")),
    "custom cpu model": (dict(custom_cpu_model="Skylake-Server"),
                         ("warning", "custom-cpu-model")),
    "cpu shares": (dict(cpu_shares=512), ("warning", "cpu-shares")),
    "i440fx": (dict(bios={"type": "i440fx_sea_bios"}),
               ("warning", "i440fx")),
    "ide": (dict(att_iface="ide"), ("warning", "ide-disk")),
    "unknown disk interface": (dict(att_iface="spapr_vscsi"),
                               ("warning", "unknown-controller")),
    "rtl8139": (dict(nic={"interface": "rtl8139"}), ("info", "nic-rtl8139")),
    "pci passthrough nic": (dict(nic={"interface": "pci_passthrough",
                                      "profile": {"pass_through": True}}),
                            ("warning", "nic-passthrough")),
    "port mirroring": (dict(nic={"profile": {"port_mirroring": True}}),
                       ("warning", "nic-port-mirroring")),
    "nic qos": (dict(nic={"profile": {"qos": True}}), ("info", "nic-qos")),
    "unplugged nic": (dict(nic={"plugged": False}),
                      ("warning", "nic-unplugged")),
    "boot menu": (dict(bios={"type": "q35_sea_bios",
                             "boot_menu": {"enabled": True}}),
                  ("warning", "boot-menu")),
    "high availability": (dict(high_availability={"enabled": True,
                                                  "priority": 50}),
                          ("warning", "high-availability")),
    "placement": (dict(placement_policy={"affinity": "pinned", "hosts": {
        "host": [{"id": "0000"}]}}), ("warning", "placement-policy")),
    "custom properties": (dict(custom_properties={"custom_property": [
        {"name": "sap_agent", "value": "true"}]}),
        ("warning", "custom-properties")),
    "tpm": (dict(tpm_enabled=True), ("warning", "tpm")),
    "secure boot": (dict(bios={"type": "q35_secure_boot"}),
                    ("warning", "secure-boot")),
    "spice": (dict(display={"type": "spice"}), ("info", "display")),
    "io threads": (dict(io={"threads": 2}), ("info", "io-threads")),
    "storage error resume": (dict(storage_error_resume_behaviour="kill"),
                             ("info", "storage-error-resume")),
    "host serial": (dict(serial_number={"policy": "host"}),
                    ("info", "serial-number")),
    "windows zone": (dict(time_zone={"name": "Tokyo Standard Time",
                                     "utc_offset": "+09:00"}),
                     ("info", "timezone")),
    "unknown zone": (dict(time_zone={"name": "Mars Standard Time",
                                     "utc_offset": "+05:30"}),
                     ("warning", "timezone")),
}


@pytest.mark.parametrize("case", sorted(CONCERN_CASES))
def test_concern(tmp_path, run, ovirt_engine, pwfile, case):
    kw, expected = copy.deepcopy(CONCERN_CASES[case])
    vm = one_disk_vm(ovirt_engine, tmp_path, **kw)
    out, concerns = concerns_of(run, ovirt_engine, pwfile, name=vm["name"])
    assert expected in concerns, out["concerns"]
    for c in out["concerns"]:
        assert c["message"] and "\n" not in c["message"]


def test_concern_details(tmp_path, run, ovirt_engine, pwfile):
    """What the concerns change in the model."""
    c = creds(ovirt_engine, pwfile)
    img = make_raw(tmp_path / "d.raw", MiB, [])
    good = ovirt_engine.add_disk(img, "raw", alias="good")
    lun = ovirt_engine.add_disk(None, "raw", alias="lun0",
                                storage_type="lun",
                                provisioned_size=10 * 2**30)
    cinder = ovirt_engine.add_disk(None, "raw", alias="cin0",
                                   storage_type="cinder",
                                   provisioned_size=2**30)
    mbs = ovirt_engine.add_disk(None, "raw", alias="mbs0",
                                storage_type="managed_block_storage",
                                provisioned_size=2**30)
    ovirt_engine.add_vm("disks", disks=[good, lun, cinder, mbs],
                        interfaces=["ide", "virtio", "virtio", "virtio"])
    ovirt_engine.add_vm("clock", time_zone={"name": "Mars Standard Time",
                                            "utc_offset": "-03:30"},
                        bios={"type": "q35_sea_bios"})
    ovirt_engine.add_vm("winclock",
                        time_zone={"name": "W. Europe Standard Time"})
    ovirt_engine.add_vm("noclock", time_zone={"name": "Venus/Nowhere"})
    efi_cluster = ovirt_engine.add_cluster("efi", bios_type="q35_ovmf")
    ovirt_engine.add_vm("fromcluster", cluster={"id": efi_cluster["id"]})
    ovirt_engine.add_vm("rtl", nics=[(ovirt_engine.add_network("n"),
                                      "56:6F:00:00:00:AA", "rtl8139")])
    vms = {v["name"]: v for v in json.loads(
        run("inventory", "vms", "--json", *c).stdout)}

    # Disks an image transfer cannot read are left out, each critical.
    d = vms["disks"]
    assert [x["name"] for x in d["disks"]] == ["good"]
    assert d["disks"][0]["bus"] == "sata"
    msgs = [x["message"] for x in d["concerns"]
            if x["category"] == "disk-storage-type"]
    assert len(msgs) == 3
    for alias, kind in (("lun0", "lun"), ("cin0", "cinder"),
                        ("mbs0", "managed_block_storage")):
        assert any(alias in m and kind in m for m in msgs), msgs
    assert all(x["level"] == "critical" for x in d["concerns"]
               if x["category"] == "disk-storage-type")

    assert vms["clock"]["timezone"] is None
    assert vms["clock"]["utc_offset"] == -(3 * 3600 + 30 * 60)
    assert vms["clock"]["firmware"] == "bios"
    assert vms["winclock"]["timezone"] == "Europe/Berlin"
    assert vms["noclock"]["timezone"] is None
    assert "utc_offset" not in vms["noclock"]
    assert ("warning", "timezone") in {(x["level"], x["category"])
                                       for x in vms["noclock"]["concerns"]}
    # cluster_default: the cluster's BIOS type.
    assert vms["fromcluster"]["firmware"] == "efi"
    # The serial is the VM id unless a custom one is set.
    assert vms["fromcluster"]["serial"] == vms["fromcluster"]["id"]
    # MACs in lower case; rtl8139 is kept (KubeVirt has it).
    [nic] = vms["rtl"]["nics"]
    assert nic["mac"] == "56:6f:00:00:00:aa" and nic["model"] == "rtl8139"

    # The table shows every VM with its concerns.
    p = run("inventory", "vms", *c)
    assert re.search(r"^disks +off .* 1 \(1\.0 MiB\) +0 +3 critical",
                     p.stdout, re.M), p.stdout
    assert "critical disk \"lun0\" has storage type lun" in p.stdout


def test_engine_that_follows_fewer_links(tmp_path, run, ovirt_engine_factory,
                                         pwfile):
    """An engine that cannot inline host devices, watchdogs, snapshots and
    NUMA nodes (400): they are read from each VM's sub-collections, and the
    concerns are the same."""
    engine = ovirt_engine_factory(follow_limited=True)
    kw, _ = copy.deepcopy(CONCERN_CASES["host device"])
    kw["watchdogs"] = [{"model": "i6300esb", "action": "reset"}]
    kw["numa_nodes"] = [{"index": 0, "memory": 1024}]
    kw["snapshots"] = [{"description": "m", "snapshot_type": "regular",
                        "persist_memorystate": True}]
    vm = one_disk_vm(engine, tmp_path, **kw)
    out, concerns = concerns_of(run, engine, pwfile, name=vm["name"])
    assert {("critical", "host-device"), ("warning", "watchdog"),
            ("warning", "numa"), ("warning", "memory-snapshot"),
            ("info", "snapshots")} <= concerns, out["concerns"]
    assert len(out["disks"]) == 1
    assert [c[1].split("?")[0] for c in engine.calls
            if "/vms/" + vm["id"] + "/" in c[1]] == [
        "/ovirt-engine/api/vms/%s/%s" % (vm["id"], rel)
        for rel in ("hostdevices", "watchdogs", "snapshots", "numanodes")]


# ---- credentials, TLS, provider files ----

def test_wrong_password(tmp_path, run, ovirt_engine):
    bad = tmp_path / "bad.password"
    bad.write_text(PASSWORD[::-1] + "\n")
    p = run("inventory", "vms", "--engine", ovirt_engine.url, "--user", USER,
            "--password-file", bad, "--cacert", ovirt_engine.pki["ca"],
            check=False)
    line = one_line_error(p)
    assert line.startswith(f"hoist: oVirt engine {ovirt_engine.url}: login "
                           f"failed for user {USER}")
    assert line.endswith("check the user and password")
    assert PASSWORD[::-1] not in line
    assert p.stdout == ""
    assert ovirt_engine.logins == [(USER, False)]
    # Nothing but the login was tried.
    assert [c[1] for c in ovirt_engine.calls] == [
        "/ovirt-engine/sso/oauth/token"]


def test_rejected_credentials_and_migrate_leaves_nothing(tmp_path, run,
                                                         ovirt_engine_factory,
                                                         pwfile):
    engine = ovirt_engine_factory(reject_credentials=True)
    web_engine(engine, tmp_path)
    out = tmp_path / "out"
    p = run(*migrate_args(engine, pwfile, out, "web01"), check=False)
    line = one_line_error(p)
    assert "login failed for user admin@internal" in line
    assert "Cannot authenticate user" in line
    assert not out.exists()
    assert not engine.transfers


def test_password_from_environment_and_provider_files(tmp_path, run,
                                                      ovirt_engine, pwfile):
    web_engine(ovirt_engine, tmp_path)
    env = dict(os.environ, HOIST_OVIRT_PASSWORD=PASSWORD)
    p = run("inventory", "hosts", "--engine", ovirt_engine.url, "--user",
            USER, "--cacert", ovirt_engine.pki["ca"], env=env)
    assert "host1" in p.stdout

    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "pw").write_text(PASSWORD + "\n")
    shutil.copy(ovirt_engine.pki["ca"], conf / "ca.pem")
    (conf / "engine.yaml").write_text(
        f"# the lab engine\nurl: {ovirt_engine.url}/ovirt-engine/api\n"
        f"user: {USER}\npasswordFile: pw\ncacert: ca.pem\n"
        f"insecureSkipVerify: false\n")
    (conf / "engine.conf").write_text(
        f"url={ovirt_engine.url}\nuser = {USER}\npassword={PASSWORD}\n"
        f"cacert=ca.pem\n")
    for f in ("engine.yaml", "engine.conf"):
        p = run("inventory", "vms", "--provider", conf / f)
        assert "web01" in p.stdout
    # Options override the file.
    p = run("inventory", "vms", "--provider", conf / "engine.conf",
            "--user", "nobody@internal", check=False)
    assert "login failed for user nobody@internal" in one_line_error(p)

    # A typo is named, with its line; the password never shows.
    (conf / "typo.yaml").write_text(
        f"url: {ovirt_engine.url}\nuser: {USER}\npasword: {PASSWORD}\n")
    p = run("inventory", "vms", "--provider", conf / "typo.yaml",
            check=False)
    line = one_line_error(p)
    assert f"{conf / 'typo.yaml'}:3: unknown key \"pasword\"" in line
    (conf / "bool.conf").write_text(
        f"url={ovirt_engine.url}\ninsecureSkipVerify=maybe\n")
    p = run("inventory", "vms", "--provider", conf / "bool.conf",
            check=False)
    assert "bool.conf:2: insecureSkipVerify takes true or false" in \
        one_line_error(p)


def test_tls_verification(tmp_path, run, ovirt_engine, pwfile):
    web_engine(ovirt_engine, tmp_path)
    base = ["inventory", "vms", "--engine", ovirt_engine.url, "--user", USER,
            "--password-file", pwfile]
    for extra in ([], ["--cacert", ovirt_engine.pki["other_ca"]]):
        p = run(*base, *extra, check=False)
        line = one_line_error(p)
        assert "TLS certificate verification failed" in line
        assert "--cacert" in line and "--insecure" in line
    assert not ovirt_engine.logins
    # --insecure works, and says so once.
    p = run(*base, "--insecure")
    assert "web01" in p.stdout
    assert p.stderr.count("TLS certificate verification is off") == 1


def test_migrate_insecure_by_provider_file(tmp_path, run, ovirt_engine,
                                           pwfile):
    web_engine(ovirt_engine, tmp_path)
    prov = tmp_path / "p.yaml"
    prov.write_text(f"url: {ovirt_engine.url}\nuser: {USER}\n"
                    f"passwordFile: {pwfile}\ninsecureSkipVerify: true\n")
    out = tmp_path / "out"
    nm = tmp_path / "nm"
    nm.write_text(NETMAP)
    p = run("migrate", "--no-progress", "--source", "ovirt://", "--vm",
            "web01", "--target", f"dir:{out}", "--provider", prov,
            "--network-map", nm)
    assert p.stderr.count("TLS certificate verification is off") == 1
    assert (out / "web01" / "web01-disk-1.raw").exists()
    ovirt_engine.assert_nothing_left()


# ---- migrate ----

def test_migrate_end_to_end(tmp_path, run, ovirt_engine, pwfile, schema):
    web = web_engine(ovirt_engine, tmp_path)
    nm = tmp_path / "networks.map"
    nm.write_text(NETMAP)
    out = tmp_path / "out"
    p = run(*migrate_args(ovirt_engine, pwfile, out, "web01"),
            "--network-map", nm, "--namespace", "prod", "--workers", "3")

    vmdir = out / "web01"
    assert sorted(os.listdir(out)) == ["web01"]
    assert sorted(os.listdir(vmdir)) == [
        "kustomization.yaml", "pvcs.yaml", "virtualmachine.yaml",
        "web01-disk-0.raw", "web01-disk-1.raw"]
    # The disks, byte for byte as qemu-img reads the sources.
    for i, (img, fmt) in enumerate(zip(web["images"], web["formats"])):
        ref = reference_raw(img, tmp_path / f"ref{i}.raw", fmt)
        assert_same_content(ref, vmdir / f"web01-disk-{i}.raw")

    [vm] = load(vmdir / "virtualmachine.yaml")
    schema.check_vm(vm)
    md = vm["metadata"]
    assert md["name"] == "web01" and md["namespace"] == "prod"
    assert md["labels"]["hoist.io/source-kind"] == "ovirt"
    assert md["annotations"]["hoist.io/source-vm-id"] == WEB_ID
    assert md["annotations"]["hoist.io/source-ref"] == ovirt_engine.url
    assert md["annotations"]["hoist.io/description"] == "the web server"
    dom = vm_spec(vm)["domain"]
    assert dom["cpu"] == {"sockets": 2, "cores": 2, "threads": 1}
    assert parse_quantity(dom["memory"]["guest"]) == 4 * 2**30
    assert dom["firmware"]["bootloader"] == {"efi": {"secureBoot": True}}
    assert dom["features"]["smm"] == {"enabled": True}
    assert dom["firmware"]["uuid"] == WEB_ID
    assert dom["firmware"]["serial"] == "WEB-SERIAL-0001"
    assert dom["clock"] == {"timezone": "Europe/Paris"}
    assert dom["machine"]["type"] == "q35"
    disks = dom["devices"]["disks"]
    assert [d["disk"]["bus"] for d in disks] == ["scsi", "virtio"]
    assert disks[0]["bootOrder"] == 1 and "bootOrder" not in disks[1]
    assert [d["serial"] for d in disks] == [
        x["id"][:20] for x in web["disks"]]
    ifaces = dom["devices"]["interfaces"]
    assert [(i["model"], i["macAddress"]) for i in ifaces] == [
        ("virtio", "56:6f:1a:00:00:01"), ("e1000", "56:6f:1a:00:00:02")]
    nets = {n["name"]: n for n in vm_spec(vm)["networks"]}
    assert "masquerade" in ifaces[0] and "pod" in nets[ifaces[0]["name"]]
    assert nets[ifaces[1]["name"]]["multus"] == {
        "networkName": "infra/storage-lan"}

    pvcs = load(vmdir / "pvcs.yaml")
    for pvc, disk in zip(pvcs, web["disks"]):
        schema.check_pvc(pvc)
        assert pvc["metadata"]["annotations"]["hoist.io/source-disk-id"] == \
            disk["id"]
        req = parse_quantity(pvc["spec"]["resources"]["requests"]["storage"])
        assert req * (1 - 0.055) >= int(disk["provisioned_size"])

    # Every transfer was finalized; nothing is left on the engine or the
    # daemon; the session was closed.
    assert len(ovirt_engine.transfers) == 2
    for t in ovirt_engine.transfers.values():
        assert t.finalized and not t.cancelled
        assert t.phases[-1] == "finished_success"
    # The two disks were transferred at the same time, not one after the
    # other.
    ts = list(ovirt_engine.transfers.values())
    assert max(t.created for t in ts) < min(t.ended for t in ts)
    ovirt_engine.assert_nothing_left()
    assert ovirt_engine.logouts == 1
    assert "kubectl apply -k " + str(vmdir) in p.stdout
    assert "secure-boot" in p.stderr


STORAGEMAP_YAML = """\
apiVersion: forklift.konveyor.io/v1beta1
kind: StorageMap
metadata:
  name: ovirt-storage
spec:
  provider:
    source: {name: engine}
    destination: {name: host}
  map:
    - source:
        name: FAST
      destination:
        storageClass: fast-ssd
        volumeMode: Block
        accessMode: ReadWriteMany
    - source:
        id: 00000000-0000-0000-0000-000000000000
      destination:
        storageClass: unused
"""


def test_migrate_storage_map(tmp_path, run, ovirt_engine, pwfile, schema):
    """A Forklift StorageMap sends the disks of a storage domain to its
    class and modes; a disk on a domain the map lacks is a warning and
    takes --storage-class."""
    slow = ovirt_engine.add_storage_domain("slow-nfs")
    web = web_engine(ovirt_engine, tmp_path)
    # The second disk moves to the domain the map does not name.
    ovirt_engine.disks[web["disks"][1]["id"]]["storage_domains"] = {
        "storage_domain": [ref("storagedomains", slow["id"])]}
    fast = next(sd["name"] for sd in ovirt_engine.storage.values()
                if sd["id"] != slow["id"])
    sm = tmp_path / "storage.yaml"
    sm.write_text(STORAGEMAP_YAML.replace("FAST", fast))
    nm = tmp_path / "networks.map"
    nm.write_text(NETMAP)
    out = tmp_path / "out"
    p = run(*migrate_args(ovirt_engine, pwfile, out, "web01"),
            "--network-map", nm, "--storage-map", sm,
            "--storage-class", "standard")
    assert re.search(r'warning: disk-1 is on storage "slow-nfs", which is '
                     r'not in the storage map; its PVC gets storage class '
                     r'standard', p.stderr), p.stderr
    pvcs = load(out / "web01" / "pvcs.yaml")
    for pvc in pvcs:
        schema.check_pvc(pvc)
    mapped, unmapped = (pvc["spec"] for pvc in pvcs)
    assert mapped["storageClassName"] == "fast-ssd"
    assert mapped["volumeMode"] == "Block"
    assert mapped["accessModes"] == ["ReadWriteMany"]
    # Block: the disk's exact size (rounded to a MiB), no filesystem
    # overhead.
    size = int(web["disks"][0]["provisioned_size"])
    assert parse_quantity(mapped["resources"]["requests"]["storage"]) == \
        -(-size // 2**20) * 2**20
    assert unmapped["storageClassName"] == "standard"
    assert unmapped["volumeMode"] == "Filesystem"
    assert unmapped["accessModes"] == ["ReadWriteOnce"]
    ovirt_engine.assert_nothing_left()


@pytest.mark.parametrize("text, message", [
    ("data1=Fast_SSD\n", r"storage\.map:1: \"Fast_SSD\" is not a valid "
     r"storage class name"),
    ("data1=fast,Block,RWZ\n", r"storage\.map:1: unknown mode \"RWZ\""),
    ("data1=a\n\ndata1=b\n", r"storage\.map:3: storage \"data1\" is "
     r"already mapped on line 1"),
    ("data1\n", r"storage\.map:1: expected SOURCE-STORAGE=STORAGE-CLASS"),
    ("kind: StorageMap\nspec:\n  map:\n  - source: {name: x}\n"
     "    destination: {storageClass: a, volumeMode: Blok}\n",
     r"storage\.map:5: volumeMode \"Blok\" is not one of Filesystem, "
     r"Block"),
    ("kind: NetworkMap\nspec: {}\n", r"storage\.map: no StorageMap in the "
     r"file"),
])
def test_migrate_bad_storage_map(tmp_path, run, ovirt_engine, pwfile, text,
                                 message):
    """A storage map that cannot be read stops before anything is
    transferred, with one line naming the file and line."""
    web_engine(ovirt_engine, tmp_path)
    sm = tmp_path / "storage.map"
    sm.write_text(text)
    out = tmp_path / "out"
    p = run(*migrate_args(ovirt_engine, pwfile, out, "web01"),
            "--storage-map", sm, check=False)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1, p.stderr
    assert re.search(message, p.stderr), p.stderr
    assert not out.exists()
    assert not ovirt_engine.transfers


def test_migrate_by_id_through_the_proxy(tmp_path, run, ovirt_engine_factory,
                                         pwfile):
    """The host daemon cannot be reached (transfer_url on a closed port):
    the engine's proxy_url serves the transfer."""
    engine = ovirt_engine_factory(host_unreachable=True)
    web = web_engine(engine, tmp_path)
    out = tmp_path / "out"
    nm = tmp_path / "nm"
    nm.write_text(NETMAP)
    p = run(*migrate_args(engine, pwfile, out, WEB_ID), "--network-map", nm,
            "--progress")
    # Progress lines tell where the data came from.
    assert p.stderr.count("reading from https://127.0.0.1:%d (the engine's "
                          "proxy)" % engine.daemon.port) == 2
    assert p.stderr.count(" finalized\n") == 2
    for i, (img, fmt) in enumerate(zip(web["images"], web["formats"])):
        ref = reference_raw(img, tmp_path / f"ref{i}.raw", fmt)
        assert_same_content(ref, out / "web01" / f"web01-disk-{i}.raw")
    engine.assert_nothing_left()


def test_transient_engine_failures_are_retried(tmp_path, run,
                                               ovirt_engine_factory, pwfile):
    """503s from the engine, a locked disk and an expired session are
    waited out; the migration succeeds."""
    engine = ovirt_engine_factory(
        fail_requests={"/ovirt-engine/api/vms": 2,
                       "/ovirt-engine/api/imagetransfers/": 1},
        locked_polls=1, token_max_uses=9)
    web_engine(engine, tmp_path)
    out = tmp_path / "out"
    nm = tmp_path / "nm"
    nm.write_text(NETMAP)
    run(*migrate_args(engine, pwfile, out, "web01"), "--network-map", nm)
    assert (out / "web01" / "virtualmachine.yaml").exists()
    vm_gets = [c for c in engine.calls if c[1].startswith(
        "/ovirt-engine/api/vms?")]
    assert len(vm_gets) >= 3
    # The session expired and hoist logged in again.
    assert [ok for _, ok in engine.logins].count(True) >= 2
    engine.assert_nothing_left()


def test_transfer_never_ready(tmp_path, run, ovirt_engine_factory, pwfile):
    engine = ovirt_engine_factory(never_ready=True)
    web_engine(engine, tmp_path)
    out = tmp_path / "out"
    nm = tmp_path / "nm"
    nm.write_text(NETMAP)
    p = run(*migrate_args(engine, pwfile, out, "web01"), "--network-map", nm,
            "--transfer-timeout", "2", check=False)
    assert p.returncode == 1
    err = [x for x in p.stderr.splitlines() if "failed" in x]
    assert len(err) == 1
    assert re.search(r'VM "web01" failed: oVirt engine https://127\.0\.0\.1:'
                     r'\d+: image transfer \S+ of disk \S+ was not ready '
                     r'after 2 s \(phase initializing\); it was cancelled',
                     err[0]), err[0]
    assert "--transfer-timeout" in err[0]
    # Both disks' transfers were started at once; each was cancelled.
    assert len(engine.transfers) == 2
    for t in engine.transfers.values():
        assert t.cancelled and not t.finalized
    engine.assert_nothing_left()
    assert not out.exists()


def test_transfer_paused_by_the_engine(tmp_path, run, ovirt_engine_factory,
                                       pwfile):
    engine = ovirt_engine_factory(fail_phase="paused_system")
    web_engine(engine, tmp_path)
    out = tmp_path / "out"
    nm = tmp_path / "nm"
    nm.write_text(NETMAP)
    p = run(*migrate_args(engine, pwfile, out, "web01"), "--network-map", nm,
            check=False)
    assert p.returncode == 1
    assert re.search(r"ended in phase paused_system before it was ready: "
                     r"the engine paused it", p.stderr)
    assert engine.transfers
    for t in engine.transfers.values():  # one per disk, at once
        assert t.cancelled
    engine.assert_nothing_left()
    assert not out.exists()


def slow_engine(tmp_path, factory, daemon, **options):
    """An engine whose qcow2 disk is served at 2 MiB/s (qemu-nbd
    throttled): a copy takes a few seconds, long enough to act in the
    middle of it."""
    engine = factory(daemon=daemon, nbd_bps=2 * MiB, **options)
    net = engine.add_network("ovirtmgmt")
    img = make_qcow2(tmp_path / "big.qcow2", 256 * MiB, [
        (i * 32 * MiB, MiB, hex(0x60 + i)) for i in range(8)])
    d = engine.add_disk(img, "qcow2", alias="big")
    engine.add_vm("slow", disks=[d], nics=[(net, "56:6f:00:00:01:01",
                                            "virtio")])
    return engine, img


def wait_transferred(engine, proc, at_least):
    """Waits until the daemon served at_least bytes of the (one) transfer
    in progress."""
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, "the copy does not start"
        assert proc.poll() is None, proc.communicate()
        with engine.lock:
            tickets = [t.ticket for t in engine.transfers.values()
                       if t.ticket]
        if tickets:
            try:
                info = engine.daemon.ticket_info(tickets[0])
                if info.get("transferred", 0) >= at_least:
                    return tickets[0]
            except Exception:
                pass
        time.sleep(0.05)


def test_interrupted_migrate_cancels_the_transfer(tmp_path, hoist_bin,
                                                  ovirt_engine_factory,
                                                  imageio_daemon_factory,
                                                  pwfile):
    daemon = imageio_daemon_factory(buffer_size=256 * 1024).start()
    engine, _ = slow_engine(tmp_path, ovirt_engine_factory, daemon)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [str(hoist_bin)] + [str(a) for a in migrate_args(
            engine, pwfile, out, "slow")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_transferred(engine, proc, MiB)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check_output(subprocess.CompletedProcess(proc.args, proc.returncode,
                                             stdout, stderr))
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "hoist: terminated: stopping; the image transfer in progress is " \
        "cancelled" in stderr
    assert 'VM "slow" was not migrated: interrupted; its image transfer was ' \
        'cancelled' in stderr
    [t] = engine.transfers.values()
    assert t.cancelled and not t.finalized
    engine.assert_nothing_left()
    # No output at all: not the VM's folder, nor a temporary one.
    assert not out.exists()


def test_interrupt_while_waiting_for_the_transfer(tmp_path, hoist_bin,
                                                  ovirt_engine_factory,
                                                  pwfile):
    """SIGINT while the engine prepares the transfer: the wait ends, the
    transfer is cancelled, exit status 130."""
    engine = ovirt_engine_factory(never_ready=True)
    web_engine(engine, tmp_path)
    out = tmp_path / "out"
    nm = tmp_path / "nm"
    nm.write_text(NETMAP)
    proc = subprocess.Popen(
        [str(hoist_bin)] + [str(a) for a in migrate_args(
            engine, pwfile, out, "web01")] + ["--network-map", str(nm)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline
            assert proc.poll() is None, proc.communicate()
            with engine.lock:
                if any(t.polls for t in engine.transfers.values()):
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check_output(subprocess.CompletedProcess(proc.args, proc.returncode,
                                             stdout, stderr))
    assert proc.returncode == 128 + signal.SIGINT, stderr
    assert "hoist: interrupted: stopping" in stderr
    assert engine.transfers
    for t in engine.transfers.values():  # one per disk, at once
        assert t.cancelled and not t.finalized
    engine.assert_nothing_left()
    assert not out.exists()


def test_password_with_special_characters(tmp_path, run,
                                          ovirt_engine_factory):
    """The form body escapes what the password holds."""
    secret = "p@ss w&rd=+%2B/é;\"\\"
    engine = ovirt_engine_factory(password=secret)
    f = tmp_path / "pw"
    f.write_text(secret + "\r\n")
    p = run("inventory", "hosts", "--engine", engine.url, "--user", USER,
            "--password-file", f, "--cacert", engine.pki["ca"])
    assert "host1" in p.stdout and secret not in p.stdout + p.stderr
    assert engine.logins == [(USER, True)]


def test_engine_pauses_transfer_mid_copy(tmp_path, run, ovirt_engine_factory,
                                         imageio_daemon_factory, pwfile):
    """The engine pauses the transfer in the middle of the copy (and the
    host's ticket goes): a clear error, the transfer is cancelled, no
    output."""
    daemon = imageio_daemon_factory(buffer_size=256 * 1024).start()
    engine, _ = slow_engine(tmp_path, ovirt_engine_factory, daemon,
                            fail_after_bytes=2 * MiB)
    out = tmp_path / "out"
    p = run(*migrate_args(engine, pwfile, out, "slow"), check=False)
    assert p.returncode == 1
    [line] = [x for x in p.stderr.splitlines() if "failed" in x]
    assert 'VM "slow" failed' in line and "403" in line
    assert "start a new image transfer" in line
    [t] = engine.transfers.values()
    assert "paused_system" in t.phases
    assert t.cancelled and not t.finalized
    engine.assert_nothing_left()
    assert not out.exists()


def test_daemon_restarted_mid_copy_is_retried(tmp_path, hoist_bin,
                                              ovirt_engine_factory,
                                              imageio_daemon_factory,
                                              pwfile):
    """The host's daemon dies in the middle of a copy and comes back with
    the ticket: the copy resumes and completes, identical."""
    daemon = imageio_daemon_factory(buffer_size=256 * 1024).start()
    engine, img = slow_engine(tmp_path, ovirt_engine_factory, daemon)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [str(hoist_bin)] + [str(a) for a in migrate_args(
            engine, pwfile, out, "slow")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        tid = wait_transferred(engine, proc, 2 * MiB)
        ticket_file = daemon.write_ticket_file(tid, tmp_path / "ticket.json")
        daemon.kill()
        daemon.start(ticket_file=ticket_file)
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check_output(subprocess.CompletedProcess(proc.args, proc.returncode,
                                             stdout, stderr))
    assert proc.returncode == 0, stderr
    ref = reference_raw(img, tmp_path / "ref.raw", "qcow2")
    assert_same_content(ref, out / "slow" / "slow-disk-0.raw")
    [t] = engine.transfers.values()
    assert t.finalized
    engine.assert_nothing_left()


def test_critical_concerns_stop_a_vm_unless_forced(tmp_path, run,
                                                   ovirt_engine, pwfile):
    img = make_raw(tmp_path / "a.raw", 2 * MiB, [(0, 4096, "0x7a")])
    good = ovirt_engine.add_disk(img, "raw", alias="root")
    lun = ovirt_engine.add_disk(None, "raw", alias="db-lun",
                                storage_type="lun",
                                provisioned_size=2**30)
    ovirt_engine.add_vm("db01", disks=[good, lun])
    out = tmp_path / "out"
    p = run(*migrate_args(ovirt_engine, pwfile, out, "db01"), check=False)
    assert p.returncode == 1
    assert re.search(r'VM "db01": critical: disk "db-lun" has storage type '
                     r'lun', p.stderr)
    assert 'VM "db01" skipped: it has critical concerns' in p.stderr
    assert not out.exists() and not ovirt_engine.transfers
    # With --force: migrated without the LUN.
    run(*migrate_args(ovirt_engine, pwfile, out, "db01"), "--force")
    assert sorted(os.listdir(out / "db01")) == [
        "db01-disk-0.raw", "kustomization.yaml", "pvcs.yaml",
        "virtualmachine.yaml"]
    assert_same_content(img, out / "db01" / "db01-disk-0.raw")
    ovirt_engine.assert_nothing_left()


def test_running_vm_forced_fails_cleanly(tmp_path, run, ovirt_engine,
                                         pwfile):
    """A running VM is critical; forced, the engine refuses its transfer,
    and the VM fails with the engine's reason."""
    img = make_raw(tmp_path / "a.raw", MiB, [])
    d = ovirt_engine.add_disk(img, "raw", alias="root")
    ovirt_engine.add_vm("live", disks=[d], status="up")
    out = tmp_path / "out"
    p = run(*migrate_args(ovirt_engine, pwfile, out, "live"), "--force",
            check=False)
    assert p.returncode == 1
    assert re.search(r'VM "live": critical: the VM is up; shut it down',
                     p.stderr)
    assert re.search(r'VM "live" failed: disk \S+: cannot start an image '
                     r'transfer: oVirt engine \S+: POST imagetransfers: 409 '
                     r'Operation Failed: \[Cannot transfer Virtual Disk: '
                     r'The following disks are attached to a running VM\]',
                     p.stderr), p.stderr
    assert not ovirt_engine.transfers
    assert not out.exists()


def test_vm_not_found_and_usage_errors(tmp_path, run, ovirt_engine, pwfile):
    web_engine(ovirt_engine, tmp_path)
    out = tmp_path / "out"
    for name in ("nosuch", "web*", "WEB01", "0f6c2a54-0000-4000-8000-"
                 "000000000000"):
        p = run(*migrate_args(ovirt_engine, pwfile, out, name), check=False)
        line = one_line_error(p)
        assert f"oVirt engine {ovirt_engine.url} has no VM named" in line
    assert not out.exists()

    p = run("migrate", "--source", "ovirt://" + ovirt_engine.host_port,
            "--target", f"dir:{out}", "--user", USER, "--password-file",
            pwfile, check=False)
    assert p.returncode == 2 and "--vm NAME" in p.stderr
    p = run("migrate", "--source", "ova:/nonexistent.ova", "--target",
            f"dir:{out}", "--user", USER, check=False)
    assert p.returncode == 2 and "go with --source ovirt://" in p.stderr
    p = run("migrate", "--source", "vsphere://x", "--target", f"dir:{out}",
            check=False)
    assert p.returncode == 2 and "ovirt://ENGINE-HOST" in p.stderr
    p = run("migrate", "--source", "ovirt://" + ovirt_engine.host_port,
            "--vm", "web01", "--target", f"dir:{out}", "--transfer-timeout",
            "0", check=False)
    assert p.returncode == 2 and "--transfer-timeout" in p.stderr
    p = run("migrate", "--source", "ovirt://" + ovirt_engine.host_port,
            "--vm", "web01", "--target", f"dir:{out}", check=False)
    line = one_line_error(p)
    assert "no oVirt user given" in line
    p = run("migrate", "--source", "ovirt://" + ovirt_engine.host_port,
            "--vm", "web01", "--target", f"dir:{out}", "--user", USER,
            check=False, env={k: v for k, v in os.environ.items()
                              if k != "HOIST_OVIRT_PASSWORD"})
    assert "no password for oVirt user" in one_line_error(p)
    p = run("migrate", "--source", "ovirt://", "--vm", "x", "--target",
            f"dir:{out}", check=False)
    assert "which engine?" in one_line_error(p)

    for args in (["inventory"], ["inventory", "disks"],
                 ["inventory", "vms", "extra"],
                 ["inventory", "vms", "--bogus"]):
        p = run(*args, check=False)
        assert p.returncode == 2, args
        assert len(p.stderr.strip().splitlines()) == 1
        assert "hoist inventory --help" in p.stderr
    p = run("inventory", "vms", "--engine", "http://127.0.0.1:1",
            "--user", USER, "--password-file", pwfile, check=False)
    assert "over https only" in one_line_error(p)
    assert not out.exists()


def test_help(run):
    p = run("inventory", "--help")
    for word in ("vms", "networks", "storage", "hosts", "--engine",
                 "--password-file", "--cacert", "--insecure", "--provider",
                 "--json"):
        assert word in p.stdout
    p = run("migrate", "--help")
    for word in ("ovirt://ENGINE-HOST", "--transfer-timeout", "--vm",
                 "image transfer", "SIGTERM"):
        assert word in p.stdout
    p = run("--help")
    assert "inventory" in p.stdout
