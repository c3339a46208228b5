"""The KubeVirt side: the VM and PVC builder, DNS-1123 names, network maps
and the YAML emitter.

The builder is driven through tests/tools/kv-build (VMs described in
JSON, no source needed); what reaches users through `hoist migrate` is in
test_migrate.py. Every generated VirtualMachine and PVC is validated
against KubeVirt's own OpenAPI schema made strict (kubevirt_schema.py).
"""
import json
import math
import re
import subprocess

import pytest
import yaml
from kubevirt_schema import DNS1123_LABEL, KubevirtSchema, parse_quantity

MiB = 1024 * 1024
GiB = 1024 * MiB


@pytest.fixture(scope="session")
def schema(shared_dir):
    return KubevirtSchema.from_shared(shared_dir)


@pytest.fixture(scope="session")
def kv_build_bin(build_dir):
    path = build_dir / "tests" / "tools" / "kv-build"
    assert path.exists(), f"{path} is not built"
    return path


@pytest.fixture
def kv_build(kv_build_bin, tmp_path):
    """Builds manifests for VMs (dicts); returns (names, concerns, out)."""

    runs = []

    def run(vms, *opts, check=True):
        runs.append(1)
        spec = tmp_path / "vms.json"
        spec.write_text(json.dumps({"vms": vms}))
        out = tmp_path / f"out-{len(runs)}"
        out.mkdir()
        p = subprocess.run([str(kv_build_bin), *map(str, opts), str(spec),
                            str(out)], capture_output=True, text=True)
        if check:
            assert p.returncode == 0, p.stderr
        names = p.stdout.split()
        concerns = [line.split(": ", 2)[1:] for line in
                    p.stderr.splitlines() if line.startswith("concern: ")]
        return names, concerns, out, p

    return run


def load_vm(out, name):
    with open(out / name / "virtualmachine.yaml") as f:
        return yaml.safe_load(f)


def load_pvcs(out, name):
    with open(out / name / "pvcs.yaml") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def big_vm(**kw):
    vm = {
        "name": "app-server", "id": "vm-17", "source_kind": "ova",
        "source_ref": "/exports/app.ova", "firmware": "efi",
        "secure_boot": True, "sockets": 2, "cores_per_socket": 4,
        "threads_per_core": 2, "memory": 6 * GiB + 1,
        "uuid": "4230a8b4-1b2c-3d4e-5f60-718293a4b5c6",
        "disks": [
            {"id": "vmdisk1", "name": "app-disk1.vmdk", "capacity": 20 * GiB,
             "bus": "scsi", "controller": "lsilogic", "boot_order": 1},
            {"id": "vmdisk2", "name": "app-disk2.vmdk", "capacity": 3 * GiB + 5,
             "bus": "sata", "controller": "vmware.sata.ahci"},
            {"id": "data disk/3", "capacity": MiB, "bus": "virtio"},
        ],
        "nics": [
            {"name": "eth0", "mac": "00:50:56:aa:bb:01", "network": "VM Network",
             "model": "virtio"},
            {"name": "eth1", "mac": "00:50:56:aa:bb:02", "network": "Storage",
             "model": "e1000e"},
            {"name": "eth2", "mac": "00:50:56:aa:bb:03", "network": "Backup",
             "model": "virtio"},
        ],
    }
    vm.update(kw)
    return vm


NETMAP = """# where the networks of the OVA go
VM Network=pod
Storage = multus:net-ns/storage-lan   # a trailing comment
Backup=ignored
"""


