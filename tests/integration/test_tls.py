"""The TLS listener ("HTTPS proxy"): curl with -x https://, CONNECT (TLS inside TLS),
keep-alive, protocol versions, the handshake timeout, Basic kept off plaintext listeners,
certificate reload under load, and session resumption.

The PKI comes from the session fixture tls_ca (openssl CLI: root, intermediate, leaves for
127.0.0.1/localhost); the proxy serves leaf + intermediate, clients trust only the root."""

import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import warnings

import pytest

from helpers import (ALICE, Client, TlsClient, basic, build_request, clean_env, curl, free_port,
                     tls_client_context, wait_for)
from origin import pattern

BASIC_WARNING = "Basic credentials cross plaintext listeners"


def proxy_args(p, insecure=False, cacert=None):
    args = ["-x", p.tls_url]
    args += ["--proxy-insecure"] if insecure else ["--proxy-cacert", cacert or p.ca]
    return args


def entries_for(p, target, n=1, timeout=5.0):
    """Access-log entries whose target is `target`, waiting for at least n of them."""
    wait_for(lambda: len([e for e in p.access_entries() if e.get("target") == target]) >= n,
             timeout)
    found = [e for e in p.access_entries() if e.get("target") == target]
    assert len(found) >= n, f"expected {n} log lines for {target}: {p.access_lines()!r}"
    return found


def reasons(p):
    return [e.get("reason") for e in p.access_entries()]


# ---- curl through the TLS listener ----

def test_curl_basic_over_tls_listener(tls_proxy, origin):
    p = tls_proxy()
    url = origin.url("/bytes/5000")
    r = curl([*proxy_args(p), "-U", "%s:%s" % ALICE, "-o", "-", "-w", "\n%{http_code}", url])
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition(b"\n")
    assert code == b"200" and body == pattern(5000)
    e = entries_for(p, url)[-1]
    assert (e["user"], e["method"], e["status"]) == ("alice", "GET", "200")
    assert (e["listener"], e["tls"]) == ("127.0.0.1:%d" % p.tls_port, "TLSv1.3"), e
    assert origin.snapshot()[-1]["target"] == "/bytes/5000"
    assert not any(n.lower() == "proxy-authorization" for n, _ in origin.snapshot()[-1]["headers"])


def test_tls_listener_offers_basic_and_refuses_bad_password(tls_proxy, origin):
    p = tls_proxy()
    with p.tls_connect() as c:
        r = c.request("GET", origin.url("/echo"))
        assert r.status == 407
        assert any(v.lower().startswith("basic ") for v in r.all("Proxy-Authenticate")), r
    with p.tls_connect() as c:
        r = c.request("GET", origin.url("/echo"), auth=("alice", "not-the-password"))
        assert r.status == 407
    with p.tls_connect() as c:
        r = c.request("GET", origin.url("/echo"), auth=ALICE)
        assert r.status == 200
    assert len(origin.snapshot()) == 1


def test_curl_digest_over_tls_listener(tls_proxy, tg_users, origin):
    p = tls_proxy("--users", tg_users.path, "--auth", "digest", htpasswd=None)
    url = origin.url("/bytes/3000")
    r = curl([*proxy_args(p), "--proxy-digest", "-U", "%s:%s" % ALICE, "-o", "-", "-w",
              "\n%{http_code}", url])
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition(b"\n")
    assert code == b"200" and body == pattern(3000)
    e = entries_for(p, url, 2)
    assert [(x["user"], x["status"]) for x in e[-2:]] == [("-", "407"), ("alice", "200")]
    assert any(rec.get("scheme") == "digest" and rec.get("result") == "ok"
               for rec in p.wait_auth(1)), p.auth_lines()


def test_curl_proxy_insecure_and_verification(tls_proxy, origin, tmp_path):
    p = tls_proxy()
    url = origin.url("/bytes/100")
    r = curl([*proxy_args(p, insecure=True), "-U", "%s:%s" % ALICE, "-o", "-", url])
    assert r.returncode == 0 and r.stdout == pattern(100), r.stderr
    # Without the CA or --proxy-insecure, curl must refuse the proxy's certificate ...
    r = curl(["-x", p.tls_url, "-U", "%s:%s" % ALICE, "-o", "-", url])
    assert r.returncode == 60, (r.returncode, r.stderr)
    # ... and the chain (leaf + intermediate) verifies against the root for both names.
    r = curl(["-x", f"https://localhost:{p.tls_port}", "--proxy-cacert", p.ca, "-U",
              "%s:%s" % ALICE, "-o", "-", url])
    assert r.returncode == 0 and r.stdout == pattern(100), r.stderr


