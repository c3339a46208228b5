"""The real oVirt imageio daemon as a test peer.

ovirt-imageio (PyPI) is installed once into a venv under ~/.cache/hoist;
the daemon runs as the current user on 127.0.0.1 with TLS (a CA and a
server certificate made with openssl), its control service on a unix
socket in a temporary directory. Tickets are added through the control
socket as oVirt's vdsm does. qemu-nbd serves images for the nbd backend
(so qcow2 images are served as raw, with zero extents).

Import the fixtures into a test module with
    from peers.imageio import *  # noqa: F401,F403
"""
import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

VERSION_SPEC = "ovirt-imageio>=2.5,<2.6"
CACHE = pathlib.Path(os.environ.get("HOIST_CACHE",
                                    pathlib.Path.home() / ".cache" / "hoist"))
VENV = CACHE / "venv-imageio"


# ---- installation ----

def _venv_python():
    return VENV / "bin" / "python"


def _installed():
    py = _venv_python()
    if not py.exists():
        return False
    p = subprocess.run([str(py), "-c", "import ovirt_imageio._internal.ioutil,"
                        " ovirt_imageio.client"], capture_output=True)
    return p.returncode == 0


def install():
    """pip-installs ovirt-imageio into the cached venv (once)."""
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
                        "--disable-pip-version-check", VERSION_SPEC],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("cannot install %s (it builds a C extension: "
                           "tests/setup installs python3-dev):\n%s"
                           % (VERSION_SPEC, p.stderr[-3000:]))
    return VENV


# ---- PKI ----

def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True)


def make_ca(d, name):
    """A self-signed CA: d/name-key.pem, d/name.pem."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=hoist test CA %s" % name,
             "-keyout", name + "-key.pem", "-out", name + ".pem", cwd=d)
    return d / (name + ".pem")


def make_pki(d):
    """CA, server key and certificate for 127.0.0.1/localhost, and an
    unrelated CA that must not be trusted."""
    d.mkdir(parents=True, exist_ok=True)
    ca = make_ca(d, "ca")
    other = make_ca(d, "other-ca")
    (d / "san.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "server-key.pem", "-out", "server.csr", cwd=d)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem",
             "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "2",
             "-extfile", "san.ext", "-out", "server.pem", cwd=d)
    return {"ca": ca, "other_ca": other, "cert": d / "server.pem",
            "key": d / "server-key.pem"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the control service (unix socket HTTP) ----

class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self._path))


class DaemonError(Exception):
    pass


class Daemon:
    """One ovirt-imageio daemon: start(), add_ticket(), kill(), stop()."""

    def __init__(self, workdir, pki, port=None, buffer_size=None,
                 max_connections=None):
        self.dir = pathlib.Path(workdir)
        self.pki = pki
        self.port = port or free_port()
        self.control = self.dir / "control.sock"
        self.log = self.dir / "daemon.log"
        self.proc = None
        self.tickets = {}
        self.buffer_size = buffer_size
        self.max_connections = max_connections
        self._write_config()

    def _write_config(self):
        conf = self.dir / "conf" / "conf.d"
        conf.mkdir(parents=True, exist_ok=True)
        (self.dir / "run").mkdir(exist_ok=True)
        buffers = ""
        if self.buffer_size:
            buffers = ("[backend_file]\nbuffer_size = %d\n\n"
                       "[backend_nbd]\nbuffer_size = %d\n\n"
                       % (self.buffer_size, self.buffer_size))
        maxcon = ""
        if self.max_connections:
            maxcon = "max_connections = %d\n" % self.max_connections
        (conf / "50-hoist-test.conf").write_text(f"""\
[daemon]
{maxcon}poll_interval = 0.1
drop_privileges = false
systemd_enable = false
run_dir = {self.dir}/run

[tls]
enable = true
key_file = {self.pki["key"]}
cert_file = {self.pki["cert"]}
ca_file = {self.pki["ca"]}

{buffers}[remote]
host = 127.0.0.1
port = {self.port}

[local]
enable = false

[control]
transport = unix
socket = {self.control}

[profile]
filename = {self.dir}/run/profile

[logger_root]
level = INFO

