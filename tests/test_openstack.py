"""hoist and OpenStack: Keystone v3 auth and the Glance data path, against
the REAL Keystone and Glance (tests/peers/openstack.py), on loopback with
TLS. Images are uploaded by the tests; qemu-img is the reference decoder.
"""
import os
import pathlib
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
import http.client
import http.server

import pytest

from diskutil import MiB, qemu_img, qemu_io, reference_raw
from peers.openstack import *  # noqa: F401,F403
from peers.openstack import PASSWORD, PROJECT, USER, clean_os_env


def run(hoist_bin, *args, env=None, check=False, timeout=300):
    p = subprocess.run([str(hoist_bin)] + [str(a) for a in args],
                       capture_output=True, text=True, env=env,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("hoist %s failed (%d):\n%s"
                             % (" ".join(map(str, args)), p.returncode,
                                p.stderr))
    return p


def assert_one_line_error(p, out=None, secrets=()):
    assert p.returncode != 0
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    assert "AddressSanitizer" not in p.stderr
    assert "runtime error" not in p.stderr
    for s in (PASSWORD,) + tuple(secrets):
        assert s not in p.stderr and s not in p.stdout
    if out is not None:
        d = pathlib.Path(out).parent
        assert not pathlib.Path(out).exists()
        assert not [f for f in os.listdir(d)
                    if f.startswith("." + pathlib.Path(out).name)]
    return lines[0]


def make_raw(path, size, writes):
    with open(path, "wb") as f:
        f.truncate(size)
        for off, data in writes:
            f.seek(off)
            f.write(data)
    return path


def rand(n, seed):
    import random
    return random.Random(seed).randbytes(n)


@pytest.fixture(scope="module")
def images(openstack, tmp_path_factory):
    """A few images in the real Glance: (path of the reference raw, id)."""
    d = tmp_path_factory.mktemp("os-images")
    out = {}
    # raw, sparse, size not aligned to anything
    raw = make_raw(d / "sparse.raw", 10 * MiB + 12345,
                   [(0, rand(70000, 1)), (3 * MiB - 7, rand(MiB + 3, 2)),
                    (10 * MiB, rand(12345, 3))])
    out["raw"] = (raw, openstack.upload_image(raw, "sparse-raw"))
    # qcow2 with data, zero clusters and holes
    q = d / "disk.qcow2"
    qemu_img("create", "-f", "qcow2", q, "24M")
    qemu_io(q, "qcow2", "write -P 0x5a 0 1M", "write -P 0xa5 5M 300k",
            "write -z 8M 2M", "write -P 0x11 23M 1M")
    ref = reference_raw(q, d / "disk.qcow2.raw", "qcow2")
    out["qcow2"] = (ref, openstack.upload_image(q, "disk-qcow2",
                                                disk_format="qcow2"))
    return out


def copy(hoist_bin, openstack, image_id, out, *opts, env=None, check=True):
    e = clean_os_env(openstack.env()) if env is None else env
    return run(hoist_bin, "copy", *opts, "glance://" + image_id, out, env=e,
               check=check)


# ---- the data path ----

def test_raw_image_is_identical_and_sparse(tmp_path, hoist_bin, openstack,
                                           images):
    ref, iid = images["raw"]
    out = tmp_path / "out.raw"
    p = copy(hoist_bin, openstack, iid, out, "--progress")
    assert out.read_bytes() == ref.read_bytes()
    # zeros were not written: the output has holes
    assert os.stat(out).st_blocks * 512 < 4 * MiB
    assert "glance://" + iid in p.stderr
    assert PASSWORD not in p.stderr + p.stdout


def test_qcow2_image_is_decoded_over_ranges(tmp_path, hoist_bin, openstack,
                                            images):
    ref, iid = images["qcow2"]
    out = tmp_path / "out.raw"
    copy(hoist_bin, openstack, iid, out)
    assert out.read_bytes() == ref.read_bytes()
    assert os.stat(out).st_blocks * 512 < 6 * MiB


@pytest.mark.parametrize("size", [1, 4097, 2 * MiB + 1, 8 * MiB - 1,
                                  8 * MiB + 2 * MiB + 3])
def test_sizes_not_aligned(tmp_path, hoist_bin, openstack, size):
    src = tmp_path / "in.raw"
    src.write_bytes(rand(size, size))
    iid = openstack.upload_image(src, "size-%d" % size)
    out = tmp_path / "out.raw"
    copy(hoist_bin, openstack, iid, out, "-w", "3")
    assert out.read_bytes() == src.read_bytes()
    openstack.delete_image(iid)


def test_qcow2_with_unaligned_virtual_size(tmp_path, hoist_bin, openstack):
    q = tmp_path / "odd.qcow2"
    qemu_img("create", "-f", "qcow2", "-o", "cluster_size=4096", q,
             str(3 * MiB + 512 * 3))
    qemu_io(q, "qcow2", "write -P 0x33 4096 8192", "write -P 0x44 3M 1536")
    ref = reference_raw(q, tmp_path / "ref.raw", "qcow2")
    iid = openstack.upload_image(q, "odd-qcow2", disk_format="qcow2")
    out = tmp_path / "out.raw"
    copy(hoist_bin, openstack, iid, out)
    assert out.read_bytes() == ref.read_bytes()


# ---- authentication ----

def test_options_and_secret_files_instead_of_environment(tmp_path, hoist_bin,
                                                         openstack, images):
    ref, iid = images["raw"]
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    out = tmp_path / "out.raw"
    run(hoist_bin, "copy", "--os-auth-url", openstack.auth_url,
        "--os-username", USER, "--os-password-file", pw,
        "--os-project-name", PROJECT, "--os-user-domain-name", "Default",
        "--os-project-domain-name", "Default", "--os-region-name",
        "RegionOne", "--os-interface", "public", "--cacert", openstack.ca,
        "glance://" + iid, out, env=clean_os_env(), check=True)
    assert out.read_bytes() == ref.read_bytes()


def test_application_credential(tmp_path, hoist_bin, openstack, images):
    ref, iid = images["raw"]
    token, body = openstack.user_token()
    uid = body["token"]["user"]["id"]
    _, j, _ = openstack.api.call(
        "POST", "%s/users/%s/application_credentials"
        % (openstack.auth_url, uid),
        {"application_credential": {"name": "hoist-%s" % tmp_path.name}},
        token=token, expect=201)
    cred = j["application_credential"]
    secret = tmp_path / "secret"
    secret.write_text(cred["secret"])
    out = tmp_path / "out.raw"
    env = clean_os_env({"OS_AUTH_URL": openstack.auth_url,
                        "OS_CACERT": str(openstack.ca),
                        "OS_REGION_NAME": "RegionOne"})
    run(hoist_bin, "copy", "--os-application-credential-id", cred["id"],
        "--os-application-credential-secret-file", secret,
        "glance://" + iid, out, env=env, check=True)
    assert out.read_bytes() == ref.read_bytes()
    # by name, with the user
    out2 = tmp_path / "out2.raw"
    p = run(hoist_bin, "copy", "--os-application-credential-name",
            cred["name"], "--os-username", USER, "--os-user-domain-name",
            "Default", "--os-application-credential-secret-file", secret,
            "glance://" + iid, out2, env=env)
    assert p.returncode == 0, p.stderr
    assert cred["secret"] not in p.stderr
    # a wrong secret
    secret.write_text("not-the-secret-at-all-1234")
    p = run(hoist_bin, "copy", "--os-application-credential-id", cred["id"],
            "--os-application-credential-secret-file", secret,
            "glance://" + iid, tmp_path / "out3.raw", env=env)
    line = assert_one_line_error(p, tmp_path / "out3.raw",
                                 secrets=("not-the-secret-at-all-1234",))
    assert "401" in line


def test_token_file(tmp_path, hoist_bin, openstack, images):
    ref, iid = images["raw"]
    token, _ = openstack.user_token()
    tf = tmp_path / "token"
    tf.write_text(token + "\n")
    env = clean_os_env({"OS_AUTH_URL": openstack.auth_url,
                        "OS_CACERT": str(openstack.ca),
                        "OS_REGION_NAME": "RegionOne"})
    out = tmp_path / "out.raw"
    p = run(hoist_bin, "copy", "--os-token-file", tf, "glance://" + iid,
            out, env=env)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == ref.read_bytes()
    # rescoped to the project by name
    out2 = tmp_path / "out2.raw"
    p = run(hoist_bin, "copy", "--os-token-file", tf, "--os-project-name",
            PROJECT, "--os-project-domain-name", "Default",
            "glance://" + iid, out2, env=env)
    assert p.returncode == 0, p.stderr
    assert token not in p.stderr + p.stdout


def test_wrong_password_is_one_clear_line(tmp_path, hoist_bin, openstack,
                                          images):
    _, iid = images["raw"]
    wrong = "Wr0ng-Passw0rd-Recognisable"
    env = clean_os_env(openstack.env(OS_PASSWORD=wrong))
    out = tmp_path / "out.raw"
    p = copy(hoist_bin, openstack, iid, out, env=env, check=False)
    line = assert_one_line_error(p, out, secrets=(wrong,))
    assert p.returncode == 1
    assert "401" in line and "password" in line, line


def test_revoked_token_is_a_clear_error(tmp_path, hoist_bin, openstack,
                                        images):
    _, iid = images["raw"]
    token, _ = openstack.user_token()
    openstack.api.call("DELETE", openstack.auth_url + "/auth/tokens",
                       token=token, headers={"X-Subject-Token": token},
                       expect=204)
    tf = tmp_path / "token"
    tf.write_text(token)
    env = clean_os_env({"OS_AUTH_URL": openstack.auth_url,
                        "OS_CACERT": str(openstack.ca)})
    out = tmp_path / "out.raw"
    p = run(hoist_bin, "copy", "--os-token-file", tf, "glance://" + iid, out,
            env=env)
    line = assert_one_line_error(p, out, secrets=(token,))
    assert "expired or was revoked" in line, line


def test_tokens_revoked_mid_copy_are_renewed(tmp_path, hoist_bin, openstack,
                                             slow_glance):
    """Disabling the user revokes its tokens (as a password change does);
    hoist gets a new token with its password and goes on."""
    src = tmp_path / "in.raw"
    src.write_bytes(rand(24 * MiB, 7))
    iid = openstack.upload_image(src, "revoke-mid-copy")
    out = tmp_path / "out.raw"
    env = clean_os_env(openstack.env(OS_REGION_NAME=slow_glance.region))
    proc = subprocess.Popen([str(hoist_bin), "copy", "-w", "2",
                             "glance://" + iid, out], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert slow_glance.started.wait(60)
    uid = openstack.ids["user"]
    openstack.admin("PATCH", "/users/" + uid, {"user": {"enabled": False}},
                    expect=200)
    openstack.admin("PATCH", "/users/" + uid, {"user": {"enabled": True}},
                    expect=200)
    # Keystone revokes what was issued up to the second of the event.
    time.sleep(1.5)
    slow_glance.release.set()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert out.read_bytes() == src.read_bytes()


def test_secrets_are_refused_as_option_values(tmp_path, hoist_bin, openstack):
    for opt in ("--os-password", "--os-token",
                "--os-application-credential-secret"):
        p = run(hoist_bin, "copy", opt, "s3cret-value", "glance://x",
                tmp_path / "o", env=clean_os_env())
        assert p.returncode == 2
        assert "s3cret-value" not in p.stderr
        assert "file" in p.stderr


def test_no_credentials(tmp_path, hoist_bin, openstack):
    p = run(hoist_bin, "copy", "glance://abc", tmp_path / "o",
            env=clean_os_env({"OS_AUTH_URL": openstack.auth_url}))
    line = assert_one_line_error(p, tmp_path / "o")
    assert "credentials" in line


# ---- the catalog ----

def test_interface_is_honoured(tmp_path, hoist_bin, openstack, images):
    _, iid = images["raw"]
    out = tmp_path / "out.raw"
    env = clean_os_env(openstack.env(OS_INTERFACE="internal"))
    p = copy(hoist_bin, openstack, iid, out, env=env, check=False)
    line = assert_one_line_error(p, out)
    # the internal endpoint points where nothing listens
    assert str(openstack.dead_port) in line and "connect" in line, line


def test_region_is_honoured(tmp_path, hoist_bin, openstack, images):
    _, iid = images["raw"]
    out = tmp_path / "out.raw"
    env = clean_os_env(openstack.env(OS_REGION_NAME="RegionTwo"))
    p = copy(hoist_bin, openstack, iid, out, env=env, check=False)
    line = assert_one_line_error(p, out)
    assert str(openstack.dead_port) in line, line
    env = clean_os_env(openstack.env(OS_REGION_NAME="Nowhere"))
    p = copy(hoist_bin, openstack, iid, out, env=env, check=False)
    line = assert_one_line_error(p, out)
    assert "Nowhere" in line and "RegionOne" in line, line


def test_several_regions_need_a_choice(tmp_path, hoist_bin, openstack,
                                       images):
    _, iid = images["raw"]
    env = clean_os_env(openstack.env())
    del env["OS_REGION_NAME"]
    p = copy(hoist_bin, openstack, iid, tmp_path / "o", env=env, check=False)
    line = assert_one_line_error(p, tmp_path / "o")
    assert "--os-region-name" in line and "RegionTwo" in line, line


# ---- TLS ----

def test_wrong_ca_fails_and_insecure_warns(tmp_path, hoist_bin, openstack,
                                           openstack_pki, images):
    ref, iid = images["raw"]
    out = tmp_path / "out.raw"
    env = clean_os_env(openstack.env(OS_CACERT=str(openstack_pki["other_ca"])))
    p = copy(hoist_bin, openstack, iid, out, env=env, check=False)
    line = assert_one_line_error(p, out)
    assert "certificate" in line and "--cacert" in line, line
    env.pop("OS_CACERT")
    p = copy(hoist_bin, openstack, iid, out, "--insecure", env=env)
    assert p.stderr.count("verification is off") == 1
    assert out.read_bytes() == ref.read_bytes()


# ---- checksums ----

def _glance_db(openstack, sql, *args):
    with sqlite3.connect(openstack.glance_db, timeout=30) as db:
        db.execute(sql, args)


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_hash_mismatch_in_glance_db_fails(tmp_path, hoist_bin, openstack,
                                          fmt):
    src = tmp_path / "in.img"
    if fmt == "raw":
        src.write_bytes(rand(3 * MiB + 5, 11))
    else:
        qemu_img("create", "-f", "qcow2", src, "8M")
        qemu_io(src, "qcow2", "write -P 0x77 1M 2M")
    iid = openstack.upload_image(src, "bad-hash-" + fmt, disk_format=fmt)
    _glance_db(openstack, "UPDATE images SET os_hash_value = ? WHERE id = ?",
               "ab" * 64, iid)
    out = tmp_path / "out.raw"
    p = copy(hoist_bin, openstack, iid, out, check=False)
    line = assert_one_line_error(p, out)
    assert p.returncode == 1
    assert "does not match its sha512 checksum" in line, p.stderr
    assert not out.exists()
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".out")]


