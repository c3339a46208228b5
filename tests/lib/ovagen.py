"""Builds OVA packages for tests: OVF descriptors in the dialects real
exports use, and tar archives around them (OVF first, then the manifest,
then the disk files, as the OVF specification orders them).

    from ovagen import Disk, Nic, VM, make_ovf, write_ova, make_disk

    disk = make_disk(tmp / "d1.img", 4 * MiB, [(0, 65536, 0x11)])
    ovf = make_ovf([VM("web", disks=[Disk("disk1.img", 4 * MiB)],
                       nics=[Nic("VM Network", "00:50:56:aa:bb:cc")])])
    write_ova(tmp / "vm.ova", ovf, {"disk1.img": disk}, manifest="SHA256")

Nothing here knows hoist: the files are what ovftool, VirtualBox or a
generic OVF tool would write.
"""
import gzip
import hashlib
import io
import os
import re
import tarfile
from dataclasses import dataclass, field
from typing import Optional
from xml.sax.saxutils import escape, quoteattr

from diskutil import qemu_img, qemu_io

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "fixtures", "ovf")

FORMAT_URIS = {
    "vmdk": "http://www.vmware.com/interfaces/specifications/vmdk.html"
            "#streamOptimized",
    "vmdk-sparse": "http://www.vmware.com/specifications/vmdk.html#sparse",
    "qcow2": "http://www.gnome.org/~markmc/qcow-image-format.html",
    "raw": "http://en.wikipedia.org/wiki/Byte",
}

# (ResourceType, ResourceSubType) of the controllers a disk can hang off.
CONTROLLERS = {
    "pvscsi": (6, "VirtualSCSI"),
    "lsilogic": (6, "lsilogic"),
    "lsilogicsas": (6, "lsilogicsas"),
    "buslogic": (6, "buslogic"),
    "sata": (20, "vmware.sata.ahci"),
    "ide": (5, None),
    "nvme": (20, "vmware.nvme.controller"),
}


def fixture(name):
    """The text of tests/fixtures/ovf/NAME."""
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        return f.read()


@dataclass
class Disk:
    member: Optional[str]      # file name in the package; None: empty disk
    capacity: int              # in `units` (bytes when units is None)
    units: Optional[str] = None
    fmt: str = "raw"           # key of FORMAT_URIS, or a URI
    controller: str = "pvscsi"  # key of CONTROLLERS, or (type, subtype)
    gzip: bool = False
    disk_id: Optional[str] = None
    unit: Optional[int] = None  # AddressOnParent


@dataclass
class Nic:
    network: Optional[str]
    mac: Optional[str] = None
    model: Optional[str] = "VmxNet3"


@dataclass
class VM:
    name: str
    cpus: int = 1
    cores_per_socket: Optional[int] = None
    memory_mib: int = 1024
    memory_units: str = "byte * 2^20"
    firmware: Optional[str] = None   # "efi" / "bios"
    secure_boot: bool = False
    os_type: Optional[str] = "otherLinux64Guest"
    disks: list = field(default_factory=list)
    nics: list = field(default_factory=list)
    extra_items: str = ""            # raw XML Items to add
    extra_config: dict = field(default_factory=dict)  # vmw:ExtraConfig
    boot_disk: Optional[int] = None  # index into disks: vmw:BootOrderSection


ENVELOPE = {
    1: "http://schemas.dmtf.org/ovf/envelope/1",
    2: "http://schemas.dmtf.org/ovf/envelope/2",
}
RASD = ("http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
        "CIM_ResourceAllocationSettingData")
VSSD = ("http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
        "CIM_VirtualSystemSettingData")
SASD = ("http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
        "CIM_StorageAllocationSettingData")
EPASD = ("http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
         "CIM_EthernetPortAllocationSettingData")
VMW = "http://www.vmware.com/schema/ovf"


