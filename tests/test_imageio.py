"""hoist copy from oVirt imageio tickets, against the real ovirt-imageio
daemon over TLS on loopback (tests/peers/imageio.py), with the file
backend and the nbd backend (qemu-nbd), as oVirt sets them up."""
import json
import os
import re
import socket
import subprocess
import time

import pytest
from diskutil import MiB, GiB, assert_same_content, data_segments, \
    qemu_img, qemu_io, reference_raw

from peers.imageio import *  # noqa: F401,F403


def make_raw(path, size, writes):
    with open(path, "wb") as f:
        f.truncate(size)
    for off, length, pattern in writes:
        qemu_io(path, "raw", f"write -P {pattern} {off} {length}")
    return path


def random_file(path, size):
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return path


def data_bytes(path):
    return sum(b - a for a, b in data_segments(path))


def copy(hoist, daemon, tid, out, *opts, check=True):
    return hoist("copy", "--no-progress", "--cacert", daemon.pki["ca"],
                 *opts, daemon.url(tid), out, check=check)


def assert_one_line_error(p, out):
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "AddressSanitizer" not in p.stderr
    assert not out.exists()
    assert not [f for f in os.listdir(out.parent) if f.startswith(out.name)]
    return lines[0]


# ---- the data path ----

def test_file_backend_raw(tmp_path, hoist, imageio_daemon):
    src = make_raw(tmp_path / "in.raw", 20 * MiB + 4097, [
        (0, 4096, 0x11), (3 * MiB + 512, 70000, 0x22),
        (9 * MiB, 2 * MiB, 0x33), (20 * MiB, 4097, 0x44)])
    tid = imageio_daemon.add_ticket(f"file://{src}", os.path.getsize(src))
    out = tmp_path / "out.raw"
    p = hoist("copy", "--progress", "--cacert", imageio_daemon.pki["ca"],
              imageio_daemon.url(tid), out)
    assert_same_content(src, out)
    # Progress was shown, and the ticket never in full.
    assert "copied 20.0 MiB" in p.stderr
    assert tid not in p.stderr and tid[:8] + "..." in p.stderr
    assert imageio_daemon.ticket_info(tid)["transferred"] == \
        os.path.getsize(src)


@pytest.mark.parametrize("size", [0, 1, 4095, 8 * MiB - 1, 8 * MiB,
                                  8 * MiB + 1, 17 * MiB + 511])
def test_sizes_around_the_request_size(tmp_path, hoist, imageio_daemon,
                                       size):
    src = random_file(tmp_path / "in.raw", size)
    tid = imageio_daemon.add_ticket(f"file://{src}", size)
    out = tmp_path / "out.raw"
    copy(hoist, imageio_daemon, tid, out, "-w", "3")
    assert_same_content(src, out)


def test_plain_https_url(tmp_path, hoist, imageio_daemon):
    src = random_file(tmp_path / "in.raw", 3 * MiB + 5)
    tid = imageio_daemon.add_ticket(f"file://{src}", 3 * MiB + 5)
    out = tmp_path / "out.raw"
    hoist("copy", "--cacert", imageio_daemon.pki["ca"],
          imageio_daemon.url(tid, scheme="https"), out)
    assert_same_content(src, out)


def test_host_name_url(tmp_path, hoist, imageio_daemon):
    # The certificate names localhost too: verified by name, not address.
    src = random_file(tmp_path / "in.raw", 9 * MiB + 7)
    tid = imageio_daemon.add_ticket(f"file://{src}", 9 * MiB + 7)
    out = tmp_path / "out.raw"
    url = imageio_daemon.url(tid).replace("127.0.0.1", "localhost")
    hoist("copy", "--no-progress", "--cacert", imageio_daemon.pki["ca"], url,
          out)
    assert_same_content(src, out)


def test_nbd_backend_sparse_raw_skips_zeros(tmp_path, hoist, imageio_daemon,
                                            nbd_server):
    size = GiB + 12345 * 512
    src = make_raw(tmp_path / "in.raw", size, [
        (0, 64 * 1024, 0x11), (5 * MiB, MiB, 0x22),
        (700 * MiB + 4096, 3 * MiB, 0x33), (size - 4096, 4096, 0x44)])
    nbd = nbd_server(src, "raw")
    tid = imageio_daemon.add_ticket(nbd.url, size)
    out = tmp_path / "out.raw"
    copy(hoist, imageio_daemon, tid, out)
    assert_same_content(src, out)
    # Only data was read: the zero extents never crossed the wire.
    transferred = imageio_daemon.ticket_info(tid)["transferred"]
    assert transferred <= data_bytes(src) + 256 * 1024, transferred
    assert transferred >= 4 * MiB


