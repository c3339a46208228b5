"""hoist-populator, the program of a volume populator pod, run as a process
against the real ovirt-imageio daemon (tests/peers/imageio.py) over TLS on
loopback: targets (a file, a loop block device), metrics scraped while it
copies, the termination message, credentials from the environment and
from files, and resuming after SIGKILL."""
import hashlib
import json
import os
import pathlib
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from diskutil import MiB, GiB, assert_same_content, data_segments, qemu_io

from peers.imageio import *  # noqa: F401,F403
from peers.ovirt_engine import ovirt_engine_factory  # noqa: F401

PASSWORD = "Hunter2-populator-S3cret!"
CRED_KEYS = ("user", "password", "cacert", "insecureSkipVerify", "url")
OWNER = "0b5e2c1d-pvc-uid-4242"


@pytest.fixture(scope="session")
def populator_bin(build_dir):
    path = build_dir / "src" / "populator" / "hoist-populator"
    assert path.exists(), f"{path} is not built; run tests/run"
    return path


def make_raw(path, size, writes):
    with open(path, "wb") as f:
        f.truncate(size)
    for off, length, pattern in writes:
        qemu_io(path, "raw", f"write -P {pattern} {off} {length}")
    return path


def data_bytes(path):
    return sum(b - a for a, b in data_segments(path))


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for blk in iter(lambda: f.read(4 * MiB), b""):
            h.update(blk)
    return h.hexdigest()


def clean_env(**extra):
    """The environment without stray credential variables."""
    env = {k: v for k, v in os.environ.items() if k not in CRED_KEYS}
    env.update(extra)
    return env


def base_args(tmp_path, target, *more, metrics="none"):
    return ["--volume-path", str(target), "--owner-uid", OWNER,
            "--termination-log", str(tmp_path / "termination-log"),
            "--secret-dir", str(tmp_path / "no-secret"),
            "--metrics-addr", metrics] + [str(m) for m in more]


def termination(tmp_path):
    text = (tmp_path / "termination-log").read_text()
    assert text.endswith("\n") and text.count("\n") == 1, text
    assert len(text.encode()) < 4096
    return json.loads(text)


def run_pop(populator_bin, *args, env=None, check=True):
    cmd = [str(populator_bin)] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True,
                       env=env or clean_env(), timeout=300)
    assert "AddressSanitizer" not in p.stderr, p.stderr
    assert "runtime error" not in p.stderr, p.stderr
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n"
                             f"{p.stderr}")
    return p