def test_connect_to_tls_origin_through_tls_listener_1mib(tls_proxy, tls_origin, tmp_path):
    """TLS inside TLS: curl's TLS to the origin runs inside its TLS to the proxy."""
    p = tls_proxy(connect_ports=str(tls_origin.port))
    out = tmp_path / "body"
    url = tls_origin.url("/bytes/1048576")
    r = curl([*proxy_args(p), "-U", "%s:%s" % ALICE, "--cacert", p.ca, "-o", str(out),
              "-w", "%{http_code} %{num_connects}", url], max_time=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == b"200"
    data = out.read_bytes()
    assert len(data) == 1 << 20
    assert hashlib.sha256(data).digest() == hashlib.sha256(pattern(1 << 20)).digest()
    e = entries_for(p, tls_origin.authority)[-1]
    assert (e["method"], e["user"], e["status"]) == ("CONNECT", "alice", "200")
    assert int(e["bytes_out"]) > 1 << 20  # the tunnel carried the whole body
    assert tls_origin.snapshot()[-1]["target"] == "/bytes/1048576"


def test_connect_echo_through_tls_listener(tls_proxy, tcp_echo):
    """Raw CONNECT over the TLS listener: 1 MiB through the echo server arrives intact, in
    pieces of every size up to 64 KiB (an SSL object is used from one thread only: OpenSSL
    does not allow concurrent reads and writes on it)."""
    p = tls_proxy()
    with p.tls_connect() as c:
        r = c.request("CONNECT", f"127.0.0.1:{tcp_echo.port}", auth=ALICE)
        assert r.status == 200, r
        payload = os.urandom(1 << 20)
        pos, size = 0, 1
        while pos < len(payload):
            piece = payload[pos:pos + size]
            c.send(piece)
            assert c.read_exact(len(piece), timeout=10) == piece, f"at offset {pos}"
            pos += len(piece)
            size = min(size * 2 + 1, 65536)
    e = entries_for(p, f"127.0.0.1:{tcp_echo.port}")[-1]
    assert (e["method"], e["status"], e["user"]) == ("CONNECT", "200", "alice")
    assert int(e["bytes_out"]) >= 1 << 20 and int(e["bytes_in"]) >= 1 << 20, e


def test_connect_data_in_same_tls_record_as_request(tls_proxy, tcp_echo):
    """Bytes that follow the CONNECT head in the same TLS record (already decrypted inside
    the proxy's TLS buffer) must reach the tunnel, not be lost or wait for more input."""
    p = tls_proxy()
    with p.tls_connect() as c:
        head = (f"CONNECT 127.0.0.1:{tcp_echo.port} HTTP/1.1\r\nHost: 127.0.0.1:{tcp_echo.port}"
                f"\r\nProxy-Authorization: {basic(*ALICE)}\r\n\r\n").encode()
        c.send(head + b"early-bytes")
        r = c.response("CONNECT")
        assert r.status == 200, r
        assert c.read_exact(len(b"early-bytes"), timeout=5) == b"early-bytes"


def test_pipelined_requests_in_one_tls_record(tls_proxy, origin):
    p = tls_proxy()
    with p.tls_connect() as c:
        c.send(b"".join(build_request("GET", origin.url(f"/bytes/{n}"), auth=ALICE)
                        for n in (11, 22, 33)))
        for n in (11, 22, 33):
            r = c.response(timeout=10)
            assert r.status == 200 and r.body == pattern(n)


def test_large_upload_and_slow_reader_over_tls(tls_proxy, origin):
    p = tls_proxy()
    body = os.urandom(2 * 1024 * 1024)
    with p.tls_connect(timeout=30) as c:
        r = c.request("POST", origin.url("/upload"), body=body, auth=ALICE, timeout=30)
        assert r.status == 200, r
        assert json.loads(r.body) == {"length": len(body),
                                      "sha256": hashlib.sha256(body).hexdigest()}
        # 8 MiB down to a client that reads slowly: the proxy must cope with TLS writes
        # that cannot complete (WANT_WRITE) and resume them intact.
        n = 8 * 1024 * 1024
        c.send(build_request("GET", origin.url(f"/bytes/{n}"), auth=ALICE))
        time.sleep(1.0)
        r = c.response(timeout=30)
        assert r.status == 200 and len(r.body) == n
        assert hashlib.sha256(r.body).digest() == hashlib.sha256(pattern(n)).digest()


def test_keep_alive_over_tls_curl_two_urls(tls_proxy, origin):
    p = tls_proxy()
    u1, u2 = origin.url("/bytes/10"), origin.url("/bytes/20")
    r = curl([*proxy_args(p), "-U", "%s:%s" % ALICE, "-o", "/dev/null", "-o", "/dev/null",
              "-w", "%{http_code} %{num_connects}\n", u1, u2])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split(b"\n")[:2] == [b"200 1", b"200 0"], r.stdout
    e1, e2 = entries_for(p, u1)[-1], entries_for(p, u2)[-1]
    assert e1["client"] == e2["client"], (e1, e2)  # same client port: one TLS connection
    assert e1["status"] == e2["status"] == "200"


def test_keep_alive_over_tls_raw_many_requests(tls_proxy, origin):
    p = tls_proxy()
    with p.tls_connect() as c:
        for i in range(20):
            n = 1000 + i * 3001
            r = c.request("GET", origin.url(f"/chunked/{n}" if i % 2 else f"/bytes/{n}"),
                          auth=ALICE)
            assert r.status == 200 and r.body == pattern(n)
        port = c.local_port
    clients = {e["client"] for e in p.wait_access(20) if e["status"] == "200"}
    assert clients == {f"127.0.0.1:{port}"}


def test_two_tls_listeners_and_a_plaintext_one(tls_proxy, origin):
    p = tls_proxy(tls_listeners=2, plain=True)
    for i in range(2):
        with p.tls_connect(index=i) as c:
            assert c.request("GET", origin.url("/bytes/7"), auth=ALICE).status == 200
    assert len(origin.snapshot()) == 2


def test_ipv6_tls_listener(proxy, tls_ca, origin):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        port = free_port("::1")
    except OSError:
        pytest.skip("no ::1 on this host")
    p = proxy("--tls-listen", f"[::1]:{port}", "--tls-cert", tls_ca.proxy_cert, "--tls-key",
              tls_ca.proxy_key, listen=())
    ctx = tls_client_context(tls_ca.ca_cert)
    ctx.check_hostname = False  # the certificate names 127.0.0.1 and localhost; chain checked
    deadline = time.monotonic() + 10
    while True:
        try:
            c = TlsClient(port, host="::1", context=ctx)
            break
        except (OSError, ssl.SSLError):
            assert time.monotonic() < deadline, p.stderr()
            time.sleep(0.05)
    with c:
        assert c.request("GET", origin.url("/bytes/6"), auth=ALICE).status == 200
    e = entries_for(p, origin.url("/bytes/6"))[-1]
    assert e["client"].startswith("[::1]:") or e["client"].startswith("::1"), e


# ---- protocol versions, ciphers, ALPN ----

@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_old_tls_client_refused_and_logged(tls_proxy, version):
    p = tls_proxy()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this OpenSSL actually offer TLS 1.0/1.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # deprecated is the point
        ctx.minimum_version = getattr(ssl.TLSVersion, version)
        ctx.maximum_version = getattr(ssl.TLSVersion, version)
    raw = socket.create_connection(("127.0.0.1", p.tls_port), timeout=5)
    try:
        with pytest.raises(ssl.SSLError) as info:
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        # A refusal by the server (protocol_version alert), not a local configuration error.
        assert "ALERT_PROTOCOL_VERSION" in str(info.value).upper(), info.value
    finally:
        raw.close()
    wait_for(lambda: "tls_handshake_failed" in reasons(p))
    failed = [e for e in p.access_entries() if e.get("reason") == "tls_handshake_failed"]
    assert len(failed) == 1, p.access_lines()
    assert failed[0]["client"].startswith("127.0.0.1:")


def test_openssl_s_client_tls1_refused(tls_proxy):
    p = tls_proxy()
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{p.tls_port}", "-tls1",
                        "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile", p.ca], input=b"",
                       capture_output=True, timeout=20, env=clean_env())
    assert r.returncode != 0, r.stdout
    assert wait_for(lambda: "tls_handshake_failed" in reasons(p)), p.access_lines()


