"""The hostile-input wall, the parts test_hostile_input.py does not cover: framing tricks
(Transfer-Encoding spread over fields, chunk extensions and sizes past their limits, oversize
trailers, CR and NUL in every part of a head, userinfo in the target, a Host that disagrees
with the target), slowloris and slow readers, half-open connections, 10,000 connections at
once, pipelined floods, and hostile Proxy-Authorization values. Each case checks the exact
status, that nothing reached the origin that should not have, and that the proxy keeps
serving other clients."""

import hashlib
import json
import os
import resource
import selectors
import socket
import threading
import time

import pytest

from helpers import (ALICE, BIN, ConnectionClosed, Proxy, b64, basic, build_request,
                     free_port, proc_rss_kib, wait_for)

AUTH = "Proxy-Authorization: " + basic(*ALICE)
MIB = 1024 * 1024


# ---- a fast, streaming origin ----

class FastOrigin:
    """A keep-alive origin that answers in one write with TCP_NODELAY (the shared origin
    writes head and body separately, so Nagle costs it ~40 ms per request: too slow for
    floods). GET /stream/N streams N bytes with Content-Length in 64 KiB writes, counting
    what the kernel took; any other target is answered with its own bytes as the body."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.authority = f"127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.targets = []
        self.streamed = 0  # bytes of /stream bodies accepted by the kernel
        self.stream_ended = threading.Event()  # a /stream connection finished or broke
        self._conns = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path):
        return f"http://{self.authority}{path}"

    def _accept(self):
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        block = b"\x5a" * 65536
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode("latin-1")
                with self.lock:
                    self.targets.append(target)
                if target.startswith("/stream/"):
                    left = int(target.split("/")[2])
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % left)
                    try:
                        while left:
                            n = conn.send(block[:min(left, len(block))])
                            left -= n
                            with self.lock:
                                self.streamed += n
                    finally:
                        self.stream_ended.set()
                else:
                    body = target.encode("latin-1")
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                                 % (len(body), body))
        except OSError:
            return
        finally:
            with self.lock:
                self._conns.discard(conn)
            conn.close()

    def snapshot(self):
        with self.lock:
            return list(self.targets)

    def close(self):
        self._closed = True
        self.sock.close()
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def fast_origin():
    server = FastOrigin()
    yield server
    server.close()


@pytest.fixture
def small_asan_quarantine(monkeypatch):
    """Under ASan freed memory waits in a quarantine (256 MiB by default) that counts as RSS;
    the memory-bound tests shrink it so RSS measures what the proxy really holds. The proxy
    factory passes the environment on to the processes it starts."""
    opts = os.environ.get("ASAN_OPTIONS", "")
    monkeypatch.setenv("ASAN_OPTIONS", (opts + ":" if opts else "")
                       + "quarantine_size_mb=4:thread_local_quarantine_size_kb=128")


# ---- helpers ----

def _head(origin, extra, method="POST", path="/upload", version="HTTP/1.1", host=True):
    lines = [f"{method} {origin.url(path)} {version}".encode()]
    if host:
        lines.append(f"Host: {origin.authority}".encode())
    lines.append(AUTH.encode())
    lines += [l.encode("latin-1") if isinstance(l, str) else l for l in extra]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _exchange(p, data, timeout=10, close_wait=3):
    """Sends data, returns (response, closed within close_wait seconds afterwards; None when
    not waited for)."""
    with p.connect(timeout=timeout) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = c.response(timeout=timeout)
        closed = c.wait_closed(close_wait) if close_wait else None
    return resp, closed


def _still_serves(p, origin):
    resp = p.get(origin.url("/bytes/9"), auth=ALICE)
    assert resp.status == 200, f"the proxy stopped serving: {resp}"


def _nothing_reached(origin, complete_only=False):
    time.sleep(0.2)  # a wrongly forwarded request would land by now
    if complete_only:
        assert origin.snapshot() == [], "the origin received a complete request"
    else:
        assert origin.heads_snapshot() == [], "the origin received the rejected request"


def _short_error(resp, status):
    assert resp.status == status, resp
    assert 0 < len(resp.body) < 2048
    assert int(resp.header("Content-Length")) == len(resp.body)


# ---- framing: Transfer-Encoding, CR, NUL, targets ----

REJECTED_HEADS = {
    # Transfer-Encoding spread over two fields is one list: chunked must be last, once.
    "te-fields-chunked-then-identity": (["Transfer-Encoding: chunked",
                                         "Transfer-Encoding: identity"], 400),
    "te-fields-chunked-twice": (["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
                                400),
    "te-fields-identity-then-chunked": (["Transfer-Encoding: identity",
                                         "Transfer-Encoding: chunked"], 501),
    "te-identity-alone": (["Transfer-Encoding: identity"], 501),
    "te-chunked-with-parameter": (["Transfer-Encoding: chunked;q=1"], 400),
    "te-lookalike-token": (["Transfer-Encoding: xchunked"], 501),
    "cr-in-field-name": ([b"X-\rName: v"], 400),
    "cr-ending-a-value": ([b"X-A: v\r"], 400),
    "lone-cr-as-line-end": ([b"X-A: v\rX-B: w"], 400),
    "nul-in-field-name": ([b"X-\x00A: v"], 400),
    "nul-line": ([b"\x00"], 400),
    "del-in-field-name": ([b"X-\x7fA: v"], 400),
}


@pytest.mark.parametrize("case", list(REJECTED_HEADS))
def test_rejected_head_shape_gets_its_status_and_closes(authed, origin, case):
    lines, status = REJECTED_HEADS[case]
    resp, closed = _exchange(authed, _head(origin, lines) + b"5\r\nhello\r\n0\r\n\r\n")
    _short_error(resp, status)
    assert closed, "after a framing error the connection must be closed"
    _nothing_reached(origin)
    _still_serves(authed, origin)


def test_transfer_encoding_in_an_http10_request_is_refused(authed, origin):
    data = _head(origin, ["Transfer-Encoding: chunked"], version="HTTP/1.0") + b"0\r\n\r\n"
    resp, closed = _exchange(authed, data)
    _short_error(resp, 400)
    assert closed
    _nothing_reached(origin)
    _still_serves(authed, origin)


@pytest.mark.parametrize("line", [
    b"GET http://127.0.0.1:1/\rx HTTP/1.1",
    b"GET http://127.0.0.1:1/\x00x HTTP/1.1",
    b"G\x00T http://127.0.0.1:1/ HTTP/1.1",
    b"GET http://127.0.0.1:1/ HTTP/1.1\x00",
    b"GET http://127.0.0.1:1/ HTTP/1.1\r",
], ids=["cr-in-target", "nul-in-target", "nul-in-method", "nul-after-version",
        "cr-cr-lf"])
def test_cr_and_nul_in_the_request_line_get_400(authed, origin, line):
    resp, closed = _exchange(authed, line + b"\r\nHost: x\r\n" + AUTH.encode() + b"\r\n\r\n")
    _short_error(resp, 400)
    assert closed
    _still_serves(authed, origin)


@pytest.mark.parametrize("te", ["Chunked", "CHUNKED", "  chunked \t"])
def test_valid_transfer_encoding_spellings_are_accepted(authed, origin, te):
    # The other side of the wall: case and optional whitespace are legal, not attacks.
    resp, _ = _exchange(authed, _head(origin, [f"Transfer-Encoding: {te}"])
                        + b"5\r\nhello\r\n0\r\n\r\n", close_wait=0)
    assert resp.status == 200, resp
    assert json.loads(resp.body)["length"] == 5
    assert origin.wait_requests(1)[0]["body"] == b"hello"


@pytest.mark.parametrize("target", [
    "http://user:secret@{a}/echo", "http://user@{a}/echo", "http://@{a}/echo",
    "http://user:secret@{a}@{a}/echo",
])
def test_absolute_form_with_userinfo_gets_400(authed, origin, target):
    target = target.format(a=origin.authority)
    data = f"GET {target} HTTP/1.1\r\nHost: {origin.authority}\r\n{AUTH}\r\n\r\n".encode()
    resp, _ = _exchange(authed, data, close_wait=0)
    _short_error(resp, 400)
    assert b"secret" not in resp.body
    _nothing_reached(origin)
    entry = authed.wait_access(1)[0]
    assert entry["status"] == "400"
    assert entry["reason"] == "userinfo_in_target"
    _still_serves(authed, origin)


def test_connect_authority_with_userinfo_gets_400(authed, tcp_echo, origin):
    data = (f"CONNECT user@127.0.0.1:{tcp_echo.port} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{tcp_echo.port}\r\n{AUTH}\r\n\r\n").encode()
    resp, _ = _exchange(authed, data, close_wait=0)
    _short_error(resp, 400)
    time.sleep(0.2)
    assert not tcp_echo.accepted.is_set()
    _still_serves(authed, origin)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:81", "127.0.0.1:1",
                                  "[::1]:8080"])
def test_a_host_that_disagrees_with_the_target_is_replaced_by_the_targets_authority(
        authed, origin, host):
    resp = authed.request("GET", origin.url("/echo"), auth=ALICE, headers=[("Host", host)])
    assert resp.status == 200, resp
    seen = origin.wait_requests(1)[0]
    hosts = [v for n, v in seen["headers"] if n.lower() == "host"]
    assert hosts == [origin.authority], seen["headers"]
    assert seen["target"] == "/echo"


def test_two_host_fields_get_400(authed, origin):
    data = _head(origin, ["Host: other.example", "Content-Length: 0"])
    resp, closed = _exchange(authed, data)
    _short_error(resp, 400)
    assert closed
    _nothing_reached(origin)
    _still_serves(authed, origin)


def test_http11_request_without_host_gets_400(authed, origin):
    resp, _ = _exchange(authed, _head(origin, ["Content-Length: 0"], host=False), close_wait=0)
    _short_error(resp, 400)
    _nothing_reached(origin)
    _still_serves(authed, origin)


# ---- chunked bodies: extensions, sizes, trailers ----

def _chunked(origin, body):
    return _head(origin, ["Transfer-Encoding: chunked"]) + body


def test_chunk_extension_past_the_limit_gets_400(authed, origin):
    resp, closed = _exchange(authed, _chunked(origin, b"5;" + b"e" * 4100
                                              + b"\r\nhello\r\n0\r\n\r\n"))
    _short_error(resp, 400)
    assert closed
    _nothing_reached(origin, complete_only=True)
    assert authed.wait_access(1)[0]["reason"] == "chunk_ext_too_long"
    _still_serves(authed, origin)


def test_endless_chunk_extension_is_refused_before_it_ends(authed, origin):
    with authed.connect(timeout=10) as c:
        c.send(_chunked(origin, b"5;"))
        try:
            for _ in range(64):  # 64 KiB of extension, never a line end
                c.send(b"e" * 1024)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = c.response()
        assert c.wait_closed(3)
    _short_error(resp, 400)
    _nothing_reached(origin, complete_only=True)
    _still_serves(authed, origin)


def test_chunk_extensions_under_the_limit_pass_on_every_chunk(authed, origin):
    chunks = b"".join(b"1;name=\"v;x\";" + b"e" * 3000 + b"\r\nx\r\n" for _ in range(100))
    resp, _ = _exchange(authed, _chunked(origin, chunks + b"0\r\n\r\n"), close_wait=0)
    assert resp.status == 200, resp
    assert origin.wait_requests(1)[0]["body"] == b"x" * 100


@pytest.mark.parametrize("ext", [b'5;a="x\r\ny"\r\n', b'5;a="unterminated\r\n',
                                 b"5;a=\x00\r\n", b'5;a="\\\r"\r\n'],
                         ids=["crlf-in-quoted", "open-quote", "nul", "escaped-cr"])
def test_chunk_extension_hiding_a_line_end_gets_400(authed, origin, ext):
    resp, closed = _exchange(authed, _chunked(origin, ext + b"hello\r\n0\r\n\r\n"))
    _short_error(resp, 400)
    assert closed
    _nothing_reached(origin, complete_only=True)
    _still_serves(authed, origin)


@pytest.mark.parametrize("size", [b"0000000000000000005", b"7fffffffffffffff",
                                  b"1" + b"0" * 30, b"18446744073709551621"],
                         ids=["19-digits-of-leading-zeros", "2^63-1", "31-digits",
                              "decimal-2^64+5"])
def test_chunk_size_overflow_gets_400(authed, origin, size):
    resp, closed = _exchange(authed, _chunked(origin, size + b"\r\nhello\r\n0\r\n\r\n"))
    _short_error(resp, 400)
    assert closed
    assert authed.wait_access(1)[0]["reason"] == "chunk_size_overflow"
    _nothing_reached(origin, complete_only=True)
    _still_serves(authed, origin)


def test_fifteen_digit_chunk_size_is_still_a_size(authed, origin):
    resp, _ = _exchange(authed, _chunked(origin, b"000000000000005\r\nhello\r\n0\r\n\r\n"),
                        close_wait=0)
    assert resp.status == 200
    assert origin.wait_requests(1)[0]["body"] == b"hello"


def test_oversize_chunk_that_never_arrives_completes_no_request(authed, origin):
    # 2^60 - 1 bytes announced (legal syntax), 5 sent, then the client leaves.
    with authed.connect() as c:
        c.send(_chunked(origin, b"fffffffffffffff\r\nhello"))
        assert wait_for(lambda: origin.heads_snapshot(), 3), "the head is streamed on"
    _nothing_reached(origin, complete_only=True)
    entry = authed.wait_access(1)[0]
    assert entry["reason"] == "client_closed"
    _still_serves(authed, origin)


def test_trailers_past_the_limit_get_431(authed, origin):
    trailers = b"".join(b"X-T%d: %s\r\n" % (i, b"t" * 1000) for i in range(20))
    resp, closed = _exchange(authed, _chunked(origin, b"5\r\nhello\r\n0\r\n" + trailers
                                              + b"\r\n"))
    _short_error(resp, 431)
    assert closed
    _nothing_reached(origin, complete_only=True)
    _still_serves(authed, origin)


# ---- slowloris ----

def test_slowloris_clients_get_408_while_others_are_served(proxy, origin):
    p = proxy("--header-timeout", "2")
    head = (f"GET {origin.url('/echo')} HTTP/1.1\r\nHost: {origin.authority}\r\n{AUTH}\r\n"
            "X-Slow: " + "s" * 40).encode()
    conns = [p.connect(timeout=10) for _ in range(20)]
    stop = threading.Event()
    started = {}

    def trickle(i, c):
        started[i] = time.monotonic()
        for ch in head:  # one byte a second
            if stop.is_set():
                return
            try:
                c.sock.send(bytes([ch]))
            except OSError:
                return
            if stop.wait(1.0):
                return

    threads = [threading.Thread(target=trickle, args=(i, c), daemon=True)
               for i, c in enumerate(conns)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        for _ in range(3):  # served at once while the slow heads trickle
            start = time.monotonic()
            assert p.get(origin.url("/echo"), auth=ALICE).status == 200
            assert time.monotonic() - start < 1.0
        statuses = []
        for i, c in enumerate(conns):
            try:
                resp = c.response(timeout=6)
                statuses.append(resp.status)
                elapsed = time.monotonic() - started[i]
                assert 1.5 <= elapsed < 4.5, elapsed
                assert c.wait_closed(3)
            except ConnectionClosed:
                statuses.append("closed")
    finally:
        stop.set()
        for t in threads:
            t.join(3)
        for c in conns:
            c.close()
    assert set(statuses) <= {408, "closed"} and 408 in statuses, statuses
    assert len(origin.snapshot()) == 3, "no slow head may reach the origin"
    reasons = [e["reason"] for e in p.wait_access(3 + statuses.count(408))
               if e["status"] == "408"]
    assert reasons == ["header_timeout"] * statuses.count(408)
    _still_serves(p, origin)


# ---- slow read ----

def test_a_client_that_never_reads_keeps_proxy_memory_bounded(proxy, fast_origin, origin,
                                                              small_asan_quarantine):
    p = proxy()
    size = 200 * MIB
    assert p.get(fast_origin.url("/warm"), auth=ALICE).status == 200
    base = proc_rss_kib(p.proc.pid)
    slow = p.connect(timeout=30)
    try:
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        slow.send(build_request("GET", fast_origin.url(f"/stream/{size}"), auth=ALICE))

        # Wait until the origin can push no more (the proxy stopped reading it).
        def stalled():
            before = fast_origin.streamed
            time.sleep(0.5)
            return before > 0 and fast_origin.streamed == before

        assert wait_for(stalled, 20, interval=0), "the stream never stalled"
        streamed = fast_origin.streamed
        grown = proc_rss_kib(p.proc.pid) - base
        assert streamed < size // 2, f"the proxy took {streamed} bytes of a response " \
                                     "nobody reads"
        assert grown < 64 * 1024, f"proxy RSS grew by {grown} KiB"
        # Other clients are served meanwhile, from both origins.
        assert p.get(origin.url("/bytes/9"), auth=ALICE).status == 200
        assert p.get(fast_origin.url("/other"), auth=ALICE).status == 200
        # Reading a little lets a little more through: the stream is alive, only throttled.
        assert slow.read_head(5).startswith(b"HTTP/1.1 200 ")
    finally:
        slow.close()
    # The reader has gone: the proxy drops the upstream connection too.
    assert fast_origin.stream_ended.wait(10), "the upstream stream was never closed"
    assert fast_origin.streamed < size
    assert proc_rss_kib(p.proc.pid) - base < 64 * 1024
    _still_serves(p, origin)


# ---- half-open connections ----

@pytest.mark.parametrize("path", ["/echo", "/slow/1", "/chunked/100000", "/bytes/300000",
                                  "/close/5000"])
def test_request_then_half_close_still_gets_the_whole_response(authed, origin, path):
    with authed.connect() as c:
        c.send(build_request("GET", origin.url(path), auth=ALICE))
        c.shutdown_write()
        resp = c.response(timeout=10)
        assert resp.status == 200, resp
        assert c.wait_closed(5), "after the response the half-closed connection is closed"
    if path.startswith(("/bytes", "/chunked", "/close")):
        assert len(resp.body) == int(path.rsplit("/", 1)[1])
    _still_serves(authed, origin)


def test_body_and_pipelined_requests_before_a_half_close_are_all_answered(authed, origin):
    body = b"q" * 100_000
    with authed.connect() as c:
        c.send(build_request("POST", origin.url("/upload"), auth=ALICE, body=body)
               + build_request("GET", origin.url("/slow/1"), auth=ALICE)
               + build_request("GET", origin.url("/bytes/5"), auth=ALICE))
        c.shutdown_write()
        first = c.response(timeout=10)
        assert first.status == 200
        assert json.loads(first.body)["sha256"] == hashlib.sha256(body).hexdigest()
        assert c.response(timeout=10).body == b"finally\n"
        assert c.response(timeout=10).status == 200
        assert c.wait_closed(5)


def test_refusal_before_a_half_close_is_delivered(authed, origin):
    with authed.connect() as c:
        c.send(build_request("GET", origin.url("/echo")))
        c.shutdown_write()
        resp = c.response()
        assert resp.status == 407
        assert c.wait_closed(5)
    _nothing_reached(origin)


def test_half_close_inside_a_body_forwards_nothing_complete(authed, origin):
    with authed.connect() as c:
        c.send(_head(origin, ["Content-Length: 100"]) + b"abc")
        c.shutdown_write()
        assert c.wait_closed(5)
    _nothing_reached(origin, complete_only=True)
    assert authed.wait_access(1)[0]["reason"] == "client_closed"
    _still_serves(authed, origin)


def _sanitized_binary():
    """True for an ASan or TSan build of the proxy (both report the bug below)."""
    try:
        with open(BIN, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"__tsan_init" in data


def test_half_close_inside_a_head_closes_quietly_without_touching_freed_memory(
        tmp_path, users, origin):
    # The proxy is started here rather than by the fixture so that, under a sanitizer, the
    # report fails this test (and its xfail) instead of the fixture's teardown.
    port = free_port()
    access = str(tmp_path / "access.log")
    argv = [BIN, "--listen", f"127.0.0.1:{port}", "--htpasswd", users.path,
            "--access-log", access, "--auth-log", "off", "--threads", "2",
            "--allow-destination", "127.0.0.0/8", "--rate-exempt", "127.0.0.0/8"]
    p = Proxy(argv, str(tmp_path), [("127.0.0.1", port)], access, None, name="halfclose")
    try:
        p.wait_ready()
        for auth in ("", AUTH + "\r\n"):
            with p.connect() as c:
                c.send(f"GET {origin.url('/echo')} HTTP/1.1\r\nHost: x\r\n{auth}".encode())
                c.shutdown_write()
                assert c.read_until_close(5) == b"", "nothing to answer: a head never ended"
        time.sleep(0.3)
        report = p.sanitizer_report()
        assert report is None, report[-6000:]
        _nothing_reached(origin)
        _still_serves(p, origin)
        assert p.stop() == 0
        assert p.sanitizer_report() is None
    finally:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(5)
        p.close_files()


def test_half_closed_tunnel_still_returns_the_targets_bytes(proxy, tcp_echo, origin):
    p = proxy()
    with p.connect() as c:
        assert c.request("CONNECT", f"127.0.0.1:{tcp_echo.port}", auth=ALICE).status == 200
        c.send(b"half-open payload")
        c.shutdown_write()
        assert c.read_until_close(5) == b"half-open payload"
    assert tcp_echo.eof_seen.wait(5)
    _still_serves(p, origin)


# ---- 10,000 connections at once ----

def test_ten_thousand_connections_at_once_are_all_served_or_cleanly_refused(proxy, origin):
    n = 10_000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 1000
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {want}")
    raised = want if hard == resource.RLIM_INFINITY else min(hard, 65536)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, raised), hard))
    socks = []
    sel = selectors.DefaultSelector()
    try:
        # The proxy inherits the raised limit.
        p = proxy("--max-connections", "20000", "--max-connections-per-address", "0",
                  "--shutdown-grace", "2")
        start = time.monotonic()
        for _ in range(n):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", p.port))
            except BlockingIOError:
                pass
            socks.append(s)
            sel.register(s, selectors.EVENT_WRITE, [len(socks) - 1, b""])
        request = build_request("GET", origin.url("/echo"))  # answered by the proxy: 407
        outcome = {}
        pending = n
        deadline = start + 60
        while pending and time.monotonic() < deadline:
            for key, events in sel.select(1):
                s, state = key.fileobj, key.data
                if events & selectors.EVENT_WRITE:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    try:
                        if err:
                            raise OSError(err, "connect")
                        s.send(request)
                    except OSError as e:
                        outcome[state[0]] = f"error {e}"
                        sel.unregister(s)
                        pending -= 1
                        continue
                    sel.modify(s, selectors.EVENT_READ, state)
                    continue
                try:
                    data = s.recv(65536)
                except OSError as e:
                    data, outcome[state[0]] = b"", f"error {e}"
                state[1] += data
                head, sep, body = state[1].partition(b"\r\n\r\n")
                length = [l for l in head.split(b"\r\n") if l.lower().startswith(
                    b"content-length:")]
                if sep and length and len(body) >= int(length[0].split(b":")[1]):
                    outcome[state[0]] = int(state[1][9:12])
                elif not data:
                    outcome.setdefault(state[0], f"closed after {state[1][:40]!r}")
                else:
                    continue
                sel.unregister(s)
                pending -= 1
        elapsed = time.monotonic() - start
        statuses = {}
        for v in outcome.values():
            statuses[v] = statuses.get(v, 0) + 1
        assert pending == 0, f"{pending} connections unanswered after {elapsed:.1f}s: " \
                             f"{statuses}"
        assert set(statuses) <= {407, 503}, statuses
        # Meanwhile and afterwards a normal request is served.
        assert p.get(origin.url("/echo"), auth=ALICE, timeout=10).status == 200
        for s in socks:
            s.close()
        socks = []
        assert p.get(origin.url("/echo"), auth=ALICE, timeout=10).status == 200
        assert len(origin.snapshot()) == 2
    finally:
        sel.close()
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ---- pipelined floods ----

def _read_in_order(c, n, check, timeout=30):
    deadline = time.monotonic() + timeout
    for i in range(n):
        resp = c.response(timeout=max(0.1, deadline - time.monotonic()))
        check(i, resp)


def test_two_thousand_pipelined_requests_are_answered_in_order(proxy, fast_origin,
                                                               small_asan_quarantine):
    p = proxy()
    n = 2000
    data = b"".join(build_request("GET", fast_origin.url(f"/r{i}"), auth=ALICE)
                    for i in range(n))
    base = proc_rss_kib(p.proc.pid)
    with p.connect(timeout=30) as c:
        sender = threading.Thread(target=c.sock.sendall, args=(data,), daemon=True)
        sender.start()  # one send; read meanwhile so neither side can block the other

        def check(i, resp):
            assert resp.status == 200 and resp.body == f"/r{i}".encode(), (i, resp)

        _read_in_order(c, n, check)
        sender.join(10)
    assert fast_origin.snapshot() == [f"/r{i}" for i in range(n)]
    assert proc_rss_kib(p.proc.pid) - base < 64 * 1024


def test_two_thousand_pipelined_unauthenticated_requests_get_407_in_order(authed, origin):
    n = 2000
    data = b"".join(build_request("GET", origin.url(f"/echo?{i}")) for i in range(n))
    with authed.connect(timeout=30) as c:
        sender = threading.Thread(target=c.sock.sendall, args=(data,), daemon=True)
        sender.start()

        def check(i, resp):
            assert resp.status == 407, (i, resp)

        _read_in_order(c, n, check)
        sender.join(10)
    entries = authed.wait_access(n, timeout=10)
    assert [e["target"] for e in entries] == [origin.url(f"/echo?{i}") for i in range(n)]
    _nothing_reached(origin)
    _still_serves(authed, origin)


@pytest.mark.parametrize("authenticated", [False, True], ids=["refused", "forwarded"])
def test_a_pipelining_client_that_never_reads_cannot_grow_proxy_memory(proxy, fast_origin,
                                                                      authenticated,
                                                                      small_asan_quarantine):
    p = proxy()
    assert p.get(fast_origin.url("/warm"), auth=ALICE).status == 200
    base = proc_rss_kib(p.proc.pid)
    one = build_request("GET", fast_origin.url("/" + "p" * 200),
                        auth=ALICE if authenticated else None)
    data = one * 50_000  # ~15 MB of requests, never a response read
    c = p.connect(timeout=30)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sent = [0]

    def flood():
        view = memoryview(data)
        try:
            while sent[0] < len(data):
                sent[0] += c.sock.send(view[sent[0]:sent[0] + 65536])
        except OSError:
            pass

    sender = threading.Thread(target=flood, daemon=True)
    sender.start()
    try:
        time.sleep(3)
        assert sent[0] < len(data), "the proxy must stop reading a client that does not read"
        grown = proc_rss_kib(p.proc.pid) - base
        assert grown < 64 * 1024, f"proxy RSS grew by {grown} KiB"
        assert p.get(fast_origin.url("/other"), auth=ALICE).status == 200
    finally:
        # shutdown (not only close) so the blocked sender returns and the socket really goes
        try:
            c.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sender.join(5)
        c.close()
    assert p.get(fast_origin.url("/after"), auth=ALICE).status == 200


# ---- Proxy-Authorization values ----

PA_CASES = {
    "empty": ([b"Proxy-Authorization:"], 407),
    "whitespace": ([b"Proxy-Authorization:    "], 407),
    "scheme-only": ([b"Proxy-Authorization: Basic"], 407),
    "huge-valid-base64": ([("Proxy-Authorization: Basic " + b64("alice:" + "x" * 6000))
                           .encode()], 407),
    "huge-garbage": ([b"Proxy-Authorization: Basic " + b"A" * 9000], 407),
    "past-the-preauth-head-limit": ([b"Proxy-Authorization: Basic " + b"A" * 13000], 431),
    "binary-obs-text": ([b"Proxy-Authorization: Basic \x80\xff\xfe\xc3\xa9"], 407),
    "binary-control-bytes": ([b"Proxy-Authorization: Basic \x01\x02\x1b"], 400),
    "binary-decoded": ([("Proxy-Authorization: Basic " + b64(bytes(range(1, 256))))
                        .encode()], 407),
    "nul-in-decoded-user": ([("Proxy-Authorization: Basic " + b64(b"alice\x00:wonderland"))
                             .encode()], 407),
    "repeated-in-one-field": ([(AUTH + ", " + basic(*ALICE)).encode()], 407),
    "repeated-space-separated": ([(AUTH + " " + basic(*ALICE)).encode()], 407),
    "two-fields-identical": ([AUTH.encode(), AUTH.encode()], 400),
    "two-fields-different": ([AUTH.encode(), b"Proxy-Authorization: " + basic(
        "bob", "builder").encode()], 400),
    "two-fields-one-empty": ([AUTH.encode(), b"Proxy-Authorization:"], 400),
    "two-fields-differing-case": ([AUTH.encode(), ("proxy-authorization: "
                                                   + basic(*ALICE)).encode()], 400),
}


CLOSING_PA_CASES = ("past-the-preauth-head-limit", "binary-control-bytes")


@pytest.mark.parametrize("case", list(PA_CASES))
def test_hostile_proxy_authorization_gets_its_status(proxy, origin, case):
    p = proxy()
    lines, status = PA_CASES[case]
    head = (f"GET {origin.url('/echo')} HTTP/1.1\r\nHost: {origin.authority}\r\n").encode()
    must_close = case in CLOSING_PA_CASES  # a head that cannot be parsed ends the connection
    resp, closed = _exchange(p, head + b"\r\n".join(lines) + b"\r\n\r\n",
                             close_wait=3 if must_close else 0)
    assert closed in (True, None)
    _short_error(resp, status)
    if status == 407:
        assert resp.has("Proxy-Authenticate")
    _nothing_reached(origin)
    _still_serves(p, origin)
    # No credential material in any log.
    time.sleep(0.1)
    logs = "\n".join(p.access_lines() + p.auth_lines())
    for secret in ("wonderland", "builder", b64("alice:wonderland"), "AAAAAAAA", "xxxxxxxx"):
        assert secret not in logs, f"{secret!r} leaked into a log"


@pytest.mark.parametrize("value", ["basic " + b64("alice:wonderland"),
                                   "BASIC " + b64("alice:wonderland"),
                                   "Basic   " + b64("alice:wonderland"),
                                   basic(*ALICE) + "   "],
                         ids=["lowercase-scheme", "uppercase-scheme", "spaces-before-token",
                              "trailing-whitespace"])
def test_legal_proxy_authorization_spellings_are_accepted(authed, origin, value):
    resp = authed.request("GET", origin.url("/echo"),
                          headers=[("Proxy-Authorization", value)])
    assert resp.status == 200, resp
