"""hoist migrate from an OVA to a directory: what a user gets.

The OVAs are written by ovfgen (VMware's dialect). Each test checks the
output the way a user would: the VirtualMachine validates against
KubeVirt's own (strict) schema and carries the source's CPU, memory,
firmware, disks and NICs; the PVCs have the right names, sizes and class;
the raw disks are byte-identical to the OVA's; concerns are printed; and
failures leave nothing that looks complete.
"""
import os
import re
import signal
import subprocess
import time

import pytest
import yaml
from diskutil import MiB, assert_same_content
from kubevirt_schema import DNS1123_LABEL, KubevirtSchema, parse_quantity
from ovfgen import VM, Disk, Nic, make_ova


@pytest.fixture(scope="session")
def schema(shared_dir):
    return KubevirtSchema.from_shared(shared_dir)


@pytest.fixture
def migrate(hoist):
    def run(ova, out, *args, check=True):
        return hoist("migrate", "--no-progress", "--source", f"ova:{ova}",
                     "--target", f"dir:{out}", *args, check=check)
    return run


def load(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    return docs


def vm_spec(doc):
    return doc["spec"]["template"]["spec"]


def web_vm(**kw):
    vm = VM(name="Web Server #1", id="web-01", cpus=8, cores_per_socket=2,
            memory_mib=3072, firmware="efi", secure_boot=True,
            disks=[Disk(size=6 * MiB, controller="lsilogic",
                        writes=[(0, 65536, "0x11"), (5 * MiB, 4096, "0x22")]),
                   Disk(size=2 * MiB + 512 * 1024, controller="sata",
                        writes=[(MiB, 8192, "0x33")]),
                   Disk(size=MiB, controller="pvscsi",
                        writes=[(4096, 4096, "0x44")])],
            nics=[Nic(mac="00:50:56:aa:00:01", network="VM Network",
                      model="VmxNet3"),
                  Nic(mac="00:50:56:aa:00:02", network="Storage LAN",
                      model="E1000e"),
                  Nic(mac="00:50:56:aa:00:03", network="Backup",
                      model="E1000")])
    for k, v in kw.items():
        setattr(vm, k, v)
    return vm


NETMAP = """# networks of the web export
VM Network=pod
Storage LAN=multus:net-infra/storage-lan
Backup=multus:backup-net
"""


def test_full_migration(tmp_path, migrate, schema):
    made = make_ova(tmp_path / "web.ova", [web_vm()], tmp_path / "work")
    nm = tmp_path / "networks.map"
    nm.write_text(NETMAP)
    out = tmp_path / "out"
    p = migrate(made.path, out, "--network-map", nm, "--storage-class",
                "fast-ssd", "--namespace", "prod", "--workers", "2")

    name = "web-server-1"
    vmdir = out / name
    assert sorted(os.listdir(out)) == [name]
    assert sorted(os.listdir(vmdir)) == sorted(
        [f"{name}-disk-{i}.raw" for i in range(3)] +
        ["kustomization.yaml", "pvcs.yaml", "virtualmachine.yaml"])

    # The renamed VM is a warning, printed before anything is copied.
    assert re.search(r'warning: name changed from \\?"Web Server #1\\?" to '
                     r'\\?"web-server-1', p.stderr)

    [vm] = load(vmdir / "virtualmachine.yaml")
    schema.check_vm(vm)
    md = vm["metadata"]
    assert md["name"] == name and md["namespace"] == "prod"
    assert md["annotations"]["hoist.io/original-name"] == "Web Server #1"
    assert md["labels"]["hoist.io/source-kind"] == "ova"
    assert md["annotations"]["hoist.io/source-vm-id"] == "web-01"
    assert md["annotations"]["hoist.io/source-ref"].endswith("web.ova")
    assert vm["spec"]["runStrategy"] == "Halted"

    dom = vm_spec(vm)["domain"]
    assert dom["cpu"] == {"sockets": 4, "cores": 2, "threads": 1}
    assert parse_quantity(dom["memory"]["guest"]) == 3072 * MiB
    assert dom["firmware"]["bootloader"] == {"efi": {"secureBoot": True}}
    assert dom["features"]["smm"] == {"enabled": True}
    assert dom["machine"]["type"] == "q35"

    disks = dom["devices"]["disks"]
    assert [d["disk"]["bus"] for d in disks] == ["scsi", "sata", "scsi"]
    assert disks[0]["bootOrder"] == 1
    for d in disks:
        assert re.fullmatch(r"[A-Za-z0-9_.+-]{1,20}", d["serial"])
    assert len({d["serial"] for d in disks}) == 3
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"]
              for v in vm_spec(vm)["volumes"]}
    assert [claims[d["name"]] for d in disks] == [
        f"{name}-disk-{i}" for i in range(3)]

    ifaces = dom["devices"]["interfaces"]
    assert [(i["model"], i["macAddress"]) for i in ifaces] == [
        ("virtio", "00:50:56:aa:00:01"), ("e1000e", "00:50:56:aa:00:02"),
        ("e1000", "00:50:56:aa:00:03")]
    nets = {n["name"]: n for n in vm_spec(vm)["networks"]}
    assert "masquerade" in ifaces[0] and "pod" in nets[ifaces[0]["name"]]
    assert "bridge" in ifaces[1]
    assert nets[ifaces[1]["name"]]["multus"] == {
        "networkName": "net-infra/storage-lan"}
    assert nets[ifaces[2]["name"]]["multus"] == {"networkName": "backup-net"}

    pvcs = load(vmdir / "pvcs.yaml")
    assert [c["metadata"]["name"] for c in pvcs] == [
        f"{name}-disk-{i}" for i in range(3)]
    for pvc, raw, disk in zip(pvcs, made.disks["Web Server #1"],
                              web_vm().disks):
        schema.check_pvc(pvc)
        assert pvc["metadata"]["namespace"] == "prod"
        assert pvc["metadata"]["labels"]["hoist.io/vm"] == name
        assert pvc["spec"]["storageClassName"] == "fast-ssd"
        assert pvc["spec"]["volumeMode"] == "Filesystem"
        req = parse_quantity(pvc["spec"]["resources"]["requests"]["storage"])
        assert req % MiB == 0 and req * (1 - 0.055) >= disk.size
        assert req - MiB < disk.size / (1 - 0.055)
        out_raw = vmdir / f"{pvc['metadata']['name']}.raw"
        assert_same_content(raw, out_raw)

    [kust] = load(vmdir / "kustomization.yaml")
    assert kust["kind"] == "Kustomization"
    assert sorted(kust["resources"]) == ["pvcs.yaml", "virtualmachine.yaml"]
    assert kust["namespace"] == "prod"

    # What to do next, on stdout.
    assert f"kubectl apply -k {vmdir}" in p.stdout
    assert f"virtctl image-upload pvc {name}-disk-0" in p.stdout
    assert str(vmdir / f"{name}-disk-0.raw") in p.stdout


