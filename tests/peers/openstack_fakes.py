"""FAKE Nova, Cinder and Neutron for hoist's tests.

No server of these services can run here, so these are small Python HTTP
servers that answer exactly the calls hoist makes, from a model the test
builds (class Cloud). They are registered in the REAL Keystone's catalog
(compute, volumev3, network) and check every X-Auth-Token against the
REAL Keystone. Where they create images (Nova createImage, Cinder
os-volume_upload_image) they create REAL Glance images and upload the
bytes of the server's or volume's disk file into the real Glance, with
the caller's token, so hoist's data path stays real.

Calls answered:
  Nova (microversion 2.47 shape: the flavor embedded in the server)
    GET  /v2.1/servers/detail, GET /v2.1/servers/{id}
    POST /v2.1/servers/{id}/action {"createImage": …} -> 202 {"image_id"}
  Cinder
    GET  /v3/{project}/volumes/detail, /volumes/{id}, /types,
         /snapshots/detail, /snapshots/{id}
    POST /v3/{project}/snapshots, /volumes (from a snapshot),
         /volumes/{id}/action {"os-volume_upload_image": …}
    DELETE /v3/{project}/snapshots/{id}, /volumes/{id}
  Neutron
    GET  /v2.0/networks, /v2.0/ports?device_id=…, /v2.0/floatingips
"""
import http.server
import json
import re
import threading
import time
import urllib.parse
import uuid

from peers.openstack import REGION

SETTLE = 0.3  # seconds an object stays "creating" before it is ready


class Cloud:
    """What the fakes serve. Tests fill these and read them back."""

    def __init__(self):
        self.networks = []      # {"id", "name", "shared", "router:external"}
        self.volume_types = []  # {"id", "name"}
        self.servers = []       # see add_server()
        self.volumes = {}       # id -> volume dict (plus "_data": path)
        self.snapshots = {}     # id -> snapshot dict
        self.ports = []         # neutron ports
        self.floatingips = []
        self.created_images = []  # ids of images the fakes made
        self.calls = []           # (method, path) of every request
        self.lock = threading.RLock()

    def add_network(self, name):
        n = {"id": str(uuid.uuid4()), "name": name, "shared": False,
             "router:external": False, "status": "ACTIVE"}
        self.networks.append(n)
        return n

    def add_volume_type(self, name):
        t = {"id": str(uuid.uuid4()), "name": name}
        self.volume_types.append(t)
        return t

    def add_volume(self, name, data, size_gb=1, bootable=False,
                   volume_type="ceph", image_meta=None, **extra):
        v = {"id": str(uuid.uuid4()), "name": name, "size": size_gb,
             "status": "available", "bootable": "true" if bootable
             else "false", "volume_type": volume_type, "attachments": [],
             "multiattach": False, "encrypted": False, "metadata": {},
             "volume_image_metadata": image_meta or {},
             "created_at": "2026-11-26T08:00:00.000000", "_data": str(data)}
        v.update(extra)
        self.volumes[v["id"]] = v
        return v

    def add_server(self, name, flavor, status="SHUTOFF", image_id=None,
                   root_disk=None, volumes=(), nics=(), metadata=None,
                   floating=None):
        """volumes: [(volume, device)], nics: [(network, mac, ip)]"""
        sid = str(uuid.uuid4())
        s = {"id": sid, "name": name, "status": status,
             "image": {"id": image_id} if image_id else "",
             "flavor": flavor, "metadata": metadata or {},
             "OS-EXT-STS:vm_state": "stopped" if status == "SHUTOFF"
             else status.lower(),
             "OS-EXT-STS:power_state": 4 if status == "SHUTOFF" else 1,
             "os-extended-volumes:volumes_attached": [],
             "addresses": {}, "_root": str(root_disk) if root_disk else None,
             "description": None, "tenant_id": None}
        for vol, device in volumes:
            if vol["status"] == "available":
                vol["status"] = "in-use"
            vol["attachments"].append({"server_id": sid, "device": device,
                                       "attachment_id": str(uuid.uuid4()),
                                       "volume_id": vol["id"]})
            s["os-extended-volumes:volumes_attached"].append(
                {"id": vol["id"], "delete_on_termination": False})
        for net, mac, ip in nics:
            port = {"id": str(uuid.uuid4()), "network_id": net["id"],
                    "mac_address": mac, "device_id": sid,
                    "device_owner": "compute:nova",
                    "fixed_ips": [{"subnet_id": str(uuid.uuid4()),
                                   "ip_address": ip}],
                    "binding:vnic_type": "normal", "status": "DOWN"}
            self.ports.append(port)
            s["addresses"].setdefault(net["name"], []).append(
                {"addr": ip, "version": 4, "OS-EXT-IPS:type": "fixed",
                 "OS-EXT-IPS-MAC:mac_addr": mac})
            if floating and floating.get(mac):
                self.floatingips.append(
                    {"id": str(uuid.uuid4()), "port_id": port["id"],
                     "floating_ip_address": floating[mac],
                     "fixed_ip_address": ip, "status": "ACTIVE"})
        self.servers.append(s)
        return s

    def leftovers(self):
        """Temporaries (snapshots, volumes) the fakes still hold that a
        migration made."""
        with self.lock:
            snaps = [s for s in self.snapshots.values()]
            vols = [v for v in self.volumes.values()
                    if v.get("metadata", {}).get("hoist.io/migration")]
        return snaps + vols