class Running:
    """hoist-populator started in the background; its stderr is collected
    line by line, so a test can wait for a line."""

    def __init__(self, populator_bin, *args, env=None):
        self.proc = subprocess.Popen(
            [str(populator_bin)] + [str(a) for a in args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=env or clean_env())
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def stderr(self):
        return "".join(self.lines)

    def wait_for_line(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = re.search(pattern, line)
                if m:
                    return m
            assert self.proc.poll() is None or self.thread.is_alive(), \
                self.stderr
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r}:\n{self.stderr}")

    def metrics_url(self):
        return self.wait_for_line(r"metrics at (\S+)").group(1)

    def wait(self, timeout=300):
        self.proc.wait(timeout)
        self.thread.join(10)
        assert "AddressSanitizer" not in self.stderr, self.stderr
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()


def scrape(url):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # a self-signed certificate, as Forklift
    with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        return r.read().decode()


def parse_metrics(text):
    """{name: (labels dict, value)} of a Prometheus text page."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^(\w+)\{(.*)\} (\S+)$', line)
        assert m, line
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
        out[m.group(1)] = (labels, float(m.group(3)))
    return out


def spread_source(tmp_path, name="in.raw", pattern=0x10, chunks=8):
    """1 GiB virtual, `chunks` x 2 MiB of data 64 MiB apart."""
    return make_raw(tmp_path / name, GiB, [
        (i * 64 * MiB, 2 * MiB, pattern + i) for i in range(chunks)])


# ---- the command line ----

def test_help_and_usage_errors(populator_bin, tmp_path):
    for args in ([], ["ovirt"], ["imageio"]):
        p = run_pop(populator_bin, *args, "--help")
        assert p.stdout.startswith("Usage: hoist-populator"), p.stdout
    p = run_pop(populator_bin, "ovirt", "--help")
    for flag in ("--engine-url", "--secret-name", "--disk-id",
                 "--transfer-network", "--cr-name", "--cr-namespace",
                 "--owner-uid", "--pvc-size", "--volume-path",
                 "--metrics-addr", "--metrics-insecure-http",
                 "--termination-log", "--checksum", "--secret-dir",
                 "--checkpoint-dir"):
        assert flag in p.stdout, flag
    for args, expect in [
            (["nonsense"], "unknown mode"),
            (["imageio", "--url", "https://h/images/t"], "--volume-path"),
            (["ovirt", "--volume-path", "x", "--disk-id", "d"],
             "--engine-url"),
            (["imageio", "--volume-path", "x", "--pvc-size", "0"],
             "--pvc-size"),
            (["imageio", "--volume-path", "x",
              "--engine-url=https://secret-engine"], "not an option"),
            (["imageio", "--volume-path", "x", "--cacert", "f",
              "--insecure"], "exclude")]:
        p = run_pop(populator_bin, *args, check=False)
        assert p.returncode == 2, (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert expect in p.stderr, p.stderr
        assert "secret-engine" not in p.stderr


# ---- copies ----

def test_file_target_with_checksum_and_termination_message(
        populator_bin, tmp_path, imageio_daemon, nbd_server):
    size = 300 * MiB + 4096
    src = make_raw(tmp_path / "in.raw", size, [
        (0, 64 * 1024, 0x11), (5 * MiB, MiB, 0x22),
        (200 * MiB + 4096, 3 * MiB, 0x33), (size - 4096, 4096, 0x44)])
    data = data_bytes(src)
    nbd = nbd_server(src, "raw")
    tid = imageio_daemon.add_ticket(nbd.url, size)
    vol = tmp_path / "mnt"
    vol.mkdir()
    out = vol / "disk.img"
    p = run_pop(populator_bin, "imageio", "--url", imageio_daemon.url(tid),
                "--cacert", imageio_daemon.pki["ca"], "--checksum",
                "--pvc-size", str(size + 10 * MiB),
                *base_args(tmp_path, out))
    assert_same_content(src, out)
    assert os.listdir(vol) == ["disk.img"]  # no checkpoint left behind
    t = termination(tmp_path)
    assert t["result"] == "succeeded"
    assert t["bytes_copied"] == t["bytes_total"] == data
    assert t["bytes_read"] == data and t["bytes_resumed"] == 0
    assert t["virtual_size"] == size
    assert t["checksum"] == "sha256:" + sha256_of(src)
    assert "message" not in t
    assert t["duration_seconds"] >= 0
    # The zeros never crossed the wire.
    assert imageio_daemon.ticket_info(tid)["transferred"] <= data + 256 * 1024
    assert tid not in p.stderr and tid[:8] in p.stderr
    assert re.search(r"copying .* to .*disk\.img \(file\)", p.stderr)
    assert "done:" in p.stderr


def test_disk_larger_than_pvc_fails_clearly(populator_bin, tmp_path,
                                            imageio_daemon):
    src = make_raw(tmp_path / "in.raw", 8 * MiB, [(0, MiB, 0x5a)])
    tid = imageio_daemon.add_ticket(f"file://{src}", 8 * MiB)
    out = tmp_path / "disk.img"
    p = run_pop(populator_bin, "imageio", "--url", imageio_daemon.url(tid),
                "--cacert", imageio_daemon.pki["ca"], "--pvc-size",
                str(4 * MiB), *base_args(tmp_path, out), check=False)
    assert p.returncode == 1
    assert "PVC requests only 4194304" in p.stderr
    assert not out.exists()
    t = termination(tmp_path)
    assert t["result"] == "failed" and "make the PVC larger" in t["message"]


@pytest.fixture
def loop_device(tmp_path):
    """A loop block device over a sparse file: loop_device(size)."""
    made = []

    def make(size):
        if os.geteuid() != 0 or not shutil.which("losetup"):
            pytest.skip("loop devices need root and losetup")
        backing = tmp_path / ("loop%d.img" % len(made))
        with open(backing, "wb") as f:
            f.truncate(size)
        p = subprocess.run(["losetup", "-f", "--show", str(backing)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            pytest.skip("cannot attach a loop device here: "
                        + p.stderr.strip())
        dev = p.stdout.strip()
        made.append(dev)
        return pathlib.Path(dev), backing

    yield make
    for dev in made:
        subprocess.run(["losetup", "-d", dev], capture_output=True)


def test_block_device_target(populator_bin, tmp_path, imageio_daemon,
                             nbd_server, loop_device):
    size = 96 * MiB
    src = make_raw(tmp_path / "in.raw", size, [
        (0, MiB, 0x61), (40 * MiB + 512, 70000, 0x62),
        (size - MiB, MiB, 0x63)])
    nbd = nbd_server(src, "raw")
    tid = imageio_daemon.add_ticket(nbd.url, size)
    dev, backing = loop_device(size + 4 * MiB)
    # Old data on the device where the source has zeros must go.
    with open(dev, "r+b") as f:
        f.seek(20 * MiB)
        f.write(b"\xee" * MiB)
    ckdir = tmp_path / "emptydir"
    ckdir.mkdir()
    p = run_pop(populator_bin, "imageio", "--url", imageio_daemon.url(tid),
                "--cacert", imageio_daemon.pki["ca"], "--checksum",
                "--checkpoint-dir", ckdir, *base_args(tmp_path, dev))
    assert "(block device)" in p.stderr
    with open(dev, "rb") as f, open(src, "rb") as s:
        for off in range(0, size, 4 * MiB):
            assert f.read(4 * MiB) == s.read(4 * MiB), off
    assert os.listdir(ckdir) == []
    t = termination(tmp_path)
    assert t["result"] == "succeeded" and t["virtual_size"] == size
    assert t["checksum"] == "sha256:" + sha256_of(src)


def test_block_device_resumes_from_the_checkpoint_dir(
        populator_bin, tmp_path, imageio_daemon, loop_device):
    """A block device's checkpoint lives in --checkpoint-dir and names the
    device by its number: trusted for this device, discarded for
    another."""
    size = 24 * MiB
    src = make_raw(tmp_path / "in.raw", size, [
        (0, MiB, 0x71), (9 * MiB, 2 * MiB, 0x72), (size - MiB, MiB, 0x73)])
    tid = imageio_daemon.add_ticket(f"file://{src}", size)
    dev, _ = loop_device(size)
    # The first half is already there.
    with open(dev, "r+b") as f, open(src, "rb") as s:
        f.write(s.read(12 * MiB))
    ckdir = tmp_path / "emptydir"
    ckdir.mkdir()
    checkpoint = ckdir / (".%s.hoist-checkpoint" % dev.name)
    body = {"format": "hoist-checkpoint", "version": 1,
            "source": {"id": "ovirt-disk:disk-1", "size": size},
            "target": {"kind": "block", "size": size,
                       "dev": os.stat(dev).st_rdev, "ino": 0},
            "unit_size": MiB, "units": 24, "done": [[0, 11]]}
    args = ["imageio", "--url", imageio_daemon.url(tid), "--cacert",
            imageio_daemon.pki["ca"], "--disk-id", "disk-1",
            "--checkpoint-dir", ckdir, *base_args(tmp_path, dev)]
    write_checkpoint(checkpoint, body)
    p = run_pop(populator_bin, *args)
    assert "resuming from checkpoint" in p.stderr
    assert termination(tmp_path)["bytes_read"] == 12 * MiB
    assert not checkpoint.exists()
    with open(dev, "rb") as f:
        assert f.read() == src.read_bytes()
    # Another device's checkpoint: discarded, all copied.
    body["target"]["dev"] += 1
    write_checkpoint(checkpoint, body)
    p = run_pop(populator_bin, *args)
    assert "another file or device" in p.stderr
    assert termination(tmp_path)["bytes_read"] == size
    with open(dev, "rb") as f:
        assert f.read() == src.read_bytes()


# ---- metrics ----

def test_metrics_scraped_mid_copy_over_https(populator_bin, tmp_path,
                                             imageio_daemon_factory,
                                             nbd_server):
    src = spread_source(tmp_path)
    data = 16 * MiB
    nbd = nbd_server(src, "raw", bps=4 * MiB)  # a few seconds
    daemon = imageio_daemon_factory(buffer_size=256 * 1024).start()
    tid = daemon.add_ticket(nbd.url, GiB)
    out = tmp_path / "disk.img"
    run = Running(populator_bin, "imageio", "--url", daemon.url(tid),
                  "--cacert", daemon.pki["ca"], "--disk-id", "disk-7",
                  "--progress-interval", "0.5",
                  *base_args(tmp_path, out, metrics="127.0.0.1:0"))
    try:
        url = run.metrics_url()
        fp = run.wait_for_line(r"SHA-256 ([0-9A-F:]+)").group(1)
        assert url.startswith("https://127.0.0.1:")
        # The certificate served is the one the log names.
        host, port = url.split("//")[1].split("/")[0].split(":")
        pem = ssl.get_server_certificate((host, int(port)))
        der = ssl.PEM_cert_to_DER_cert(pem)
        assert hashlib.sha256(der).hexdigest().upper() == \
            fp.replace(":", "")
        mid = None
        deadline = time.monotonic() + 60
        while mid is None and time.monotonic() < deadline:
            m = parse_metrics(scrape(url))
            copied = m["hoist_populator_bytes_copied"][1]
            if 0 < copied < data:
                mid = m
            time.sleep(0.2)
        assert mid, "never saw the copy half-way"
        labels, _ = mid["hoist_populator_bytes_copied"]
        assert labels == {"owner_uid": OWNER, "disk_id": "disk-7"}
        assert mid["hoist_populator_bytes_total"][1] == data
        assert mid["hoist_populator_virtual_bytes_total"][1] == GiB
        assert 0 < mid["hoist_populator_virtual_bytes_done"][1] <= GiB
        ratio = mid["hoist_populator_progress_ratio"][1]
        assert 0 < ratio < 1
        fl_labels, pct = mid["ovirt_progress"]
        assert fl_labels == {"ownerUID": OWNER}
        assert abs(pct - ratio * 100) < 5
        assert mid["hoist_populator_info"][0]["mode"] == "imageio"
        # Forklift's controller reads it with this pattern.
        assert re.search(r'progress\{ownerUID="%s"\} (\d+\.?\d*)' % OWNER,
                         scrape(url))
        # Only GET of /metrics.
        ctx = ssl._create_unverified_context()
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url.replace("/metrics", "/nope"),
                                   context=ctx, timeout=10)
        assert e.value.code == 404
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(
                url, data=b"x" * 10, method="POST"), context=ctx,
                timeout=10)
        assert e.value.code == 405
        # A large body is never read: refused or cut off, and the server
        # goes on.
        with pytest.raises((urllib.error.HTTPError, urllib.error.URLError,
                            ConnectionError)):
            urllib.request.urlopen(urllib.request.Request(
                url, data=b"x" * 1000000, method="POST"), context=ctx,
                timeout=10)
        assert "hoist_populator_bytes_copied" in scrape(url)
        assert run.wait() == 0, run.stderr
    finally:
        run.kill()
    # Progress lines came while it ran.
    assert re.search(r"progress: \d+\.\d%, .* of data .*/s", run.stderr)
    assert_same_content(src, out)
    t = termination(tmp_path)
    assert t["result"] == "succeeded" and t["bytes_copied"] == data


def test_metrics_over_plain_http(populator_bin, tmp_path,
                                 imageio_daemon_factory, nbd_server):
    src = spread_source(tmp_path, chunks=4)
    nbd = nbd_server(src, "raw", bps=4 * MiB)
    daemon = imageio_daemon_factory().start()
    tid = daemon.add_ticket(nbd.url, GiB)
    run = Running(populator_bin, "imageio", "--url", daemon.url(tid),
                  "--cacert", daemon.pki["ca"], "--metrics-insecure-http",
                  *base_args(tmp_path, tmp_path / "disk.img",
                             metrics="127.0.0.1:0"))
    try:
        url = run.metrics_url()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=10) as r:
            m = parse_metrics(r.read().decode())
        assert m["hoist_populator_virtual_bytes_total"][0]["owner_uid"] == \
            OWNER
        assert run.wait() == 0, run.stderr
    finally:
        run.kill()


# ---- failures ----

def assert_failed(p, tmp_path, out, *words):
    assert p.returncode == 1, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("hoist-populator: failed: "), p.stderr
    t = termination(tmp_path)
    assert t["result"] == "failed"
    for w in words:
        assert w in t["message"], t
    assert not out.exists()
    return t


def test_wrong_ticket(populator_bin, tmp_path, imageio_daemon):
    tid = "0123abcd-dead-beef-0000-000000000000"
    out = tmp_path / "disk.img"
    p = run_pop(populator_bin, "imageio", "--url", imageio_daemon.url(tid),
                "--cacert", imageio_daemon.pki["ca"],
                *base_args(tmp_path, out), check=False)
    t = assert_failed(p, tmp_path, out, "403", "new image transfer")
    assert "dead-beef" not in p.stderr + json.dumps(t)
    assert t["bytes_copied"] == 0


def test_expired_ticket(populator_bin, tmp_path, imageio_daemon):
    src = make_raw(tmp_path / "in.raw", MiB, [(0, MiB, 0x77)])
    tid = imageio_daemon.add_ticket(f"file://{src}", MiB, timeout=1)
    time.sleep(1.5)
    out = tmp_path / "disk.img"
    p = run_pop(populator_bin, "imageio", "--url", imageio_daemon.url(tid),
                "--cacert", imageio_daemon.pki["ca"],
                *base_args(tmp_path, out), check=False)
    t = assert_failed(p, tmp_path, out, "403", "expired")
    assert tid not in json.dumps(t)


def test_long_error_message_is_cut_to_fit(populator_bin, tmp_path,
                                          imageio_daemon):
    src = make_raw(tmp_path / "in.raw", MiB, [(0, MiB, 0x78)])
    tid = imageio_daemon.add_ticket(f"file://{src}", MiB)
    deep = tmp_path
    for i in range(16):
        deep = deep / ("d%02d-" % i + "x" * 250)
    out = deep / "disk.img"  # a directory that does not exist
    p = run_pop(populator_bin, "imageio", "--url", imageio_daemon.url(tid),
                "--cacert", imageio_daemon.pki["ca"],
                *base_args(tmp_path, out), check=False)
    assert p.returncode == 1
    t = termination(tmp_path)  # under 4096 bytes
    assert t["result"] == "failed" and t["message"].endswith("...")


# ---- credentials ----

def test_credentials_from_env(populator_bin, tmp_path, imageio_daemon):
    """cacert (the PEM itself) and the rest as envFrom injects them; the
    password never shows."""
    src = make_raw(tmp_path / "in.raw", 4 * MiB, [(MiB, MiB, 0x31)])
    tid = imageio_daemon.add_ticket(f"file://{src}", 4 * MiB)
    out = tmp_path / "disk.img"
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    env = clean_env(user="admin@internal", password=PASSWORD,
                    cacert=imageio_daemon.pki["ca"].read_text(),
                    insecureSkipVerify="false", TMPDIR=str(private_tmp))
    p = run_pop(populator_bin, "imageio", "--url", imageio_daemon.url(tid),
                *base_args(tmp_path, out), env=env)
    assert_same_content(src, out)
    # The PEM went to a private file for TLS, removed at exit.
    assert os.listdir(private_tmp) == []
    assert "verification is off" not in p.stderr
    assert PASSWORD not in p.stderr
    assert PASSWORD not in (tmp_path / "termination-log").read_text()
    # Another CA in the Secret: a TLS error that says what to do.
    env["cacert"] = imageio_daemon.pki["other_ca"].read_text()
    out2 = tmp_path / "disk2.img"
    p = run_pop(populator_bin, "imageio", "--url", imageio_daemon.url(tid),
                *base_args(tmp_path, out2), env=env, check=False)
    t = assert_failed(p, tmp_path, out2)
    assert "certificate" in t["message"]
    # insecureSkipVerify: works, and says so once.
    env.pop("cacert")
    env["insecureSkipVerify"] = "true"
    p = run_pop(populator_bin, "imageio", "--url", imageio_daemon.url(tid),
                *base_args(tmp_path, out2), env=env)
    assert p.stderr.count("verification is off (insecureSkipVerify)") == 1
    assert_same_content(src, out2)


def test_credentials_from_files_and_the_ticket_from_the_secret(
        populator_bin, tmp_path, imageio_daemon_factory, nbd_server):
    """A Secret mounted as files (the 2023 layout), the ticket URL in it
    too, so it is not on the command line. The password is in none of
    stderr, the metrics, the termination message, even where an error
    message would repeat it."""
    src = spread_source(tmp_path, chunks=4)
    nbd = nbd_server(src, "raw", bps=4 * MiB)
    daemon = imageio_daemon_factory().start()
    tid = daemon.add_ticket(nbd.url, GiB)
    secret = tmp_path / "secret-volume"
    secret.mkdir()
    (secret / "user").write_text("admin@internal\n")
    (secret / "password").write_text(PASSWORD + "\n")
    shutil.copy(daemon.pki["ca"], secret / "cacert")
    (secret / "insecureSkipVerify").write_text("false")
    (secret / "url").write_text(daemon.url(tid, scheme="https") + "\n")
    out = tmp_path / "disk.img"
    args = base_args(tmp_path, out, metrics="127.0.0.1:0")
    args[args.index("--secret-dir") + 1] = str(secret)
    run = Running(populator_bin, "imageio", *args)
    try:
        text = scrape(run.metrics_url())
        assert PASSWORD not in text
        assert run.wait() == 0, run.stderr
    finally:
        run.kill()
    assert_same_content(src, out)
    assert PASSWORD not in run.stderr
    assert PASSWORD not in (tmp_path / "termination-log").read_text()
    # A password that turns up in a message is masked there too.
    bad = tmp_path / ("no-such-dir-" + PASSWORD) / "disk.img"
    args[args.index("--volume-path") + 1] = str(bad)
    args[args.index("--metrics-addr") + 1] = "none"
    p = run_pop(populator_bin, "imageio", *args, check=False)
    assert p.returncode == 1
    assert "no-such-dir-***" in p.stderr
    assert PASSWORD not in p.stderr
    assert PASSWORD not in (tmp_path / "termination-log").read_text()


# ---- resume ----

def done_units(checkpoint):
    """The unit indexes a checkpoint file marks done, and its unit size."""
    lines = checkpoint.read_text().splitlines()
    assert hashlib.sha256(lines[0].encode()).hexdigest() == \
        lines[1].split()[1]
    cp = json.loads(lines[0])
    units = set()
    for a, b in cp["done"]:
        units.update(range(a, b + 1))
    return units, cp["unit_size"], cp


def test_killed_mid_copy_resumes(populator_bin, tmp_path,
                                 imageio_daemon_factory, nbd_server):
    src = spread_source(tmp_path)
    data = 16 * MiB
    nbd = nbd_server(src, "raw", bps=4 * MiB)
    daemon = imageio_daemon_factory(buffer_size=256 * 1024).start()
    tid = daemon.add_ticket(nbd.url, GiB)
    vol = tmp_path / "mnt"
    vol.mkdir()
    out = vol / "disk.img"
    checkpoint = vol / ".disk.img.hoist-checkpoint"
    args = ["imageio", "--url", daemon.url(tid), "--cacert",
            daemon.pki["ca"], "--checkpoint-interval", "0.3",
            *base_args(tmp_path, out)]
    run = Running(populator_bin, *args)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, run.stderr
            assert run.proc.poll() is None, run.stderr
            if checkpoint.exists():
                units, unit_size, _ = done_units(checkpoint)
                with_data = {u for u in units
                             if (u * unit_size) % (64 * MiB) == 0}
                if len(with_data) >= 2:
                    break
            time.sleep(0.05)
        run.proc.send_signal(signal.SIGKILL)
        run.wait()
    finally:
        run.kill()
    # What the checkpoint says is durable when the process died.
    units, unit_size, _ = done_units(checkpoint)
    durable = sum(2 * MiB for i in range(8)
                  if (i * 64 * MiB) // unit_size in units)
    assert 0 < durable < data
    before = daemon.ticket_info(tid)["transferred"]
    p = run_pop(populator_bin, *args)
    assert "resuming from checkpoint" in p.stderr
    assert_same_content(src, out)
    assert not checkpoint.exists()
    second = daemon.ticket_info(tid)["transferred"] - before
    # The second run read only the data of the units not done.
    assert second <= data - durable, (second, durable)
    t = termination(tmp_path)
    assert t["result"] == "succeeded"
    assert t["bytes_resumed"] == durable
    assert t["bytes_read"] == data - durable
    assert t["bytes_copied"] == data


def write_checkpoint(path, body):
    line = json.dumps(body, separators=(",", ":"))
    path.write_text("%s\nsha256 %s\n" % (
        line, hashlib.sha256(line.encode()).hexdigest()))


@pytest.mark.parametrize("damage", [
    "other-source", "other-size", "other-file", "bad-digest", "garbage",
    "out-of-range"])
def test_foreign_or_damaged_checkpoint_starts_over(
        populator_bin, tmp_path, imageio_daemon, damage):
    """A checkpoint that claims every unit is done, but belongs to another
    copy or is damaged: never trusted. The target holds junk, so a skip
    would show in the result."""
    size = 24 * MiB
    src = make_raw(tmp_path / "in.raw", size, [
        (0, MiB, 0x41), (9 * MiB, 2 * MiB, 0x42), (size - MiB, MiB, 0x43)])
    tid = imageio_daemon.add_ticket(f"file://{src}", size)
    vol = tmp_path / "mnt"
    vol.mkdir()
    out = vol / "disk.img"
    out.write_bytes(b"\xdd" * size)
    unit = MiB
    body = {"format": "hoist-checkpoint", "version": 1,
            "source": {"id": "ovirt-disk:disk-1", "size": size},
            "target": {"kind": "file", "size": size, "dev": 0,
                       "ino": os.stat(out).st_ino},
            "unit_size": unit, "units": size // unit,
            "done": [[0, size // unit - 1]]}
    checkpoint = vol / ".disk.img.hoist-checkpoint"
    expect = {"other-source": "another source",
              "other-size": "another size",
              "other-file": "another file",
              "bad-digest": "digest",
              "garbage": "digest line",
              "out-of-range": "outside"}[damage]
    if damage == "other-source":
        body["source"]["id"] = "ovirt-disk:disk-2"
    elif damage == "other-size":
        body["target"]["size"] = size + 4096
    elif damage == "other-file":
        body["target"]["ino"] += 1
    elif damage == "out-of-range":
        body["done"] = [[0, size // unit]]
    write_checkpoint(checkpoint, body)
    if damage == "bad-digest":
        checkpoint.write_text(checkpoint.read_text().replace(
            '"version":1', '"version":1 '))
    elif damage == "garbage":
        checkpoint.write_bytes(os.urandom(3000).replace(b"\n", b"x"))
    p = run_pop(populator_bin, "imageio", "--url", imageio_daemon.url(tid),
                "--cacert", imageio_daemon.pki["ca"], "--disk-id", "disk-1",
                *base_args(tmp_path, out))
    assert re.search(r"checkpoint .* discarded: .*%s.*; starting over"
                     % expect, p.stderr), p.stderr
    assert "resuming" not in p.stderr
    assert_same_content(src, out)
    assert not checkpoint.exists()
    # Everything was read again (the file backend serves it all as data).
    t = termination(tmp_path)
    assert t["bytes_read"] == size and t["bytes_resumed"] == 0


def test_matching_checkpoint_is_trusted(populator_bin, tmp_path,
                                        imageio_daemon):
    """The other side: a checkpoint of this copy (same disk id, same
    file) that marks units done makes the populator skip them, reading
    only the rest."""
    size = 24 * MiB
    src = make_raw(tmp_path / "in.raw", size, [
        (0, MiB, 0x51), (9 * MiB, 2 * MiB, 0x52), (size - MiB, MiB, 0x53)])
    tid = imageio_daemon.add_ticket(f"file://{src}", size)
    out = tmp_path / "disk.img"
    shutil.copy(src, out)
    # Units 0-11 (12 MiB) are already there.
    write_checkpoint(tmp_path / ".disk.img.hoist-checkpoint", {
        "format": "hoist-checkpoint", "version": 1,
        "source": {"id": "ovirt-disk:disk-1", "size": size},
        "target": {"kind": "file", "size": size, "dev": 0,
                   "ino": os.stat(out).st_ino},
        "unit_size": MiB, "units": 24, "done": [[0, 11]]})
    p = run_pop(populator_bin, "imageio", "--url", imageio_daemon.url(tid),
                "--cacert", imageio_daemon.pki["ca"], "--disk-id", "disk-1",
                *base_args(tmp_path, out))
    assert "resuming from checkpoint" in p.stderr
    assert "12 of 24 units done" in p.stderr
    assert_same_content(src, out)
    # The file backend serves holes as data: 12 MiB each side.
    t = termination(tmp_path)
    assert (t["bytes_resumed"], t["bytes_read"]) == (12 * MiB, 12 * MiB), t
    # (The daemon counts the union of the ranges read; the format probe
    # read the first sector.)
    assert imageio_daemon.ticket_info(tid)["transferred"] <= \
        12 * MiB + 4096


def test_second_populator_on_the_same_target_is_refused(
        populator_bin, tmp_path, imageio_daemon_factory, nbd_server):
    src = spread_source(tmp_path, chunks=4)
    nbd = nbd_server(src, "raw", bps=4 * MiB)
    daemon = imageio_daemon_factory().start()
    tid = daemon.add_ticket(nbd.url, GiB)
    out = tmp_path / "disk.img"
    args = ["imageio", "--url", daemon.url(tid), "--cacert",
            daemon.pki["ca"], *base_args(tmp_path, out)]
    run = Running(populator_bin, *args)
    try:
        run.wait_for_line(r"copying ")
        args[args.index("--termination-log") + 1] = str(tmp_path / "t2")
        p = run_pop(populator_bin, *args, check=False)
        assert p.returncode == 1
        assert "another hoist-populator is writing" in p.stderr
        assert run.wait() == 0, run.stderr
    finally:
        run.kill()
    assert_same_content(src, out)


# ---- ovirt mode, against the FAKE engine (tests/peers/ovirt_engine.py:
# no oVirt engine can run here) on the REAL imageio daemon ----

def ovirt_env(engine_pki, password=PASSWORD):
    """The Secret as Forklift's controller injects it (envFrom, plus
    cacert from ca.crt)."""
    return clean_env(user="admin@internal", password=password,
                     cacert=engine_pki["ca"].read_text(),
                     insecureSkipVerify="false")


def ovirt_args(tmp_path, engine, disk, target, *more):
    return ["ovirt", "--engine-url", engine.url, "--secret-name",
            "ovirt-creds", "--disk-id", disk["id"], "--cr-name", "disk-cr",
            "--cr-namespace", "vms", "--transfer-network", "vms/transfer",
            "--pvc-size", str(2 * GiB), *base_args(tmp_path, target),
            *[str(m) for m in more]]


def test_ovirt_end_to_end(populator_bin, tmp_path, ovirt_engine_factory):
    engine = ovirt_engine_factory(password=PASSWORD)
    src = spread_source(tmp_path)
    disk = engine.add_disk(src, fmt="raw", backend="nbd")
    vol = tmp_path / "mnt"
    vol.mkdir()
    out = vol / "disk.img"
    p = run_pop(populator_bin, *ovirt_args(tmp_path, engine, disk, out,
                                           "--checksum"),
                env=ovirt_env(engine.pki))
    assert_same_content(src, out)
    assert os.listdir(vol) == ["disk.img"]
    t = termination(tmp_path)
    assert t["result"] == "succeeded"
    assert t["bytes_copied"] == t["bytes_total"] == 16 * MiB
    assert t["virtual_size"] == GiB
    assert t["checksum"] == "sha256:" + sha256_of(src)
    # The transfer was finalized; no ticket or lock is left.
    [tr] = engine.transfers.values()
    assert tr.finalized and not tr.cancelled
    engine.assert_nothing_left()
    assert "transfer network: vms/transfer" in p.stderr
    assert "finalized" in p.stderr
    everything = p.stderr + (tmp_path / "termination-log").read_text()
    assert PASSWORD not in everything
    assert tr.ticket is None or tr.ticket not in everything


def test_ovirt_wrong_password(populator_bin, tmp_path, ovirt_engine_factory):
    engine = ovirt_engine_factory(password=PASSWORD)
    src = make_raw(tmp_path / "in.raw", 4 * MiB, [(0, MiB, 0x21)])
    disk = engine.add_disk(src)
    out = tmp_path / "disk.img"
    wrong = "Wrong-" + PASSWORD
    p = run_pop(populator_bin, *ovirt_args(tmp_path, engine, disk, out),
                env=ovirt_env(engine.pki, password=wrong), check=False)
    assert p.returncode == 1
    assert not out.exists()
    t = termination(tmp_path)
    assert t["result"] == "failed"
    assert wrong not in p.stderr + json.dumps(t)
    assert not engine.transfers
    # And without a password at all, the message names the Secret.
    env = ovirt_env(engine.pki)
    env.pop("password")
    p = run_pop(populator_bin, *ovirt_args(tmp_path, engine, disk, out),
                env=env, check=False)
    assert p.returncode == 1
    assert "ovirt-creds gives no password" in p.stderr


def test_ovirt_sigterm_cancels_and_a_restart_resumes(
        populator_bin, tmp_path, ovirt_engine_factory):
    # qemu-nbd behind the engine's tickets reads at 4 MiB/s: a few seconds.
    engine = ovirt_engine_factory(password=PASSWORD, nbd_bps=4 * MiB)
    src = spread_source(tmp_path)
    data = 16 * MiB
    disk = engine.add_disk(src, fmt="raw", backend="nbd")
    vol = tmp_path / "mnt"
    vol.mkdir()
    out = vol / "disk.img"
    checkpoint = vol / ".disk.img.hoist-checkpoint"
    args = ovirt_args(tmp_path, engine, disk, out, "--checkpoint-interval",
                      "0.3")
    run = Running(populator_bin, *args, env=ovirt_env(engine.pki))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, run.stderr
            assert run.proc.poll() is None, run.stderr
            if checkpoint.exists():
                units, unit_size, _ = done_units(checkpoint)
                if any(u * unit_size % (64 * MiB) == 0 for u in units):
                    break
            time.sleep(0.05)
        run.proc.send_signal(signal.SIGTERM)
        assert run.wait(120) == 1, run.stderr
    finally:
        run.kill()
    t = termination(tmp_path)
    assert t["result"] == "failed" and "interrupted" in t["message"]
    assert "cancelling the image transfer" in run.stderr
    [first] = engine.transfers.values()
    assert first.cancelled
    engine.assert_nothing_left()
    units, unit_size, _ = done_units(checkpoint)
    durable = sum(2 * MiB for i in range(8)
                  if (i * 64 * MiB) // unit_size in units)
    assert 0 < durable < data
    # Restarted (a new pod): a new transfer, only the rest is read.
    p = run_pop(populator_bin, *args, env=ovirt_env(engine.pki))
    assert "resuming from checkpoint" in p.stderr
    assert_same_content(src, out)
    assert not checkpoint.exists()
    t = termination(tmp_path)
    assert t["result"] == "succeeded"
    assert t["bytes_read"] <= data - durable and t["bytes_copied"] == data
    assert len(engine.transfers) == 2
    engine.assert_nothing_left()
