"""Hostile and malformed input: request-smuggling shapes, size limits,
slow heads, and the shared raw cases in tests/cases/bad-STATUS-*.http. Every
rejected request must not reach the origin, and the proxy keeps serving."""

import glob
import os
import re
import threading
import time

import pytest

from helpers import ALICE, ConnectionClosed, basic

CASES_DIR = os.path.join(os.path.dirname(__file__), "..", "cases")
AUTH = "Proxy-Authorization: " + basic(*ALICE)


def _raw(origin, head_lines, body=b"", eol=b"\r\n"):
    """A request to the origin's /upload with valid credentials; head_lines are extra lines."""
    lines = [f"POST {origin.url('/upload')} HTTP/1.1", f"Host: {origin.authority}", AUTH]
    lines += head_lines
    return eol.join(l.encode("latin-1") if isinstance(l, str) else l for l in lines) + eol + eol + body


def _send_and_read(proxy, data, timeout=10):
    with proxy.connect(timeout=timeout) as c:
        c.send(data)
        resp = c.response()
        closed = c.wait_closed(5)
    return resp, closed


def _assert_still_serves(proxy, origin):
    resp = proxy.get(origin.url("/bytes/9"), auth=ALICE)
    assert resp.status == 200, f"proxy stopped serving after a bad request: {resp}"


def _assert_nothing_forwarded(origin, complete_only=False):
    time.sleep(0.2)  # let a wrongly forwarded request land at the origin
    if complete_only:
        assert origin.snapshot() == [], "the origin received a complete request"
    else:
        assert origin.heads_snapshot() == [], "the origin received the rejected request"


SMUGGLING = {
    "cl-and-te": (["Content-Length: 5", "Transfer-Encoding: chunked"], b"0\r\n\r\n"),
    "te-and-cl": (["Transfer-Encoding: chunked", "Content-Length: 5"], b"0\r\n\r\n"),
    "duplicate-cl-same": (["Content-Length: 5", "Content-Length: 5"], b"hello"),
    "duplicate-cl-different": (["Content-Length: 5", "Content-Length: 6"], b"hello!"),
    "cl-list": (["Content-Length: 5, 6"], b"hello!"),
    "cl-negative": (["Content-Length: -1"], b""),
    "cl-exponent": (["Content-Length: 1e3"], b""),
    "cl-plus": (["Content-Length: +5"], b"hello"),
    "cl-blank": (["Content-Length: "], b""),
    "cl-hex": (["Content-Length: 0x10"], b""),
    "cl-overflow": (["Content-Length: 99999999999999999999999"], b""),
    "te-chunked-then-identity": (["Transfer-Encoding: chunked, identity"], b"0\r\n\r\n"),
    "te-chunked-twice": (["Transfer-Encoding: chunked, chunked"], b"0\r\n\r\n"),
    "obs-fold": (["X-Folded: a", " continued"], b""),
    "obs-fold-te": (["Transfer-Encoding:", " chunked"], b"0\r\n\r\n"),
    "space-before-colon": (["X-Foo : bar"], b""),
    "space-before-colon-te": (["Transfer-Encoding : chunked"], b"0\r\n\r\n"),
    "nul-in-value": ([b"X-Foo: a\x00b"], b""),
    "cr-in-value": ([b"X-Foo: a\rb"], b""),
    "empty-header-name": ([": empty-name"], b""),
    "space-in-header-name": (["X Foo: bar"], b""),
    "no-colon": (["NoColonHere"], b""),
}


@pytest.mark.parametrize("shape", list(SMUGGLING))
def test_smuggling_shape_gets_400_and_nothing_reaches_origin(authed, origin, shape):
    lines, body = SMUGGLING[shape]
    resp, closed = _send_and_read(authed, _raw(origin, lines, body))
    assert resp.status == 400, resp
    assert 0 < len(resp.body) < 2048
    assert closed, "the connection must be closed after a framing error (RFC 9112 §6.3)"
    _assert_nothing_forwarded(origin)
    _assert_still_serves(authed, origin)


def test_bare_lf_line_endings_get_400(authed, origin):
    resp, _ = _send_and_read(authed, _raw(origin, ["Content-Length: 0"], eol=b"\n"))
    assert resp.status == 400
    _assert_nothing_forwarded(origin)
    _assert_still_serves(authed, origin)


