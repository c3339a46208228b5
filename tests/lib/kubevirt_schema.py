"""Validates generated manifests against KubeVirt's own OpenAPI schema.

The schema is KubeVirt's swagger.json (OpenAPI v2), read only from the
shared data directory. Its "#/definitions/..." references are resolved by
python-jsonschema (Draft 4, the dialect of OpenAPI v2). The check is made
strict: every object definition that lists its properties gets
additionalProperties: false, so a misspelt or invented field fails
instead of being ignored (as the API server's structural schema would
prune or reject it).

On top of the schema, check_vm() and check_pvc() check what the schema
cannot say: quantities parse, boot orders are >= 1 and unique, at most one
pod network, interfaces and networks pair up by name, and so do disks and
volumes.
"""
import copy
import json
import pathlib
import re

import jsonschema

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
SERIAL = re.compile(r"^[A-Za-z0-9_.+-]+$")

_SUFFIXES = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
    "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
    "Pi": 2**50, "Ei": 2**60, "m": 10**-3, "u": 10**-6, "n": 10**-9,
}
_QUANTITY = re.compile(
    r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"((?:[eE][+-]?[0-9]+)|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$")


def parse_quantity(q):
    """A Kubernetes resource.Quantity (int, or string like "1084Mi",
    "1.5G", "1e3") as a number; ValueError if it does not parse."""
    if isinstance(q, bool):
        raise ValueError(f"quantity {q!r} is a boolean")
    if isinstance(q, (int, float)):
        return q
    if not isinstance(q, str):
        raise ValueError(f"quantity {q!r} is not a string or number")
    m = _QUANTITY.match(q)
    if not m:
        raise ValueError(f"quantity {q!r} does not parse")
    num, suffix = m.groups()
    if suffix[:1] in ("e", "E"):
        return float(num) * 10 ** int(suffix[1:])
    value = float(num) * _SUFFIXES[suffix]
    return int(value) if value == int(value) else value


def _strict(defs):
    for d in defs.values():
        if isinstance(d, dict) and "properties" in d and \
                d.get("type", "object") == "object":
            d.setdefault("additionalProperties", False)
    return defs


