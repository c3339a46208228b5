"""Writes small OVA archives the way VMware exports them, for tests.

An OVA is a tar file: the OVF descriptor first, then the manifest (.mf)
and the disk files. The OVF uses VMware's dialect: CPU count with
vmw:CoresPerSocket, memory in MB, SCSI (lsilogic, pvscsi), SATA (AHCI) and
IDE controllers, NICs with their MAC in rasd:Address, and firmware and
secure boot as vmw:Config entries.

Disks are raw images made with qemu-img and written with qemu-io
(patterns at offsets), kept to a few MiB because a tar member is stored in
full; fmt="vmdk" makes a streamOptimized VMDK member instead (for when the
VMDK decoder is there). make_ova() returns what a test compares against:
for each VM, for each disk, the raw image that the migrated disk must
equal.
"""
import dataclasses
import hashlib
import io
import os
import subprocess
import tarfile
from xml.sax.saxutils import escape, quoteattr

MiB = 1024 * 1024

CONTROLLERS = {
    # kind: (rasd:ResourceType, rasd:ResourceSubType, element name)
    "lsilogic": (6, "lsilogic", "SCSI controller"),
    "pvscsi": (6, "VirtualSCSI", "SCSI controller"),
    "sata": (20, "vmware.sata.ahci", "SATA controller"),
    "ide": (5, None, "IDE controller"),
}


@dataclasses.dataclass
class Disk:
    size: int = 4 * MiB
    writes: list = dataclasses.field(default_factory=list)  # (off, len, pat)
    controller: str = "lsilogic"
    fmt: str = "raw"


@dataclasses.dataclass
class Nic:
    mac: str = None
    network: str = "VM Network"
    model: str = "VmxNet3"


@dataclasses.dataclass
class VM:
    name: str = "test-vm"
    id: str = None
    cpus: int = 2
    cores_per_socket: int = 1
    memory_mib: int = 1024
    firmware: str = "bios"
    secure_boot: bool = False
    disks: list = dataclasses.field(default_factory=lambda: [Disk()])
    nics: list = dataclasses.field(default_factory=lambda: [Nic()])
    os_type: str = "otherLinux64Guest"


@dataclasses.dataclass
class Made:
    path: str
    # vm name -> list of raw image paths (the expected disk contents)
    disks: dict
    members: list


def _run(*cmd):
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True)


def _make_disk(workdir, name, disk):
    raw = os.path.join(workdir, name + ".raw")
    _run("qemu-img", "create", "-q", "-f", "raw", raw, str(disk.size))
    for off, length, pattern in disk.writes:
        _run("qemu-io", "-f", "raw", "-c",
             f"write -P {pattern} {off} {length}", raw)
    if disk.fmt == "raw":
        return raw, raw
    if disk.fmt == "vmdk":
        member = os.path.join(workdir, name + ".vmdk")
        _run("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
             "subformat=streamOptimized", raw, member)
        return raw, member
    raise ValueError(f"unknown disk format {disk.fmt}")


def _item(fields, extra=""):
    lines = ["      <Item>"]
    for k in sorted(fields):
        v = fields[k]
        if v is None:
            continue
        lines.append(f"        <rasd:{k}>{escape(str(v))}</rasd:{k}>")
    if extra:
        lines.append(extra)
    lines.append("      </Item>")
    return "\n".join(lines)


def _virtual_system(vm, vm_index, disk_ids, file_ids):
    vsid = vm.id or f"vm-{vm_index}"
    items = []
    iid = 1
    items.append(_item({
        "AllocationUnits": "hertz * 10^6",
        "Description": "Number of Virtual CPUs",
        "ElementName": f"{vm.cpus} virtual CPU(s)",
        "InstanceID": iid, "ResourceType": 3, "VirtualQuantity": vm.cpus},
        f'        <vmw:CoresPerSocket ovf:required="false">'
        f'{vm.cores_per_socket}</vmw:CoresPerSocket>'))
    iid += 1
    items.append(_item({
        "AllocationUnits": "byte * 2^20", "Description": "Memory Size",
        "ElementName": f"{vm.memory_mib}MB of memory", "InstanceID": iid,
        "ResourceType": 4, "VirtualQuantity": vm.memory_mib}))
    iid += 1
    controllers = {}
    for d in vm.disks:
        if d.controller in controllers:
            continue
        rtype, subtype, label = CONTROLLERS[d.controller]
        controllers[d.controller] = iid
        items.append(_item({
            "Address": len(controllers) - 1, "Description": label,
            "ElementName": f"{label} {len(controllers) - 1}",
            "InstanceID": iid, "ResourceSubType": subtype,
            "ResourceType": rtype}))
        iid += 1
    unit = {}
    for i, d in enumerate(vm.disks):
        parent = controllers[d.controller]
        unit[parent] = unit.get(parent, -1) + 1
        items.append(_item({
            "AddressOnParent": unit[parent],
            "ElementName": f"Hard disk {i + 1}",
            "HostResource": f"ovf:/disk/{disk_ids[i]}",
            "InstanceID": iid, "Parent": parent, "ResourceType": 17}))
        iid += 1
    for i, n in enumerate(vm.nics):
        items.append(_item({
            "Address": n.mac, "AddressOnParent": 7 + i,
            "AutomaticAllocation": "true", "Connection": n.network,
            "Description": f'{n.model} ethernet adapter on "{n.network}"',
            "ElementName": f"Network adapter {i + 1}", "InstanceID": iid,
            "ResourceSubType": n.model, "ResourceType": 10}))
        iid += 1
    config = []
    if vm.firmware == "efi":
        config.append('      <vmw:Config ovf:required="false" '
                      'vmw:key="firmware" vmw:value="efi"/>')
    if vm.secure_boot:
        config.append('      <vmw:Config ovf:required="false" '
                      'vmw:key="uefi.secureBoot.enabled" vmw:value="true"/>')
    return f"""  <VirtualSystem ovf:id={quoteattr(vsid)}>
    <Info>A virtual machine</Info>
    <Name>{escape(vm.name)}</Name>
    <OperatingSystemSection ovf:id="101" vmw:osType={quoteattr(vm.os_type)}>
      <Info>The kind of installed guest operating system</Info>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>{escape(vm.name)}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-14</vssd:VirtualSystemType>
      </System>
{chr(10).join(items)}
{chr(10).join(config)}
    </VirtualHardwareSection>
  </VirtualSystem>
"""