def test_vm_manifest_is_valid_and_complete(kv_build, schema, tmp_path):
    nm = tmp_path / "map.txt"
    nm.write_text(NETMAP)
    names, concerns, out, _ = kv_build(
        [big_vm()], "--network-map", nm, "--namespace", "prod",
        "--storage-class", "fast-ssd")
    assert names == ["app-server"]
    vm = load_vm(out, "app-server")
    schema.check_vm(vm)

    assert vm["apiVersion"] == "kubevirt.io/v1"
    assert vm["kind"] == "VirtualMachine"
    md = vm["metadata"]
    assert md["name"] == "app-server" and md["namespace"] == "prod"
    assert md["labels"]["hoist.io/source-kind"] == "ova"
    assert md["labels"]["hoist.io/source-vm-id"] == "vm-17"
    assert md["annotations"]["hoist.io/original-name"] == "app-server"
    assert md["annotations"]["hoist.io/source-ref"] == "/exports/app.ova"
    assert vm["spec"]["runStrategy"] == "Halted"

    spec = vm["spec"]["template"]["spec"]
    dom = spec["domain"]
    assert dom["cpu"] == {"sockets": 2, "cores": 4, "threads": 2}
    assert dom["memory"]["guest"] == "6145Mi"  # rounded up
    assert dom["firmware"]["bootloader"] == {"efi": {"secureBoot": True}}
    assert dom["firmware"]["uuid"] == "4230a8b4-1b2c-3d4e-5f60-718293a4b5c6"
    assert dom["features"]["smm"]["enabled"] is True
    assert dom["machine"]["type"] == "q35"

    disks = dom["devices"]["disks"]
    assert [d["name"] for d in disks] == ["disk-0", "disk-1", "disk-2"]
    assert [d["disk"]["bus"] for d in disks] == ["scsi", "sata", "virtio"]
    assert disks[0]["bootOrder"] == 1
    assert "bootOrder" not in disks[1] and "bootOrder" not in disks[2]
    assert [d["serial"] for d in disks] == ["vmdisk1", "vmdisk2", "datadisk3"]
    vols = {v["name"]: v["persistentVolumeClaim"]["claimName"]
            for v in spec["volumes"]}
    assert vols == {f"disk-{i}": f"app-server-disk-{i}" for i in range(3)}

    ifaces = dom["devices"]["interfaces"]
    assert [(i["name"], i["model"], i["macAddress"]) for i in ifaces] == [
        ("net-0", "virtio", "00:50:56:aa:bb:01"),
        ("net-1", "e1000e", "00:50:56:aa:bb:02")]
    assert "masquerade" in ifaces[0] and "bridge" in ifaces[1]
    assert spec["networks"] == [
        {"name": "net-0", "pod": {}},
        {"name": "net-1", "multus": {"networkName": "net-ns/storage-lan"}}]
    # The ignored network is an info concern, nothing worse.
    assert [c[0] for c in concerns] == ["info"]
    assert "Backup" in concerns[0][1] and "ignored" in concerns[0][1]


def test_pvcs(kv_build, schema):
    _, _, out, _ = kv_build([big_vm()], "--namespace", "prod",
                            "--storage-class", "fast-ssd", check=False)
    pvcs = load_pvcs(out, "app-server")
    assert [p["metadata"]["name"] for p in pvcs] == [
        "app-server-disk-0", "app-server-disk-1", "app-server-disk-2"]
    caps = [20 * GiB, 3 * GiB + 5, MiB]
    for p, cap, disk_id in zip(pvcs, caps, ["vmdisk1", "vmdisk2",
                                            "data disk/3"]):
        schema.check_pvc(p)
        assert p["metadata"]["namespace"] == "prod"
        assert p["metadata"]["labels"]["hoist.io/vm"] == "app-server"
        assert p["metadata"]["annotations"]["hoist.io/source-disk-id"] == \
            disk_id
        assert p["spec"]["storageClassName"] == "fast-ssd"
        assert p["spec"]["volumeMode"] == "Filesystem"
        assert p["spec"]["accessModes"] == ["ReadWriteOnce"]
        req = parse_quantity(p["spec"]["resources"]["requests"]["storage"])
        # CDI: the image must fit in size * (1 - 0.055).
        assert req * (1 - 0.055) >= cap
        assert req % MiB == 0
        assert req == math.ceil(math.ceil(cap * 1000 / 945) / MiB) * MiB
    assert len({p["metadata"]["labels"]["hoist.io/disk"] for p in pvcs}) == 3


def test_block_pvcs_are_exact_and_class_is_optional(kv_build, schema):
    _, _, out, _ = kv_build([big_vm()], "--volume-mode", "Block",
                            check=False)
    for p, cap in zip(load_pvcs(out, "app-server"),
                      [20 * GiB, 3 * GiB + 5, MiB]):
        schema.check_pvc(p)
        assert "storageClassName" not in p["spec"]
        assert "namespace" not in p["metadata"]
        assert p["spec"]["volumeMode"] == "Block"
        req = parse_quantity(p["spec"]["resources"]["requests"]["storage"])
        assert req == math.ceil(cap / MiB) * MiB