@pytest.mark.parametrize("version,name", [("TLSv1_2", "TLSv1.2"), ("TLSv1_3", "TLSv1.3")])
def test_tls12_and_tls13_accepted(tls_proxy, origin, version, name):
    p = tls_proxy()
    v = getattr(ssl.TLSVersion, version)
    ctx = tls_client_context(p.ca, minimum=v, maximum=v)
    with TlsClient(p.tls_port, context=ctx) as c:
        assert c.version == name
        assert c.request("GET", origin.url("/bytes/10"), auth=ALICE).status == 200


def test_weak_tls12_ciphers_refused(tls_proxy):
    p = tls_proxy()
    ctx = tls_client_context(p.ca, maximum=ssl.TLSVersion.TLSv1_2)
    ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:AES128-SHA:AES128-SHA256")
    with pytest.raises(ssl.SSLError):
        TlsClient(p.tls_port, context=ctx).close()
    assert wait_for(lambda: "tls_handshake_failed" in reasons(p)), p.access_lines()


def test_client_renegotiation_refused(tls_proxy):
    """TLS 1.2 renegotiation is off (SSL_OP_NO_RENEGOTIATION): openssl s_client's "R"
    gets a no_renegotiation alert."""
    p = tls_proxy()
    proc = subprocess.Popen(["openssl", "s_client", "-tls1_2", "-connect",
                             f"127.0.0.1:{p.tls_port}", "-CAfile", p.ca],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=clean_env())
    try:
        time.sleep(0.5)
        proc.stdin.write(b"R\n")
        proc.stdin.flush()
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    text = out.decode("utf-8", "replace")
    assert "Verify return code: 0" in text, text
    assert "RENEGOTIATING" in text and "no renegotiation" in text, text


