"""Message bodies stream through intact in both directions, whatever their
framing: Content-Length, chunked (re-framed), close-delimited, large, absent
(HEAD, 204, 304) and with Expect: 100-continue."""

import hashlib
import json
import os
import time

import pytest

from helpers import ALICE, build_request, curl
from origin import pattern

TEN_MIB = 10 * 1024 * 1024


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _chunk(data, sizes=(3, 1000, 1, 7777, 65536)):
    out, pos, i = [], 0, 0
    while pos < len(data):
        piece = data[pos:pos + sizes[i % len(sizes)]]
        ext = b";name=value" if i == 1 else b""
        out.append(b"%x%s\r\n%s\r\n" % (len(piece), ext, piece))
        pos += len(piece)
        i += 1
    return b"".join(out)


def test_content_length_request_body_reaches_origin_intact(authed, origin):
    body = os.urandom(100_000)
    resp = authed.request("POST", origin.url("/upload"), auth=ALICE, body=body)
    assert resp.status == 200
    assert json.loads(resp.body) == {"length": len(body), "sha256": _sha(body)}
    assert origin.wait_requests(1)[0]["body"] == body


def test_chunked_request_body_is_reframed_and_reaches_origin_intact(authed, origin):
    body = os.urandom(150_000)
    wire = _chunk(body) + b"0\r\nX-Trailer: t\r\n\r\n"
    resp = authed.request("POST", origin.url("/upload"), auth=ALICE, body=wire,
                          headers=[("Transfer-Encoding", "chunked")])
    assert resp.status == 200
    assert json.loads(resp.body) == {"length": len(body), "sha256": _sha(body)}
    rec = origin.wait_requests(1)[0]
    names = [n.lower() for n, _ in rec["headers"]]
    assert not ("content-length" in names and "transfer-encoding" in names)
    assert names.count("content-length") <= 1 and names.count("transfer-encoding") <= 1


def test_chunked_request_body_trickled_in_small_writes_arrives_intact(authed, origin):
    body = pattern(5000)
    wire = _chunk(body, sizes=(10, 2000, 2990)) + b"0\r\n\r\n"
    head = build_request("POST", origin.url("/upload"), auth=ALICE,
                         headers=[("Transfer-Encoding", "chunked")])
    with authed.connect() as c:
        c.send(head)
        for i in range(0, len(wire), 997):
            c.send(wire[i:i + 997])
            time.sleep(0.02)
        resp = c.response()
    assert resp.status == 200
    assert json.loads(resp.body)["sha256"] == _sha(body)


def test_empty_chunked_request_body_is_forwarded(authed, origin):
    resp = authed.request("POST", origin.url("/upload"), auth=ALICE, body=b"0\r\n\r\n",
                          headers=[("Transfer-Encoding", "chunked")])
    assert resp.status == 200
    assert json.loads(resp.body)["length"] == 0


def test_request_with_a_body_followed_by_another_on_the_same_connection(authed, origin):
    with authed.connect() as c:
        r1 = c.request("POST", origin.url("/upload"), auth=ALICE, body=b"a" * 1000)
        r2 = c.request("POST", origin.url("/upload"), auth=ALICE, body=b"0\r\n\r\n",
                       headers=[("Transfer-Encoding", "chunked")])
        r3 = c.request("GET", origin.url("/bytes/5"), auth=ALICE)
    assert json.loads(r1.body)["length"] == 1000
    assert json.loads(r2.body)["length"] == 0
    assert r3.body == pattern(5)


def test_chunked_response_reaches_the_client_intact(authed, origin):
    resp = authed.get(origin.url("/chunked/200000"), auth=ALICE)
    assert resp.status == 200
    assert resp.body == pattern(200000)


def test_close_delimited_response_reaches_an_http11_client_intact(authed, origin):
    with authed.connect() as c:
        c.send(build_request("GET", origin.url("/close/300000"), auth=ALICE))
        resp = c.response()
    assert resp.status == 200
    assert resp.body == pattern(300000)


def test_close_delimited_response_reaches_an_http10_client_intact(authed, origin):
    with authed.connect() as c:
        c.send(build_request("GET", origin.url("/close/300000"), auth=ALICE, version="HTTP/1.0"))
        resp = c.response()
        assert not resp.chunked, "an HTTP/1.0 client cannot receive chunked"
    assert resp.status == 200
    assert resp.body == pattern(300000)


def test_chunked_origin_response_reaches_an_http10_client_without_chunked_framing(authed, origin):
    with authed.connect() as c:
        c.send(build_request("GET", origin.url("/chunked/70000"), auth=ALICE, version="HTTP/1.0"))
        resp = c.response()
        assert not resp.chunked
    assert resp.body == pattern(70000)


