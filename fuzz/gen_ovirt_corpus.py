#!/usr/bin/env python3
"""Writes the seeds of fuzz/corpus/ovirt/: the engine's JSON as the fake
engine (tests/peers/ovirt_engine.py) writes it, for VMs with every
feature the concerns look at, plus damaged variants and provider files.
Run from the repository's top: fuzz/gen_ovirt_corpus.py."""
import copy
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from peers.ovirt_engine import FakeEngine  # noqa: E402

OUT = ROOT / "fuzz" / "corpus" / "ovirt"
FOLLOW = {"disk_attachments", "disk_attachments.disk", "nics",
          "nics.vnic_profile", "host_devices", "watchdogs", "snapshots",
          "numa_nodes"}


def engine():
    e = FakeEngine(pathlib.Path("/tmp/hoist-gen-ovirt"), None, None)
    mgmt = e.add_network("ovirtmgmt", description="Management")
    lan = e.add_network("storage-lan", vlan=20, pass_through=True,
                        port_mirroring=True, qos=True)
    e.add_cluster("efi", bios_type="q35_ovmf")
    d1 = e.add_disk(None, "qcow2", alias="sys", provisioned_size=2**34)
    d2 = e.add_disk(None, "raw", alias="data", provisioned_size=2**30,
                    shareable=True, status="locked")
    lun = e.add_disk(None, "raw", alias="lun", storage_type="lun",
                     provisioned_size=2**35)
    e.add_vm("web01", disks=[d1, d2, lun],
             interfaces=["virtio_scsi", "ide", "virtio"],
             nics=[(mgmt, "56:6F:00:00:00:01", "virtio"),
                   {"network": lan, "mac": "56:6f:00:00:00:02",
                    "interface": "rtl8139", "plugged": False}],
             status="up", bios={"type": "q35_secure_boot",
                                "boot_menu": {"enabled": True}},
             serial_number={"policy": "custom", "value": "S-1"},
             time_zone={"name": "W. Europe Standard Time",
                        "utc_offset": "+01:00"},
             usb={"enabled": True}, tpm_enabled=True,
             has_illegal_images=True, cpu_shares=512,
             cpu={"mode": "host_passthrough",
                  "topology": {"sockets": 2, "cores": 4, "threads": 2},
                  "cpu_tune": {"vcpu_pins": {"vcpu_pin": [
                      {"vcpu": 0, "cpu_set": "1-2"}]}}},
             memory_policy={"guaranteed": 2**30, "ballooning": True},
             placement_policy={"affinity": "pinned"},
             high_availability={"enabled": True},
             custom_properties={"custom_property": [{"name": "x",
                                                     "value": "y"}]},
             display={"type": "spice"}, io={"threads": 1},
             numa_tune_mode="strict",
             host_devices=[{"name": "pci_0000_00_02_0",
                            "product": {"name": "GPU"}}],
             watchdogs=[{"model": "i6300esb", "action": "reset"}],
             snapshots=[{"description": "s1", "snapshot_type": "regular",
                         "persist_memorystate": True}],
             numa_nodes=[{"index": 0, "memory": 1024}])
    e.add_vm("plain", bios={"type": "i440fx_sea_bios"},
             time_zone={"name": "Mars/Olympus", "utc_offset": "-03:30"})
    return e


def collections(e):
    pub = e._public
    return {
        "vm": [e.vm_json(v, FOLLOW) for v in e.vms.values()],
        "network": [pub(n) for n in e.networks.values()],
        "vnic_profile": [pub(p) for p in e.profiles.values()],
        "storage_domain": [pub(s) for s in e.storage.values()],
        "cluster": [pub(c) for c in e.clusters.values()],
        "host": [pub(h) for h in e.hosts.values()],
    }


def native(v):
    """The same with native JSON numbers and booleans."""
    if isinstance(v, dict):
        return {k: native(x) for k, x in v.items()}
    if isinstance(v, list):
        return [native(x) for x in v]
    if v in ("true", "false"):
        return v == "true"
    if isinstance(v, str) and v.isdigit() and len(v) < 18:
        return int(v)
    return v


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    e = engine()
    all_ = collections(e)
    seeds = {
        "inventory.json": all_,
        "inventory-native.json": native(all_),
        "one-vm.json": all_["vm"][0],
        "empty.json": {},
        "no-follow.json": {"vm": [e.vm_json(v, set())
                                  for v in e.vms.values()]},
    }
    bad = copy.deepcopy(all_)
    vm = bad["vm"][0]
    vm["memory"] = "-5"
    vm["cpu"]["topology"]["sockets"] = "99999999999999999999999"
    vm["disk_attachments"]["disk_attachment"][0]["disk"][
        "provisioned_size"] = "12abc"
    vm["nics"]["nic"][0]["mac"] = ["not", "a", "string"]
    vm["nics"]["nic"][1]["vnic_profile"] = "profile"
    vm["time_zone"]["utc_offset"] = "+99:99"
    bad["network"][0]["vlan"] = {"id": "70000"}
    bad["host"].append({"name": "no id"})
    seeds["damaged.json"] = bad
    seeds["wrong-types.json"] = {"vm": {"id": "x"}, "network": "n",
                                 "cluster": [1, 2], "host": [None]}
    seeds["vm-no-id.json"] = {"vm": [{"name": "x"}]}
    for name, doc in seeds.items():
        (OUT / name).write_text(json.dumps(doc, indent=1) + "\n")
    (OUT / "truncated.json").write_text(
        json.dumps(all_)[:2000])
    (OUT / "provider.yaml").write_text(
        "url: https://engine.example.com\nuser: admin@internal\n"
        "passwordFile: pw\ncacert: ca.pem\ninsecureSkipVerify: false\n")
    (OUT / "provider.conf").write_text(
        "# lab\nurl=https://engine.example.com\nuser = admin@internal\n"
        "password=secret\ninsecureSkipVerify=true\n")
    (OUT / "provider-bad.yaml").write_text(
        "url: [a, b]\nuser: &u admin\nother: *u\n")
    (OUT / "provider-nested.yaml").write_text("a:\n  b: c\n- d\n")


if __name__ == "__main__":
    main()