def test_alpn_http11_only(tls_proxy, origin):
    p = tls_proxy()
    with TlsClient(p.tls_port, context=tls_client_context(p.ca, alpn=["h2", "http/1.1"])) as c:
        assert c.alpn == "http/1.1"
        assert c.request("GET", origin.url("/bytes/3"), auth=ALICE).status == 200
    # Offered only h2, the proxy does not pretend to speak it.
    with TlsClient(p.tls_port, context=tls_client_context(p.ca, alpn=["h2"])) as c:
        assert c.alpn is None


def test_plain_http_to_tls_listener_is_refused_and_logged(tls_proxy, origin):
    p = tls_proxy()
    with Client(p.tls_port) as c:
        c.send(f"GET {origin.url('/bytes/1')} HTTP/1.1\r\nHost: x\r\n"
               f"Proxy-Authorization: {basic(*ALICE)}\r\n\r\n")
        data = c.read_until_close(timeout=5)
        assert not data.startswith(b"HTTP/"), data
    assert wait_for(lambda: "tls_handshake_failed" in reasons(p)), p.access_lines()
    assert origin.snapshot() == []


# ---- handshake timeout ----

@pytest.mark.parametrize("partial", [False, True], ids=["silent", "half-clienthello"])
def test_handshake_timeout(tls_proxy, partial):
    p = tls_proxy("--tls-handshake-timeout", "1")
    with Client(p.tls_port) as c:
        start = time.monotonic()
        if partial:
            # The first bytes of a TLS record header announcing a ClientHello, then nothing.
            c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        assert c.wait_closed(timeout=6), "proxy kept a silent TLS connection open"
        elapsed = time.monotonic() - start
    assert 0.7 <= elapsed <= 4.0, elapsed
    wait_for(lambda: "tls_handshake_timeout" in reasons(p))
    rs = reasons(p)
    assert rs.count("tls_handshake_timeout") == 1 and "tls_handshake_failed" not in rs, rs