def test_md5_checksum_when_there_is_no_multihash(tmp_path, hoist_bin,
                                                 openstack):
    src = tmp_path / "in.raw"
    src.write_bytes(rand(MiB + 1, 12))
    good = openstack.upload_image(src, "md5-good")
    bad = openstack.upload_image(src, "md5-bad")
    for iid in (good, bad):
        _glance_db(openstack, "UPDATE images SET os_hash_algo = NULL, "
                   "os_hash_value = NULL WHERE id = ?", iid)
    _glance_db(openstack, "UPDATE images SET checksum = ? WHERE id = ?",
               "0" * 32, bad)
    assert openstack.image(good)["os_hash_value"] is None
    out = tmp_path / "good.raw"
    copy(hoist_bin, openstack, good, out)
    assert out.read_bytes() == src.read_bytes()
    out = tmp_path / "bad.raw"
    p = copy(hoist_bin, openstack, bad, out, check=False)
    line = assert_one_line_error(p, out)
    assert "md5" in line


def test_bytes_changed_in_the_store_fail(tmp_path, hoist_bin, openstack):
    """Glance serves what its store holds: one byte flipped there."""
    src = tmp_path / "in.raw"
    src.write_bytes(rand(2 * MiB, 13))
    iid = openstack.upload_image(src, "flipped")
    stored = openstack.glance_store / iid
    data = bytearray(stored.read_bytes())
    data[MiB + 17] ^= 0x40
    stored.write_bytes(bytes(data))
    out = tmp_path / "out.raw"
    p = copy(hoist_bin, openstack, iid, out, check=False)
    line = assert_one_line_error(p, out)
    assert "does not match" in line


