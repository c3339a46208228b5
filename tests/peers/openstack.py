"""Real OpenStack Keystone and Glance as test peers.

Keystone (PyPI `keystone`) and Glance (PyPI `glance`) are installed once
into a venv under ~/.cache/hoist (with gunicorn, which serves both WSGI
applications, and python-glanceclient for the benchmark). Each session
configures them with SQLite databases and a file store in a temporary
directory, and serves them on 127.0.0.1 with TLS (a CA and a server
certificate made with openssl):

* Keystone is bootstrapped (`keystone-manage db_sync`, `fernet_setup`,
  `credential_setup`, `bootstrap`) with an admin, a project `hoist-proj`
  in domain Default, a user `hoist-user` (member of it), and the identity
  and image services in the catalog with public, internal and admin
  endpoints in region RegionOne. The internal and admin image endpoints
  point at a port where nothing listens, so a client that picks the
  wrong interface fails; region RegionTwo has an image endpoint that
  also points nowhere.
* Glance stores images in files; its os_hash_algo is sha512.

Import the fixtures into a test module with
    from peers.openstack import *  # noqa: F401,F403
"""
import json
import os
import pathlib
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from peers.imageio import free_port, make_pki

SPECS = ["keystone>=30,<31", "glance>=33,<34", "gunicorn",
         "python-glanceclient"]
CACHE = pathlib.Path(os.environ.get("HOIST_CACHE",
                                    pathlib.Path.home() / ".cache" / "hoist"))
VENV = CACHE / "venv-openstack"

ADMIN_PASSWORD = "Adm1n-Hoist-Keystone-Secret"
USER = "hoist-user"
PASSWORD = "Hoist-S3cret-Pa55word-XYZ"  # recognisable in output
PROJECT = "hoist-proj"
SERVICE_PASSWORD = "Glance-Service-Secret-77"
REGION = "RegionOne"


# ---- installation ----

def _venv_python():
    return VENV / "bin" / "python"


def _installed():
    py = _venv_python()
    if not py.exists() or not (VENV / "bin" / "gunicorn").exists():
        return False
    # Importing the applications takes long; their metadata tells.
    p = subprocess.run([str(py), "-c", "import importlib.metadata as m; "
                        "[m.version(n) for n in ('keystone', 'glance', "
                        "'gunicorn', 'python-glanceclient')]"],
                       capture_output=True)
    return p.returncode == 0