def test_block_mode_sizes_are_exact(tmp_path, migrate, schema):
    made = make_ova(tmp_path / "a.ova", [web_vm(name="blk", nics=[])],
                    tmp_path / "w")
    out = tmp_path / "out"
    migrate(made.path, out, "--volume-mode", "Block")
    for pvc, disk in zip(load(out / "blk" / "pvcs.yaml"), web_vm().disks):
        schema.check_pvc(pvc)
        assert pvc["spec"]["volumeMode"] == "Block"
        assert "storageClassName" not in pvc["spec"]
        req = parse_quantity(pvc["spec"]["resources"]["requests"]["storage"])
        assert req == -(-disk.size // MiB) * MiB


def test_several_vms_names_and_selection(tmp_path, migrate, schema):
    vms = [VM(name="DB", id="a", nics=[Nic(mac="00:50:56:00:00:01")]),
           VM(name="db", id="b", nics=[Nic(mac="00:50:56:00:00:02")]),
           VM(name="Ünïcode VM", id="c", firmware="efi", nics=[])]
    made = make_ova(tmp_path / "multi.ova", vms, tmp_path / "w")
    out = tmp_path / "out"
    p = migrate(made.path, out)
    assert sorted(os.listdir(out)) == ["db", "db-2", "unicode-vm"]
    for d in os.listdir(out):
        assert DNS1123_LABEL.match(d)
        [vm] = load(out / d / "virtualmachine.yaml")
        schema.check_vm(vm)
    originals = {d: load(out / d / "virtualmachine.yaml")[0]["metadata"][
        "annotations"]["hoist.io/original-name"] for d in os.listdir(out)}
    assert originals == {"db": "DB", "db-2": "db", "unicode-vm": "Ünïcode VM"}
    [uvm] = load(out / "unicode-vm" / "virtualmachine.yaml")
    assert vm_spec(uvm)["domain"]["firmware"]["bootloader"] == {
        "efi": {"secureBoot": False}}
    assert "features" not in vm_spec(uvm)["domain"]
    for vm, d in zip(vms, ["db", "db-2", "unicode-vm"]):
        assert_same_content(made.disks[vm.name][0],
                            out / d / f"{d}-disk-0.raw")
    assert "3 of 3 VMs migrated" in p.stdout

    # --vm picks VMs by name or id.
    out2 = tmp_path / "out2"
    migrate(made.path, out2, "--vm", "db", "--vm", "c")
    assert sorted(os.listdir(out2)) == ["db", "unicode-vm"]
    p = migrate(made.path, tmp_path / "out3", "--vm", "nope", check=False)
    assert p.returncode == 1
    assert 'has no VM named "nope"' in p.stderr
    assert not (tmp_path / "out3").exists()


def test_critical_concern_skips_the_vm_unless_forced(tmp_path, migrate,
                                                     schema):
    # Two NICs, no network map: the first takes the pod network (warning),
    # the second has nowhere to go (critical).
    vms = [web_vm(name="two-nics", nics=[
        Nic(mac="00:50:56:00:01:01", network="Prod"),
        Nic(mac="00:50:56:00:01:02", network="Backup")]),
        VM(name="fine")]
    made = make_ova(tmp_path / "a.ova", vms, tmp_path / "w")
    out = tmp_path / "out"
    p = migrate(made.path, out, check=False)
    assert p.returncode == 1
    err = p.stderr
    assert re.search(r'VM "two-nics": warning: NIC net-0 .*"Prod".* is not in '
                     r'the network map; it goes to the pod network', err)
    assert re.search(r'VM "two-nics": critical: NIC net-1 .*"Backup".* is '
                     r'not in the network map and the pod network is taken',
                     err)
    assert re.search(r'VM "two-nics" skipped', err)
    # Concerns come first, before any VM is migrated.
    assert err.index("critical:") < err.index("skipped")
    assert sorted(os.listdir(out)) == ["fine"]
    assert "1 of 2 VMs migrated" in p.stdout

    out2 = tmp_path / "out2"
    p = migrate(made.path, out2, "--force")
    assert sorted(os.listdir(out2)) == ["fine", "two-nics"]
    [vm] = load(out2 / "two-nics" / "virtualmachine.yaml")
    schema.check_vm(vm)
    # The NIC that had no place is left out.
    assert [i["macAddress"] for i in vm_spec(vm)["domain"]["devices"][
        "interfaces"]] == ["00:50:56:00:01:01"]


def test_second_pod_mapping_is_critical(tmp_path, migrate):
    made = make_ova(tmp_path / "a.ova", [web_vm(name="w")], tmp_path / "w")
    nm = tmp_path / "m.yaml"
    nm.write_text("""\
apiVersion: forklift.konveyor.io/v1beta1
kind: NetworkMap
metadata: {name: m}
spec:
  map:
  - {source: {name: VM Network}, destination: {type: pod}}
  - {source: {name: Storage LAN}, destination: {type: pod}}
  - {source: {name: Backup}, destination: {type: ignored}}
""")
    out = tmp_path / "out"
    p = migrate(made.path, out, "--network-map", nm, check=False)
    assert p.returncode == 1
    assert "KubeVirt allows one pod network per VM" in p.stderr
    assert re.search(r'VM "w" skipped', p.stderr)
    assert not out.exists()


def test_malformed_network_map(tmp_path, migrate):
    made = make_ova(tmp_path / "a.ova", [VM(name="x")], tmp_path / "w")
    nm = tmp_path / "bad.map"
    nm.write_text("VM Network=pod\nStorage=multus:\n")
    out = tmp_path / "out"
    p = migrate(made.path, out, "--network-map", nm, check=False)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1
    assert f"{nm}:2:" in p.stderr
    assert not out.exists()


def test_manifest_mismatch_stops_the_vm(tmp_path, migrate):
    vms = [VM(name="good"), web_vm(name="bad", nics=[])]
    made = make_ova(tmp_path / "a.ova", vms, tmp_path / "w",
                    bad_digest="export-disk3.raw")
    out = tmp_path / "out"
    p = migrate(made.path, out, check=False)
    assert p.returncode == 1
    assert re.search(r'VM "bad" failed: .*export-disk3\.raw', p.stderr)
    # The good VM is there; of the bad one nothing is left, not even a
    # hidden partial directory.
    assert os.listdir(out) == ["good"]
    assert "1 of 2 VMs migrated" in p.stdout


def test_failed_only_vm_leaves_no_output_directory(tmp_path, migrate):
    made = make_ova(tmp_path / "a.ova", [VM(name="x", nics=[])],
                    tmp_path / "w", bad_digest="export-disk1.raw")
    out = tmp_path / "deep" / "out"
    p = migrate(made.path, out, check=False)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1
    assert re.search(r'VM "x" failed: .*export-disk1\.raw', p.stderr)
    assert not out.exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_nothing(tmp_path, hoist_bin, sig):
    """Ctrl-C (or a SIGTERM) mid-copy stops the copy between requests: the
    exit code says which signal, and neither the VM's directory nor its
    hidden temporary one is left behind."""
    big = VM(name="big", nics=[],
             disks=[Disk(size=1024 * MiB, writes=[(0, 1024 * MiB, "0x5a")])])
    made = make_ova(tmp_path / "a.ova", [big], tmp_path / "w")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [str(hoist_bin), "migrate", "--no-progress", "--source",
         f"ova:{made.path}", "--target", f"dir:{out}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    started = False
    while not started and proc.poll() is None and \
            time.monotonic() < deadline:
        # The disk is written under a temporary name in a hidden
        # directory.
        started = any(f.stat().st_size > 0 for d in out.iterdir()
                      for f in d.iterdir())
        time.sleep(0.005)
    assert started, "the copy never started"
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, stderr
    assert "0 of 1 VMs migrated" in stdout
    assert "stopping (again to quit at once)" in stderr
    assert 'VM "big" was not migrated: interrupted; no output was left' \
        in stderr
    assert list(out.iterdir()) == []


def test_paths_with_spaces_are_quoted(tmp_path, migrate):
    made = make_ova(tmp_path / "a.ova", [VM(name="x", nics=[])],
                    tmp_path / "w")
    out = tmp_path / "my exports"
    p = migrate(made.path, out)
    assert f"kubectl apply -k '{out}/x'" in p.stdout
    assert f"--image-path '{out}/x/x-disk-0.raw'" in p.stdout


def test_vm_without_disks_or_nics(tmp_path, migrate, schema):
    made = make_ova(tmp_path / "a.ova", [VM(name="empty", disks=[], nics=[])],
                    tmp_path / "w")
    out = tmp_path / "out"
    migrate(made.path, out)
    assert sorted(os.listdir(out / "empty")) == ["kustomization.yaml",
                                                 "virtualmachine.yaml"]
    [vm] = load(out / "empty" / "virtualmachine.yaml")
    schema.check_vm(vm)
    devices = vm_spec(vm)["domain"]["devices"]
    assert devices["autoattachPodInterface"] is False
    assert devices.get("disks", []) == []
    assert vm_spec(vm).get("volumes", []) == []
    [kust] = load(out / "empty" / "kustomization.yaml")
    assert kust["resources"] == ["virtualmachine.yaml"]


def test_existing_output_is_not_overwritten(tmp_path, migrate):
    made = make_ova(tmp_path / "a.ova", [VM(name="x")], tmp_path / "w")
    out = tmp_path / "out"
    (out / "x").mkdir(parents=True)
    (out / "x" / "mine").write_text("keep")
    p = migrate(made.path, out, check=False)
    assert p.returncode == 1
    assert "already exists" in p.stderr
    assert os.listdir(out / "x") == ["mine"]
    assert sorted(os.listdir(out)) == ["x"]


def test_missing_ova(tmp_path, hoist):
    out = tmp_path / "out"
    p = hoist("migrate", "--source", f"ova:{tmp_path}/none.ova", "--target",
              f"dir:{out}", check=False)
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and "none.ova" in p.stderr
    assert not out.exists()


def test_stream_optimized_vmdk_disks(tmp_path, migrate, schema):
    """VMware's own export format: streamOptimized VMDK members."""
    vm = web_vm(name="vmdk-vm", nics=[])
    for d in vm.disks:
        d.fmt = "vmdk"
    made = make_ova(tmp_path / "a.ova", [vm], tmp_path / "w")
    out = tmp_path / "out"
    p = migrate(made.path, out, check=False)
    assert p.returncode == 0, p.stderr
    [doc] = load(out / "vmdk-vm" / "virtualmachine.yaml")
    schema.check_vm(doc)
    for i, raw in enumerate(made.disks["vmdk-vm"]):
        assert_same_content(raw, out / "vmdk-vm" / f"vmdk-vm-disk-{i}.raw")
    for pvc, disk in zip(load(out / "vmdk-vm" / "pvcs.yaml"), vm.disks):
        req = parse_quantity(pvc["spec"]["resources"]["requests"]["storage"])
        assert req * (1 - 0.055) >= disk.size