def test_bare_lf_on_one_header_line_gets_400(authed, origin):
    data = _raw(origin, [b"X-A: 1\nX-B: 2", "Content-Length: 0"])
    resp, _ = _send_and_read(authed, data)
    assert resp.status == 400
    _assert_nothing_forwarded(origin)


@pytest.mark.parametrize("chunk", [b"ffffffffffffffffff\r\n", b"10000000000000000\r\n",
                                   b"zz\r\n", b"-1\r\n", b"5\r\nhelloXX0\r\n\r\n",
                                   b"5 \r\n"])
def test_bad_chunk_framing_gets_400_and_no_complete_request_reaches_origin(authed, origin, chunk):
    data = _raw(origin, ["Transfer-Encoding: chunked"], chunk)
    with authed.connect() as c:
        c.send(data)
        resp = c.response()
        assert resp.status == 400, resp
        assert c.wait_closed(5)
    _assert_nothing_forwarded(origin, complete_only=True)
    _assert_still_serves(authed, origin)


def test_unsupported_transfer_coding_gets_501(authed, origin):
    resp, _ = _send_and_read(authed, _raw(origin, ["Transfer-Encoding: gzip, chunked"],
                                          b"0\r\n\r\n"))
    assert resp.status == 501
    assert 0 < len(resp.body) < 2048
    _assert_nothing_forwarded(origin)
    _assert_still_serves(authed, origin)


def test_transfer_encoding_whose_last_coding_is_not_chunked_is_rejected(authed, origin):
    resp, _ = _send_and_read(authed, _raw(origin, ["Transfer-Encoding: gzip"], b""))
    assert resp.status in (400, 501)
    _assert_nothing_forwarded(origin)


@pytest.mark.parametrize("line,allowed", [
    ("GET  http://127.0.0.1:1/ HTTP/1.1", (400,)),
    ("GET http://127.0.0.1:1/ HTTP/1.1 ", (400,)),
    ("GET http://127.0.0.1:1/ http/1.1", (400,)),
    ("GET http://127.0.0.1:1/ HTTP/1.1.1", (400, 505)),
    ("GET http://127.0.0.1:1/ HTTP/11", (400, 505)),
    ("G\x7fT http://127.0.0.1:1/ HTTP/1.1", (400,)),
    ("GET http://127.0.0.1:1/a b HTTP/1.1", (400,)),
    ("GET HTTP/1.1", (400,)),
    ("GET", (400,)),
], ids=["double-space", "trailing-space", "lowercase-version", "long-version", "no-dot-version",
        "control-in-method", "space-in-target", "missing-target", "method-only"])
def test_malformed_request_line_gets_400(authed, origin, line, allowed):
    data = (line + "\r\nHost: x\r\n" + AUTH + "\r\n\r\n").encode("latin-1")
    resp, _ = _send_and_read(authed, data)
    assert resp.status in allowed, resp
    _assert_still_serves(authed, origin)


def test_http2_preface_gets_an_error_not_a_hang(authed, origin):
    with authed.connect(timeout=10) as c:
        c.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        try:
            resp = c.response()
            assert resp.status in (400, 505)
        except ConnectionClosed:
            pass
    _assert_still_serves(authed, origin)


def test_request_line_over_the_default_limit_gets_414(authed, origin):
    target = origin.url("/echo?" + "a" * 9000)
    data = f"GET {target} HTTP/1.1\r\nHost: {origin.authority}\r\n{AUTH}\r\n\r\n".encode()
    resp, _ = _send_and_read(authed, data)
    assert resp.status == 414
    _assert_nothing_forwarded(origin)
    _assert_still_serves(authed, origin)


def test_too_many_header_fields_by_default_get_431(authed, origin):
    lines = [f"X-H{i}: v" for i in range(120)] + ["Content-Length: 0"]
    resp, _ = _send_and_read(authed, _raw(origin, lines))
    assert resp.status == 431
    _assert_nothing_forwarded(origin)
    _assert_still_serves(authed, origin)