def test_bios_vm_has_no_secure_boot_or_smm(kv_build, schema):
    vm = big_vm(firmware="bios", secure_boot=False, uuid=None,
                machine_type="pc-q35-rhel8.6.0", nics=[])
    _, concerns, out, _ = kv_build([vm])
    doc = load_vm(out, "app-server")
    schema.check_vm(doc)
    dom = doc["spec"]["template"]["spec"]["domain"]
    assert dom["firmware"] == {"bootloader": {"bios": {}}}
    assert "features" not in dom
    assert dom["machine"]["type"] == "pc-q35-rhel8.6.0"
    # No NIC at all: KubeVirt must not add a pod interface by itself.
    assert dom["devices"]["autoattachPodInterface"] is False
    assert "interfaces" not in dom["devices"]
    assert concerns == []


def test_secure_boot_without_efi_turns_efi_on(kv_build, schema):
    _, concerns, out, _ = kv_build([big_vm(firmware="bios")], check=False)
    doc = load_vm(out, "app-server")
    schema.check_vm(doc)
    dom = doc["spec"]["template"]["spec"]["domain"]
    assert dom["firmware"]["bootloader"] == {"efi": {"secureBoot": True}}
    assert dom["features"]["smm"]["enabled"] is True
    assert ["warning", "secure boot is on but the firmware is bios; the VM "
            "gets EFI firmware with secure boot (and SMM)"] in concerns


def test_builder_concerns(kv_build, schema):
    vm = big_vm(machine_type="pc-i440fx-2.6", memory=0, nics=[
        {"name": "eth0", "mac": "not-a-mac", "network": "VM Network",
         "model": "vmxnet3"}])
    vm["disks"][1]["controller"] = "ide"
    vm["disks"][2]["controller"] = "nvme"
    _, concerns, out, _ = kv_build([vm])
    doc = load_vm(out, "app-server")
    schema.check_vm(doc)
    text = "\n".join(f"{lvl}: {msg}" for lvl, msg in concerns)
    assert re.search(r"warning: disk-1 is on controller \"ide\", which "
                     r"KubeVirt does not have; it is attached to the sata",
                     text)
    assert re.search(r"warning: disk-2 is on controller \"nvme\"", text)
    assert re.search(r"warning: machine type \"pc-i440fx-2.6\"", text)
    assert re.search(r"critical: the source gives no memory size", text)
    assert re.search(r"warning: NIC net-0 has model \"vmxnet3\"", text)
    assert re.search(r"warning: NIC net-0 has MAC address \"not-a-mac\"",
                     text)
    assert re.search(r"warning: NIC net-0 .* is not in the network map; it "
                     r"goes to the pod network", text)
    dom = doc["spec"]["template"]["spec"]["domain"]
    assert dom["machine"]["type"] == "q35"
    assert dom["memory"]["guest"] == "1024Mi"
    iface = dom["devices"]["interfaces"][0]
    assert iface["model"] == "virtio" and "macAddress" not in iface


def test_boot_order_is_unique_and_starts_at_one(kv_build, schema):
    vm = big_vm()
    for d, b in zip(vm["disks"], [3, 0, 3]):
        d["boot_order"] = b
    _, _, out, _ = kv_build([vm], check=False)
    doc = load_vm(out, "app-server")
    schema.check_vm(doc)
    disks = doc["spec"]["template"]["spec"]["domain"]["devices"]["disks"]
    assert [d.get("bootOrder") for d in disks] == [1, None, 2]
    # None has one: the first disk boots.
    for d in vm["disks"]:
        d["boot_order"] = 0
    vm["name"] = "other"
    _, _, out, _ = kv_build([vm], check=False)
    disks = load_vm(out, "other")["spec"]["template"]["spec"]["domain"][
        "devices"]["disks"]
    assert [d.get("bootOrder") for d in disks] == [1, None, None]


# --- networks ---


