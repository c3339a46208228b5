#!/usr/bin/env python3
"""Writes the sample OVA that `scripts/demo` migrates: a small VM as
VMware's ovftool exports it, with two streamOptimized disks (a 1 GiB system
disk holding some data, and a sparse 8 GiB data disk holding almost
nothing), two NICs, EFI firmware, and a SHA-256 manifest.

Usage: make-sample-ova.py OUT.ova
"""
import hashlib
import io
import os
import pathlib
import random
import subprocess
import sys
import tarfile
import tempfile

MiB = 1 << 20
GiB = 1 << 30

OVF = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope vmw:buildId="build-20800274" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
    <File ovf:href="sample-web01-disk1.vmdk" ovf:id="file1" ovf:size="{size1}"/>
    <File ovf:href="sample-web01-disk2.vmdk" ovf:id="file2" ovf:size="{size2}"/>
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="1" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" ovf:populatedSize="{pop1}"/>
    <Disk ovf:capacity="8" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized" ovf:populatedSize="{pop2}"/>
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
    <Network ovf:name="VM Network">
      <Description>The VM Network network</Description>
    </Network>
    <Network ovf:name="Storage-VLAN20">
      <Description>The Storage-VLAN20 network</Description>
    </Network>
  </NetworkSection>
  <VirtualSystem ovf:id="Sample_Web01">
    <Info>A virtual machine</Info>
    <Name>Sample_Web01</Name>
    <OperatingSystemSection ovf:id="80" vmw:osType="rhel8_64Guest">
      <Info>The kind of installed guest operating system</Info>
      <Description>Red Hat Enterprise Linux 8 (64-bit)</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>Sample_Web01</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:Description>Number of Virtual CPUs</rasd:Description>
        <rasd:ElementName>4 virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>4</rasd:VirtualQuantity>
        <vmw:CoresPerSocket ovf:required="false">2</vmw:CoresPerSocket>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:Description>Memory Size</rasd:Description>
        <rasd:ElementName>4096MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>4096</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Description>SCSI Controller</rasd:Description>
        <rasd:ElementName>SCSI controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Description>SATA Controller</rasd:Description>
        <rasd:ElementName>SATA controller 0</rasd:ElementName>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:ResourceSubType>vmware.sata.ahci</rasd:ResourceSubType>
        <rasd:ResourceType>20</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>5</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk 2</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk2</rasd:HostResource>
        <rasd:InstanceID>6</rasd:InstanceID>
        <rasd:Parent>4</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:Address>00:50:56:8a:3c:01</rasd:Address>
        <rasd:AddressOnParent>7</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>VM Network</rasd:Connection>
        <rasd:Description>VmxNet3 ethernet adapter on "VM Network"</rasd:Description>
        <rasd:ElementName>Network adapter 1</rasd:ElementName>
        <rasd:InstanceID>7</rasd:InstanceID>
        <rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:Address>00:50:56:8a:3c:02</rasd:Address>
        <rasd:AddressOnParent>8</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>Storage-VLAN20</rasd:Connection>
        <rasd:Description>E1000e ethernet adapter on "Storage-VLAN20"</rasd:Description>
        <rasd:ElementName>Network adapter 2</rasd:ElementName>
        <rasd:InstanceID>8</rasd:InstanceID>
        <rasd:ResourceSubType>E1000e</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>
      <vmw:Config ovf:required="false" vmw:key="uefi.secureBoot.enabled" vmw:value="false"/>
      <vmw:Config ovf:required="false" vmw:key="tools.syncTimeWithHost" vmw:value="false"/>
      <vmw:ExtraConfig ovf:required="false" vmw:key="nvram" vmw:value="Sample_Web01.nvram"/>
    </VirtualHardwareSection>
    <AnnotationSection ovf:required="false">
      <Info>A human-readable annotation</Info>
      <Annotation>hoist sample VM: web server with a data disk</Annotation>
    </AnnotationSection>
  </VirtualSystem>
</Envelope>
"""

NETWORK_MAP = """# Where each source network of the sample VM goes in KubeVirt.
VM Network=pod
Storage-VLAN20=multus:default/storage-vlan20
"""


def qemu_io(image, *cmds):
    args = ["qemu-io", "-f", "raw"]
    for c in cmds:
        args += ["-c", c]
    subprocess.run(args + [image], check=True, capture_output=True)


def make_disks(tmp):
    """disk1: 1 GiB holding ~48 MiB of data spread out, like a small
    installed system; disk2: 8 GiB holding 1 MiB (a sparse data disk)."""
    rnd = random.Random(20261126)
    disk1 = os.path.join(tmp, "disk1.raw")
    disk2 = os.path.join(tmp, "disk2.raw")
    with open(disk1, "wb") as f:
        f.truncate(1 * GiB)
        # A partition table-ish header, then text-like and random runs.
        for i in range(48):
            f.seek(i * 21 * MiB + rnd.randrange(0, MiB, 4096))
            if i % 3 == 0:
                f.write(rnd.randbytes(MiB))
            else:
                words = b" ".join(rnd.choice([b"hoist", b"kubevirt", b"disk",
                                              b"grain", b"cluster", b"vm"])
                                  for _ in range(200000))
                f.write(words[:MiB])
    with open(disk2, "wb") as f:
        f.truncate(8 * GiB)
        f.seek(3 * GiB)
        f.write(rnd.randbytes(MiB))
    return disk1, disk2


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = pathlib.Path(sys.argv[1])
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        raws = make_disks(tmp)
        vmdks = []
        for i, raw in enumerate(raws, 1):
            vmdk = os.path.join(tmp, f"sample-web01-disk{i}.vmdk")
            subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk",
                            "-o", "subformat=streamOptimized", raw, vmdk],
                           check=True)
            vmdks.append(vmdk)
        sizes = [os.path.getsize(v) for v in vmdks]
        ovf = OVF.replace("{size1}", str(sizes[0])) \
                 .replace("{size2}", str(sizes[1])) \
                 .replace("{pop1}", str(48 * MiB)) \
                 .replace("{pop2}", str(MiB)).encode()
        members = [("sample-web01.ovf", ovf)]
        digests = ["SHA256(sample-web01.ovf)= " +
                   hashlib.sha256(ovf).hexdigest()]
        for v in vmdks:
            h = hashlib.sha256()
            with open(v, "rb") as f:
                for blk in iter(lambda: f.read(MiB), b""):
                    h.update(blk)
            digests.append(f"SHA256({os.path.basename(v)})= {h.hexdigest()}")
        mf = ("\n".join(digests) + "\n").encode()
        tmp_out = out.with_suffix(".ova.tmp")
        with tarfile.open(tmp_out, "w", format=tarfile.USTAR_FORMAT) as tar:
            for name, data in members + [("sample-web01.mf", mf)]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
            for v in vmdks:
                tar.add(v, arcname=os.path.basename(v))
        os.replace(tmp_out, out)
    (out.parent / "sample-network-map.txt").write_text(NETWORK_MAP)
    print(out)


if __name__ == "__main__":
    main()