@pytest.mark.parametrize("endpoint", ["bytes", "chunked", "close"])
def test_ten_mib_download_through_curl_is_byte_for_byte(authed, origin, endpoint, tmp_path):
    out = tmp_path / "out.bin"
    r = curl(["-x", authed.url, "--proxy-user", "alice:wonderland", "-o", str(out),
              origin.url(f"/{endpoint}/{TEN_MIB}")], max_time=60)
    assert r.returncode == 0, r.stderr
    assert _sha(out.read_bytes()) == _sha(pattern(TEN_MIB))


def test_ten_mib_upload_with_content_length_through_curl_is_byte_for_byte(authed, origin, tmp_path):
    data = os.urandom(TEN_MIB)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    r = curl(["-x", authed.url, "--proxy-user", "alice:wonderland", "--data-binary", f"@{src}",
              "-H", "Content-Type: application/octet-stream", origin.url("/upload")], max_time=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"length": TEN_MIB, "sha256": _sha(data)}


def test_ten_mib_chunked_upload_through_curl_is_byte_for_byte(authed, origin):
    data = os.urandom(TEN_MIB)
    r = curl(["-x", authed.url, "--proxy-user", "alice:wonderland", "-T", "-",
              origin.url("/upload")], max_time=60, input=data)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"length": TEN_MIB, "sha256": _sha(data)}


def test_ten_mib_raw_upload_and_download_on_one_keep_alive_connection(authed, origin):
    data = os.urandom(TEN_MIB)
    with authed.connect(timeout=60) as c:
        up = c.request("PUT", origin.url("/upload"), auth=ALICE, body=data)
        assert up.status == 200 and not up.has("Connection"), up
        down = c.request("GET", origin.url(f"/bytes/{TEN_MIB}"), auth=ALICE)
    assert json.loads(up.body) == {"length": TEN_MIB, "sha256": _sha(data)}
    assert down.body == pattern(TEN_MIB)


@pytest.mark.parametrize("path", ["/bytes/5000", "/chunked/5000", "/echo"])
def test_head_response_has_no_body_and_the_connection_stays_in_sync(authed, origin, path):
    with authed.connect() as c:
        c.send(build_request("HEAD", origin.url(path), auth=ALICE))
        head = c.response("HEAD")
        assert head.status == 200
        c.send(build_request("GET", origin.url("/bytes/3"), auth=ALICE))
        nxt = c.response()
    if path == "/bytes/5000":
        assert head.header("Content-Length") == "5000"
    assert nxt.status == 200 and nxt.body == pattern(3)


@pytest.mark.parametrize("code", [204, 304])
def test_bodyless_status_has_no_body_and_the_connection_stays_in_sync(authed, origin, code):
    with authed.connect() as c:
        resp = c.request("GET", origin.url(f"/status/{code}"), auth=ALICE)
        assert resp.status == code
        assert not resp.has("Transfer-Encoding")
        nxt = c.request("GET", origin.url("/bytes/4"), auth=ALICE)
    assert nxt.status == 200 and nxt.body == pattern(4)


def test_curl_upload_with_expect_100_continue_does_not_stall(authed, origin, tmp_path):
    data = os.urandom(2 * 1024 * 1024)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    start = time.monotonic()
    r = curl(["-v", "-x", authed.url, "--proxy-user", "alice:wonderland", "-T", str(src),
              "--expect100-timeout", "6", origin.url("/upload")], max_time=30)
    elapsed = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    assert b"Expect: 100-continue" in r.stderr, "curl did not send Expect; test premise broken"
    assert json.loads(r.stdout) == {"length": len(data), "sha256": _sha(data)}
    assert elapsed < 5, f"curl waited {elapsed:.1f}s: no 100 Continue reached it"


def test_raw_expect_100_continue_gets_100_before_the_body_is_sent(authed, origin):
    body = pattern(50000)
    head = build_request("POST", origin.url("/upload"), auth=ALICE,
                         headers=[("Expect", "100-continue"), ("Content-Length", str(len(body)))])
    with authed.connect() as c:
        c.send(head)
        interim = c.response(skip_interim=False, timeout=5)
        assert interim.status == 100
        c.send(body)
        final = c.response()
    assert final.status == 200
    assert json.loads(final.body)["sha256"] == _sha(body)


def test_expect_100_continue_without_credentials_gets_a_final_407_not_100(authed, origin):
    head = build_request("POST", origin.url("/upload"),
                         headers=[("Expect", "100-continue"), ("Content-Length", "50000")])
    with authed.connect() as c:
        c.send(head)
        resp = c.response(skip_interim=False, timeout=5)
    assert resp.status == 407
    assert origin.heads_snapshot() == []