def test_missing_and_inactive_images(tmp_path, hoist_bin, openstack):
    out = tmp_path / "out.raw"
    p = copy(hoist_bin, openstack, "00000000-0000-0000-0000-000000000000",
             out, check=False)
    line = assert_one_line_error(p, out)
    assert "404" in line
    token = openstack.user_token()[0]
    _, j, _ = openstack.api.call(
        "POST", openstack.glance_url + "/v2/images",
        {"name": "queued", "disk_format": "raw",
         "container_format": "bare"}, token=token, expect=201)
    p = copy(hoist_bin, openstack, j["id"], out, check=False)
    line = assert_one_line_error(p, out)
    assert "queued" in line and "not active" in line
    p = copy(hoist_bin, openstack, "../etc", out, check=False)
    assert_one_line_error(p, out)


# ---- connections cut, and a Glance without ranges ----

class CuttingProxy:
    """A TCP proxy in front of Glance that cuts one connection after it
    has passed `after` bytes of a reply (TLS passes through untouched)."""

    def __init__(self, target_port, after):
        self.target = target_port
        self.after = after
        self.cut_done = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        s = socket.create_connection(("127.0.0.1", self.target))
        cut_here = not self.cut_done.is_set()

        def up():
            try:
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    s.sendall(b)
            except OSError:
                pass

        threading.Thread(target=up, daemon=True).start()
        passed = 0
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                if cut_here and not self.cut_done.is_set() and \
                        passed + len(b) > self.after:
                    self.cut_done.set()
                    c.sendall(b[:self.after - passed])
                    break
                passed += len(b)
                c.sendall(b)
        except OSError:
            pass
        for x in (c, s):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()

    def stop(self):
        self.stopped = True
        self.sock.close()