def _item(props, tag="Item", prefix="rasd", extra=""):
    lines = [f"      <{tag}>"]
    for k in sorted(props):
        v = props[k]
        if v is None:
            continue
        lines.append(f"        <{prefix}:{k}>{escape(str(v))}</{prefix}:{k}>")
    if extra:
        lines.append(extra)
    lines.append(f"      </{tag}>")
    return "\n".join(lines)


def _system(vm, vmi, disk_ids, ovf_version, vmware):
    items = []
    iid = 1
    storage_tag, storage_prefix = ("StorageItem", "sasd") \
        if ovf_version == 2 else ("Item", "rasd")
    nic_tag, nic_prefix = ("EthernetPortItem", "epasd") \
        if ovf_version == 2 else ("Item", "rasd")

    cps = ""
    if vm.cores_per_socket:
        cps = ("        <vmw:CoresPerSocket ovf:required=\"false\">"
               f"{vm.cores_per_socket}</vmw:CoresPerSocket>")
    items.append(_item({"InstanceID": iid, "ResourceType": 3,
                        "ElementName": f"{vm.cpus} virtual CPU(s)",
                        "VirtualQuantity": vm.cpus}, extra=cps))
    iid += 1
    items.append(_item({"InstanceID": iid, "ResourceType": 4,
                        "AllocationUnits": vm.memory_units,
                        "ElementName": f"{vm.memory_mib}MB of memory",
                        "VirtualQuantity": vm.memory_mib}))
    iid += 1
    controllers = {}
    for d in vm.disks:
        key = d.controller if isinstance(d.controller, str) \
            else tuple(d.controller)
        if key in controllers:
            continue
        rtype, sub = CONTROLLERS[key] if isinstance(key, str) else key
        controllers[key] = iid
        items.append(_item({"InstanceID": iid, "ResourceType": rtype,
                            "ResourceSubType": sub, "Address": 0,
                            "ElementName": f"controller {iid}"}))
        iid += 1
    disk_iids = []
    units = {}
    for i, d in enumerate(vm.disks):
        key = d.controller if isinstance(d.controller, str) \
            else tuple(d.controller)
        unit = d.unit if d.unit is not None else units.get(key, 0)
        units[key] = unit + 1
        disk_iids.append(iid)
        items.append(_item({"InstanceID": iid, "ResourceType": 17,
                            "ElementName": f"Hard disk {i + 1}",
                            "HostResource": f"ovf:/disk/{disk_ids[i]}",
                            "Parent": controllers[key],
                            "AddressOnParent": unit},
                           tag=storage_tag, prefix=storage_prefix))
        iid += 1
    for i, n in enumerate(vm.nics):
        items.append(_item({"InstanceID": iid, "ResourceType": 10,
                            "ElementName": f"Network adapter {i + 1}",
                            "ResourceSubType": n.model,
                            "Connection": n.network,
                            "Address": n.mac},
                           tag=nic_tag, prefix=nic_prefix))
        iid += 1
    config = []
    if vmware:
        if vm.firmware:
            config.append(("Config", "firmware", vm.firmware))
        if vm.secure_boot:
            config.append(("Config", "uefi.secureBoot.enabled", "TRUE"))
        for k, v in vm.extra_config.items():
            config.append(("ExtraConfig", k, v))
    config_xml = "\n".join(
        f"      <vmw:{kind} ovf:required=\"false\" vmw:key={quoteattr(k)} "
        f"vmw:value={quoteattr(v)}/>" for kind, k, v in config)
    os_section = ""
    if vm.os_type:
        osattr = f" vmw:osType={quoteattr(vm.os_type)}" if vmware else ""
        os_section = (f"    <OperatingSystemSection ovf:id=\"101\"{osattr}>\n"
                      "      <Info>The guest operating system</Info>\n"
                      "    </OperatingSystemSection>\n")
    boot = ""
    if vmware and vm.boot_disk is not None:
        boot = (f"    <vmw:BootOrderSection vmw:instanceId="
                f"\"{disk_iids[vm.boot_disk]}\" vmw:type=\"disk\">\n"
                "      <Info>Virtual hardware device boot order</Info>\n"
                "    </vmw:BootOrderSection>\n")
    return f"""  <VirtualSystem ovf:id={quoteattr(vm.name)}>
    <Info>A virtual machine</Info>
    <Name>{escape(vm.name)}</Name>
{os_section}    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>{escape(vm.name)}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>{"vmx-19" if vmware else "qemu-kvm"}</vssd:VirtualSystemType>
      </System>
{chr(10).join(items)}
{vm.extra_items}
{config_xml}
    </VirtualHardwareSection>
{boot}  </VirtualSystem>
"""


