"""A FAKE oVirt engine, for hoist's tests.

This is a fake because oVirt's engine (a Java application server with
PostgreSQL, vdsm on hosts, …) cannot be installed here. It is a small
Python http.server over TLS on 127.0.0.1 whose certificate comes from the
test CA of tests/peers/imageio.py (as an engine's CA signs its hosts'
certificates). It implements only the calls hoist makes, in the engine's
own JSON dialect (REST API v4: every scalar a string, lists wrapped in an
object named after their items, `follow=` to inline linked objects):

  POST /ovirt-engine/sso/oauth/token          password grant (checks them)
  POST /ovirt-engine/services/sso-logout      revokes the token
  GET  /ovirt-engine/api/vms[/ID]             ?search=name=X, ?follow=…
  GET  /ovirt-engine/api/vms/ID/{hostdevices,watchdogs,snapshots,numanodes}
  GET  /ovirt-engine/api/{networks,vnicprofiles,storagedomains,clusters,
       hosts}, /disks/ID
  POST /ovirt-engine/api/imagetransfers       download, format raw
  GET  /ovirt-engine/api/imagetransfers/ID    phases
  POST /ovirt-engine/api/imagetransfers/ID/{finalize,cancel}

The DATA path is real: when a transfer becomes ready, the fake adds a
ticket to the REAL ovirt-imageio daemon (file backend for raw images, or
qemu-nbd serving the image as raw, as vdsm does for format raw), and it
removes the ticket (and stops qemu-nbd) on finalize or cancel. It records
every call, so tests can assert that each transfer was finalized or
cancelled and that no ticket or disk lock was left behind.

Knobs (FakeEngine.options, or keyword arguments):
  reject_credentials   every login fails as with a wrong password
  never_ready          transfers stay in phase "initializing"
  fail_phase           transfers go to this phase instead of "transferring"
  fail_after_bytes     once the daemon served this many bytes of a
                       transfer, the engine pauses it (phase paused_system)
                       and removes its ticket, as on a host failure
  host_unreachable     transfer_url points at a closed port; proxy_url
                       works
  token_max_uses       a token stops working after this many API calls
                       (a session that expired): 401
  ready_after_polls    GETs of a transfer before it is ready (default 1)
  nbd_bps              throttle qemu-nbd's reads to this many bytes/s
  follow_limited       follow= knows only disk_attachments.disk and
                       nics.vnic_profile (400 for the rest); the VMs'
                       sub-collections (hostdevices, watchdogs, snapshots,
                       numanodes) are served instead
  locked_polls         POST /imagetransfers answers 409 (disk locked) this
                       many times first
  fail_requests        {path prefix: n}: answer 503 n times first

Use it through the fixtures (import with
`from peers.ovirt_engine import *`): `ovirt_engine` (a fresh engine on the
session's daemon) or `ovirt_engine_factory(daemon=…, **options)`.
"""
import fnmatch
import http.server
import json
import os
import pathlib
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
import uuid

import pytest

from peers.imageio import *  # noqa: F401,F403
from peers.imageio import QemuNbd, free_port

USER = "admin@internal"
PASSWORD = "Fake-Engine-Secret-9f3c"
API = "/ovirt-engine/api"