def test_stalled_handshakes_do_not_block_others(tls_proxy, origin):
    """Handshakes run on the event loop without blocking it: with one worker thread and
    several clients stalled mid-handshake, a fresh client is served at once."""
    p = tls_proxy("--tls-handshake-timeout", "10", threads=1)
    stalled = [Client(p.tls_port) for _ in range(8)]
    try:
        for i, c in enumerate(stalled):
            if i % 2:
                c.send(b"\x16\x03\x01\x02\x00\x01")  # a ClientHello that never finishes
        start = time.monotonic()
        with p.tls_connect(timeout=3) as c:
            assert c.request("GET", origin.url("/bytes/4"), auth=ALICE).status == 200
        assert time.monotonic() - start < 4.0
    finally:
        for c in stalled:
            c.close()


def test_header_timeout_applies_after_handshake(tls_proxy):
    p = tls_proxy("--header-timeout", "1", "--tls-handshake-timeout", "10")
    with p.tls_connect() as c:
        c.send(b"GET http://127.0.0.1:9/ HTTP/1.1\r\nHost: 127.0.0.1")
        start = time.monotonic()
        assert c.wait_closed(timeout=6), "a slow request head over TLS was never timed out"
        assert time.monotonic() - start < 4.0


def test_client_close_notify_ends_tunnel(tls_proxy, tcp_echo):
    """A TLS client that ends the tunnel (close_notify, then TCP close) makes the proxy
    close the upstream side too."""
    p = tls_proxy()
    c = p.tls_connect()
    r = c.request("CONNECT", f"127.0.0.1:{tcp_echo.port}", auth=ALICE)
    assert r.status == 200, r
    c.send(b"ping")
    assert c.read_exact(4) == b"ping"
    raw = c.sock.unwrap()  # sends close_notify
    raw.close()
    assert tcp_echo.eof_seen.wait(5), "upstream never saw the tunnel end"
    e = entries_for(p, f"127.0.0.1:{tcp_echo.port}")[-1]
    assert e["status"] == "200"


def test_tcp_fin_without_close_notify_ends_tunnel_like_eof(tls_proxy, tcp_echo):
    p = tls_proxy()
    c = p.tls_connect()
    try:
        assert c.request("CONNECT", f"127.0.0.1:{tcp_echo.port}", auth=ALICE).status == 200
        c.send(b"last words " * 300)  # 3300 bytes
        # TCP FIN on the raw socket, no close_notify (many TLS stacks close this way).
        socket.socket(fileno=os.dup(c.sock.fileno())).shutdown(socket.SHUT_WR)
        assert tcp_echo.eof_seen.wait(5), "upstream never saw the tunnel end"
        e = entries_for(p, f"127.0.0.1:{tcp_echo.port}")[-1]
        got = bytes(tcp_echo.received[-1])
        assert got == b"last words " * 300, f"upstream got {len(got)} of 3300 bytes"
        assert e["reason"] == "tunnel_closed", e
    finally:
        c.close()


def test_upstream_close_ends_tls_tunnel(tls_proxy, tls_origin):
    """The origin closing its side (a close-delimited body inside the inner TLS) reaches
    the client: curl sees the whole body and the connection end."""
    p = tls_proxy(connect_ports=str(tls_origin.port))
    r = curl([*proxy_args(p), "-U", "%s:%s" % ALICE, "--cacert", p.ca, "-o", "-",
              tls_origin.url("/close/70000")])
    assert r.returncode == 0, r.stderr
    assert r.stdout == pattern(70000)


def test_handshake_timeout_does_not_hit_slow_but_complete_handshakes(tls_proxy, origin):
    """A completed handshake leaves the handshake timer: the connection then lives by the
    header/idle timeouts, well past the handshake bound."""
    p = tls_proxy("--tls-handshake-timeout", "1")
    with p.tls_connect() as c:
        time.sleep(1.6)
        assert c.request("GET", origin.url("/bytes/5"), auth=ALICE).status == 200
    assert "tls_handshake_timeout" not in reasons(p)


# ---- Basic on plaintext listeners ----