def test_connection_cut_mid_download_resumes(tmp_path, hoist_bin, openstack):
    src = tmp_path / "in.raw"
    src.write_bytes(rand(12 * MiB + 99, 21))
    iid = openstack.upload_image(src, "cut")
    proxy = CuttingProxy(openstack.gport, after=5 * MiB)
    region = "RegionCut%d" % proxy.port
    openstack.register_endpoint("image", "glance", region, "public",
                                "https://127.0.0.1:%d" % proxy.port)
    try:
        out = tmp_path / "out.raw"
        env = clean_os_env(openstack.env(OS_REGION_NAME=region))
        p = copy(hoist_bin, openstack, iid, out, "-w", "1", env=env)
        assert proxy.cut_done.is_set()
        assert out.read_bytes() == src.read_bytes(), p.stderr
    finally:
        proxy.stop()


class GlanceFront:
    """An HTTPS front for Glance (its own TLS, our test CA) that forwards
    every request to the real Glance. With ranges=False it drops the Range
    header, as a Glance or a proxy that does not serve ranges would (the
    reply is then 200 with the whole file); with a `gate` it holds the
    image data after the first reply until the test releases it."""

    def __init__(self, openstack, pki, ranges=True, gate=False):
        self.started = threading.Event()
        self.release = threading.Event()
        if not gate:
            self.release.set()
        self.requests = []
        self.tokens = []
        front = self
        ctx = ssl.create_default_context(cafile=str(openstack.ca))

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                self._forward("GET")

            def do_HEAD(self):
                self._forward("HEAD")

            def _forward(self, method):
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() not in ("host", "connection")}
                if not ranges:
                    hdrs.pop("Range", None)
                    hdrs.pop("range", None)
                front.requests.append((self.path, hdrs.get("Range")))
                front.tokens.append(hdrs.get("X-Auth-Token"))
                if self.path.endswith("/file") and front.started.is_set():
                    front.release.wait(120)
                conn = http.client.HTTPSConnection(
                    "127.0.0.1", openstack.gport, context=ctx, timeout=120)
                conn.request(method, self.path, headers=hdrs)
                r = conn.getresponse()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.end_headers()
                if self.path.endswith("/file"):
                    front.started.set()
                try:
                    while True:
                        b = r.read(1 << 20)
                        if not b:
                            break
                        self.wfile.write(b)
                except OSError:
                    pass
                conn.close()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(pki["cert"], pki["key"])
        self.httpd.socket = sctx.wrap_socket(self.httpd.socket,
                                             server_side=True)
        self.port = self.httpd.server_address[1]
        self.region = "RegionFront%d" % self.port
        openstack.register_endpoint("image", "glance", self.region, "public",
                                    "https://127.0.0.1:%d" % self.port)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def no_range_glance(openstack, openstack_pki):
    f = GlanceFront(openstack, openstack_pki, ranges=False)
    yield f
    f.stop()