def test_nbd_backend_qcow2_is_served_raw(tmp_path, hoist, imageio_daemon,
                                         nbd_server):
    src = tmp_path / "in.qcow2"
    size = 300 * MiB + 512
    qemu_img("create", "-f", "qcow2", src, str(size))
    qemu_io(src, "qcow2", "write -P 0x5a 0 1M", "write -P 0x6b 77M 2M",
            "write -z 78M 64k", "write -P 0x7c 299M 1M",
            f"write -P 0x01 {size - 512} 512")
    ref = reference_raw(src, tmp_path / "ref.raw", "qcow2")
    nbd = nbd_server(src, "qcow2")
    tid = imageio_daemon.add_ticket(nbd.url, size)
    out = tmp_path / "out.raw"
    p = copy(hoist, imageio_daemon, tid, out, "--progress")
    assert "from raw" in p.stderr
    assert_same_content(ref, out)
    transferred = imageio_daemon.ticket_info(tid)["transferred"]
    assert transferred <= 5 * MiB, transferred


def test_qcow2_file_backend_is_decoded(tmp_path, hoist, imageio_daemon):
    """A ticket on a qcow2 file serves the file's bytes; hoist detects the
    format from the content and decodes it."""
    src = tmp_path / "in.qcow2"
    qemu_img("create", "-f", "qcow2", src, str(40 * MiB))
    qemu_io(src, "qcow2", "write -P 0x5a 1M 1M", "write -P 0x6b 33M 64k")
    ref = reference_raw(src, tmp_path / "ref.raw", "qcow2")
    tid = imageio_daemon.add_ticket(f"file://{src}", os.path.getsize(src))
    out = tmp_path / "out.raw"
    p = copy(hoist, imageio_daemon, tid, out, "--progress")
    assert "from qcow2" in p.stderr
    assert_same_content(ref, out)


def test_workers_capped_at_max_readers_and_connections_reused(
        tmp_path, hoist, imageio_daemon_factory):
    daemon = imageio_daemon_factory(max_connections=2).start()
    src = random_file(tmp_path / "in.raw", 40 * MiB + 3)
    tid = daemon.add_ticket(f"file://{src}", 40 * MiB + 3)
    out = tmp_path / "out.raw"
    copy(hoist, daemon, tid, out, "--workers", "8")
    assert_same_content(src, out)
    daemon.stop()
    log = daemon.log.read_text()
    opened = len(re.findall(r"OPEN connection=\d+ client=127\.0\.0\.1", log))
    reads = sum(int(n) for n in re.findall(r"\[read (\d+) ops", log))
    # One for OPTIONS and the extents (closed before the data is read),
    # then one per reader, kept alive for all the reads.
    assert opened <= 3, log[-3000:]
    assert reads >= 5


# ---- failures and recovery ----