def make_ovf(vms, dialect="vmware", collection_id="collection"):
    """An OVF descriptor for the VMs (a VirtualSystemCollection when there
    are several). dialect: "vmware" (OVF 1.0 with vmw: extensions),
    "dmtf1" (plain OVF 1.x), "dmtf2" (plain OVF 2.0 with StorageItem and
    EthernetPortItem)."""
    if isinstance(vms, VM):
        vms = [vms]
    version = 2 if dialect == "dmtf2" else 1
    vmware = dialect == "vmware"
    refs, disks = [], []
    per_vm_ids = []
    n = 0
    for vm in vms:
        ids = []
        for d in vm.disks:
            n += 1
            disk_id = d.disk_id or f"vmdisk{n}"
            ids.append(disk_id)
            fileref = ""
            if d.member is not None:
                comp = ' ovf:compression="gzip"' if d.gzip else ""
                refs.append(f'    <File ovf:href={quoteattr(d.member)} '
                            f'ovf:id="file{n}" ovf:size="0"{comp}/>')
                fileref = f' ovf:fileRef="file{n}"'
            units = f' ovf:capacityAllocationUnits={quoteattr(d.units)}' \
                if d.units else ""
            fmt = FORMAT_URIS.get(d.fmt, d.fmt)
            disks.append(f'    <Disk ovf:capacity="{d.capacity}"{units} '
                         f'ovf:diskId={quoteattr(disk_id)}{fileref} '
                         f'ovf:format={quoteattr(fmt)}/>')
        per_vm_ids.append(ids)
    networks = sorted({n.network for vm in vms for n in vm.nics
                       if n.network})
    nets = "\n".join(f"    <Network ovf:name={quoteattr(x)}>"
                     f"<Description>{escape(x)}</Description></Network>"
                     for x in networks)
    systems = "".join(_system(vm, i, per_vm_ids[i], version, vmware)
                      for i, vm in enumerate(vms))
    if len(vms) > 1:
        systems = (f"  <VirtualSystemCollection ovf:id="
                   f"{quoteattr(collection_id)}>\n"
                   "    <Info>A collection of virtual machines</Info>\n"
                   f"{systems}  </VirtualSystemCollection>\n")
    ns = ENVELOPE[version]
    extra_ns = ""
    if version == 2:
        extra_ns = f' xmlns:sasd="{SASD}" xmlns:epasd="{EPASD}"'
    if vmware:
        extra_ns += f' xmlns:vmw="{VMW}"'
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="{ns}" xmlns:ovf="{ns}" xmlns:rasd="{RASD}" xmlns:vssd="{VSSD}"{extra_ns}>
  <References>
{chr(10).join(refs)}
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
{chr(10).join(disks)}
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
{nets}
  </NetworkSection>
{systems}</Envelope>
"""


def make_disk(path, size, writes=(), fmt="raw"):
    """A disk of `size` bytes with qemu-io writes [(offset, length,
    pattern)], converted to fmt: "raw", "qcow2", "vmdk" (streamOptimized)
    or "vmdk-sparse" (monolithicSparse)."""
    path = str(path)
    raw = path if fmt == "raw" else path + ".raw"
    with open(raw, "wb") as f:
        f.truncate(size)
    for off, length, pattern in writes:
        qemu_io(raw, "raw", f"write -P {pattern} {off} {length}")
    if fmt == "raw":
        return path
    opts = {"qcow2": ["-O", "qcow2"],
            "vmdk": ["-O", "vmdk", "-o", "subformat=streamOptimized"],
            "vmdk-sparse": ["-O", "vmdk", "-o",
                            "subformat=monolithicSparse"]}[fmt]
    qemu_img("convert", "-f", "raw", *opts, raw, path)
    os.unlink(raw)
    return path


def _file_bytes(src):
    if isinstance(src, (bytes, bytearray)):
        return bytes(src)
    with open(src, "rb") as f:
        return f.read()


def fix_file_sizes(ovf, sizes):
    """Sets ovf:size of each References/File to the stored size of its
    member (sizes: member name -> bytes)."""
    def fix(m):
        tag = m.group(0)
        href = re.search(r'ovf:href="([^"]*)"', tag)
        if not href or href.group(1) not in sizes:
            return tag
        size = sizes[href.group(1)]
        if re.search(r'ovf:size="[^"]*"', tag):
            return re.sub(r'ovf:size="[^"]*"', f'ovf:size="{size}"', tag)
        return tag.replace("ovf:href=", f'ovf:size="{size}" ovf:href=', 1)
    return re.sub(r"<(?:ovf:)?File\b[^>]*>", fix, ovf)


def manifest_text(members, algo="SHA256", space=True):
    """Manifest lines for members [(name, bytes)]."""
    h = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256,
         "SHA512": hashlib.sha512}[algo]
    sep = "= " if space else "="
    return "".join(f"{algo}({name}){sep}{h(data).hexdigest()}\n"
                   for name, data in members)


def write_ova(out, ovf, files=None, ovf_name="vm.ovf", manifest=None,
              gzip_members=(), fix_sizes=True, tar_format=tarfile.USTAR_FORMAT,
              manifest_edit=None, extra_members=(), mf_name=None):
    """Writes a tar OVA: ovf_name first, then the manifest (if manifest is
    "SHA1"/"SHA256"/"SHA512"), then `files` ({member: path or bytes}) in
    order. Members named in gzip_members are stored gzip-compressed (the
    OVF should say ovf:compression="gzip"). manifest_edit(text) -> text may
    corrupt the manifest; extra_members [(name, bytes)] are appended.
    Returns the list of (name, stored bytes)."""
    files = files or {}
    stored = []
    for name, src in files.items():
        data = _file_bytes(src)
        if name in gzip_members:
            data = gzip.compress(data, compresslevel=1, mtime=0)
        stored.append((name, data))
    if fix_sizes:
        ovf = fix_file_sizes(ovf, {n: len(d) for n, d in stored})
    ovf_bytes = ovf.encode() if isinstance(ovf, str) else ovf
    members = [(ovf_name, ovf_bytes)]
    if manifest:
        text = manifest_text([(ovf_name, ovf_bytes)] + stored, manifest)
        if manifest_edit:
            text = manifest_edit(text)
        name = mf_name or os.path.splitext(ovf_name)[0] + ".mf"
        members.append((name, text.encode()))
    members += stored + list(extra_members)
    with tarfile.open(out, "w", format=tar_format) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    return members


def write_unpacked(directory, ovf, files=None, ovf_name="vm.ovf",
                   manifest=None):
    """The same package unpacked into a directory."""
    os.makedirs(directory, exist_ok=True)
    stored = [(n, _file_bytes(s)) for n, s in (files or {}).items()]
    ovf = fix_file_sizes(ovf, {n: len(d) for n, d in stored})
    ovf_bytes = ovf.encode()
    with open(os.path.join(directory, ovf_name), "wb") as f:
        f.write(ovf_bytes)
    for name, data in stored:
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    if manifest:
        text = manifest_text([(ovf_name, ovf_bytes)] + stored, manifest)
        with open(os.path.join(directory,
                               os.path.splitext(ovf_name)[0] + ".mf"),
                  "w") as f:
            f.write(text)
    return os.path.join(directory, ovf_name)