def test_basic_refused_on_plaintext_when_tls_listener_exists(tls_proxy, tg_users, origin):
    p = tls_proxy("--users", tg_users.path, plain=True, htpasswd=None)
    url = origin.url("/bytes/8")
    r = p.get(url, auth=ALICE)
    assert r.status == 407, r
    offered = [v.split()[0].lower() for v in r.all("Proxy-Authenticate")]
    assert "digest" in offered and "basic" not in offered, r
    e = entries_for(p, url)[-1]
    assert (e["status"], e["reason"]) == ("407", "basic_on_plaintext_refused")
    # The same credentials over the TLS listener work.
    with p.tls_connect() as c:
        assert c.request("GET", url, auth=ALICE).status == 200
    assert len(origin.snapshot()) == 1
    assert BASIC_WARNING not in p.stderr()


def test_curl_basic_refused_on_plaintext_with_tls_listener(tls_proxy, tg_users, origin):
    p = tls_proxy("--users", tg_users.path, plain=True, htpasswd=None)
    url = origin.url("/bytes/8")
    r = curl(["-x", p.url, "-U", "%s:%s" % ALICE, "-o", "/dev/null", "-w", "%{http_code}", url])
    assert r.stdout == b"407", (r.stdout, r.stderr)
    assert origin.snapshot() == []


TLS_REQUIRED_WARNING = "plaintext listeners answer them 403 tls_required"


def test_plaintext_listener_with_only_basic_offered_answers_403_tls_required(tls_proxy, origin):
    """RFC 9110 11.7.1: a 407 must carry a challenge. When Basic is all a client could be
    offered and it is kept to TLS, the plaintext listener says so with a 403 instead."""
    p = tls_proxy(plain=True)
    url = origin.url("/bytes/1")
    for auth in (None, ALICE):
        r = p.get(url, auth=auth)
        assert r.status == 403, r
        assert r.all("Proxy-Authenticate") == [], r
        assert b"TLS listener" in r.body and b"https://" in r.body, r.body
    assert [e["reason"] for e in entries_for(p, url, n=2)] == ["tls_required"] * 2
    # Only the request that carried credentials is an authentication attempt.
    (rec,) = p.wait_auth(1)
    assert (rec["scheme"], rec["result"], rec["reason"], rec["user"]) == (
        "basic", "refused", "basic_on_plaintext_refused", None), rec
    assert TLS_REQUIRED_WARNING in p.stderr()
    assert BASIC_WARNING not in p.stderr()
    # The TLS listener still works, and nothing reached the origin over plaintext.
    with p.tls_connect() as c:
        assert c.request("GET", url, auth=ALICE).status == 200
    assert len(origin.snapshot()) == 1