def test_daemon_killed_and_restarted_mid_transfer(tmp_path, hoist_bin,
                                                  imageio_daemon_factory,
                                                  nbd_server):
    """The daemon dies in the middle of a copy and comes back (with the
    ticket, as oVirt re-installs it): the copy goes on where it stopped,
    without starting over, and the result is identical."""
    size = GiB
    data = 16 * MiB
    src = make_raw(tmp_path / "in.raw", size, [
        (i * 64 * MiB, 2 * MiB, 0x10 + i) for i in range(8)])
    assert data_bytes(src) == data
    # 4 MiB/s through qemu-nbd: the copy takes a few seconds.
    nbd = nbd_server(src, "raw", bps=4 * MiB)
    daemon = imageio_daemon_factory(buffer_size=256 * 1024).start()
    tid = daemon.add_ticket(nbd.url, size)
    ticket_file = daemon.write_ticket_file(tid, tmp_path / "ticket.json")
    out = tmp_path / "out.raw"
    proc = subprocess.Popen(
        [str(hoist_bin), "copy", "--no-progress", "--cacert",
         str(daemon.pki["ca"]), daemon.url(tid), str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        before = 0
        deadline = time.monotonic() + 30
        while before < data // 4:
            assert time.monotonic() < deadline, "the copy does not start"
            assert proc.poll() is None, proc.communicate()
            before = daemon.ticket_info(tid).get("transferred", 0)
            time.sleep(0.1)
        daemon.kill()
        time.sleep(1.5)
        daemon.start(ticket_file=ticket_file)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "AddressSanitizer" not in err
    assert_same_content(src, out)
    after = daemon.ticket_info(tid)["transferred"]
    # What was read before the kill was not read again, except for the
    # ranges in flight that were cut short (resumed from where they
    # stopped: at most a read buffer each).
    assert after <= data - before + 4 * MiB, (before, after)
    assert after < data


def test_storage_restarted_mid_transfer(tmp_path, hoist_bin,
                                       imageio_daemon_factory, nbd_server):
    """qemu-nbd behind the daemon dies and comes back: replies are cut
    short, then the daemon answers 500 until its backend is back; both are
    retried, cut ranges resume, and the copy is identical."""
    size = GiB
    src = make_raw(tmp_path / "in.raw", size, [
        (i * 64 * MiB, 2 * MiB, 0x30 + i) for i in range(8)])
    nbd = nbd_server(src, "raw", bps=4 * MiB)
    daemon = imageio_daemon_factory(buffer_size=256 * 1024).start()
    tid = daemon.add_ticket(nbd.url, size)
    out = tmp_path / "out.raw"
    proc = subprocess.Popen(
        [str(hoist_bin), "copy", "--no-progress", "--cacert",
         str(daemon.pki["ca"]), daemon.url(tid), str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while daemon.ticket_info(tid).get("transferred", 0) < 4 * MiB:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        nbd.proc.kill()
        nbd.proc.wait()
        nbd.sock.unlink()
        time.sleep(2)
        nbd_server(src, "raw", bps=4 * MiB, sock=nbd.sock)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert_same_content(src, out)
    log = daemon.log.read_text()
    assert "Request aborted after starting response" in log
    assert "Server error" in log


def test_expired_ticket(tmp_path, hoist, imageio_daemon):
    src = random_file(tmp_path / "in.raw", MiB)
    tid = imageio_daemon.add_ticket(f"file://{src}", MiB, timeout=1)
    time.sleep(1.5)
    out = tmp_path / "out.raw"
    p = copy(hoist, imageio_daemon, tid, out, check=False)
    line = assert_one_line_error(p, out)
    assert "403" in line and "expired" in line
    assert "new image transfer" in line
    assert tid not in line


def test_ticket_cancelled_mid_transfer(tmp_path, hoist_bin, imageio_daemon,
                                       nbd_server):
    size = 256 * MiB
    src = make_raw(tmp_path / "in.raw", size, [
        (i * 32 * MiB, 2 * MiB, 0x20 + i) for i in range(8)])
    nbd = nbd_server(src, "raw", bps=2 * MiB)
    tid = imageio_daemon.add_ticket(nbd.url, size)
    out = tmp_path / "out.raw"
    proc = subprocess.Popen(
        [str(hoist_bin), "copy", "--no-progress", "--cacert",
         str(imageio_daemon.pki["ca"]), imageio_daemon.url(tid), str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while imageio_daemon.ticket_info(tid).get("transferred", 0) < MiB:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        imageio_daemon.delete_ticket(tid)
        started = time.monotonic()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Not retried for a minute: a refused ticket is final.
    assert time.monotonic() - started < 20
    p = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    line = assert_one_line_error(p, out)
    assert "403" in line and "ticket" in line
    assert tid not in line


def test_wrong_ticket(tmp_path, hoist, imageio_daemon):
    tid = "0123abcd-dead-beef-0000-000000000000"
    out = tmp_path / "out.raw"
    p = copy(hoist, imageio_daemon, tid, out, check=False)
    line = assert_one_line_error(p, out)
    assert "403" in line and "0123abcd..." in line
    assert tid not in line and "dead-beef" not in line


def test_wrong_ca_is_a_tls_error(tmp_path, hoist, imageio_daemon):
    src = random_file(tmp_path / "in.raw", MiB)
    tid = imageio_daemon.add_ticket(f"file://{src}", MiB)
    out = tmp_path / "out.raw"
    for opts in (["--cacert", imageio_daemon.pki["other_ca"]], []):
        p = hoist("copy", *opts, imageio_daemon.url(tid), out, check=False)
        line = assert_one_line_error(p, out)
        assert "TLS certificate verification failed" in line
        assert f"https://127.0.0.1:{imageio_daemon.port}" in line
        assert "--cacert" in line and "--insecure" in line
        assert tid not in line
    assert imageio_daemon.ticket_info(tid)["transferred"] == 0


def test_insecure_works_and_warns(tmp_path, hoist, imageio_daemon):
    src = random_file(tmp_path / "in.raw", 2 * MiB + 1)
    tid = imageio_daemon.add_ticket(f"file://{src}", 2 * MiB + 1)
    out = tmp_path / "out.raw"
    p = hoist("copy", "--no-progress", "--insecure",
              imageio_daemon.url(tid), out)
    assert_same_content(src, out)
    warnings = [ln for ln in p.stderr.splitlines() if "warning" in ln]
    assert len(warnings) == 1, p.stderr
    assert "TLS certificate verification is off" in warnings[0]
    assert tid not in p.stderr


def test_connection_refused_fails_fast(tmp_path, hoist, imageio_daemon):
    port = free_port()  # noqa: F405
    out = tmp_path / "out.raw"
    started = time.monotonic()
    p = hoist("copy", "--cacert", imageio_daemon.pki["ca"],
              f"imageio+https://127.0.0.1:{port}/images/abcdef0123456789",
              out, check=False)
    line = assert_one_line_error(p, out)
    assert time.monotonic() - started < 10
    assert f"cannot connect to https://127.0.0.1:{port}" in line
    assert "0123456789" not in line


@pytest.mark.parametrize("url,expect", [
    ("imageio+https://127.0.0.1:1/disks/abc", "/images/TICKET"),
    ("imageio+https://127.0.0.1:1/images/", "/images/TICKET"),
    ("imageio+https://127.0.0.1:1/images/a/b", "/images/TICKET"),
    ("imageio+http://127.0.0.1:1/images/abc", "https only"),
    ("imageio+https://127.0.0.1:1/images/abc?x=1", "no user, query"),
    ("imageio+https://u:secretpw@127.0.0.1:1/images/abc", "no user, query"),
])
def test_bad_urls(tmp_path, hoist, url, expect):
    out = tmp_path / "out.raw"
    p = hoist("copy", url, out, check=False)
    line = assert_one_line_error(p, out)
    assert expect in line
    assert "secretpw" not in line


def test_cacert_usage_errors(tmp_path, hoist, imageio_daemon):
    out = tmp_path / "out.raw"
    url = imageio_daemon.url("abc")
    p = hoist("copy", "--cacert", tmp_path / "nope.pem", url, out,
              check=False)
    line = assert_one_line_error(p, out)
    assert "nope.pem" in line
    p = hoist("copy", "--cacert", imageio_daemon.pki["ca"], "--insecure",
              url, out, check=False)
    assert p.returncode == 2
    assert "--insecure" in hoist("copy", "--help").stdout


# ---- a misbehaving server ----
#
# The real daemon never sends a wrong range or an oversized reply, so the
# client's defences against one are checked with a small HTTPS server
# that speaks imageio's OPTIONS and extents and then misbehaves on GET.

class OddServer:
    def __init__(self, pki, data, behave):
        import http.server
        import ssl
        import threading
        self.data = data
        self.behave = behave  # behave(handler, first, last, n) -> bool
        self.padding = 0
        self.ranges = []
        odd = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body, ctype="application/json",
                      headers=()):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_OPTIONS(self):
                self.reply(200, odd.options())

            def do_GET(self):
                if self.path.endswith("/extents?context=zero"):
                    ext = odd.extents()
                    body = ext if isinstance(ext, bytes) else \
                        json.dumps(ext).encode()
                    return self.reply(200, body)
                m = re.match(r"bytes=(\d+)-(\d+)$",
                             self.headers.get("Range", ""))
                first, last = int(m.group(1)), int(m.group(2))
                odd.ranges.append((first, last))
                if not odd.behave(self, first, last, len(odd.ranges)):
                    self.reply(206, odd.data[first:last + 1],
                               "application/octet-stream",
                               [("Content-Range", "bytes %d-%d/%d" % (
                                   first, last, len(odd.data)))])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki["cert"], pki["key"])
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def options(self):
        return json.dumps({"features": ["extents"], "max_readers": 2,
                           "padding": "x" * self.padding}).encode()

    def extents(self):
        return [{"start": 0, "length": len(self.data), "zero": False,
                 "hole": False}]

    def url(self):
        return "imageio+https://127.0.0.1:%d/images/%s" % (
            self.port, "f00dfeed-0000-1111-2222-333344445555")

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def odd_server(imageio_pki):
    made = []

    def make(data, behave, extents=None):
        s = OddServer(imageio_pki, data, behave)
        if extents is not None:
            s.extents = lambda: extents
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def test_range_cut_short_resumes_where_it_stopped(tmp_path, hoist,
                                                  odd_server, imageio_pki):
    data = os.urandom(3 * MiB + 5)

    def behave(h, first, last, n):
        if n == 2:  # the first data GET: send half, then drop the line
            half = (last - first + 1) // 2
            h.send_response(206)
            h.send_header("Content-Range", "bytes %d-%d/%d" % (
                first, last, len(data)))
            h.send_header("Content-Length", str(last - first + 1))
            h.end_headers()
            h.wfile.write(data[first:first + half])
            h.wfile.flush()
            h.close_connection = True
            h.request.shutdown(socket.SHUT_RDWR)
            return True
        return False

    s = odd_server(data, behave)
    out = tmp_path / "out.raw"
    hoist("copy", "-w", "1", "--cacert", imageio_pki["ca"], s.url(), out)
    assert out.read_bytes() == data
    # The retry asked for the rest of the range, not all of it again.
    (f1, l1), (f2, l2) = s.ranges[1], s.ranges[2]
    assert l2 == l1 and f2 == f1 + (l1 - f1 + 1) // 2


@pytest.mark.parametrize("tls", ["1.3", "1.3 without tickets", "1.2"])
def test_data_over_each_tls_version_is_read_once(tmp_path, hoist, odd_server,
                                                 imageio_pki, tls):
    # The fast path reads TLS 1.3 records itself, past the session tickets
    # the server sends after the handshake, and TLS 1.2 through OpenSSL. A
    # read that failed there would show as the rest of a range asked for
    # again (through libcurl).
    import ssl
    data = os.urandom(3 * MiB + 5)
    s = odd_server(data, lambda *a: False)
    ctx = s.httpd.socket.context
    if tls == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif tls == "1.3 without tickets":
        ctx.num_tickets = 0
    out = tmp_path / "out.raw"
    hoist("copy", "-w", "2", "--cacert", imageio_pki["ca"], s.url(), out)
    assert out.read_bytes() == data
    ends = [last for _, last in s.ranges]
    assert len(ends) == len(set(ends)), s.ranges


def test_server_errors_are_retried(tmp_path, hoist, odd_server, imageio_pki):
    data = os.urandom(MiB)

    def behave(h, first, last, n):
        if n in (2, 3):
            h.reply(503, b"busy\n", "text/plain")
            return True
        return False

    s = odd_server(data, behave)
    out = tmp_path / "out.raw"
    hoist("copy", "--cacert", imageio_pki["ca"], s.url(), out)
    assert out.read_bytes() == data


@pytest.mark.parametrize("odd,expect", [
    ("ignores range", "ignored the Range header"),
    ("wrong range", "but the server sent bytes"),
    ("too long", "more than the"),
    ("404", "404"),
])
def test_wrong_range_replies_are_errors(tmp_path, hoist, odd_server,
                                        imageio_pki, odd, expect):
    data = os.urandom(2 * MiB)

    def behave(h, first, last, n):
        if n == 1:
            return False  # format detection reads the first KiB
        if odd == "ignores range":
            h.reply(200, data, "application/octet-stream")
        elif odd == "wrong range":
            h.reply(206, data[first + 1:last + 2], "application/octet-stream",
                    [("Content-Range", "bytes %d-%d/%d" % (
                        first + 1, last + 1, len(data)))])
        elif odd == "too long":
            h.reply(206, data[first:last + 2], "application/octet-stream",
                    [("Content-Range", "bytes %d-%d/%d" % (
                        first, last, len(data)))])
        else:
            h.reply(404, b"gone\n", "text/plain")
        return True

    s = odd_server(data, behave)
    out = tmp_path / "out.raw"
    p = hoist("copy", "--cacert", imageio_pki["ca"], s.url(), out,
              check=False)
    line = assert_one_line_error(p, out)
    assert expect in line
    assert "f00dfeed..." in line and "0000-1111" not in line


@pytest.mark.parametrize("extents,expect", [
    ([{"start": 0, "length": MiB, "zero": False},
      {"start": MiB + 512, "length": MiB, "zero": True}],
     "does not follow"),
    ([{"start": 0, "length": "1", "zero": False}], "integer start"),
    ({"not": "a list"}, "not a JSON array"),
    (b'[{"start": 0, "length": 1, "zero": false},]', "not valid JSON"),
])
def test_bad_extents_are_errors(tmp_path, hoist, odd_server, imageio_pki,
                                extents, expect):
    s = odd_server(os.urandom(2 * MiB), lambda *a: False, extents=extents)
    out = tmp_path / "out.raw"
    p = hoist("copy", "--cacert", imageio_pki["ca"], s.url(), out,
              check=False)
    line = assert_one_line_error(p, out)
    assert expect in line


def test_oversized_reply_is_refused(tmp_path, hoist, odd_server, imageio_pki):
    s = odd_server(os.urandom(MiB), lambda *a: False)
    s.padding = 100 * 1024
    out = tmp_path / "out.raw"
    p = hoist("copy", "--cacert", imageio_pki["ca"], s.url(), out,
              check=False)
    line = assert_one_line_error(p, out)
    assert "larger than 65536 bytes" in line


def test_plain_http_port_is_a_tls_error(tmp_path, hoist):
    import http.server
    import threading
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "out.raw"
        p = hoist("copy", "imageio+https://127.0.0.1:%d/images/%s" % (
            httpd.server_address[1], "0123456789abcdef"), out, check=False)
        line = assert_one_line_error(p, out)
        assert "TLS handshake" in line and "serves https" in line
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_certificate_for_another_name_is_refused(tmp_path, hoist,
                                                 imageio_pki):
    # The server shows its right certificate to the first connection
    # (OPTIONS and the extents), then one of the trusted CA for another
    # host: the data connections refuse it before asking for any data
    # (the fast path as libcurl).
    import ssl
    ca_dir = imageio_pki["ca"].parent
    (tmp_path / "san.ext").write_text(
        "subjectAltName=DNS:elsewhere.invalid\n"
        "extendedKeyUsage=serverAuth\n")
    for cmd in (["req", "-newkey", "rsa:2048", "-nodes", "-subj",
                 "/CN=elsewhere.invalid", "-keyout", "key.pem", "-out",
                 "req.csr"],
                ["x509", "-req", "-in", "req.csr", "-CA", ca_dir / "ca.pem",
                 "-CAkey", ca_dir / "ca-key.pem", "-set_serial", "4242",
                 "-days", "2", "-extfile", "san.ext", "-out", "cert.pem"]):
        subprocess.run(["openssl"] + cmd, cwd=tmp_path, check=True,
                       capture_output=True)
    other = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    other.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    hellos = []

    def sni(sock, name, ctx):
        hellos.append(name)
        if len(hellos) > 1:
            sock.context = other

    s = OddServer(imageio_pki, os.urandom(MiB), lambda *a: False)
    # No TLS session to resume: every connection sees a certificate.
    s.httpd.socket.context.num_tickets = 0
    s.httpd.socket.context.options |= ssl.OP_NO_TICKET
    s.httpd.socket.context.sni_callback = sni
    try:
        out = tmp_path / "out.raw"
        p = hoist("copy", "--cacert", imageio_pki["ca"],
                  s.url().replace("127.0.0.1", "localhost"), out,
                  check=False)
        line = assert_one_line_error(p, out)
        assert "TLS certificate verification failed" in line
        assert len(hellos) >= 2 and s.ranges == []
    finally:
        s.stop()


def test_server_closing_every_connection(tmp_path, hoist, odd_server,
                                         imageio_pki):
    # Allowed by HTTP/1.1: each reply ends its connection.
    data = os.urandom(5 * MiB + 3)

    def behave(h, first, last, n):
        h.reply(206, data[first:last + 1], "application/octet-stream",
                [("Content-Range", "bytes %d-%d/%d" % (first, last,
                                                       len(data))),
                 ("Connection", "close")])
        h.close_connection = True
        return True

    s = odd_server(data, behave)
    out = tmp_path / "out.raw"
    hoist("copy", "--cacert", imageio_pki["ca"], "-w", "1", s.url(), out)
    assert out.read_bytes() == data
    assert len(s.ranges) >= 2