@pytest.fixture
def glance_front(openstack, openstack_pki):
    f = GlanceFront(openstack, openstack_pki)
    yield f
    f.stop()


@pytest.fixture
def slow_glance(openstack, openstack_pki):
    f = GlanceFront(openstack, openstack_pki, gate=True)
    yield f
    f.stop()


def test_without_ranges_raw_is_one_stream(tmp_path, hoist_bin, openstack,
                                          images, no_range_glance):
    ref, iid = images["raw"]
    out = tmp_path / "out.raw"
    env = clean_os_env(openstack.env(OS_REGION_NAME=no_range_glance.region))
    copy(hoist_bin, openstack, iid, out, env=env)
    assert out.read_bytes() == ref.read_bytes()
    files = [r for r in no_range_glance.requests if r[0].endswith("/file")]
    # the probe, then one GET of the whole file
    assert len(files) == 2, files


def test_each_span_is_asked_for_once_with_the_token(tmp_path, hoist_bin,
                                                   openstack, glance_front):
    # The data GETs go through the fast range reader, which sends the
    # token itself: a GET it got wrong (no token, a refused reply) would
    # show as a second request for the same span.
    span = 64 * MiB
    src = tmp_path / "in.raw"
    src.write_bytes(os.urandom(2 * span + 3 * MiB + 7))
    iid = openstack.upload_image(src, "spans")
    out = tmp_path / "out.raw"
    env = clean_os_env(openstack.env(OS_REGION_NAME=glance_front.region))
    copy(hoist_bin, openstack, iid, out, env=env)
    assert out.read_bytes() == src.read_bytes()
    size = src.stat().st_size
    got = sorted(r for p, r in glance_front.requests if p.endswith("/file"))
    assert got == sorted(["bytes=0-1023", "bytes=0-%d" % (span - 1),
                          "bytes=%d-%d" % (span, 2 * span - 1),
                          "bytes=%d-%d" % (2 * span, size - 1)]), got
    assert all(glance_front.tokens), "a request without X-Auth-Token"


def test_without_ranges_qcow2_is_refused(tmp_path, hoist_bin, openstack,
                                         images, no_range_glance):
    _, iid = images["qcow2"]
    out = tmp_path / "out.raw"
    env = clean_os_env(openstack.env(OS_REGION_NAME=no_range_glance.region))
    p = copy(hoist_bin, openstack, iid, out, env=env, check=False)
    line = assert_one_line_error(p, out)
    assert "qcow2" in line and "ranges" in line, line


def test_help_mentions_glance(hoist_bin):
    p = run(hoist_bin, "copy", "--help")
    assert p.returncode == 0
    assert "glance://IMAGE_ID" in p.stdout and "--os-auth-url" in p.stdout


# ---- inventory and migration (Nova, Cinder and Neutron are FAKES) ----
#
# The fakes (tests/peers/openstack_fakes.py) stand in for Nova, Cinder and
# Neutron, which cannot run here; they are in the real Keystone's catalog,
# check tokens with the real Keystone, and turn snapshots and volumes into
# real Glance images, so the data still comes through the real Glance.

import json  # noqa: E402

import yaml  # noqa: E402
from kubevirt_schema import KubevirtSchema  # noqa: E402
from peers.openstack_fakes import Cloud, Fakes, flavor  # noqa: E402