def test_second_pod_nic_is_critical_and_left_out(kv_build, schema,
                                                  tmp_path):
    nm = tmp_path / "map.txt"
    nm.write_text("VM Network=pod\nStorage=pod\nBackup=pod\n")
    _, concerns, out, _ = kv_build([big_vm()], "--network-map", nm)
    crit = [m for lvl, m in concerns if lvl == "critical"]
    assert len(crit) == 2
    assert all("KubeVirt allows one pod network per VM" in m for m in crit)
    assert 'NIC net-1 ("eth1" on network "Storage")' in crit[0]
    doc = load_vm(out, "app-server")
    schema.check_vm(doc)
    assert doc["spec"]["template"]["spec"]["networks"] == [
        {"name": "net-0", "pod": {}}]


def test_unmapped_network_takes_free_pod_network(kv_build, schema, tmp_path):
    nm = tmp_path / "map.txt"
    # The map sends "Storage" to multus and "Backup" to the pod network:
    # the unmapped "VM Network" finds the pod network taken.
    nm.write_text("Storage=multus:lan\nBackup=pod\n")
    _, concerns, out, _ = kv_build([big_vm()], "--network-map", nm)
    assert concerns == [[
        "critical", 'NIC net-0 ("eth0" on network "VM Network") is not in '
        'the network map and the pod network is taken by NIC net-2 ("eth2" '
        'on network "Backup"); map the network with --network-map (with '
        '--force the NIC is left out)']]
    doc = load_vm(out, "app-server")
    schema.check_vm(doc)
    assert doc["spec"]["template"]["spec"]["networks"] == [
        {"name": "net-1", "multus": {"networkName": "lan"}},
        {"name": "net-2", "pod": {}}]

    nm.write_text("Storage=multus:lan\nBackup=ignored\n")
    _, concerns, out, _ = kv_build([big_vm(name="b")], "--network-map", nm)
    assert [c[0] for c in concerns] == ["info", "warning"]
    assert "is not in the network map; it goes to the pod network" in \
        concerns[1][1]
    nets = load_vm(out, "b")["spec"]["template"]["spec"]["networks"]
    assert nets[0] == {"name": "net-0", "pod": {}}


def test_forklift_networkmap_manifest(kv_build, schema, tmp_path):
    nm = tmp_path / "networkmap.yaml"
    nm.write_text("""\
apiVersion: forklift.konveyor.io/v1beta1
kind: Plan
metadata: {name: ignored-plan}
spec: {}
---
apiVersion: forklift.konveyor.io/v1beta1
kind: NetworkMap
metadata:
  name: app-networks
  namespace: openshift-mtv
spec:
  provider:
    source: {name: ova, namespace: openshift-mtv}
    destination: {name: host, namespace: openshift-mtv}
  map:
    - source:
        name: VM Network
      destination:
        type: pod
    - source:
        id: Storage
        vlan: 12
      destination:
        type: multus
        namespace: net-ns
        name: storage-lan
    - source: {name: "Backup"}
      destination: {type: ignored}
""")
    _, concerns, out, _ = kv_build([big_vm()], "--network-map", nm)
    doc = load_vm(out, "app-server")
    schema.check_vm(doc)
    assert doc["spec"]["template"]["spec"]["networks"] == [
        {"name": "net-0", "pod": {}},
        {"name": "net-1", "multus": {"networkName": "net-ns/storage-lan"}}]
    assert [c[0] for c in concerns] == ["info"]