def install():
    """pip-installs Keystone, Glance and gunicorn into the cached venv
    (once)."""
    if _installed():
        return VENV
    CACHE.mkdir(parents=True, exist_ok=True)
    base = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
        else sys.executable
    if VENV.exists():
        shutil.rmtree(VENV)
    subprocess.run([base, "-m", "venv", str(VENV)], check=True,
                   capture_output=True)
    p = subprocess.run([str(_venv_python()), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check"] + SPECS,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("cannot install %s:\n%s"
                           % (" ".join(SPECS), p.stderr[-3000:]))
    return VENV


def versions():
    """{"keystone": "30.0.0", "glance": "33.0.0"} of the venv."""
    p = subprocess.run(
        [str(_venv_python()), "-c",
         "import importlib.metadata as m, json; print(json.dumps("
         "{n: m.version(n) for n in ('keystone', 'glance', 'gunicorn')}))"],
        capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


# ---- a small JSON client ----

class Api:
    """JSON requests against the peers (CA-verified)."""

    def __init__(self, cafile):
        self.ctx = ssl.create_default_context(cafile=str(cafile))

    def call(self, method, url, body=None, token=None, headers=None,
             data=None, expect=None):
        h = dict(headers or {})
        if token:
            h["X-Auth-Token"] = token
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(url, data=data, method=method,
                                     headers=h)
        try:
            with urllib.request.urlopen(req, context=self.ctx,
                                        timeout=120) as r:
                raw = r.read()
                status, rh = r.status, r.headers
        except urllib.error.HTTPError as e:
            raw, status, rh = e.read(), e.code, e.headers
        if expect is not None and status not in (
                expect if isinstance(expect, tuple) else (expect,)):
            raise AssertionError("%s %s: %d %s" % (method, url, status,
                                                  raw[:500]))
        try:
            j = json.loads(raw) if raw else None
        except ValueError:
            j = None
        return status, j, rh


# ---- processes ----

def _wait_http(url, ctx, proc, log, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited:\n%s" % (url, _tail(log)))
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except (OSError, urllib.error.URLError):
            time.sleep(0.3)
    raise RuntimeError("%s did not start:\n%s" % (url, _tail(log)))


def _tail(path):
    try:
        return pathlib.Path(path).read_text(errors="replace")[-3000:]
    except OSError:
        return ""


def _gunicorn(app, port, pki, env, log, workers=1, threads=8):
    # oslo.config parses sys.argv when the application loads: a shim
    # module hides gunicorn's arguments from it.
    shim_dir = pathlib.Path(log).parent
    module, attr = app.split(":")
    shim = "hoist_shim_" + module.replace(".", "_")
    (shim_dir / (shim + ".py")).write_text(
        "import sys\nsys.argv = sys.argv[:1]\n"
        "from %s import %s as application  # noqa: F401\n" % (module, attr))
    args = [str(VENV / "bin" / "gunicorn"), shim + ":application",
            "--pythonpath", str(shim_dir),
            "--bind", "127.0.0.1:%d" % port,
            "--workers", str(workers), "--threads", str(threads),
            "--worker-class", "gthread", "--timeout", "600",
            "--graceful-timeout", "2",
            "--certfile", str(pki["cert"]), "--keyfile", str(pki["key"]),
            "--error-logfile", str(log), "--log-level", "warning"]
    full = dict(os.environ)
    full.update(env)
    full["PATH"] = str(VENV / "bin") + os.pathsep + full.get("PATH", "")
    return subprocess.Popen(args, env=full, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class OpenStack:
    """Keystone and Glance, configured and running."""

    def __init__(self, workdir, pki, glance_workers=1, token_cache=False):
        self.dir = pathlib.Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pki = pki
        self.ca = pki["ca"]
        self.api = Api(self.ca)
        self.kport = free_port()
        self.gport = free_port()
        self.dead_port = free_port()  # nothing listens here
        self.auth_url = "https://127.0.0.1:%d/v3" % self.kport
        self.glance_url = "https://127.0.0.1:%d" % self.gport
        self.glance_workers = glance_workers
        # Glance validates every token with Keystone unless it caches the
        # answer (then a revoked token works on for minutes).
        self.token_cache = token_cache
        self.keystone = self.glance = None
        self.ids = {}

    # -- Keystone --

    def _keystone_conf(self):
        d = self.dir / "keystone"
        (d / "fernet").mkdir(parents=True, exist_ok=True)
        (d / "credential").mkdir(parents=True, exist_ok=True)
        (d / "keystone.conf").write_text(
            "[DEFAULT]\nuse_stderr = true\n"
            "[database]\nconnection = sqlite:///%s/keystone.db\n"
            "[token]\nprovider = fernet\nexpiration = 3600\n"
            "[fernet_tokens]\nkey_repository = %s/fernet\n"
            "[fernet_receipts]\nkey_repository = %s/fernet\n"
            "[credential]\nkey_repository = %s/credential\n"
            % (d, d, d, d))
        return d

    def _keystone_manage(self, d, *args):
        p = subprocess.run([str(VENV / "bin" / "keystone-manage"),
                            "--config-file", str(d / "keystone.conf")]
                           + list(args), capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("keystone-manage %s failed:\n%s"
                               % (args[0], p.stderr[-3000:]))

    def start_keystone(self):
        d = self._keystone_conf()
        uid, gid = str(os.getuid()), str(os.getgid())
        self._keystone_manage(d, "db_sync")
        self._keystone_manage(d, "fernet_setup", "--keystone-user", uid,
                              "--keystone-group", gid)
        self._keystone_manage(d, "credential_setup", "--keystone-user", uid,
                              "--keystone-group", gid)
        base = "https://127.0.0.1:%d/v3/" % self.kport
        self._keystone_manage(
            d, "bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
            "--bootstrap-admin-url", base, "--bootstrap-internal-url", base,
            "--bootstrap-public-url", base,
            "--bootstrap-region-id", REGION)
        log = self.dir / "keystone.log"
        self.keystone = _gunicorn("keystone.wsgi.api:application",
                                  self.kport, self.pki,
                                  {"OS_KEYSTONE_CONFIG_DIR": str(d)}, log,
                                  threads=4)
        _wait_http(self.auth_url, self.api.ctx, self.keystone, log)

    def token(self, user="admin", password=ADMIN_PASSWORD, project="admin"):
        """A project-scoped token (and the token's JSON body)."""
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"},
                "password": password}}},
            "scope": {"project": {"name": project,
                                  "domain": {"id": "default"}}}}}
        status, j, h = self.api.call("POST", self.auth_url + "/auth/tokens",
                                     body, expect=201)
        return h["X-Subject-Token"], j

    def admin(self, method, path, body=None, expect=None):
        if not hasattr(self, "_admin_token"):
            self._admin_token = self.token()[0]
        return self.api.call(method, self.auth_url + path, body,
                             token=self._admin_token, expect=expect)[1]

    def _find(self, kind, name):
        j = self.admin("GET", "/%s?name=%s" % (kind, name), expect=200)
        items = j[kind]
        return items[0]["id"] if items else None

    def create(self, kind, key, body):
        name = body.get("name")
        found = self._find(kind, name) if name else None
        if found:
            return found
        return self.admin("POST", "/" + kind, {key: body},
                          expect=201)[key]["id"]

    def grant(self, project_id, user_id, role):
        rid = self._find("roles", role)
        self.admin("PUT", "/projects/%s/users/%s/roles/%s"
                   % (project_id, user_id, rid), expect=(201, 204))

    def add_service(self, stype, name, endpoints):
        """endpoints: [(region, interface, url)]"""
        sid = self.create("services", "service",
                          {"type": stype, "name": name, "enabled": True})
        for region, iface, url in endpoints:
            self.add_region(region)
            self.admin("POST", "/endpoints", {"endpoint": {
                "service_id": sid, "interface": iface, "url": url,
                "region_id": region, "enabled": True}}, expect=201)
        return sid

    def _region(self, region):
        s, _, _ = self.api.call("GET", self.auth_url + "/regions/" + region,
                                token=self._admin_token)
        return s == 200

    def add_region(self, region):
        if not self._region(region):
            self.admin("POST", "/regions", {"region": {"id": region}},
                       expect=201)

    def setup_identity(self):
        self.ids["project"] = self.create(
            "projects", "project", {"name": PROJECT, "domain_id": "default"})
        self.ids["service_project"] = self.create(
            "projects", "project", {"name": "service",
                                    "domain_id": "default"})
        self.ids["user"] = self.create(
            "users", "user", {"name": USER, "domain_id": "default",
                              "password": PASSWORD,
                              "default_project_id": self.ids["project"]})
        self.grant(self.ids["project"], self.ids["user"], "member")
        self.ids["glance_user"] = self.create(
            "users", "user", {"name": "glance", "domain_id": "default",
                              "password": SERVICE_PASSWORD})
        self.grant(self.ids["service_project"], self.ids["glance_user"],
                   "admin")
        self.add_region("RegionTwo")
        dead = "https://127.0.0.1:%d" % self.dead_port
        self.add_service("image", "glance", [
            (REGION, "public", self.glance_url),
            (REGION, "internal", dead),
            (REGION, "admin", dead),
            ("RegionTwo", "public", dead)])

    def register_endpoint(self, stype, name, region, iface, url):
        """Adds an endpoint (and the region and service when missing)."""
        self.add_region(region)
        j = self.admin("GET", "/services?type=%s" % stype, expect=200)
        sids = [s["id"] for s in j["services"] if s["name"] == name]
        if sids:
            sid = sids[0]
        else:
            sid = self.admin("POST", "/services", {"service": {
                "type": stype, "name": name, "enabled": True}},
                expect=201)["service"]["id"]
        self.admin("POST", "/endpoints", {"endpoint": {
            "service_id": sid, "interface": iface, "url": url,
            "region_id": region, "enabled": True}}, expect=201)

    # -- Glance --

    def _glance_conf(self):
        d = self.dir / "glance"
        for sub in ("images", "staging", "tasks"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(VENV / "etc" / "glance" / "glance-api-paste.ini", d)
        (d / "glance-api.conf").write_text(
            "[DEFAULT]\nuse_stderr = true\n"
            "worker_self_reference_url = %(url)s\n"
            "enabled_backends = fs:file\n"
            "[glance_store]\ndefault_backend = fs\n"
            "[fs]\nfilesystem_store_datadir = %(d)s/images\n"
            "[os_glance_staging_store]\n"
            "filesystem_store_datadir = %(d)s/staging\n"
            "[os_glance_tasks_store]\n"
            "filesystem_store_datadir = %(d)s/tasks\n"
            "[database]\nconnection = sqlite:///%(d)s/glance.db\n"
            "[paste_deploy]\nflavor = keystone\n"
            "config_file = %(d)s/glance-api-paste.ini\n"
            "[keystone_authtoken]\nwww_authenticate_uri = %(auth)s\n"
            "auth_url = %(auth)s\nauth_type = password\n"
            "project_name = service\nproject_domain_id = default\n"
            "username = glance\nuser_domain_id = default\n"
            "password = %(pw)s\ncafile = %(ca)s\n"
            "token_cache_time = %(cache)d\n"
            "[oslo_policy]\nenforce_new_defaults = true\n"
            % {"url": self.glance_url, "d": d, "auth": self.auth_url,
               "pw": SERVICE_PASSWORD, "ca": self.ca,
               "cache": 300 if self.token_cache else -1})
        return d

    def start_glance(self):
        d = self._glance_conf()
        p = subprocess.run([str(VENV / "bin" / "glance-manage"),
                            "--config-dir", str(d), "db_sync"],
                           capture_output=True, text=True,
                           env=dict(os.environ, OS_GLANCE_CONFIG_DIR=str(d)))
        if p.returncode != 0:
            raise RuntimeError("glance-manage db_sync failed:\n%s"
                               % p.stderr[-3000:])
        log = self.dir / "glance.log"
        self.glance = _gunicorn("glance.wsgi.api:application", self.gport,
                                self.pki, {"OS_GLANCE_CONFIG_DIR": str(d)},
                                log, workers=self.glance_workers)
        _wait_http(self.glance_url + "/versions", self.api.ctx, self.glance,
                   log)
        self.glance_db = d / "glance.db"
        self.glance_store = d / "images"

    def start(self):
        self.start_keystone()
        self._admin_token = self.token()[0]
        self.setup_identity()
        self.start_glance()
        return self

    def stop(self):
        _stop(self.glance)
        _stop(self.keystone)

    # -- helpers for tests --

    def user_token(self):
        return self.token(USER, PASSWORD, PROJECT)

    def upload_image(self, path, name, disk_format="raw",
                     container_format="bare", properties=None, token=None):
        """Creates an image and uploads the file's bytes; returns its id."""
        token = token or self.user_token()[0]
        body = {"name": name, "disk_format": disk_format,
                "container_format": container_format}
        body.update(properties or {})
        _, j, _ = self.api.call("POST", self.glance_url + "/v2/images", body,
                                token=token, expect=201)
        iid = j["id"]
        data = pathlib.Path(path).read_bytes()
        self.api.call("PUT", "%s/v2/images/%s/file" % (self.glance_url, iid),
                      token=token, data=data,
                      headers={"Content-Type": "application/octet-stream"},
                      expect=204)
        return iid

    def image(self, iid, token=None):
        token = token or self.user_token()[0]
        return self.api.call("GET", "%s/v2/images/%s" % (self.glance_url, iid),
                             token=token, expect=200)[1]

    def delete_image(self, iid, token=None):
        token = token or self.user_token()[0]
        self.api.call("DELETE", "%s/v2/images/%s" % (self.glance_url, iid),
                      token=token, expect=(204, 404))

    def list_images(self, token=None):
        token = token or self.user_token()[0]
        return self.api.call("GET", self.glance_url + "/v2/images?limit=1000",
                             token=token, expect=200)[1]["images"]

    def env(self, **extra):
        """OS_* variables for hoist (the password from the environment)."""
        e = {"OS_AUTH_URL": self.auth_url, "OS_USERNAME": USER,
             "OS_PASSWORD": PASSWORD, "OS_PROJECT_NAME": PROJECT,
             "OS_USER_DOMAIN_NAME": "Default",
             "OS_PROJECT_DOMAIN_NAME": "Default",
             "OS_REGION_NAME": REGION, "OS_INTERFACE": "public",
             "OS_CACERT": str(self.ca)}
        e.update(extra)
        return e


def clean_os_env(extra=None):
    """The test process's environment without OS_* variables."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    e.update(extra or {})
    return e


# ---- fixtures ----

@pytest.fixture(scope="session")
def openstack_venv():
    try:
        return install()
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture(scope="session")
def openstack_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("openstack-pki"))


@pytest.fixture(scope="session")
def openstack(openstack_venv, openstack_pki, tmp_path_factory):
    o = OpenStack(tmp_path_factory.mktemp("openstack"), openstack_pki)
    try:
        o.start()
    except Exception:
        o.stop()
        raise
    yield o
    o.stop()


__all__ = ["openstack_venv", "openstack_pki", "openstack", "OpenStack",
           "USER", "PASSWORD", "PROJECT", "REGION", "clean_os_env",
           "socket", "versions"]