@pytest.fixture(scope="module")
def cloud(openstack, tmp_path_factory):
    d = tmp_path_factory.mktemp("cloud")
    c = Cloud()
    private = c.add_network("private")
    storage = c.add_network("storage-net")
    c.add_volume_type("ceph")
    # web-1: booted from an image (UEFI, q35, SCSI, e1000e), its root disk
    # changed since (the Nova snapshot holds the change), plus a volume
    base = d / "base.qcow2"
    qemu_img("create", "-f", "qcow2", base, "64M")
    qemu_io(base, "qcow2", "write -P 0x01 0 1M")
    base_id = openstack.upload_image(base, "centos-base", "qcow2", properties={
        "hw_firmware_type": "uefi", "hw_machine_type": "q35",
        "hw_disk_bus": "scsi", "hw_vif_model": "e1000e",
        "hw_scsi_model": "virtio-scsi", "os_secure_boot": "required",
        "os_distro": "centos"})
    root = d / "web-root.qcow2"
    qemu_img("create", "-f", "qcow2", root, "64M")
    qemu_io(root, "qcow2", "write -P 0x02 0 1M", "write -P 0x03 40M 512k")
    data = make_raw(d / "web-data.raw", 8 * MiB,
                    [(0, rand(300000, 31)), (6 * MiB, rand(4096, 32))])
    web_data = c.add_volume("web-data", data)
    web = c.add_server("web-1", flavor(4, 4096, disk=1), image_id=base_id,
                       root_disk=root, volumes=[(web_data, "/dev/sdb")],
                       nics=[(private, "fa:16:3e:00:00:01", "10.0.0.5"),
                             (storage, "fa:16:3e:00:00:02", "10.1.0.5")])
    # db-1: booted from a volume, running, a floating IP
    boot = make_raw(d / "db-boot.raw", 4 * MiB + 512, [(0, rand(200000, 41))])
    extra = make_raw(d / "db-extra.raw", 2 * MiB, [(MiB, rand(1000, 42))])
    db_boot = c.add_volume("db-boot", boot, bootable=True, image_meta={
        "hw_disk_bus": "virtio", "hw_vif_model": "virtio",
        "hw_machine_type": "pc-q35-8.2"})
    db_extra = c.add_volume("db-extra", extra)
    db = c.add_server("db-1", flavor(2, 2048, disk=0), status="ACTIVE",
                      volumes=[(db_extra, "/dev/vdb"), (db_boot, "/dev/vda")],
                      nics=[(private, "fa:16:3e:00:00:09", "10.0.0.9")],
                      floating={"fa:16:3e:00:00:09": "203.0.113.9"})
    # broken: in ERROR, a volume in error, NUMA and CPU shares
    bad_vol = c.add_volume("bad", data, status="error")
    c.add_server("broken", flavor(1, 512, extra_specs={
        "hw:numa_nodes": "2", "quota:cpu_shares": "2048",
        "hw:watchdog_action": "reset"}), status="ERROR",
        volumes=[(bad_vol, "/dev/vda")])
    fakes = Fakes(openstack, c)
    refs = {"web-root": reference_raw(root, d / "web-root.raw", "qcow2"),
            "web-data": data, "db-boot": boot, "db-extra": extra}
    yield {"cloud": c, "fakes": fakes, "refs": refs, "web": web, "db": db,
           "dir": d}
    fakes.stop()


def os_run(hoist_bin, openstack, *args, env=None, timeout=300):
    e = clean_os_env(openstack.env()) if env is None else env
    return run(hoist_bin, *args, env=e, timeout=timeout)


def by_name(vms, name):
    return [v for v in vms if v["name"] == name][0]


def test_inventory_vms(hoist_bin, openstack, cloud):
    p = os_run(hoist_bin, openstack, "inventory", "openstack", "vms",
               "--json")
    assert p.returncode == 0, p.stderr
    vms = json.loads(p.stdout)
    web = by_name(vms, "web-1")
    assert web["firmware"] == "efi" and web["secure_boot"]
    assert web["cpu"] == {"sockets": 4, "cores": 1, "threads": 1}
    assert web["memory"] == 4096 * MiB
    assert [d["bus"] for d in web["disks"]] == ["scsi", "scsi"]
    assert web["disks"][0]["bootable"] and web["disks"][0]["name"] == "root"
    assert web["disks"][1]["id"] == cloud["cloud"].servers[0][
        "os-extended-volumes:volumes_attached"][0]["id"]
    assert [(n["mac"], n["network"], n["model"]) for n in web["nics"]] == [
        ("fa:16:3e:00:00:01", "private", "e1000e"),
        ("fa:16:3e:00:00:02", "storage-net", "e1000e")]
    cats = {c["category"]: c["level"] for c in web["concerns"]}
    assert cats.get("secure-boot") == "warning"
    db = by_name(vms, "db-1")
    # the boot volume first, then the others by device
    assert [d["name"] for d in db["disks"]] == ["db-boot", "db-extra"]
    assert [d["bootable"] for d in db["disks"]] == [True, False]
    assert db["firmware"] == "bios"
    cats = {c["category"]: c["level"] for c in db["concerns"]}
    assert cats["vm-status"] == "warning" and cats["floating-ip"] == "warning"
    broken = by_name(vms, "broken")
    cats = {c["category"]: c["level"] for c in broken["concerns"]}
    assert cats["vm-status"] == "critical"
    assert cats["disk-status"] == "critical"
    for cat in ("numa", "cpu-shares", "watchdog"):
        assert cats[cat] == "warning", cats
    # the table
    p = os_run(hoist_bin, openstack, "inventory", "openstack", "vms")
    assert p.returncode == 0 and "web-1" in p.stdout and "critical" in p.stdout


def test_inventory_networks_volumes_images(hoist_bin, openstack, cloud):
    p = os_run(hoist_bin, openstack, "inventory", "openstack", "networks",
               "--json")
    assert {n["name"] for n in json.loads(p.stdout)} >= {"private",
                                                         "storage-net"}
    p = os_run(hoist_bin, openstack, "inventory", "openstack", "volumes")
    assert p.returncode == 0 and "db-boot" in p.stdout and "ceph" in p.stdout
    p = os_run(hoist_bin, openstack, "inventory", "openstack", "images",
               "--json")
    assert "centos-base" in {i["name"] for i in json.loads(p.stdout)}
    p = os_run(hoist_bin, openstack, "inventory", "openstack", "servers")
    assert p.returncode == 2