def test_access_log_names_the_listener_and_tls_version_of_each_request(tls_proxy, origin):
    p = tls_proxy("--basic-on-plaintext", plain=True)
    url = origin.url("/bytes/3")
    assert p.get(url, auth=ALICE).status == 200
    ctx = tls_client_context(p.ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with p.tls_connect(context=ctx) as c:
        assert c.version == "TLSv1.2"
        assert c.request("GET", url, auth=ALICE).status == 200
    with p.tls_connect() as c:
        assert c.request("GET", url, auth=ALICE).status == 200
    got = [(e["listener"], e["tls"]) for e in entries_for(p, url, n=3)]
    tls_l = "127.0.0.1:%d" % p.tls_port
    assert got == [("%s:%d" % p.addrs[0], "-"), (tls_l, "TLSv1.2"), (tls_l, "TLSv1.3")], got


def test_curl_reports_403_on_plaintext_with_only_basic_kept_to_tls(tls_proxy, origin):
    p = tls_proxy(plain=True)
    url = origin.url("/bytes/1")
    r = curl(["-x", p.url, "-U", "%s:%s" % ALICE, "-o", "/dev/null", "-w", "%{http_code}", url])
    assert r.stdout == b"403", (r.stdout, r.stderr)
    assert origin.snapshot() == []


def test_no_tls_required_warning_when_digest_is_offered_too(tls_proxy, tg_users):
    p = tls_proxy("--users", tg_users.path, plain=True, htpasswd=None)
    assert TLS_REQUIRED_WARNING not in p.stderr()


def test_digest_still_offered_on_plaintext_with_tls_listener(tls_proxy, tg_users, origin):
    p = tls_proxy("--users", tg_users.path, plain=True, htpasswd=None)
    url = origin.url("/bytes/9")
    r = p.get(url)
    offered = [v.split()[0].lower() for v in r.all("Proxy-Authenticate")]
    assert r.status == 407 and "digest" in offered and "basic" not in offered, r
    r = curl(["-x", p.url, "--proxy-digest", "-U", "%s:%s" % ALICE, "-o", "-", url])
    assert r.returncode == 0 and r.stdout == pattern(9), r.stderr
    # Over TLS, Basic is offered alongside.
    with p.tls_connect() as c:
        offered = [v.split()[0].lower() for v in c.request("GET", url).all("Proxy-Authenticate")]
        assert "basic" in offered and "digest" in offered


def test_basic_on_plaintext_flag_allows_it(tls_proxy, origin):
    p = tls_proxy("--basic-on-plaintext", plain=True)
    url = origin.url("/bytes/8")
    r = p.get(url)
    assert r.status == 407
    assert any(v.lower().startswith("basic") for v in r.all("Proxy-Authenticate")), r
    r = curl(["-x", p.url, "-U", "%s:%s" % ALICE, "-o", "-", url])
    assert r.returncode == 0 and r.stdout == pattern(8), r.stderr
    assert wait_for(lambda: p.stderr().count(BASIC_WARNING) == 1), p.stderr()


def test_startup_warning_with_only_plaintext_listeners(proxy, origin):
    p = proxy()
    assert wait_for(lambda: BASIC_WARNING in p.stderr()), p.stderr()
    # It warns, and Basic works.
    assert p.get(origin.url("/bytes/1"), auth=ALICE).status == 200
    assert p.stderr().count(BASIC_WARNING) == 1


def test_no_warning_with_tls_only(tls_proxy, origin):
    p = tls_proxy()
    with p.tls_connect() as c:
        assert c.request("GET", origin.url("/bytes/1"), auth=ALICE).status == 200
    assert BASIC_WARNING not in p.stderr()
    # --tls-listen alone replaces the default plaintext 127.0.0.1:3128.
    listening = [l for l in p.stderr().splitlines() if "listening on" in l]
    assert listening and all(f":{p.tls_port}" in l for l in listening), listening


# ---- SIGHUP reload of certificate and key ----

def private_pair(tls_ca, tmp_path, name="live"):
    """Copies of the proxy pair that a test may overwrite."""
    cert, key = str(tmp_path / f"{name}.pem"), str(tmp_path / f"{name}.key")
    shutil.copyfile(tls_ca.proxy_cert, cert)
    shutil.copyfile(tls_ca.proxy_key, key)
    return cert, key


def replace_pair(cert, key, new_cert, new_key):
    """Atomically swaps in a new pair (rename over the old files)."""
    for src, dst in ((new_cert, cert), (new_key, key)):
        tmp = dst + ".new"
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


def current_serial(p):
    with p.tls_connect() as c:
        return c.serial


def test_cert_reload_under_load(tls_proxy, tls_ca, origin, tmp_path):
    cert, key = private_pair(tls_ca, tmp_path)
    p = tls_proxy(cert=cert, key=key, threads=2)
    new_cert, new_key = tls_ca.issue("proxy-reloaded", 0x2002)
    url = origin.url("/bytes/4096")
    stop = threading.Event()
    failures, serials, done = [], [], [0]
    lock = threading.Lock()

    def fresh_connections():
        while not stop.is_set():
            try:
                with p.tls_connect() as c:
                    s = c.serial
                    r = c.request("GET", url, auth=ALICE)
                    ok = r.status == 200 and r.body == pattern(4096)
                with lock:
                    serials.append(s)
                    done[0] += 1
                    if not ok:
                        failures.append(f"fresh: {r!r}")
            except Exception as e:  # noqa: BLE001 - any failure is what the test counts
                with lock:
                    failures.append(f"fresh: {type(e).__name__}: {e}")

    def kept_alive():
        try:
            with p.tls_connect() as c:
                while not stop.is_set():
                    r = c.request("GET", url, auth=ALICE)
                    with lock:
                        done[0] += 1
                        if r.status != 200 or r.body != pattern(4096):
                            failures.append(f"keep-alive: {r!r}")
        except Exception as e:  # noqa: BLE001
            with lock:
                failures.append(f"keep-alive: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=fresh_connections) for _ in range(3)]
    threads.append(threading.Thread(target=kept_alive))
    for t in threads:
        t.start()
    try:
        assert wait_for(lambda: done[0] >= 30, timeout=10), "load did not get going"
        replace_pair(cert, key, new_cert, new_key)
        p.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reloaded TLS certificate" in p.stderr(), timeout=5), p.stderr()
        seen_new = wait_for(lambda: 0x2002 in serials, timeout=5)
        before = done[0]
        wait_for(lambda: done[0] >= before + 30, timeout=10)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    assert failures == [], failures[:10]
    assert seen_new, f"no handshake saw the new certificate; serials {set(serials)}"
    assert serials[0] == 0x1001
    assert current_serial(p) == 0x2002
    assert "TLS reload failed" not in p.stderr()


@pytest.mark.parametrize("broken", ["mismatched-key", "garbage-cert", "missing-key"])
def test_broken_pair_on_reload_keeps_old_cert(tls_proxy, tls_ca, origin, tmp_path, broken):
    cert, key = private_pair(tls_ca, tmp_path)
    p = tls_proxy(cert=cert, key=key)
    assert current_serial(p) == 0x1001
    with p.tls_connect() as kept:  # a connection open across the failed reload
        assert kept.request("GET", origin.url("/bytes/1"), auth=ALICE).status == 200
        if broken == "mismatched-key":
            other_cert, other_key = tls_ca.issue(f"other-{broken}", 0x3003)
            replace_pair(cert, key, other_cert, tls_ca.proxy_key)  # new cert, old key
        elif broken == "garbage-cert":
            with open(cert, "w") as f:
                f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n"
                        "-----END CERTIFICATE-----\n")
        else:
            os.unlink(key)
        p.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "TLS reload failed" in p.stderr(), timeout=5), p.stderr()
        assert kept.request("GET", origin.url("/bytes/2"), auth=ALICE).status == 200
    assert current_serial(p) == 0x1001
    with p.tls_connect() as c:
        assert c.request("GET", origin.url("/bytes/3"), auth=ALICE).status == 200
    # Fixing the files and reloading again takes the new pair.
    good_cert, good_key = tls_ca.issue(f"fixed-{broken}", 0x4004)
    replace_pair(cert, key, good_cert, good_key)
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "reloaded TLS certificate" in p.stderr(), timeout=5), p.stderr()
    assert wait_for(lambda: current_serial(p) == 0x4004, timeout=5)
    assert p.proc.poll() is None