class KubevirtSchema:
    def __init__(self, swagger_path):
        path = pathlib.Path(swagger_path)
        with open(path) as f:
            swagger = json.load(f)
        self.definitions = _strict(copy.deepcopy(swagger["definitions"]))
        self._vm = self._validator({
            "$ref": "#/definitions/v1.VirtualMachine"})
        # The swagger has the PVC spec (for DataVolumes), not the object.
        self._pvc = self._validator({
            "type": "object",
            "required": ["apiVersion", "kind", "metadata", "spec"],
            "additionalProperties": False,
            "properties": {
                "apiVersion": {"enum": ["v1"]},
                "kind": {"enum": ["PersistentVolumeClaim"]},
                "metadata": {"$ref": "#/definitions/"
                             "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
                "spec": {"$ref": "#/definitions/"
                         "k8s.io.api.core.v1.PersistentVolumeClaimSpec"},
            }})

    @classmethod
    def from_shared(cls, shared_dir):
        return cls(pathlib.Path(shared_dir) / "data" / "kubevirt" /
                   "swagger.json")

    def _validator(self, schema):
        schema = dict(schema, definitions=self.definitions)
        jsonschema.Draft4Validator.check_schema({
            k: v for k, v in schema.items() if k != "definitions"})
        return jsonschema.Draft4Validator(schema)

    @staticmethod
    def _errors(validator, doc):
        errs = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        return ["/".join(str(p) for p in e.absolute_path) + ": " + e.message
                for e in errs]

    def vm_errors(self, doc):
        return self._errors(self._vm, doc) + _vm_semantics(doc)

    def pvc_errors(self, doc):
        return self._errors(self._pvc, doc) + _pvc_semantics(doc)

    def check_vm(self, doc):
        errs = self.vm_errors(doc)
        assert not errs, "VirtualMachine is not valid:\n" + "\n".join(errs)

    def check_pvc(self, doc):
        errs = self.pvc_errors(doc)
        assert not errs, "PVC is not valid:\n" + "\n".join(errs)


def _metadata_errors(md, where, label_name):
    """label_name: the name must be a DNS-1123 label (VMs: it becomes the
    guest's host name and a label value); else a subdomain (PVCs)."""
    errs = []
    name = md.get("name", "")
    if label_name:
        if not isinstance(name, str) or not DNS1123_LABEL.match(name) or \
                len(name) > 63:
            errs.append(f"{where}metadata.name {name!r} is not a DNS-1123 "
                        "label")
    elif not isinstance(name, str) or not DNS1123_SUBDOMAIN.match(name) or \
            len(name) > 253:
        errs.append(f"{where}metadata.name {name!r} is not a DNS-1123 "
                    "subdomain")
    ns = md.get("namespace")
    if ns is not None and (not DNS1123_LABEL.match(ns) or len(ns) > 63):
        errs.append(f"{where}metadata.namespace {ns!r} is not valid")
    errs += _labels_errors(md.get("labels", {}), where + "metadata.labels")
    for k, v in md.get("annotations", {}).items():
        if not isinstance(v, str):
            errs.append(f"{where}annotation {k}: {v!r} is not a string")
    return errs


def _labels_errors(labels, where):
    errs = []
    for k, v in labels.items():
        prefix, _, name = k.rpartition("/")
        if prefix and (not DNS1123_SUBDOMAIN.match(prefix) or
                       len(prefix) > 253):
            errs.append(f"{where}: key prefix {prefix!r} is not valid")
        if not LABEL_NAME.match(name) or len(name) > 63:
            errs.append(f"{where}: key {k!r} is not valid")
        if not isinstance(v, str) or not LABEL_VALUE.match(v) or len(v) > 63:
            errs.append(f"{where}: value {v!r} of {k} is not valid")
    return errs


def _vm_semantics(doc):
    errs = []
    if doc.get("apiVersion") != "kubevirt.io/v1":
        errs.append(f"apiVersion is {doc.get('apiVersion')!r}")
    if doc.get("kind") != "VirtualMachine":
        errs.append(f"kind is {doc.get('kind')!r}")
    errs += _metadata_errors(doc.get("metadata", {}), "", True)
    tmpl = doc.get("spec", {}).get("template", {})
    errs += _labels_errors(tmpl.get("metadata", {}).get("labels", {}),
                           "template labels")
    spec = tmpl.get("spec", {})
    domain = spec.get("domain", {})
    devices = domain.get("devices", {})

    mem = domain.get("memory", {}).get("guest")
    if mem is not None:
        try:
            if parse_quantity(mem) <= 0:
                errs.append(f"memory.guest {mem!r} is not positive")
        except ValueError as e:
            errs.append(str(e))
    for k in ("sockets", "cores", "threads"):
        v = domain.get("cpu", {}).get(k)
        if v is not None and (not isinstance(v, int) or v < 1):
            errs.append(f"cpu.{k} {v!r} is not a positive integer")

    fw = domain.get("firmware", {}).get("bootloader", {})
    if len(fw) > 1:
        errs.append(f"firmware.bootloader has {sorted(fw)}: pick one")
    if fw.get("efi", {}).get("secureBoot") and \
            not domain.get("features", {}).get("smm", {}).get("enabled"):
        errs.append("secure boot without features.smm.enabled")

    disks = devices.get("disks", [])
    volumes = spec.get("volumes", [])
    ifaces = devices.get("interfaces", [])
    networks = spec.get("networks", [])
    for what, items in (("disk", disks), ("volume", volumes),
                        ("interface", ifaces), ("network", networks)):
        names = [i.get("name") for i in items]
        if len(set(names)) != len(names):
            errs.append(f"{what} names are not unique: {names}")
        for n in names:
            if not isinstance(n, str) or not DNS1123_LABEL.match(n):
                errs.append(f"{what} name {n!r} is not a DNS-1123 label")
    boot = [d["bootOrder"] for d in disks + ifaces if "bootOrder" in d]
    if any(not isinstance(b, int) or b < 1 for b in boot):
        errs.append(f"boot orders {boot} must be >= 1")
    if len(set(boot)) != len(boot):
        errs.append(f"boot orders {boot} are not unique")
    vol_names = {v.get("name") for v in volumes}
    disk_names = {d.get("name") for d in disks}
    for d in disks:
        if d.get("name") not in vol_names:
            errs.append(f"disk {d.get('name')!r} has no volume")
        if "serial" in d and not (SERIAL.match(d["serial"]) and
                                  len(d["serial"]) <= 20):
            errs.append(f"disk serial {d['serial']!r} is not valid")
        targets = [k for k in ("disk", "cdrom", "lun") if k in d]
        if len(targets) > 1:
            errs.append(f"disk {d.get('name')!r} has {targets}")
    for v in volumes:
        if v.get("name") not in disk_names:
            errs.append(f"volume {v.get('name')!r} has no disk")
        pvc = v.get("persistentVolumeClaim")
        if pvc is not None and not DNS1123_SUBDOMAIN.match(
                pvc.get("claimName", "")):
            errs.append(f"claimName {pvc.get('claimName')!r} is not valid")
    pods = [n.get("name") for n in networks if "pod" in n]
    if len(pods) > 1:
        errs.append(f"more than one pod network: {pods}")
    net_by_name = {n.get("name"): n for n in networks}
    iface_names = {i.get("name") for i in ifaces}
    bindings = ("masquerade", "bridge", "sriov", "slirp", "macvtap", "passt",
                "binding")
    for i in ifaces:
        net = net_by_name.get(i.get("name"))
        if net is None:
            errs.append(f"interface {i.get('name')!r} has no network")
        used = [b for b in bindings if b in i]
        if len(used) != 1:
            errs.append(f"interface {i.get('name')!r} has bindings {used}")
        if "masquerade" in i and net is not None and "pod" not in net:
            errs.append(f"interface {i.get('name')!r}: masquerade is only "
                        "for the pod network")
        if "macAddress" in i and not MAC.match(i["macAddress"]):
            errs.append(f"MAC {i['macAddress']!r} is not valid")
    for n in networks:
        if n.get("name") not in iface_names:
            errs.append(f"network {n.get('name')!r} has no interface")
        kinds = [k for k in ("pod", "multus") if k in n]
        if len(kinds) != 1:
            errs.append(f"network {n.get('name')!r} has {kinds}")
    macs = [i["macAddress"].lower() for i in ifaces if "macAddress" in i]
    if len(set(macs)) != len(macs):
        errs.append(f"MAC addresses repeat: {macs}")
    return errs


def _pvc_semantics(doc):
    errs = _metadata_errors(doc.get("metadata", {}), "", False)
    spec = doc.get("spec", {})
    storage = spec.get("resources", {}).get("requests", {}).get("storage")
    try:
        if storage is None or parse_quantity(storage) <= 0:
            errs.append(f"storage request {storage!r} is not positive")
    except ValueError as e:
        errs.append(str(e))
    if spec.get("volumeMode") not in ("Filesystem", "Block"):
        errs.append(f"volumeMode {spec.get('volumeMode')!r}")
    modes = spec.get("accessModes", [])
    if not modes or any(m not in ("ReadWriteOnce", "ReadWriteMany",
                                  "ReadOnlyMany", "ReadWriteOncePod")
                        for m in modes):
        errs.append(f"accessModes {modes!r}")
    sc = spec.get("storageClassName")
    if sc is not None and not DNS1123_SUBDOMAIN.match(sc):
        errs.append(f"storageClassName {sc!r} is not valid")
    return errs