def test_migrate_image_and_volume_booted(tmp_path, hoist_bin, openstack,
                                         cloud, shared_dir):
    netmap = tmp_path / "netmap.txt"
    netmap.write_text("private=pod\nstorage-net=multus:net/storage\n")
    out = tmp_path / "out"
    p = os_run(hoist_bin, openstack, "migrate", "--source", "openstack://",
               "--vm", "web-1", "--vm", "db-1", "--target", "dir:%s" % out,
               "--network-map", netmap, "--no-progress")
    assert p.returncode == 0, p.stderr
    assert PASSWORD not in p.stderr + p.stdout
    refs = cloud["refs"]
    web, db = out / "web-1", out / "db-1"
    for path, ref in ((web / "web-1-disk-0.raw", refs["web-root"]),
                      (web / "web-1-disk-1.raw", refs["web-data"]),
                      (db / "db-1-disk-0.raw", refs["db-boot"]),
                      (db / "db-1-disk-1.raw", refs["db-extra"])):
        got = path.read_bytes()
        want = ref.read_bytes()
        assert got[:len(want)] == want and not got[len(want):].strip(b"\0")
    schema = KubevirtSchema.from_shared(shared_dir)
    vm = yaml.safe_load((web / "virtualmachine.yaml").read_text())
    schema.check_vm(vm)
    dom = vm["spec"]["template"]["spec"]["domain"]
    assert "efi" in dom["firmware"]["bootloader"]
    assert dom["machine"]["type"] == "q35"
    assert [d["disk"]["bus"] for d in dom["devices"]["disks"]] == \
        ["scsi", "scsi"]
    assert [(i["model"], i["macAddress"]) for i in
            dom["devices"]["interfaces"]] == [
        ("e1000e", "fa:16:3e:00:00:01"), ("e1000e", "fa:16:3e:00:00:02")]
    nets = vm["spec"]["template"]["spec"]["networks"]
    assert nets[1]["multus"]["networkName"] == "net/storage"
    vm = yaml.safe_load((db / "virtualmachine.yaml").read_text())
    schema.check_vm(vm)
    disks = vm["spec"]["template"]["spec"]["domain"]["devices"]["disks"]
    assert disks[0].get("bootOrder") == 1 and disks[0]["disk"]["bus"] == \
        "virtio"
    # the temporaries are gone: no snapshot, no volume, no image
    assert cloud["cloud"].leftovers() == []
    left = {i["id"] for i in openstack.list_images()}
    assert not left & set(cloud["cloud"].created_images)
    p = os_run(hoist_bin, openstack, "inventory", "openstack", "leftovers")
    assert "no temporaries" in p.stdout, p.stdout


def test_migrate_skips_critical_servers(tmp_path, hoist_bin, openstack,
                                        cloud):
    out = tmp_path / "out"
    p = os_run(hoist_bin, openstack, "migrate", "--source", "openstack://",
               "--vm", "broken", "--target", "dir:%s" % out)
    assert p.returncode == 1
    assert "critical" in p.stderr and not out.exists()
    p = os_run(hoist_bin, openstack, "migrate", "--source", "openstack://",
               "--vm", "nope", "--target", "dir:%s" % out)
    assert p.returncode == 1 and "no server named" in p.stderr


def test_failed_export_leaves_no_temporaries(tmp_path, hoist_bin, openstack,
                                             cloud):
    """An upload that never finishes (the volume's data is missing): the
    wait times out, the VM fails, and the snapshot, volume and image are
    deleted all the same."""
    c = cloud["cloud"]
    vol = c.add_volume("lost", tmp_path / "missing.raw")
    c.add_server("lost-1", flavor(1, 512), volumes=[(vol, "/dev/vda")])
    images_before = set(c.created_images)
    out = tmp_path / "out"
    p = os_run(hoist_bin, openstack, "migrate", "--source", "openstack://",
               "--vm", "lost-1", "--target", "dir:%s" % out,
               "--transfer-timeout", "3", "--force")
    assert p.returncode == 1
    assert "not active after 3 seconds" in p.stderr, p.stderr
    assert not (out / "lost-1").exists()
    assert c.leftovers() == []
    made = set(c.created_images) - images_before
    assert made and not made & {i["id"] for i in openstack.list_images()}


def test_leftovers_of_a_crashed_run_are_deleted(tmp_path, hoist_bin,
                                                openstack, cloud):
    """What a killed migration leaves: found by name and tag, deleted."""
    c = cloud["cloud"]
    mig = "0badc0de"
    vol = list(c.volumes.values())[0]
    token = openstack.user_token()[0]
    base = "http://127.0.0.1:%d/v3/%s" % (cloud["fakes"].cinder,
                                         openstack.ids["project"])
    openstack.api.call("POST", base + "/snapshots", {"snapshot": {
        "volume_id": vol["id"], "force": True, "name": "hoist-%s-x" % mig,
        "metadata": {"hoist.io/migration": mig}}}, token=token, expect=202)
    src = tmp_path / "img.raw"
    src.write_bytes(b"x" * 1000)
    iid = openstack.upload_image(src, "hoist-%s-vol" % mig)
    p = os_run(hoist_bin, openstack, "inventory", "openstack", "leftovers",
               "--migration", mig, "--json")
    found = {(x["kind"], x["id"]) for x in json.loads(p.stdout)}
    assert ("image", iid) in found and len(found) == 2, found
    p = os_run(hoist_bin, openstack, "inventory", "openstack", "leftovers",
               "--migration", mig, "--delete")
    assert p.returncode == 0, p.stderr
    assert c.leftovers() == []
    assert iid not in {i["id"] for i in openstack.list_images()}