# ---- session resumption ----

@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_session_resumption(tls_proxy, origin, version):
    p = tls_proxy()
    v = getattr(ssl.TLSVersion, version)
    ctx = tls_client_context(p.ca, minimum=v, maximum=v)
    with TlsClient(p.tls_port, context=ctx) as first:
        assert not first.session_reused
        # TLS 1.3 tickets arrive after the handshake: read a response so they are in.
        assert first.request("GET", origin.url("/bytes/1"), auth=ALICE).status == 200
        session = first.session
    assert session is not None and session.has_ticket, "no session ticket issued"
    with TlsClient(p.tls_port, context=ctx, session=session) as second:
        assert second.session_reused, "second handshake was not resumed"
        assert second.request("GET", origin.url("/bytes/2"), auth=ALICE).status == 200


def test_session_resumption_survives_cert_reload(tls_proxy, tls_ca, origin, tmp_path):
    """Ticket keys live in the process, not in the certificate's context: a reload does not
    force every client into a full handshake."""
    cert, key = private_pair(tls_ca, tmp_path)
    p = tls_proxy(cert=cert, key=key)
    ctx = tls_client_context(p.ca)
    with TlsClient(p.tls_port, context=ctx) as first:
        assert first.request("GET", origin.url("/bytes/1"), auth=ALICE).status == 200
        session = first.session
    new_cert, new_key = tls_ca.issue("proxy-resume", 0x2112)
    replace_pair(cert, key, new_cert, new_key)
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "reloaded TLS certificate" in p.stderr(), timeout=5), p.stderr()
    with TlsClient(p.tls_port, context=ctx, session=session) as second:
        assert second.request("GET", origin.url("/bytes/2"), auth=ALICE).status == 200
        resumed = second.session_reused
    assert current_serial(p) == 0x2112
    assert resumed