def s(v):
    """A scalar as the engine writes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def ref(kind, oid):
    return {"href": "%s/%s/%s" % (API, kind, oid), "id": oid}


def new_id():
    return str(uuid.uuid4())


def image_size(path, fmt):
    p = subprocess.run(["qemu-img", "info", "--output=json", "-f", fmt,
                        str(path)], capture_output=True, text=True,
                       check=True)
    return json.loads(p.stdout)["virtual-size"]


class Transfer:
    def __init__(self, tid, disk, host_id):
        self.id = tid
        self.disk = disk
        self.host_id = host_id
        self.phase = "initializing"
        self.polls = 0
        self.ticket = None
        self.nbd = None
        self.transfer_url = None
        self.proxy_url = None
        self.finalized = False
        self.cancelled = False
        self.phases = ["initializing"]
        self.created = time.monotonic()
        self.ended = None  # when finalized or cancelled

    def set_phase(self, phase):
        self.phase = phase
        self.phases.append(phase)

    def json(self):
        j = {"id": self.id, "href": "%s/imagetransfers/%s" % (API, self.id),
             "phase": self.phase, "direction": "download", "format": "raw",
             "inactivity_timeout": "120", "active": s(self.phase ==
                                                      "transferring"),
             "disk": ref("disks", self.disk["id"]),
             "image": {"id": self.disk["image_id"]},
             "host": ref("hosts", self.host_id)}
        if self.transfer_url:
            j["transfer_url"] = self.transfer_url
        if self.proxy_url:
            j["proxy_url"] = self.proxy_url
        return j


class FakeEngine:
    def __init__(self, workdir, pki, daemon, user=USER, password=PASSWORD,
                 **options):
        self.dir = pathlib.Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pki = pki
        self.daemon = daemon
        self.user = user
        self.password = password
        self.options = {"reject_credentials": False, "never_ready": False,
                        "fail_phase": None, "fail_after_bytes": None,
                        "host_unreachable": False, "token_max_uses": None,
                        "ready_after_polls": 1, "locked_polls": 0,
                        "nbd_bps": None, "follow_limited": False,
                        "fail_requests": {}}
        self.options.update(options)
        self.lock = threading.RLock()
        self.calls = []          # (method, path with query)
        self.headers = []        # (method, path, {header: value})
        self.logins = []         # (user, ok)
        self.logouts = 0
        self.tokens = {}         # token -> uses left (None: unlimited)
        self.transfers = {}      # id -> Transfer
        self.dc = {"id": new_id(), "name": "Default"}
        self.clusters, self.hosts, self.storage = {}, {}, {}
        self.networks, self.profiles = {}, {}
        self.disks, self.vms = {}, {}
        self.server = None
        self.thread = None
        self.port = None
        self.watchers = []
        self._stop = threading.Event()
        self.add_cluster("Default", bios_type="q35_sea_bios")
        self.add_host("host1", address="127.0.0.1")
        self.add_storage_domain("data1")

    # ---- inventory building ----

    @property
    def default_cluster(self):
        return next(iter(self.clusters.values()))

    def add_cluster(self, name, bios_type="q35_sea_bios",
                    cpu_type="Intel Cascadelake Server Family"):
        c = {"id": new_id(), "name": name, "bios_type": bios_type,
             "cpu": {"type": cpu_type, "architecture": "x86_64"},
             "data_center": ref("datacenters", self.dc["id"])}
        self.clusters[c["id"]] = c
        return c

    def add_host(self, name, address="127.0.0.1", status="up"):
        h = {"id": new_id(), "name": name, "address": address,
             "status": status,
             "cluster": ref("clusters", self.default_cluster["id"])}
        self.hosts[h["id"]] = h
        return h

    def add_storage_domain(self, name, storage_type="nfs", kind="data",
                           available=500 * 2**30, used=100 * 2**30):
        sd = {"id": new_id(), "name": name, "type": kind,
              "storage": {"type": storage_type}, "available": s(available),
              "used": s(used), "external_status": "ok",
              "data_centers": {"data_center": [ref("datacenters",
                                                   self.dc["id"])]}}
        self.storage[sd["id"]] = sd
        return sd

    def add_network(self, name, vlan=None, description="", vm=True,
                    **profile):
        n = {"id": new_id(), "name": name, "description": description,
             "data_center": ref("datacenters", self.dc["id"]),
             "usages": {"usage": ["vm"] if vm else ["management"]}}
        if vlan is not None:
            n["vlan"] = {"id": s(vlan)}
        self.networks[n["id"]] = n
        n["profile"] = self.add_profile(name, n, **profile)
        return n

    def add_profile(self, name, network, pass_through=False,
                    port_mirroring=False, network_filter=True, qos=False):
        p = {"id": new_id(), "name": name,
             "network": ref("networks", network["id"]),
             "pass_through": {"mode": "enabled" if pass_through
                              else "disabled"},
             "port_mirroring": s(port_mirroring)}
        if network_filter:
            p["network_filter"] = ref("networkfilters", new_id())
        if qos:
            p["qos"] = ref("qoss", new_id())
        self.profiles[p["id"]] = p
        return p

    def add_disk(self, image, fmt="raw", backend=None, alias=None,
                 storage_type="image", status="ok", shareable=False,
                 provisioned_size=None, storage_domain=None):
        """A disk whose bytes are the image file (qemu format fmt: raw or
        qcow2); served with the file backend (raw only) or qemu-nbd."""
        did = new_id()
        sd = storage_domain or next(iter(self.storage.values()))
        size = provisioned_size
        if size is None and image is not None:
            size = image_size(image, fmt)
        d = {"id": did, "name": alias or "disk-" + did[:8],
             "alias": alias or "disk-" + did[:8],
             "provisioned_size": s(size or 0),
             "actual_size": s(os.stat(image).st_blocks * 512
                              if image else 0),
             "format": "cow" if fmt == "qcow2" else "raw",
             "storage_type": storage_type, "status": status,
             "shareable": s(shareable), "sparse": "true",
             "content_type": "data",
             "storage_domains": {"storage_domain": [ref("storagedomains",
                                                        sd["id"])]},
             "image_id": new_id(),
             # private: how the fake serves it
             "_image": str(image) if image else None, "_fmt": fmt,
             "_backend": backend or ("nbd" if fmt != "raw" else "file")}
        if storage_type == "lun":
            d["lun_storage"] = {"id": new_id(), "type": "iscsi"}
        self.disks[did] = d
        return d

    def add_vm(self, name, disks=(), nics=(), interfaces=None, bootable=0,
               **fields):
        """disks: disk dicts (attached in order; bootable: the index of
        the bootable one); nics: (network, mac, interface) tuples or
        dicts with name/network/mac/interface/plugged; fields: the VM's
        own JSON (stringified), e.g. bios={"type": "q35_ovmf"}."""
        vid = fields.pop("id", None) or new_id()
        vm = {"id": vid, "name": name, "status": "down",
              "memory": s(2 * 2**30),
              "cpu": {"architecture": "x86_64",
                      "topology": {"sockets": "1", "cores": "1",
                                   "threads": "1"}},
              "bios": {"type": "cluster_default",
                       "boot_menu": {"enabled": "false"}},
              "os": {"type": "rhel_8x64"},
              "time_zone": {"name": "Etc/GMT", "utc_offset": "+00:00"},
              "usb": {"enabled": "false"},
              "memory_policy": {"guaranteed": s(2 * 2**30),
                                "max": s(8 * 2**30), "ballooning": "false"},
              "high_availability": {"enabled": "false", "priority": "0"},
              "placement_policy": {"affinity": "migratable"},
              "serial_number": {"policy": "vm"},
              "cluster": ref("clusters", self.default_cluster["id"]),
              "type": "server", "stateless": "false"}
        extra = {k: v for k, v in fields.items()
                 if k not in ("host_devices", "watchdogs", "snapshots",
                              "numa_nodes")}
        vm.update(self._stringify(extra))
        atts = []
        for i, d in enumerate(disks):
            iface = (interfaces or {}).get(i, "virtio_scsi") \
                if isinstance(interfaces, dict) else \
                (interfaces[i] if interfaces else "virtio_scsi")
            atts.append({"id": d["id"], "interface": iface,
                         "bootable": s(i == bootable), "active": "true",
                         "pass_discard": "false", "read_only": "false",
                         "uses_scsi_reservation": "false",
                         "disk": ref("disks", d["id"])})
        vm["_attachments"] = atts
        vm["_nics"] = []
        for i, n in enumerate(nics):
            if isinstance(n, tuple):
                net, mac, iface = n
                n = {"network": net, "mac": mac, "interface": iface}
            nic = {"id": new_id(), "name": n.get("name", "nic%d" % (i + 1)),
                   "interface": n.get("interface", "virtio"),
                   "plugged": s(n.get("plugged", True)), "linked": "true",
                   "mac": {"address": n["mac"]},
                   "vm": ref("vms", vid)}
            net = n.get("network")
            if net is not None:
                prof = n.get("profile") or net["profile"]
                nic["vnic_profile"] = ref("vnicprofiles", prof["id"])
            vm["_nics"].append(nic)
        vm["_host_devices"] = [dict(self._stringify(h), id=new_id())
                               for h in fields.get("host_devices", [])]
        vm["_watchdogs"] = [dict(self._stringify(w), id=new_id())
                            for w in fields.get("watchdogs", [])]
        vm["_snapshots"] = [{"id": new_id(), "description": "Active VM",
                             "snapshot_type": "active",
                             "persist_memorystate": "false"}] + \
            [dict(self._stringify(sn), id=new_id())
             for sn in fields.get("snapshots", [])]
        vm["_numa_nodes"] = [dict(self._stringify(n), id=new_id())
                             for n in fields.get("numa_nodes", [])]
        self.vms[vid] = vm
        return vm

    @classmethod
    def _stringify(cls, v):
        if isinstance(v, dict):
            return {k: cls._stringify(x) for k, x in v.items()}
        if isinstance(v, list):
            return [cls._stringify(x) for x in v]
        if isinstance(v, (bool, int)):
            return s(v)
        return v

    # ---- JSON views ----

    @staticmethod
    def _public(obj):
        return {k: v for k, v in obj.items()
                if not k.startswith("_") and k != "profile"}

    def disk_json(self, d):
        j = self._public(d)
        j["href"] = "%s/disks/%s" % (API, d["id"])
        j.pop("image_id", None)
        return j

    def vm_json(self, vm, follow):
        j = self._public(vm)
        j["href"] = "%s/vms/%s" % (API, vm["id"])
        links = []
        names = {f.split(".")[0] for f in follow}
        subs = {"disk_attachments": ("diskattachments", "disk_attachment"),
                "nics": ("nics", "nic"),
                "host_devices": ("hostdevices", "host_device"),
                "watchdogs": ("watchdogs", "watchdog"),
                "snapshots": ("snapshots", "snapshot"),
                "numa_nodes": ("numanodes", "vm_numa_node")}
        for name, (rel, item) in subs.items():
            if name not in names:
                links.append({"href": "%s/vms/%s/%s" % (API, vm["id"], rel),
                              "rel": rel})
                continue
            items = [dict(x) for x in vm["_" + {"disk_attachments":
                                                "attachments"}.get(name,
                                                                   name)]]
            if name == "disk_attachments" and \
                    "disk_attachments.disk" in follow:
                for a in items:
                    a["disk"] = self.disk_json(self.disks[a["disk"]["id"]])
            if name == "nics" and "nics.vnic_profile" in follow:
                for n in items:
                    if "vnic_profile" in n:
                        p = self.profiles[n["vnic_profile"]["id"]]
                        n["vnic_profile"] = self._public(p)
            j[name] = {item: items} if items else {}
        j["link"] = links
        return j

    # ---- transfers ----

    def _make_ready(self, t):
        d = t.disk
        if d["_backend"] == "nbd":
            sock = self.dir / ("nbd-%s.sock" % t.id[:8])
            t.nbd = QemuNbd(d["_image"], d["_fmt"], sock,
                            bps=self.options["nbd_bps"])
            url = t.nbd.url
        else:
            url = "file://" + d["_image"]
        size = int(d["provisioned_size"])
        t.ticket = self.daemon.add_ticket(url, size, timeout=300,
                                          transfer_id=t.id,
                                          inactivity_timeout=120)
        good = self.daemon.url(t.ticket, scheme="https")
        if self.options["host_unreachable"]:
            t.transfer_url = "https://127.0.0.1:%d/images/%s" % (
                self._closed_port, t.ticket)
        else:
            t.transfer_url = good
        t.proxy_url = good
        t.set_phase("transferring")
        if self.options["fail_after_bytes"] is not None:
            w = threading.Thread(target=self._watch, args=(t,), daemon=True)
            w.start()
            self.watchers.append(w)

    def _watch(self, t):
        """Pauses the transfer once the daemon served enough of it."""
        limit = self.options["fail_after_bytes"]
        while not self._stop.is_set():
            with self.lock:
                if t.phase != "transferring" or not t.ticket:
                    return
                try:
                    info = self.daemon.ticket_info(t.ticket)
                except Exception:
                    info = {}
                if info.get("transferred", 0) >= limit:
                    self._drop_ticket(t)
                    t.set_phase("paused_system")
                    return
            time.sleep(0.02)

    def _drop_ticket(self, t):
        if t.ticket:
            try:
                self.daemon.delete_ticket(t.ticket)
            except Exception:
                pass
            t.ticket = None
        if t.nbd:
            t.nbd.stop()
            t.nbd = None

    def _transfer_busy(self, disk):
        return any(t.disk is disk and not (t.finalized or t.cancelled) and
                   not t.phase.startswith(("finished", "cancelled"))
                   for t in self.transfers.values())

    # ---- what tests assert ----

    def open_transfers(self):
        """Transfers neither finalized nor cancelled."""
        with self.lock:
            return [t for t in self.transfers.values()
                    if not (t.finalized or t.cancelled)]

    def live_tickets(self):
        """Tickets of this engine's transfers that the daemon still has."""
        alive = []
        for t in list(self.transfers.values()):
            if not t.ticket:
                continue
            try:
                self.daemon.ticket_info(t.ticket)
                alive.append(t.ticket)
            except Exception:
                pass
        return alive

    def assert_nothing_left(self):
        """Every transfer finalized or cancelled, no ticket on the daemon,
        no disk locked by a transfer."""
        with self.lock:
            left = [(t.id, t.phase) for t in self.open_transfers()]
            assert not left, "transfers left open: %s" % left
            assert not self.live_tickets()
            locked = [t.disk["alias"] for t in self.transfers.values()
                      if t.disk["status"] == "locked"]
            assert not locked, "disks left locked: %s" % locked

    # ---- server ----

    def start(self):
        self._closed_port = free_port()
        engine = self

        class Handler(_Handler):
            pass
        Handler.engine = engine
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.pki["cert"]), str(self.pki["key"]))
        self.server.socket = ctx.wrap_socket(self.server.socket,
                                             server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()
        return self

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    @property
    def host_port(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        self._stop.set()
        if self.server:
            # serve_forever() can sit in accept() on the TLS listening
            # socket (the handshake runs there); connections that close at
            # once unblock it so that shutdown() can finish.
            stopper = threading.Thread(target=self.server.shutdown,
                                       daemon=True)
            stopper.start()
            while stopper.is_alive():
                try:
                    socket.create_connection(("127.0.0.1", self.port),
                                             timeout=1).close()
                except OSError:
                    pass
                stopper.join(0.5)
            self.server.server_close()
            self.server = None
        with self.lock:
            for t in self.transfers.values():
                self._drop_ticket(t)


class _Handler(http.server.BaseHTTPRequestHandler):
    engine = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    # ---- replies ----

    def _send(self, status, body=None, ctype="application/json"):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _fault(self, status, reason, detail):
        self._send(status, {"reason": reason, "detail": detail})

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # ---- dispatch ----

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        e = self.engine
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        body = self._body()
        with e.lock:
            e.calls.append((method, self.path))
            e.headers.append((method, url.path, dict(self.headers)))
            for prefix, n in list(e.options["fail_requests"].items()):
                if url.path.startswith(prefix) and n > 0:
                    e.options["fail_requests"][prefix] = n - 1
                    return self._fault(503, "Service Unavailable",
                                       "the engine is restarting")
            if url.path == "/ovirt-engine/sso/oauth/token" and \
                    method == "POST":
                return self._token(body)
            if url.path == "/ovirt-engine/services/sso-logout":
                form = urllib.parse.parse_qs(body.decode())
                e.tokens.pop((form.get("token") or [""])[0], None)
                e.logouts += 1
                return self._send(200, {})
            if not url.path.startswith(API + "/"):
                return self._fault(404, "Not Found", "no such resource")
            if not self._authorized():
                return self._send(401, {"reason": "Unauthorized",
                                        "detail": "the session is not "
                                        "valid"})
            parts = url.path[len(API) + 1:].split("/")
            try:
                payload = json.loads(body) if body else None
            except ValueError:
                return self._fault(400, "Bad Request", "malformed JSON")
            return self._api(method, parts, query, payload)

    def _token(self, body):
        e = self.engine
        if "application/x-www-form-urlencoded" not in \
                self.headers.get("Content-Type", ""):
            return self._send(400, {"error_code": "invalid_request",
                                    "error": "expected a form"})
        form = urllib.parse.parse_qs(body.decode())
        user = (form.get("username") or [""])[0]
        password = (form.get("password") or [""])[0]
        grant = (form.get("grant_type") or [""])[0]
        scope = (form.get("scope") or [""])[0]
        ok = (grant == "password" and "ovirt-app-api" in scope.split() and
              user == e.user and password == e.password and
              not e.options["reject_credentials"])
        e.logins.append((user, ok))
        if not ok:
            return self._send(400, {
                "error_code": "access_denied",
                "error": "Cannot authenticate user '%s': The username or "
                         "password is incorrect.." % user})
        token = "tok" + uuid.uuid4().hex + uuid.uuid4().hex
        e.tokens[token] = e.options["token_max_uses"]
        return self._send(200, {"access_token": token,
                                "scope": "ovirt-app-api",
                                "exp": str(int(time.time() * 1000) +
                                           3600000),
                                "token_type": "bearer"})

    def _authorized(self):
        e = self.engine
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        token = auth[7:]
        if token not in e.tokens:
            return False
        left = e.tokens[token]
        if left is not None:
            if left <= 0:
                del e.tokens[token]
                return False
            e.tokens[token] = left - 1
        return True

    # ---- the API ----

    def _api(self, method, parts, query, payload):
        e = self.engine
        follow = set()
        for f in query.get("follow", []):
            follow |= {x.strip() for x in f.split(",") if x.strip()}
        known = {"disk_attachments", "disk_attachments.disk", "nics",
                 "nics.vnic_profile", "host_devices", "watchdogs",
                 "snapshots", "numa_nodes"}
        if e.options["follow_limited"]:
            known = {"disk_attachments", "disk_attachments.disk", "nics",
                     "nics.vnic_profile"}
        if follow - known:
            return self._fault(400, "Bad Request",
                               "cannot follow %s" % sorted(follow - known))
        lists = {"networks": ("network", e.networks),
                 "vnicprofiles": ("vnic_profile", e.profiles),
                 "storagedomains": ("storage_domain", e.storage),
                 "clusters": ("cluster", e.clusters),
                 "hosts": ("host", e.hosts)}
        if method == "GET" and len(parts) == 1 and parts[0] in lists:
            item, objs = lists[parts[0]]
            items = [e._public(o) for o in objs.values()]
            return self._send(200, {item: items} if items else {})
        if method == "GET" and parts[0] == "vms":
            subs = {"hostdevices": ("host_devices", "host_device"),
                    "watchdogs": ("watchdogs", "watchdog"),
                    "snapshots": ("snapshots", "snapshot"),
                    "numanodes": ("numa_nodes", "vm_numa_node")}
            if len(parts) == 3 and parts[2] in subs and \
                    parts[1] in e.vms:
                name, item = subs[parts[2]]
                items = e.vms[parts[1]]["_" + name]
                return self._send(200, {item: items} if items else {})
            if len(parts) == 2:
                vm = e.vms.get(parts[1])
                if not vm:
                    return self._fault(404, "Not Found",
                                       "Entity not found: %s" % parts[1])
                return self._send(200, e.vm_json(vm, follow))
            vms = list(e.vms.values())
            for q in query.get("search", []):
                if q.startswith("name="):
                    pat = q[5:].lower()
                    vms = [v for v in vms
                           if fnmatch.fnmatchcase(v["name"].lower(), pat)]
            items = [e.vm_json(v, follow) for v in vms]
            return self._send(200, {"vm": items} if items else {})
        if method == "GET" and parts[0] == "disks" and len(parts) == 2:
            d = e.disks.get(parts[1])
            if not d:
                return self._fault(404, "Not Found", "no such disk")
            return self._send(200, e.disk_json(d))
        if parts[0] == "imagetransfers":
            return self._transfers(method, parts, payload)
        return self._fault(404, "Not Found", "no such resource")

    def _transfers(self, method, parts, payload):
        e = self.engine
        if method == "POST" and len(parts) == 1:
            return self._create(payload or {})
        t = e.transfers.get(parts[1]) if len(parts) > 1 else None
        if not t:
            return self._fault(404, "Not Found", "no such image transfer")
        if method == "GET" and len(parts) == 2:
            t.polls += 1
            if t.phase == "initializing" and \
                    t.polls >= e.options["ready_after_polls"] and \
                    not e.options["never_ready"]:
                if e.options["fail_phase"]:
                    t.set_phase(e.options["fail_phase"])
                else:
                    e._make_ready(t)
            elif t.phase == "finalizing_success":
                t.set_phase("finished_success")
                t.disk["status"] = "ok"
            return self._send(200, t.json())
        if method == "POST" and len(parts) == 3 and parts[2] == "finalize":
            if t.phase != "transferring":
                return self._fault(409, "Operation Failed",
                                   "[Cannot finalize transfer in phase %s]"
                                   % t.phase)
            t.finalized = True
            t.ended = time.monotonic()
            e._drop_ticket(t)
            t.set_phase("finalizing_success")
            return self._send(200, {"status": "complete"})
        if method == "POST" and len(parts) == 3 and parts[2] == "cancel":
            t.cancelled = True
            t.ended = t.ended or time.monotonic()
            e._drop_ticket(t)
            t.set_phase("cancelled_user")
            t.disk["status"] = "ok"
            return self._send(200, {"status": "complete"})
        return self._fault(404, "Not Found", "no such action")

    def _create(self, req):
        e = self.engine
        did = (req.get("disk") or {}).get("id")
        d = e.disks.get(did)
        if not d:
            return self._fault(404, "Not Found", "Entity not found: disk")
        if req.get("direction") != "download" or \
                req.get("format") not in ("raw", "cow"):
            return self._fault(400, "Bad Request",
                               "unsupported direction or format")
        if e.options["locked_polls"] > 0:
            e.options["locked_polls"] -= 1
            return self._fault(409, "Operation Failed",
                               "[Cannot transfer Virtual Disk: Disk is "
                               "locked. Please try again later.]")
        if d["status"] != "ok" or e._transfer_busy(d):
            return self._fault(409, "Operation Failed",
                               "[Cannot transfer Virtual Disk: Disk is "
                               "locked. Please try again later.]")
        for vm in e.vms.values():
            if any(a["id"] == did for a in vm["_attachments"]) and \
                    vm["status"] != "down":
                return self._fault(409, "Operation Failed",
                                   "[Cannot transfer Virtual Disk: The "
                                   "following disks are attached to a "
                                   "running VM]")
        host_id = (req.get("host") or {}).get("id") or \
            next(iter(e.hosts))
        t = Transfer(new_id(), d, host_id)
        d["status"] = "locked"
        e.transfers[t.id] = t
        return self._send(201, t.json())


# ---- fixtures ----

@pytest.fixture
def ovirt_engine_factory(imageio_daemon, imageio_pki, tmp_path_factory):
    """Makes started fake engines: factory(daemon=None, **options)."""
    made = []

    def make(daemon=None, **options):
        e = FakeEngine(tmp_path_factory.mktemp("ovirt-engine"), imageio_pki,
                       daemon or imageio_daemon, **options)
        made.append(e.start())
        return e

    yield make
    for e in made:
        e.stop()


@pytest.fixture
def ovirt_engine(ovirt_engine_factory):
    """A fresh fake engine on the session's imageio daemon."""
    return ovirt_engine_factory()


__all__ = ["FakeEngine", "USER", "PASSWORD", "ovirt_engine",
           "ovirt_engine_factory", "imageio_venv", "imageio_pki",
           "imageio_daemon", "imageio_daemon_factory", "nbd_server"]