def flavor(vcpus=2, ram=2048, disk=10, extra_specs=None, ephemeral=0,
           swap=0, name="m1.small"):
    return {"vcpus": vcpus, "ram": ram, "disk": disk, "ephemeral": ephemeral,
            "swap": swap, "original_name": name,
            "extra_specs": extra_specs or {}}


def _public(obj):
    return {k: v for k, v in obj.items() if not k.startswith("_")}


class _Settling:
    """A status that turns from `busy` to `done` after SETTLE seconds."""

    def __init__(self, busy, done):
        self.until = time.time() + SETTLE
        self.busy, self.done = busy, done

    def __str__(self):
        return self.busy if time.time() < self.until else self.done


class Fakes:
    """The three fake services, started and registered in Keystone."""

    def __init__(self, openstack, cloud):
        self.os = openstack
        self.cloud = cloud
        self.valid_tokens = {}
        self.servers = []
        self.nova = self._serve(self._nova)
        self.cinder = self._serve(self._cinder)
        self.neutron = self._serve(self._neutron)
        base = "http://127.0.0.1:%d"
        openstack.register_endpoint("compute", "nova", REGION, "public",
                                    base % self.nova + "/v2.1")
        openstack.register_endpoint("volumev3", "cinderv3", REGION, "public",
                                    base % self.cinder +
                                    "/v3/$(project_id)s")
        openstack.register_endpoint("network", "neutron", REGION, "public",
                                    base % self.neutron)

    # -- plumbing --

    def _serve(self, route):
        fakes = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _do(self, method):
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"null") if n else None
                token = self.headers.get("X-Auth-Token")
                url = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(url.query)
                with fakes.cloud.lock:
                    fakes.cloud.calls.append((method, self.path))
                if not fakes._token_ok(token):
                    return self._reply(401, {"error": {
                        "code": 401, "message": "authentication required"}})
                try:
                    status, obj = route(method, url.path, q, body, token)
                except KeyError:
                    status, obj = 404, {"itemNotFound": {
                        "code": 404, "message": "not found"}}
                self._reply(status, obj)

            def _reply(self, status, obj):
                data = json.dumps(obj).encode() if obj is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._do("GET")

            def do_POST(self):
                self._do("POST")

            def do_DELETE(self):
                self._do("DELETE")

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self.servers.append(httpd)
        return httpd.server_address[1]

    def _token_ok(self, token):
        """Validates a token with the real Keystone (cached briefly)."""
        if not token:
            return False
        hit = self.valid_tokens.get(token)
        if hit and hit > time.time():
            return True
        s, _, _ = self.os.api.call("GET", self.os.auth_url + "/auth/tokens",
                                   token=self.os._admin_token,
                                   headers={"X-Subject-Token": token})
        if s == 200:
            self.valid_tokens[token] = time.time() + 5
        return s == 200

    def stop(self):
        for h in self.servers:
            h.shutdown()
            h.server_close()

    def _upload(self, token, image_id, path):
        """Uploads a file into the REAL Glance image (in a thread, as the
        real services do, while the image is 'saving')."""
        def run():
            try:
                data = open(path, "rb").read()
            except OSError:
                return  # a volume whose data is lost: stays "saving"
            self.os.api.call("PUT", "%s/v2/images/%s/file"
                             % (self.os.glance_url, image_id), token=token,
                             data=data, headers={
                                 "Content-Type": "application/octet-stream"})
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    def _create_image(self, token, name, disk_format, props):
        body = {"name": name, "disk_format": disk_format,
                "container_format": "bare"}
        body.update({k: str(v) for k, v in props.items()})
        _, j, _ = self.os.api.call("POST", self.os.glance_url + "/v2/images",
                                   body, token=token, expect=201)
        with self.cloud.lock:
            self.cloud.created_images.append(j["id"])
        return j["id"]

    # -- Nova --

    def _server(self, sid):
        for s in self.cloud.servers:
            if s["id"] == sid:
                return s
        raise KeyError(sid)

    def _nova(self, method, path, q, body, token):
        m = re.fullmatch(r"/v2\.1/servers/detail", path)
        if m and method == "GET":
            return 200, {"servers": [_public(s) for s in self.cloud.servers]}
        m = re.fullmatch(r"/v2\.1/servers/([^/]+)", path)
        if m and method == "GET":
            return 200, {"server": _public(self._server(m.group(1)))}
        m = re.fullmatch(r"/v2\.1/servers/([^/]+)/action", path)
        if m and method == "POST" and "createImage" in (body or {}):
            s = self._server(m.group(1))
            req = body["createImage"]
            fmt = "qcow2"
            with open(s["_root"], "rb") as f:
                if f.read(4) != b"QFI\xfb":
                    fmt = "raw"
            props = dict(req.get("metadata") or {})
            props.update(s.get("_image_props", {}))
            iid = self._create_image(token, req["name"], fmt, props)
            self._upload(token, iid, s["_root"])
            return 202, {"image_id": iid}
        raise KeyError(path)

    # -- Cinder --

    def _cinder(self, method, path, q, body, token):
        m = re.fullmatch(r"/v3/[^/]+/(.*)", path)
        if not m:
            raise KeyError(path)
        rest = m.group(1)
        c = self.cloud
        with c.lock:
            if rest == "volumes/detail" and method == "GET":
                return 200, {"volumes": [self._vol(v)
                                         for v in c.volumes.values()]}
            if rest == "types" and method == "GET":
                return 200, {"volume_types": c.volume_types}
            if rest == "snapshots/detail" and method == "GET":
                return 200, {"snapshots": [self._snap(s)
                                           for s in c.snapshots.values()]}
            m = re.fullmatch(r"volumes/([^/]+)", rest)
            if m and method == "GET":
                return 200, {"volume": self._vol(c.volumes[m.group(1)])}
            if m and method == "DELETE":
                v = c.volumes[m.group(1)]
                if v["attachments"]:
                    return 400, {"badRequest": {"message": "attached"}}
                del c.volumes[m.group(1)]
                return 202, None
            m = re.fullmatch(r"snapshots/([^/]+)", rest)
            if m and method == "GET":
                return 200, {"snapshot": self._snap(c.snapshots[m.group(1)])}
            if m and method == "DELETE":
                del c.snapshots[m.group(1)]
                return 202, None
            if rest == "snapshots" and method == "POST":
                req = body["snapshot"]
                v = c.volumes[req["volume_id"]]
                if v["status"] == "in-use" and not req.get("force"):
                    return 400, {"badRequest": {"message": "in-use"}}
                sid = str(uuid.uuid4())
                c.snapshots[sid] = {
                    "id": sid, "name": req.get("name"),
                    "volume_id": v["id"], "size": v["size"],
                    "metadata": req.get("metadata") or {},
                    "_status": _Settling("creating", "available"),
                    "_data": v["_data"]}
                return 202, {"snapshot": self._snap(c.snapshots[sid])}
            if rest == "volumes" and method == "POST":
                req = body["volume"]
                snap = c.snapshots[req["snapshot_id"]]
                v = self.cloud.add_volume(
                    req.get("name"), snap["_data"],
                    size_gb=req.get("size") or snap["size"],
                    metadata=req.get("metadata") or {})
                v["_status"] = _Settling("creating", "available")
                v["snapshot_id"] = snap["id"]
                return 202, {"volume": self._vol(v)}
            m = re.fullmatch(r"volumes/([^/]+)/action", rest)
            if m and method == "POST" and \
                    "os-volume_upload_image" in (body or {}):
                v = c.volumes[m.group(1)]
                req = body["os-volume_upload_image"]
                iid = self._create_image(
                    token, req["image_name"], req.get("disk_format", "raw"),
                    v.get("volume_image_metadata") or {})
                t = self._upload(token, iid, v["_data"])
                v["_uploading"] = t
                return 202, {"os-volume_upload_image": {
                    "id": v["id"], "image_id": iid,
                    "image_name": req["image_name"],
                    "disk_format": req.get("disk_format", "raw"),
                    "status": "uploading"}}
        raise KeyError(path)

    @staticmethod
    def _vol(v):
        out = _public(v)
        if "_status" in v:
            out["status"] = str(v["_status"])
        t = v.get("_uploading")
        if t is not None and t.is_alive():
            out["status"] = "uploading"
        return out

    @staticmethod
    def _snap(s):
        out = _public(s)
        out["status"] = str(s["_status"])
        return out

    # -- Neutron --

    def _neutron(self, method, path, q, body, token):
        c = self.cloud
        if method != "GET":
            raise KeyError(path)
        if path == "/v2.0/networks":
            return 200, {"networks": c.networks}
        if path == "/v2.0/ports":
            dev = q.get("device_id", [None])[0]
            return 200, {"ports": [p for p in c.ports
                                   if dev is None or p["device_id"] == dev]}
        if path == "/v2.0/floatingips":
            port = q.get("port_id", [None])[0]
            return 200, {"floatingips": [f for f in c.floatingips
                                         if port is None
                                         or f["port_id"] == port]}
        raise KeyError(path)