def test_migrate_usage(tmp_path, hoist_bin, openstack):
    p = run(hoist_bin, "migrate", "--source", "openstack://", "--target",
            "dir:%s" % tmp_path, env=clean_os_env())
    assert p.returncode == 2 and "--vm" in p.stderr
    p = run(hoist_bin, "migrate", "--source", "ova:x.ova", "--os-username",
            "u", "--target", "dir:%s" % tmp_path, env=clean_os_env())
    assert p.returncode == 2 and "openstack://" in p.stderr
    p = run(hoist_bin, "migrate", "--help")
    assert "openstack://" in p.stdout and "--os-auth-url" in p.stdout
    p = run(hoist_bin, "inventory", "openstack", "--help")
    assert p.returncode == 0 and "leftovers" in p.stdout


def test_interrupt_while_exporting_deletes_the_temporaries(
        tmp_path, hoist_bin, openstack, cloud):
    """SIGINT while hoist waits for an upload that never ends: it stops,
    deletes the snapshot, volume and image, and exits 130."""
    import signal
    c = cloud["cloud"]
    vol = c.add_volume("stuck", tmp_path / "missing.raw")
    c.add_server("stuck-1", flavor(1, 512), volumes=[(vol, "/dev/vda")])
    images_before = set(c.created_images)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [str(hoist_bin), "migrate", "--source", "openstack://", "--vm",
         "stuck-1", "--target", "dir:%s" % out],
        env=clean_os_env(openstack.env()), stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "exporting disk-0" in line:
            break
    deadline = time.time() + 30
    while time.time() < deadline and \
            len(set(c.created_images) - images_before) == 0:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(60) == 130, "".join(lines) + rest
    assert "interrupted" in rest
    assert not (out / "stuck-1").exists()
    assert c.leftovers() == []
    made = set(c.created_images) - images_before
    assert made and not made & {i["id"] for i in openstack.list_images()}


# ---- hoist-populator openstack (Forklift's OpenstackVolumePopulator) ----

def populator(build_dir, tmp_path, openstack, image_id, target, secret,
              *more):
    """Runs hoist-populator openstack with the Secret's keys as
    environment variables (as envFrom injects them)."""
    env = clean_os_env()
    env.update(secret)
    log = tmp_path / "termination-log"
    return subprocess.run(
        [str(build_dir / "src" / "populator" / "hoist-populator"),
         "openstack", "--endpoint", openstack.auth_url, "--image-id",
         image_id, "--secret-name", "os-secret", "--volume-path",
         str(target), "--owner-uid", "uid-1", "--termination-log", str(log),
         "--secret-dir", str(tmp_path / "no-secret"), "--metrics-addr",
         "none", "--transfer-network", "ns/net"] + [str(m) for m in more],
        capture_output=True, text=True, env=env, timeout=300)


def forklift_secret(openstack, **extra):
    s = {"authType": "password", "username": USER, "password": PASSWORD,
         "projectName": PROJECT, "userDomainName": "Default",
         "projectDomainName": "Default", "regionName": "RegionOne",
         "availability": "public",
         "cacert": pathlib.Path(openstack.ca).read_text()}
    s.update(extra)
    return s


def test_populator_openstack_mode(tmp_path, build_dir, openstack, images):
    for kind in ("raw", "qcow2"):
        ref, iid = images[kind]
        target = tmp_path / ("disk-%s.img" % kind)
        p = populator(build_dir, tmp_path, openstack, iid, target,
                      forklift_secret(openstack))
        assert p.returncode == 0, p.stderr
        assert "AddressSanitizer" not in p.stderr
        assert PASSWORD not in p.stderr + p.stdout
        assert target.read_bytes() == ref.read_bytes()
        summary = json.loads((tmp_path / "termination-log").read_text())
        assert summary["result"] == "succeeded", summary
        # The figures the controller shows: all that was to read, read.
        size = ref.stat().st_size
        assert summary["virtual_size"] == size, summary
        assert 0 < summary["bytes_total"] <= size, summary
        assert summary["bytes_copied"] == summary["bytes_total"] == \
            summary["bytes_read"], summary


def test_populator_openstack_wrong_password_and_bad_hash(
        tmp_path, build_dir, openstack):
    src = tmp_path / "in.raw"
    src.write_bytes(rand(MiB + 3, 51))
    iid = openstack.upload_image(src, "pop-bad-hash")
    wrong = "Wr0ng-Populator-Passw0rd"
    target = tmp_path / "disk.img"
    p = populator(build_dir, tmp_path, openstack, iid, target,
                  forklift_secret(openstack, password=wrong))
    assert p.returncode == 1
    assert wrong not in p.stderr + p.stdout
    log = (tmp_path / "termination-log").read_text()
    assert wrong not in log and "401" in log, log
    _glance_db(openstack, "UPDATE images SET os_hash_value = ? WHERE id = ?",
               "cd" * 64, iid)
    p = populator(build_dir, tmp_path, openstack, iid, target,
                  forklift_secret(openstack))
    assert p.returncode == 1
    assert "does not match" in (tmp_path / "termination-log").read_text()
    p = populator(build_dir, tmp_path, openstack, iid, target,
                  forklift_secret(openstack, authType="kerberos"))
    assert p.returncode == 1 and "authType" in p.stderr