def make_ovf(vms, disk_files):
    """The OVF text. disk_files: per VM, per disk (member name, size,
    capacity, fmt)."""
    refs, disks, nets = [], [], []
    disk_ids_per_vm, file_ids_per_vm = [], []
    n = 0
    for vm, files in zip(vms, disk_files):
        ids, fids = [], []
        for member, size, capacity, fmt in files:
            n += 1
            fid, did = f"file{n}", f"vmdisk{n}"
            ids.append(did)
            fids.append(fid)
            refs.append(f'    <File ovf:href={quoteattr(member)} '
                        f'ovf:id="{fid}" ovf:size="{size}"/>')
            fmt_attr = (' ovf:format="http://www.vmware.com/interfaces/'
                        'specifications/vmdk.html#streamOptimized"'
                        if fmt == "vmdk" else "")
            disks.append(f'    <Disk ovf:capacity="{capacity}" '
                         f'ovf:capacityAllocationUnits="byte" '
                         f'ovf:diskId="{did}" ovf:fileRef="{fid}"'
                         f'{fmt_attr}/>')
        disk_ids_per_vm.append(ids)
        file_ids_per_vm.append(fids)
    seen = []
    for vm in vms:
        for nic in vm.nics:
            if nic.network not in seen:
                seen.append(nic.network)
    for net in seen:
        nets.append(f'    <Network ovf:name={quoteattr(net)}>\n'
                    f'      <Description>The {escape(net)} network'
                    f'</Description>\n    </Network>')
    systems = "".join(_virtual_system(vm, i, disk_ids_per_vm[i],
                                      file_ids_per_vm[i])
                      for i, vm in enumerate(vms))
    if len(vms) > 1:
        systems = ('  <VirtualSystemCollection ovf:id="collection">\n'
                   '    <Info>A collection of virtual machines</Info>\n'
                   f'    <Name>collection</Name>\n{systems}'
                   '  </VirtualSystemCollection>\n')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope vmw:buildId="build-20000000" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
{chr(10).join(refs)}
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
{chr(10).join(disks)}
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
{chr(10).join(nets)}
  </NetworkSection>
{systems}</Envelope>
"""


def _digest(algo, data):
    return hashlib.new(algo, data).hexdigest()


def make_ova(path, vms, workdir, manifest="sha256", bad_digest=None,
             basename="export"):
    """Writes the OVA at path. manifest: "sha256", "sha1" or None.
    bad_digest: a member name whose manifest digest is made wrong.
    Returns a Made with the expected raw image of each disk."""
    os.makedirs(workdir, exist_ok=True)
    disk_files, expected, payloads = [], {}, []
    n = 0
    for vm in vms:
        files = []
        expected[vm.name] = []
        for d in vm.disks:
            n += 1
            stem = f"{basename}-disk{n}"
            raw, member_path = _make_disk(workdir, stem, d)
            member = os.path.basename(member_path)
            files.append((member, os.path.getsize(member_path), d.size,
                          d.fmt))
            expected[vm.name].append(raw)
            payloads.append((member, member_path))
        disk_files.append(files)
    ovf = make_ovf(vms, disk_files).encode()
    members = [(f"{basename}.ovf", ovf)]
    for member, member_path in payloads:
        with open(member_path, "rb") as f:
            members.append((member, f.read()))
    if manifest:
        algo = manifest.upper()
        lines = []
        for name, data in members:
            digest = _digest(manifest, data)
            if name == bad_digest:
                digest = ("0" if digest[0] != "0" else "1") + digest[1:]
            lines.append(f"{algo}({name})= {digest}\n")
        members.insert(1, (f"{basename}.mf", "".join(lines).encode()))
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    return Made(str(path), expected, [m[0] for m in members])