[handler_logfile]
args = ("{self.log}",)
kwargs = {{"maxBytes": 20971520, "backupCount": 1}}
""")

    @property
    def conf_dir(self):
        return self.dir / "conf"

    def start(self, ticket_file=None, timeout=30):
        assert self.proc is None
        if self.control.exists():
            self.control.unlink()
        cmd = [str(_venv_python()), str(VENV / "bin" / "ovirt-imageio"),
               "--conf-dir", str(self.conf_dir)]
        if ticket_file:
            cmd += ["--ticket", str(ticket_file)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "stderr", "ab"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DaemonError("ovirt-imageio exited with %s: %s" % (
                    self.proc.returncode, self._log_tail()))
            if self._ready():
                return self
            time.sleep(0.05)
        raise DaemonError("ovirt-imageio did not start: " + self._log_tail())

    def _ready(self):
        if not self.control.exists():
            return False
        try:
            self._control("GET", "/tickets/%s" % uuid.uuid4())
        except (OSError, http.client.HTTPException):
            return False
        except DaemonError:
            pass  # 404: it answers
        try:
            with socket.create_connection(("127.0.0.1", self.port), 1):
                return True
        except OSError:
            return False

    def _log_tail(self):
        text = ""
        for f in (self.dir / "stderr", self.log):
            if f.exists():
                text += f.read_text(errors="replace")[-2000:]
        return text

    def _control(self, method, path, body=None):
        con = _UnixHTTPConnection(self.control)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data else {}
            con.request(method, path, body=data, headers=headers)
            resp = con.getresponse()
            text = resp.read()
            if resp.status >= 300:
                raise DaemonError("%s %s: %d %s" % (
                    method, path, resp.status, text.decode(errors="replace")))
            return json.loads(text) if text.strip() else None
        finally:
            con.close()

    def add_ticket(self, url, size, timeout=300, ticket_id=None,
                   ops=("read",), **extra):
        """Adds a ticket for url (file:///path or nbd:unix:/sock);
        returns its id."""
        tid = ticket_id or str(uuid.uuid4())
        ticket = {"uuid": tid, "size": size, "ops": list(ops),
                  "timeout": timeout, "url": url,
                  "transfer_id": "hoist-test-" + tid[:8]}
        ticket.update(extra)
        self._control("PUT", "/tickets/" + tid, ticket)
        self.tickets[tid] = ticket
        return tid

    def ticket_info(self, tid):
        return self._control("GET", "/tickets/" + tid)

    def patch_ticket(self, tid, **fields):
        return self._control("PATCH", "/tickets/" + tid, fields)

    def delete_ticket(self, tid):
        self.tickets.pop(tid, None)
        return self._control("DELETE", "/tickets/" + tid)

    def write_ticket_file(self, tid, path):
        """The ticket as a file for start(ticket_file=…): loaded before the
        daemon serves any request."""
        pathlib.Path(path).write_text(json.dumps(self.tickets[tid]))
        return path

    def url(self, tid, scheme="imageio+https"):
        return "%s://127.0.0.1:%d/images/%s" % (scheme, self.port, tid)

    def kill(self):
        """SIGKILL: in-flight requests die with their connections."""
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


class QemuNbd:
    """qemu-nbd -r serving an image on a unix socket; with `bps` set the
    reads go through a throttle group (to slow a copy down)."""

    def __init__(self, image, fmt, sock, bps=None):
        self.sock = pathlib.Path(sock)
        cmd = ["qemu-nbd", "-r", "--persistent", "--shared", "8",
               "--socket", str(self.sock), "--cache", "writeback"]
        if bps:
            cmd += ["--object", "throttle-group,id=thr0,x-bps-read=%d" % bps,
                    "--image-opts",
                    "driver=throttle,throttle-group=thr0,"
                    "file.driver=%s,file.file.driver=file,"
                    "file.file.filename=%s" % (fmt, image)]
        else:
            cmd += ["-f", fmt, str(image)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not self.sock.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("qemu-nbd did not start: %s" %
                                   self.proc.stderr.read().decode())
            time.sleep(0.02)

    @property
    def url(self):
        return "nbd:unix:%s" % self.sock

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


# ---- fixtures ----

@pytest.fixture(scope="session")
def imageio_venv():
    if not shutil.which("openssl"):
        pytest.fail("openssl is missing: run tests/setup")
    return install()


@pytest.fixture(scope="session")
def imageio_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("imageio-pki"))


@pytest.fixture(scope="session")
def imageio_daemon(imageio_venv, imageio_pki, tmp_path_factory):
    """The shared daemon, for the whole session."""
    d = Daemon(tmp_path_factory.mktemp("imageio-daemon"), imageio_pki)
    d.start()
    yield d
    d.stop()


@pytest.fixture
def imageio_daemon_factory(imageio_venv, imageio_pki, tmp_path_factory):
    """Private daemons for tests that kill them."""
    made = []

    def make(**kw):
        d = Daemon(tmp_path_factory.mktemp("imageio-private"), imageio_pki,
                   **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        d.kill()


@pytest.fixture
def nbd_server(tmp_path):
    """Starts qemu-nbd for an image: nbd_server(image, fmt, bps=None,
    sock=None)."""
    servers = []

    def start(image, fmt, bps=None, sock=None):
        sock = sock or tmp_path / ("nbd%d.sock" % len(servers))
        s = QemuNbd(image, fmt, sock, bps=bps)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()