def test_head_over_the_default_size_gets_431(authed, origin):
    lines = [f"X-Big{i}: " + "b" * 4000 for i in range(5)] + ["Content-Length: 0"]
    resp, _ = _send_and_read(authed, _raw(origin, lines))
    assert resp.status == 431
    _assert_nothing_forwarded(origin)
    _assert_still_serves(authed, origin)


def test_endless_head_without_terminator_gets_431_not_unbounded_buffering(authed, origin):
    with authed.connect(timeout=10) as c:
        c.send(f"GET {origin.url('/echo')} HTTP/1.1\r\n".encode())
        try:
            for _ in range(24):  # 24 KiB, past the 16 KiB default
                c.send(b"X-Pad: " + b"p" * 1000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = c.response()
    assert resp.status == 431
    _assert_still_serves(authed, origin)


def test_partial_head_gets_408_after_the_header_timeout(proxy, origin):
    p = proxy("--header-timeout", "1")
    with p.connect(timeout=10) as c:
        c.send(f"GET {origin.url('/echo')} HTTP/1.1\r\nHost: x\r\n".encode())
        start = time.monotonic()
        resp = c.response()
        elapsed = time.monotonic() - start
        assert resp.status == 408
        assert c.wait_closed(5)
    assert 0.7 <= elapsed < 4, elapsed
    _assert_nothing_forwarded(origin)
    _assert_still_serves(p, origin)


def test_trickled_head_gets_408_even_though_bytes_keep_arriving(proxy, origin):
    p = proxy("--header-timeout", "1")
    head = (f"GET {origin.url('/echo')} HTTP/1.1\r\nHost: x\r\n" + "X-Slow: " + "s" * 60).encode()
    stop = threading.Event()
    with p.connect(timeout=10) as c:
        raw = c.sock

        def trickle():
            for ch in head:
                if stop.is_set():
                    return
                try:
                    raw.send(bytes([ch]))
                except OSError:
                    return
                time.sleep(0.1)

        sender = threading.Thread(target=trickle, daemon=True)
        start = time.monotonic()
        sender.start()
        try:
            resp = c.response(timeout=5)
        finally:
            stop.set()
            sender.join(2)
    assert resp.status == 408, resp
    assert time.monotonic() - start < 4
    _assert_nothing_forwarded(origin)


def test_connection_that_sends_nothing_is_closed_after_the_header_timeout(proxy, origin):
    p = proxy("--header-timeout", "1")
    with p.connect(timeout=10) as c:
        start = time.monotonic()
        # Either a 408 or a silent close is fine for a connection that never spoke.
        assert c.wait_closed(6)
        assert time.monotonic() - start < 5


def test_unauthenticated_body_over_the_preauth_limit_is_not_forwarded(proxy, origin):
    p = proxy("--preauth-body-max", "1024")
    body = b"z" * 200_000
    data = (f"POST {origin.url('/upload')} HTTP/1.1\r\nHost: {origin.authority}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with p.connect(timeout=10) as c:
        c.send(data)
        try:
            c.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = c.response()
    assert resp.status in (407, 413)
    _assert_nothing_forwarded(origin)
    _assert_still_serves(p, origin)


# ---- the shared raw cases (tests/cases/bad-STATUS-reason.http) ----

def _bad_cases():
    files = sorted(glob.glob(os.path.join(CASES_DIR, "bad-*.http")))
    return [pytest.param(f, id=os.path.basename(f)) for f in files] or [
        pytest.param(None, marks=pytest.mark.skip(reason="no tests/cases/bad-*.http files yet"))]


@pytest.mark.parametrize("case", _bad_cases())
def test_shared_bad_case_gets_its_status_and_the_proxy_still_serves(proxy, origin, case):
    m = re.match(r"bad-(\d{3})-", os.path.basename(case))
    assert m, f"case file name must be bad-STATUS-reason.http: {case}"
    expected = int(m.group(1))
    p = proxy("--header-timeout", "1")
    with open(case, "rb") as f:
        data = f.read()
    with p.connect(timeout=10) as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = c.response(timeout=8)
    assert resp.status == expected, f"{os.path.basename(case)}: got {resp.status} {resp.reason}"
    assert 0 < len(resp.body) < 4096, "an error response carries a short text body"
    _assert_still_serves(p, origin)