def test_network_map_parses_both_forms(kv_build_bin, tmp_path):
    def parse(text):
        f = tmp_path / "m"
        f.write_bytes(text.encode() if isinstance(text, str) else text)
        p = subprocess.run([str(kv_build_bin), "--netmap", str(f)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return [line.split("|") for line in p.stdout.splitlines()]

    assert parse("\ufeff# only comments\n\n   \n") == []
    assert parse("a=b=pod\r\nx y = MULTUS:ns-1/n.a-1\n#z=pod\n"
                 "w#1=ignored # c\n") == [
        ["a=b", "", "pod", "", ""], ["x y", "", "multus", "ns-1", "n.a-1"],
        ["w#1", "", "ignored", "", ""]]
    assert parse("apiVersion: forklift.konveyor.io/v1beta1\n"
                 "kind: NetworkMap\nspec:\n  map:\n"
                 "  - {source: {id: 'net-1', name: Prod}, destination: "
                 "{type: multus, name: prod}}\n---\n") == [
        ["Prod", "net-1", "multus", "", "prod"]]


BAD_MAPS = [
    ("VM Network\n", 1, "expected SOURCE-NETWORK=pod"),
    ("# c\nA=pod\nB=bridge\n", 3, 'unknown destination "bridge"'),
    ("A=pod\n=pod\n", 2, "no source network before '='"),
    ("A=pod\nA=ignored\n", 2, 'network "A" is already mapped on line 1'),
    ("A=multus:Bad_NS/x\n", 1, 'is not a valid namespace'),
    ("A=multus:ns/\n", 1, "is not a valid NetworkAttachmentDefinition"),
    ("A=multus:ns/UPPER\n", 1, "is not a valid NetworkAttachmentDefinition"),
    ("A=pod\nB=po\x00d\n", 2, "contains a NUL byte"),
    ("A=pod\n" + "B" * 5000 + "=pod\n", 2, "line longer than"),
    ("kind: NetworkMap\nspec:\n  map:\n  - source: {name: a}\n"
     "    destination: {type: bridge}\n", 5, 'unknown destination type'),
    ("kind: NetworkMap\nspec:\n  map:\n  - source: {id: ''}\n"
     "    destination: {type: pod}\n", 4, "the source names no network"),
    ("kind: NetworkMap\nspec:\n  map:\n  - source: {name: a}\n", 4,
     "no destination"),
    ("kind: NetworkMap\nspec:\n  map:\n  - source: {name: a}\n"
     "    destination: {type: multus}\n", 5, "needs the name"),
    ("kind: NetworkMap\nspec:\n  map: {a: b}\n", 3, "must be a list"),
    ("kind: NetworkMap\nspec:\n  map:\n  - source: {name: [a]}\n"
     "    destination: {type: pod}\n", 4, "source.name must be a string"),
    ("apiVersion: v1\nkind: NetworkMap\nspec: {}\n", 1, "apiVersion must be"),
    ("kind: NetworkMap\nspec: [\n", 3, "not valid YAML"),
    ("kind: StorageMap\nspec: {}\n", None, "no NetworkMap in the file"),
    ("apiVersion: x\nspec: {}\n", 1, "the document has no kind"),
    ("kind: NetworkMap\n  bad: indent\n", 2, "not valid YAML"),
    ("kind: NetworkMap\nspec: " + "[" * 100000 + "]" * 100000 + "\n", 2,
     "nested deeper than 32 levels"),
]


@pytest.mark.parametrize("text,line,message", BAD_MAPS,
                         ids=[m[2].split()[0] + str(i)
                              for i, m in enumerate(BAD_MAPS)])
def test_malformed_network_map_is_one_line_error(hoist, tmp_path, text, line,
                                                 message):
    f = tmp_path / "netmap.txt"
    f.write_text(text)
    out = tmp_path / "out"
    p = hoist("migrate", "--network-map", f, "--source",
              f"ova:{tmp_path}/none.ova", "--target", f"dir:{out}",
              check=False)
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    where = f"{f}:{line}: " if line else f"{f}: "
    assert lines[0].startswith(f"hoist: {where}"), lines[0]
    assert message in lines[0]
    assert not out.exists()


def test_network_map_file_errors(hoist, tmp_path):
    out = tmp_path / "out"
    for f, msg in [(tmp_path / "missing", "No such file"),
                   (tmp_path, "not a regular file")]:
        p = hoist("migrate", "--network-map", f, "--source", "ova:x.ova",
                  "--target", f"dir:{out}", check=False)
        assert p.returncode == 1
        assert p.stderr.count("\n") == 1 and str(f) in p.stderr
        assert msg in p.stderr
    big = tmp_path / "big"
    big.write_text("# x\n" * 300000)
    p = hoist("migrate", "--network-map", big, "--source", "ova:x.ova",
              "--target", f"dir:{out}", check=False)
    assert p.returncode == 1 and "larger than" in p.stderr
    assert not out.exists()


# --- names ---


def test_names_are_dns1123_unique_and_keep_the_original(kv_build, schema):
    originals = ["Web Server #1: Prod", "web-server-1-prod",
                 "WEB SERVER 1 PROD", "", "Ärger über Größe", "a" * 100,
                 "a" * 100, "---", "数据库", "ok-name", "a" * 63 + "-2"]
    vms = [big_vm(name=n, id=f"id-{i}", nics=[]) for i, n in
           enumerate(originals)]
    names, concerns, out, _ = kv_build(vms)
    assert names[:5] == ["web-server-1-prod", "web-server-1-prod-2",
                         "web-server-1-prod-3", "id-3", "arger-uber-grosse"]
    assert names[5] == "a" * 63 and names[6] == "a" * 61 + "-2"
    assert re.fullmatch(r"vm-[0-9a-f]{8}", names[7])
    assert re.fullmatch(r"vm-[0-9a-f]{8}", names[8]) and names[7] != names[8]
    assert names[9] == "ok-name"
    assert names[10] == "a" * 61 + "-3"
    assert len(set(names)) == len(names)
    for original, name in zip(originals, names):
        assert DNS1123_LABEL.match(name) and len(name) <= 63
        doc = load_vm(out, name)
        schema.check_vm(doc)
        assert doc["metadata"]["annotations"]["hoist.io/original-name"] == \
            original
        for pvc in load_pvcs(out, name):
            schema.check_pvc(pvc)
    renamed = [m for lvl, m in concerns if m.startswith("name changed") or
               m.startswith("the VM has no name")]
    assert len(renamed) == len(originals) - 1  # all but "ok-name"
    assert renamed[3] == 'the VM has no name; it is named "id-3"'
    assert renamed[0].startswith('name changed from "Web Server #1: Prod" '
                                 'to "web-server-1-prod"')
    assert all(lvl == "warning" for lvl, m in concerns)


def test_names_are_stable_between_runs(kv_build):
    vms = [big_vm(name=n, nics=[]) for n in ["数据库", "x y", "x-y"]]
    first, _, _, _ = kv_build(vms)
    second, _, _, _ = kv_build(vms)
    assert first == second


# --- YAML emitter ---

TRICKY = [
    "yes", "No", "on", "OFF", "y", "N", "null", "Null", "~", "true", "False",
    "0123", "123", "-1", "+1", "1e3", "1E-3", "0x1f", "0o17", "0b101", "1_000",
    "1.5", ".5", ".inf", "-.inf", ".NaN", "00:50:56:aa:bb:cc", "12:30:00",
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "a: b", "a #b", "#x",
    "- x", "-x", "?x", ":x", "&a", "*a", "!tag", "|", ">", "%x", "@x", "`x",
    "'q'", '"dq"', "{a}", "[a]", "a,b", "line1\nline2", "tab\there",
    "trailing ", " leading", "", "ünïcödé ✓", "emoji 🚀", "\x01ctl\x7f",
    "back\\slash", "x\u2028y\u0085z", "\ufeffbom", "=", "<<", "plain-ok",
    "kubevirt.io/v1", "2048Mi", "a:b", "a/b", "_x", "\r\n",
]


def test_yaml_scalars_read_back_unchanged(kv_build_bin):
    p = subprocess.run([str(kv_build_bin), "--scalar", *TRICKY],
                       capture_output=True, text=True, check=True)
    assert yaml.safe_load(p.stdout) == TRICKY
    lines = p.stdout.splitlines()
    assert len(lines) == len(TRICKY)  # one line each
    plain = {t for t, line in zip(TRICKY, lines) if not line.startswith('- "')}
    assert plain == {"plain-ok", "kubevirt.io/v1", "2048Mi", "a/b", "_x"}


def test_yaml_invalid_utf8_is_replaced(kv_build_bin):
    p = subprocess.run([str(kv_build_bin), "--scalar", b"ab\xffc\xc3",
                        b"\xed\xa0\x80"], capture_output=True, check=True)
    assert yaml.safe_load(p.stdout.decode("utf-8")) == [
        "ab\ufffdc\ufffd", "\ufffd\ufffd\ufffd"]


def test_manifests_with_hostile_strings_are_valid(kv_build, schema,
                                                  tmp_path):
    name = 'yes: "no"\n# - [x] \u2028 ✓'
    vm = big_vm(name=name, id="on", source_ref="/a b/#c: d.ova",
                description="multi\nline: yes")
    vm["disks"][0]["id"] = "null"
    nm = tmp_path / "map.txt"
    nm.write_text("VM Network=pod\nStorage=ignored\nBackup=ignored\n")
    names, _, out, _ = kv_build([vm], "--network-map", nm)
    doc = load_vm(out, names[0])
    schema.check_vm(doc)
    ann = doc["metadata"]["annotations"]
    assert ann["hoist.io/original-name"] == name
    assert ann["hoist.io/source-ref"] == "/a b/#c: d.ova"
    assert ann["hoist.io/source-vm-id"] == "on"
    assert doc["metadata"]["labels"]["hoist.io/source-vm-id"] == "on"
    assert ann["hoist.io/description"] == "multi\nline: yes"
    pvc = load_pvcs(out, names[0])[0]
    assert pvc["metadata"]["annotations"]["hoist.io/source-disk-id"] == "null"


def test_long_description_is_cut_on_a_character(kv_build, schema):
    _, _, out, _ = kv_build([big_vm(description="é" * 5000, nics=[])])
    doc = load_vm(out, "app-server")
    schema.check_vm(doc)
    assert doc["metadata"]["annotations"]["hoist.io/description"] == \
        "é" * 2048


def test_output_is_stable(kv_build, tmp_path):
    _, _, out1, _ = kv_build([big_vm()], check=False)
    _, _, out2, _ = kv_build([big_vm()], check=False)
    for f in ("virtualmachine.yaml", "pvcs.yaml"):
        assert (out1 / "app-server" / f).read_bytes() == \
            (out2 / "app-server" / f).read_bytes()


# --- the schema check itself ---


def test_schema_check_is_strict(kv_build, schema):
    _, _, out, _ = kv_build([big_vm()], check=False)
    doc = load_vm(out, "app-server")
    schema.check_vm(doc)
    dom = doc["spec"]["template"]["spec"]["domain"]
    dom["cpu"]["socket"] = 2
    dom["devices"]["disks"][1]["bootOrder"] = 1
    dom["memory"]["guest"] = "lots"
    doc["spec"]["template"]["spec"]["volumes"].pop()
    errs = "\n".join(schema.vm_errors(doc))
    assert "'socket' was unexpected" in errs
    assert "not unique" in errs
    assert "'lots' does not parse" in errs
    assert "disk 'disk-2' has no volume" in errs


# --- the command line ---


def test_migrate_usage_errors(hoist, tmp_path):
    cases = [
        [],
        ["--source", "ova:x.ova"],
        ["--target", "dir:out"],
        ["--source", "vsphere:x", "--target", "dir:out"],
        ["--source", "ova:x.ova", "--target", "out"],
        ["--source", "ova:x.ova", "--target", "dir:o", "--volume-mode", "Raw"],
        ["--source", "ova:x.ova", "--target", "dir:o", "--namespace", "Prod"],
        ["--source", "ova:x.ova", "--target", "dir:o", "--storage-class",
         "a_b"],
        ["--source", "ova:x.ova", "--target", "dir:o", "--workers", "0"],
        ["--source", "ova:x.ova", "--target", "dir:o", "--access-mode", "x"],
        ["--source", "ova:x.ova", "--target", "dir:o", "extra"],
        ["--source", "ova:x.ova", "--target", "dir:o", "--bogus"],
    ]
    for args in cases:
        p = hoist("migrate", *args, check=False, cwd=tmp_path)
        assert p.returncode == 2, args
        assert len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)
    assert list(tmp_path.iterdir()) == []


def test_migrate_help(hoist):
    p = hoist("migrate", "--help")
    for word in ("--network-map", "--storage-class", "--namespace", "--vm",
                 "--force", "--volume-mode", "pod network", "0.055",
                 "kubectl apply -k", "StorageMap", "multus:NAMESPACE/NAME"):
        assert word in p.stdout
    assert max(len(line) for line in p.stdout.splitlines()) <= 80
