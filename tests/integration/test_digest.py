"""Digest proxy authentication (RFC 7616) with a hand-made client (digestclient.py)
over raw sockets: the 407 offer, every algorithm and qop, userhash and username*,
each failure reason of the auth log, replay, uri binding, CONNECT, stale and
next nonces, nc windows, shared nonce secrets, the credential files (`tollgate
passwd`, Apache `htdigest`), start-up refusals, SIGHUP and per-client rules."""

import hashlib
import json
import os
import pty
import select
import signal
import socket
import threading
import time
import urllib.parse

import pytest

from digestclient import (ALGORITHMS, ALL_ALGORITHMS, DigestClient, H, digest_challenges,
                          ext_value, parse_challenges, parse_params, pick, userhash)
from helpers import ALICE, BOB, build_request, run_tollgate, wait_for
from conftest import RATE_EXEMPT_LOOPBACK
from origin import pattern

ALL_OFFERED = "digest-sha256,digest-md5,digest-sha512-256"


# ------------------------------------------------------------------ helpers ---

def uri_for(method, target):
    """What curl puts in `uri`: path+query for absolute-form, the authority for CONNECT."""
    if method == "CONNECT":
        return target
    parts = urllib.parse.urlsplit(target)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def ask(c, method, target, body=b"", headers=()):
    """Sends a request without credentials on c and returns the 407."""
    c.send(build_request(method, target, headers=list(headers), body=body))
    resp = c.response("GET")  # a 407 always has a body, CONNECT included
    assert resp.status == 407, resp
    return resp


def challenge(c, method, target, algorithm="SHA-256", **kw):
    return pick(ask(c, method, target, **kw), algorithm)


def send_answer(c, method, target, value, body=b"", headers=()):
    c.send(build_request(method, target, body=body,
                         headers=[("Proxy-Authorization", value), *headers]))
    return c.response("CONNECT" if method == "CONNECT" else method)


def answer(c, method, target, dc, body=b"", uri=None, headers=(), nc=None, hash_body=None,
           password=None, **overrides):
    """Answers with dc on c; hash_body: the body the client hashes for auth-int (default body)."""
    uri = uri_for(method, target) if uri is None else uri
    value = dc.header(method, uri, body if hash_body is None else hash_body, nc=nc,
                      password=password, **overrides)
    return send_answer(c, method, target, value, body, headers)


def login(p, url, algorithm="SHA-256", user=ALICE, method="GET", body=b"", qop="auth", **dc_kw):
    """A whole 407 + answer exchange on a fresh connection; returns (response, client)."""
    with p.connect() as c:
        ch = challenge(c, method, url, algorithm)
        dc = DigestClient(*user, ch, algorithm=algorithm, qop=qop, **dc_kw)
        return answer(c, method, url, dc, body), dc


def last_auth(p, n):
    """The n-th auth-log record (1-based), once at least n exist."""
    records = p.wait_auth(n)
    return records[n - 1]


def assert_auth(p, n, result, reason, user="alice"):
    r = last_auth(p, n)
    assert r["scheme"] == "digest", r
    assert r["result"] == result, r
    assert r["reason"] == reason, r
    if user is not Ellipsis:
        assert r["user"] == user, r
    return r


def assert_rejected_with_challenge(resp, offered=("SHA-256", "MD5")):
    assert resp.status == 407, resp
    chs = digest_challenges(resp)
    assert [c.algorithm for c in chs] == list(offered), resp.all("Proxy-Authenticate")
    for ch in chs:
        assert "error" in ch, f"Digest challenge after a wrong answer lacks error=: {ch.raw}"
        assert not ch.stale, ch.raw
    return chs


def htdigest_tool(path, realm, user, password, create):
    """Runs Apache's `htdigest` on a pty (it reads the password from the terminal only)."""
    args = ["htdigest", *(["-c"] if create else []), str(path), realm, user]
    pid, fd = pty.fork()
    if pid == 0:  # child
        try:
            os.execvp(args[0], args)
        finally:
            os._exit(127)
    out, answered = b"", 0
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(fd, 1024)
            except OSError:  # EIO: the child closed the pty
                break
            if not data:
                break
            out += data
            if out.lower().count(b"password:") > answered:
                os.write(fd, password.encode("utf-8") + b"\n")
                answered += 1
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    assert rc == 0, f"htdigest exited {rc}: {out!r}"
    assert answered == 2, f"htdigest did not prompt twice: {out!r}"


# ------------------------------------------------- the client itself (RFC) ---

def test_digest_client_reproduces_the_rfc7616_examples():
    # RFC 7616 §3.9.1 (MD5 and SHA-256) and §3.9.2 (SHA-512-256, userhash, username*)
    ch = parse_challenges(
        'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"')[0]
    cn = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    assert ch.qops == ["auth", "auth-int"]
    sha = DigestClient("Mufasa", "Circle of Life", ch, cnonce=cn)
    sha.header("GET", "/dir/index.html")
    assert sha.last["response"] == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    md5 = DigestClient("Mufasa", "Circle of Life", ch, algorithm="MD5", cnonce=cn)
    md5.header("GET", "/dir/index.html")
    assert md5.last["response"] == "8ca523f5e9506fed4657c9700eebdbec"
    ch2 = parse_challenges(
        'Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, '
        'nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", '
        'opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true')[0]
    jason = DigestClient("J\u00e4s\u00f8n Doe", "Secret, or not?", ch2, userhash=True,
                         cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v")
    jason.header("GET", "/doe.json")
    assert jason.last["username"] == \
        "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
    assert jason.last["response"] == \
        "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
    assert ext_value("J\u00e4s\u00f8n Doe") == "UTF-8''J%C3%A4s%C3%B8n%20Doe"
    # several challenges in one field, token68, escapes
    many = parse_challenges('Newauth realm="apps", type=1, title="Login to \\"apps\\"", '
                            'Basic realm="simple", Foo abc==')
    assert [c.scheme for c in many] == ["Newauth", "Basic", "Foo"]
    assert many[0]["title"] == 'Login to "apps"' and many[2].token68 == "abc=="


# ------------------------------------------------------------ the 407 offer ---

def _offer(resp):
    out = []
    for line in resp.all("Proxy-Authenticate"):
        chs = parse_challenges(line)
        assert len(chs) == 1, f"one challenge per Proxy-Authenticate line, got {line!r}"
        c = chs[0]
        out.append(f"Digest {c.algorithm}" if c.is_digest else c.scheme)
    return out


@pytest.mark.parametrize("auth,expected", [
    ("digest", ["Digest SHA-256", "Digest MD5"]),
    ("digest,basic", ["Digest SHA-256", "Digest MD5", "Basic"]),
    ("basic,digest", ["Basic", "Digest SHA-256", "Digest MD5"]),
    ("digest-md5", ["Digest MD5"]),
    ("digest-sha256", ["Digest SHA-256"]),
    ("digest-sha512-256,digest-md5,basic", ["Digest SHA-512-256", "Digest MD5", "Basic"]),
    ("digest-md5,digest-sha256", ["Digest MD5", "Digest SHA-256"]),
])
def test_407_has_one_line_per_challenge_in_auth_order(digest_proxy, origin, auth, expected):
    p = digest_proxy("--auth", auth)
    resp = p.get(origin.url("/echo"))
    assert resp.status == 407
    assert _offer(resp) == expected
    assert not resp.has("WWW-Authenticate")
    assert origin.snapshot() == []


def test_default_offer_with_a_users_file_is_sha256_md5_basic(digest_proxy, origin):
    resp = digest_proxy().get(origin.url("/echo"))
    assert resp.status == 407
    assert _offer(resp) == ["Digest SHA-256", "Digest MD5", "Basic"]


def test_digest_challenge_parameters(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic")
    resp = p.get(origin.url("/echo"))
    chs = digest_challenges(resp)
    assert len(chs) == 2
    for ch in chs:
        assert ch.scheme == "Digest"
        assert ch["realm"] == "tollgate"
        assert 'realm="tollgate"' in ch.raw, "realm must be quoted"
        assert sorted(ch.qops) == ["auth", "auth-int"]
        assert ch["nonce"] and ch["opaque"]
        assert ch["charset"].upper() == "UTF-8"
        assert ch["userhash"].lower() == "true"
        assert "stale" not in ch and "error" not in ch
        assert len(set(n.lower() for n in ch.names)) == len(ch.names), "duplicate parameter"
    # nonces carry random bits: two 407s never share one
    again = digest_challenges(p.get(origin.url("/echo")))
    assert again[0]["nonce"] != chs[0]["nonce"]
    # the request carried no credentials: no auth-log line
    p.wait_access(2)
    assert p.auth_lines() == []


def test_realm_is_configurable_for_digest(proxy, tg_users, origin):
    tg_users.add("carol", "c-pass", realm="Corp Proxy")
    p = proxy("--users", tg_users.path, "--realm", "Corp Proxy", "--auth", "digest",
              *RATE_EXEMPT_LOOPBACK, htpasswd=None)
    resp, dc = login(p, origin.url("/echo"), user=("carol", "c-pass"))
    assert dc.realm == "Corp Proxy"
    assert resp.status == 200, resp
    # alice's line is for realm "tollgate": skipped
    resp, _ = login(p, origin.url("/echo"), user=ALICE)
    assert resp.status == 407


# ------------------------------------------------------------------ success ---

@pytest.mark.parametrize("qop", ["auth", "auth-int"])
@pytest.mark.parametrize("algorithm", ALL_ALGORITHMS)
def test_get_succeeds_with_every_algorithm_and_qop(digest_proxy, origin, algorithm, qop):
    p = digest_proxy("--auth", ALL_OFFERED)
    url = origin.url("/echo?x=1&y=%20z")
    with p.connect() as c:
        ch = challenge(c, "GET", url, algorithm)
        dc = DigestClient(*ALICE, ch, algorithm=algorithm, qop=qop)
        resp = answer(c, "GET", url, dc)
        assert resp.status == 200, resp
        assert dc.last["uri"] == "/echo?x=1&y=%20z"
        info = dc.check_info(resp, dc.last["uri"])
        assert "nextnonce" not in info, "a fresh nonce needs no nextnonce"
    seen = json.loads(resp.body)
    assert seen["target"] == "/echo?x=1&y=%20z"
    assert "proxy-authorization" not in [n.lower() for n, _ in seen["headers"]]
    assert len(origin.snapshot()) == 1
    assert_auth(p, 1, "ok", "verified")
    entries = p.wait_access(2)
    assert [e["status"] for e in entries] == ["407", "200"]
    assert entries[1]["user"] == "alice"


@pytest.mark.parametrize("qop", ["auth", "auth-int"])
@pytest.mark.parametrize("algorithm", ALL_ALGORITHMS)
def test_post_body_reaches_origin_intact(digest_proxy, origin, algorithm, qop):
    p = digest_proxy("--auth", ALL_OFFERED)
    body = pattern(70000)
    url = origin.url("/upload")
    with p.connect() as c:
        # (a 407 to a body over --preauth-body-max closes the connection: ask without one)
        ch = challenge(c, "POST", url, algorithm)
        dc = DigestClient(*ALICE, ch, algorithm=algorithm, qop=qop)
        resp = answer(c, "POST", url, dc, body=body)
        assert resp.status == 200, resp
        dc.check_info(resp, "/upload")
    assert json.loads(resp.body) == {"length": len(body),
                                     "sha256": hashlib.sha256(body).hexdigest()}
    assert len(origin.snapshot()) == 1
    assert_auth(p, 1, "ok", "verified")


def test_auth_int_with_a_chunked_body_hashes_the_decoded_body(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    body = b"hello chunked world"
    url = origin.url("/upload")
    with p.connect() as c:
        ch = challenge(c, "POST", url, "SHA-256", body=b"5\r\nhello\r\n0\r\n\r\n",
                       headers=[("Transfer-Encoding", "chunked")])
        dc = DigestClient(*ALICE, ch, qop="auth-int")
        wire = b"5\r\nhello\r\n6\r\n chunk\r\n8\r\ned world\r\n0\r\n\r\n"
        resp = answer(c, "POST", url, dc, body=wire, hash_body=body,
                      headers=[("Transfer-Encoding", "chunked")])
        assert resp.status == 200, resp
    assert json.loads(resp.body)["length"] == len(body)


def _chunked(body, size=7000):
    out = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                   for i in range(0, len(body), size))
    return out + b"0\r\n\r\n"


def test_auth_int_with_a_large_chunked_body(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    body = pattern(200000)
    url = origin.url("/upload")
    with p.connect() as c:
        ch = challenge(c, "POST", url, "SHA-256")
        dc = DigestClient(*ALICE, ch, qop="auth-int")
        resp = answer(c, "POST", url, dc, body=_chunked(body), hash_body=body,
                      headers=[("Transfer-Encoding", "chunked")])
        assert resp.status == 200, resp
        assert json.loads(resp.body) == {"length": len(body),
                                         "sha256": hashlib.sha256(body).hexdigest()}
        # and the connection carries on
        assert answer(c, "GET", origin.url("/echo"), dc).status == 200


def test_auth_int_chunked_body_over_the_limit_gets_413(digest_proxy, origin):
    p = digest_proxy("--auth", "digest", "--auth-int-max", "10000")
    body = pattern(50000)
    url = origin.url("/upload")
    with p.connect() as c:
        ch = challenge(c, "POST", url, "SHA-256")
        dc = DigestClient(*ALICE, ch, qop="auth-int")
        resp = answer(c, "POST", url, dc, body=_chunked(body), hash_body=body,
                      headers=[("Transfer-Encoding", "chunked")])
        assert resp.status == 413, resp
    assert origin.snapshot() == []


def test_auth_int_with_expect_100_continue(digest_proxy, origin):
    """The proxy needs the body to check the answer, so it must ask for it."""
    p = digest_proxy("--auth", "digest")
    body = pattern(100000)
    url = origin.url("/upload")
    with p.connect() as c:
        ch = challenge(c, "POST", url, "SHA-256")
        dc = DigestClient(*ALICE, ch, qop="auth-int")
        value = dc.header("POST", "/upload", body)
        c.send(build_request("POST", url, headers=[("Proxy-Authorization", value),
                                                   ("Expect", "100-continue"),
                                                   ("Content-Length", str(len(body)))]))
        interim = c.response("POST", timeout=5, skip_interim=False)
        assert interim.status == 100, interim
        c.send(body)
        resp = c.response("POST")
        assert resp.status == 200, resp
    assert json.loads(resp.body)["length"] == len(body)


def test_pipelined_digest_requests_on_one_nonce(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    with p.connect() as c:
        ch = challenge(c, "GET", origin.url("/echo"))
        dc = DigestClient(*ALICE, ch)
        data = b""
        for i in (1, 2, 3):
            data += build_request("GET", origin.url(f"/bytes/{i}"), headers=[
                ("Proxy-Authorization", dc.header("GET", f"/bytes/{i}"))])
        c.send(data)
        for i in (1, 2, 3):
            resp = c.response()
            assert resp.status == 200, (i, resp)
            assert resp.body == pattern(i)


def test_pipelined_auth_int_post_then_get(digest_proxy, origin):
    """Bytes after a held auth-int body belong to the next request."""
    p = digest_proxy("--auth", "digest")
    body = pattern(90000)
    with p.connect() as c:
        ch = challenge(c, "GET", origin.url("/echo"))
        dc = DigestClient(*ALICE, ch, qop="auth-int")
        post = build_request("POST", origin.url("/upload"), body=body, headers=[
            ("Proxy-Authorization", dc.header("POST", "/upload", body))])
        get = build_request("GET", origin.url("/bytes/5"), headers=[
            ("Proxy-Authorization", dc.header("GET", "/bytes/5"))])
        c.send(post + get)
        first = c.response("POST")
        assert first.status == 200, first
        assert json.loads(first.body)["length"] == len(body)
        second = c.response()
        assert second.status == 200, second
        assert second.body == pattern(5)


def test_auth_int_answer_for_another_body_is_rejected(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    url = origin.url("/upload")
    with p.connect() as c:
        ch = challenge(c, "POST", url, "SHA-256", body=b"original")
        dc = DigestClient(*ALICE, ch, qop="auth-int")
        resp = answer(c, "POST", url, dc, body=b"tampered", hash_body=b"original")
    assert_rejected_with_challenge(resp)
    assert origin.snapshot() == []
    assert_auth(p, 1, "fail", "bad_response")


def test_auth_int_body_over_the_limit_gets_413_and_at_the_limit_passes(digest_proxy, origin):
    p = digest_proxy("--auth", "digest", "--auth-int-max", "4096")
    url = origin.url("/upload")
    with p.connect() as c:
        ch = challenge(c, "POST", url, "SHA-256")
        dc = DigestClient(*ALICE, ch, qop="auth-int")
        resp = answer(c, "POST", url, dc, body=pattern(4096))
        assert resp.status == 200, resp
        assert json.loads(resp.body)["length"] == 4096
    with p.connect() as c:
        ch = challenge(c, "POST", url, "SHA-256")
        dc = DigestClient(*ALICE, ch, qop="auth-int")
        resp = answer(c, "POST", url, dc, body=pattern(20000))
        assert resp.status == 413, resp
    assert len(origin.snapshot()) == 1
    # qop=auth does not need the body in memory: a large body still passes
    with p.connect() as c:
        ch = challenge(c, "POST", url, "SHA-256")
        dc = DigestClient(*ALICE, ch, qop="auth")
        resp = answer(c, "POST", url, dc, body=pattern(20000))
        assert resp.status == 200, resp
        assert json.loads(resp.body)["length"] == 20000


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_userhash_is_accepted(digest_proxy, origin, algorithm):
    p = digest_proxy("--auth", ALL_OFFERED)
    resp, dc = login(p, origin.url("/echo"), algorithm, userhash=True)
    assert dc.last["username"] == userhash(algorithm, "alice", "tollgate")
    assert dc.last["userhash"] == "true"
    assert resp.status == 200, resp
    dc.check_info(resp, "/echo")
    assert_auth(p, 1, "ok", "verified", user="alice")


def test_userhash_of_an_unknown_user_fails(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    resp, _ = login(p, origin.url("/echo"), user=("mallory", "x"), userhash=True)
    assert_rejected_with_challenge(resp)
    assert_auth(p, 1, "fail", "unknown_user", user=...)


def test_plain_username_with_userhash_false_is_accepted(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    with p.connect() as c:
        ch = challenge(c, "GET", origin.url("/echo"))
        dc = DigestClient(*ALICE, ch)
        resp = answer(c, "GET", origin.url("/echo"), dc, userhash="false")
    assert resp.status == 200, resp


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "SHA-512-256"])
def test_username_star_for_a_non_ascii_name(digest_proxy, tg_users, origin, algorithm):
    tg_users.add("j\u00fcrgen", "gr\u00fc\u00dfe:\u20ac")
    p = digest_proxy("--auth", ALL_OFFERED)
    resp, dc = login(p, origin.url("/echo"), algorithm, user=("j\u00fcrgen", "gr\u00fc\u00dfe:\u20ac"),
                     ext=True)
    assert dc.last["username*"] == "UTF-8''j%C3%BCrgen"
    assert "username" not in dc.last
    assert resp.status == 200, resp
    r = assert_auth(p, 1, "ok", "verified", user=...)
    assert r["user"] == "j\u00fcrgen", r


def test_username_star_and_userhash_for_non_ascii_names_alongside(digest_proxy, tg_users, origin):
    tg_users.add("j\u00fcrgen", "pw")
    p = digest_proxy("--auth", "digest")
    resp, _ = login(p, origin.url("/echo"), user=("j\u00fcrgen", "pw"), userhash=True)
    assert resp.status == 200, resp
    resp, _ = login(p, origin.url("/echo"), user=("alice", ALICE[1]), ext=True)
    assert resp.status == 200, resp


def test_username_and_username_star_together_are_malformed(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    with p.connect() as c:
        ch = challenge(c, "GET", origin.url("/echo"))
        dc = DigestClient(*ALICE, ch, ext=True)
        resp = answer(c, "GET", origin.url("/echo"), dc, username="alice")
    assert resp.status == 407
    assert origin.snapshot() == []
    assert_auth(p, 1, "fail", "malformed", user=...)


def test_answer_to_the_second_challenge_md5_is_accepted(digest_proxy, origin):
    """A client may answer any offered challenge, not only the first."""
    p = digest_proxy("--auth", "digest,basic")
    resp, dc = login(p, origin.url("/echo"), "MD5")
    assert dc.last["algorithm"] == "MD5"
    assert resp.status == 200, resp


def test_answer_without_algorithm_means_md5(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    with p.connect() as c:
        ch = challenge(c, "GET", origin.url("/echo"), "MD5")
        dc = DigestClient(*ALICE, ch, algorithm="MD5")
        resp = answer(c, "GET", origin.url("/echo"), dc, algorithm=None)
    assert "algorithm" not in dc.last
    assert resp.status == 200, resp


def test_names_are_case_insensitive_and_token_values_may_be_quoted(digest_proxy, origin):
    """Python's urllib sends algorithm="MD5" quoted; scheme and parameter names are
    case-insensitive; quoted strings unescape \\x to x (INTEROP.md)."""
    p = digest_proxy("--auth", "digest")
    url = origin.url("/echo")
    with p.connect() as c:
        ch = challenge(c, "GET", url, "MD5")
        dc = DigestClient(*ALICE, ch, algorithm="MD5", cnonce="abc")
        ps = dc.params("GET", "/echo")
        parts = []
        for name, value, _quoted in ps:
            if name == "cnonce":
                parts.append('CNonce="a\\bc"')  # unescapes to abc
            else:
                parts.append(f'{name.upper()}="{value}"' if name != "nc" else f"Nc={value}")
        resp = send_answer(c, "GET", url, "dIgEsT " + ", ".join(parts))
    assert resp.status == 200, resp


def test_no_space_after_commas_and_extra_whitespace_are_accepted(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    url = origin.url("/echo")
    with p.connect() as c:
        ch = challenge(c, "GET", url)
        dc = DigestClient(*ALICE, ch)
        ps = dc.params("GET", "/echo")
        value = "Digest " + " ,\t".join(f'{n} = "{v}"' if q else f"{n}={v}" for n, v, q in ps)
        resp = send_answer(c, "GET", url, value)
    assert resp.status == 200, resp


def test_unknown_extra_parameters_are_ignored(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    with p.connect() as c:
        ch = challenge(c, "GET", origin.url("/echo"))
        dc = DigestClient(*ALICE, ch)
        resp = answer(c, "GET", origin.url("/echo"), dc, **{"x-custom": "1", "charset": "UTF-8"})
    assert resp.status == 200, resp


def test_full_absolute_uri_is_accepted_as_uri(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    url = origin.url("/echo?q=1")
    with p.connect() as c:
        ch = challenge(c, "GET", url)
        dc = DigestClient(*ALICE, ch)
        resp = answer(c, "GET", url, dc, uri=url)
        assert resp.status == 200, resp
        dc.check_info(resp, url)


def test_keep_alive_counts_nc_1_2_3_on_one_nonce(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    with p.connect() as c:
        ch = challenge(c, "GET", origin.url("/echo"))
        dc = DigestClient(*ALICE, ch)
        for i in range(1, 4):
            url = origin.url(f"/bytes/{i}")
            resp = answer(c, "GET", url, dc)
            assert resp.status == 200, resp
            assert dc.last["nc"] == f"{i:08x}"
            info = dc.check_info(resp, f"/bytes/{i}")
            assert info["nc"] == f"{i:08x}"
            assert resp.body == pattern(i)
    assert [r["reason"] for r in p.wait_auth(3)] == ["verified"] * 3


def test_out_of_order_nc_within_the_window_is_accepted_once_each(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    url = origin.url("/echo")
    with p.connect() as c:
        ch = challenge(c, "GET", url)
    dc = DigestClient(*ALICE, ch)
    with p.connect() as a, p.connect() as b:
        assert answer(a, "GET", url, dc, nc=3).status == 200
        assert answer(b, "GET", url, dc, nc=1).status == 200
        assert answer(a, "GET", url, dc, nc=2).status == 200
        assert answer(b, "GET", url, dc, nc=5).status == 200
        assert answer(a, "GET", url, dc, nc=4).status == 200
    for n in (1, 2, 3, 4, 5):
        with p.connect() as c:
            resp = answer(c, "GET", url, dc, nc=n)
            assert resp.status == 407, (n, resp)
    reasons = [r["reason"] for r in p.wait_auth(10)]
    assert reasons == ["verified"] * 5 + ["replayed_nonce"] * 5
    assert len(origin.snapshot()) == 5


def test_nc_far_below_the_highest_seen_is_not_accepted(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    url = origin.url("/echo")
    with p.connect() as c:
        ch = challenge(c, "GET", url)
        dc = DigestClient(*ALICE, ch)
        assert answer(c, "GET", url, dc, nc=1000).status == 200
        resp = answer(c, "GET", url, dc, nc=1)
        assert resp.status == 407, resp
        assert answer(c, "GET", url, dc, nc=1001).status == 200
    assert len(origin.snapshot()) == 2


def test_nextnonce_late_in_the_nonce_life_and_it_works(digest_proxy, origin):
    p = digest_proxy("--auth", "digest", "--nonce-ttl", "3")
    url = origin.url("/echo")
    with p.connect() as c:
        ch = challenge(c, "GET", url)
        dc = DigestClient(*ALICE, ch)
        resp = answer(c, "GET", url, dc)
        assert resp.status == 200
        assert "nextnonce" not in dc.check_info(resp, "/echo")
        time.sleep(2.4)  # past 2/3 of 3 s, before expiry
        resp = answer(c, "GET", url, dc)
        assert resp.status == 200, resp
        info = dc.check_info(resp, "/echo")
        assert info.get("nextnonce"), f"no nextnonce at 80% of the nonce life: {info!r}"
        assert info["nextnonce"] != ch["nonce"]
        dc.renew(info["nextnonce"])
        resp = answer(c, "GET", url, dc)
        assert resp.status == 200, resp
        assert dc.last["nc"] == "00000001"
        assert "nextnonce" not in dc.check_info(resp, "/echo")


# ----------------------------------------------------------------- failures ---

def test_wrong_password_is_bad_response(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    with p.connect() as c:
        ch = challenge(c, "GET", origin.url("/echo"))
        dc = DigestClient("alice", "not-the-password", ch)
        resp = answer(c, "GET", origin.url("/echo"), dc)
        chs = assert_rejected_with_challenge(resp)
        assert not resp.has("Proxy-Authentication-Info")
        # the connection stays usable: the right answer to the fresh challenge works
        if "close" not in (resp.header("Connection") or "").lower():
            dc2 = DigestClient(*ALICE, chs[0])
            assert answer(c, "GET", origin.url("/echo"), dc2).status == 200
    assert_auth(p, 1, "fail", "bad_response")
    assert len(origin.snapshot()) <= 1


def test_unknown_user_is_unknown_user_and_looks_like_a_wrong_password(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    wrong, _ = login(p, origin.url("/echo"), user=("alice", "nope"))
    unknown, _ = login(p, origin.url("/echo"), user=("mallory", "nope"))
    assert_rejected_with_challenge(wrong)
    assert_rejected_with_challenge(unknown)
    assert wrong.reason == unknown.reason and wrong.body == unknown.body
    assert _offer(wrong) == _offer(unknown)
    assert_auth(p, 1, "fail", "bad_response")
    assert_auth(p, 2, "fail", "unknown_user", user=...)
    assert origin.snapshot() == []


@pytest.mark.parametrize("override,reason", [
    ({"opaque": "0123456789abcdef0123456789abcdef"}, "opaque_mismatch"),
    ({"opaque": None}, "opaque_mismatch"),
    ({"realm": "elsewhere"}, "realm_mismatch"),
    ({"algorithm": "foo"}, "unsupported_algorithm"),
    ({"algorithm": "SHA-1"}, "unsupported_algorithm"),
], ids=["wrong-opaque", "no-opaque", "wrong-realm", "algorithm-foo", "algorithm-sha1"])
def test_failure_reasons(digest_proxy, origin, override, reason):
    p = digest_proxy("--auth", "digest")
    with p.connect() as c:
        ch = challenge(c, "GET", origin.url("/echo"))
        dc = DigestClient(*ALICE, ch)
        resp = answer(c, "GET", origin.url("/echo"), dc, **override)
    assert resp.status == 407, resp
    assert digest_challenges(resp), "a 407 must carry the challenges again"
    assert origin.snapshot() == []
    assert_auth(p, 1, "fail", reason, user=...)


def _valid_params(p, origin):
    with p.connect() as c:
        ch = challenge(c, "GET", origin.url("/echo"))
    dc = DigestClient(*ALICE, ch)
    return dc.params("GET", "/echo")


def _join(ps, drop=(), extra=()):
    parts = [f'{n}="{v}"' if q else f"{n}={v}" for n, v, q in ps if n not in drop]
    return "Digest " + ", ".join(parts + list(extra))


MALFORMED = {
    "scheme-only": lambda ps: "Digest",
    "scheme-space": lambda ps: "Digest ",
    "bare-word": lambda ps: "Digest garbage",
    "token68": lambda ps: "Digest YWxpY2U6d29uZGVybGFuZA==",
    "username-only": lambda ps: 'Digest username="alice"',
    "no-response": lambda ps: _join(ps, drop=("response",)),
    "no-nonce": lambda ps: _join(ps, drop=("nonce",)),
    "no-uri": lambda ps: _join(ps, drop=("uri",)),
    "no-username": lambda ps: _join(ps, drop=("username",)),
    "no-nc": lambda ps: _join(ps, drop=("nc",)),
    "no-cnonce": lambda ps: _join(ps, drop=("cnonce",)),
    "no-qop": lambda ps: _join(ps, drop=("qop",)),
    "nc-not-hex": lambda ps: _join(ps, drop=("nc",), extra=("nc=0000000g",)),
    "nc-too-short": lambda ps: _join(ps, drop=("nc",), extra=("nc=1",)),
    "nc-zero": lambda ps: _join(ps, drop=("nc",), extra=("nc=00000000",)),
    "qop-bogus": lambda ps: _join(ps, drop=("qop",), extra=("qop=bogus",)),
    "duplicate-username": lambda ps: _join(ps, extra=('username="bob"',)),
    "duplicate-response": lambda ps: _join(ps, extra=(f'response="{dict((n, v) for n, v, _ in ps)["response"]}"',)),
    "unterminated-quote": lambda ps: _join(ps) + ', cnonce2="abc',
    "single-quote-char": lambda ps: 'Digest username=", realm="tollgate"',
    "no-equals": lambda ps: _join(ps, extra=("junk",)),
    "empty-name": lambda ps: _join(ps, extra=('="x"',)),
    "userhash-maybe": lambda ps: _join(ps, extra=("userhash=maybe",)),
    "username-star-bad-encoding": lambda ps: _join(ps, drop=("username",),
                                                   extra=("username*=alice",)),
    "username-star-quoted": lambda ps: _join(ps, drop=("username",),
                                             extra=("username*=\"UTF-8''alice\"",)),
    "username-star-bad-pct": lambda ps: _join(ps, drop=("username",),
                                              extra=("username*=UTF-8''al%zzice",)),
    "nul-in-username-star": lambda ps: _join(ps, drop=("username",),
                                             extra=("username*=UTF-8''al%00ice",)),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_garbage_parameters_are_malformed(digest_proxy, origin, case):
    p = digest_proxy("--auth", "digest")
    value = MALFORMED[case](_valid_params(p, origin))
    resp = p.request("GET", origin.url("/echo"), headers=[("Proxy-Authorization", value)])
    assert resp.status in (400, 407), resp
    if resp.status == 407:
        assert digest_challenges(resp)
    assert origin.snapshot() == []
    r = last_auth(p, 1)
    assert (r["scheme"], r["result"], r["reason"]) == ("digest", "fail", "malformed"), r
    # the proxy is fine afterwards
    assert login(p, origin.url("/echo"))[0].status == 200


def test_response_of_the_wrong_length_is_refused(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    with p.connect() as c:
        ch = challenge(c, "GET", origin.url("/echo"))
        dc = DigestClient(*ALICE, ch)
        resp = answer(c, "GET", origin.url("/echo"), dc, response="abc123")
    assert resp.status == 407
    assert origin.snapshot() == []
    r = last_auth(p, 1)
    assert r["result"] == "fail" and r["reason"] in ("malformed", "bad_response"), r


def test_hostile_long_and_odd_values_do_not_crash(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    ps = _valid_params(p, origin)
    values = [
        _join(ps, drop=("username",), extra=(f'username="{"a" * 5000}"',)),
        _join(ps, drop=("cnonce",), extra=(f'cnonce="{"c" * 5000}"',)),
        _join(ps, drop=("uri",), extra=(f'uri="/{"u" * 6000}"',)),
        _join(ps, drop=("nonce",), extra=(f'nonce="{"n" * 5000}"',)),
        _join(ps, drop=("nonce",), extra=('nonce="!!!"',)),
        _join(ps, drop=("nonce",), extra=('nonce=""',)),
        _join(ps, drop=("username",), extra=("username*=UTF-8''" + "%C3%BC" * 3000,)),
        "Digest " + ", ".join(f"p{i}=v" for i in range(2000)),
        'Digest username="\\',
        'Digest username="a\\"b", realm="tollgate"',
        "Digest ,,,,,,",
        "Digest =",
    ]
    for v in values:
        resp = p.request("GET", origin.url("/echo"), headers=[("Proxy-Authorization", v)])
        assert resp.status in (400, 407, 431), (v[:80], resp)
    assert origin.snapshot() == []
    assert login(p, origin.url("/echo"))[0].status == 200


def test_a_wrong_answer_does_not_burn_the_count(digest_proxy, origin):
    """The replay table is touched only after the response proved the password."""
    p = digest_proxy("--auth", "digest")
    url = origin.url("/echo")
    with p.connect() as c:
        ch = challenge(c, "GET", url)
    dc = DigestClient(*ALICE, ch)
    with p.connect() as c:
        assert answer(c, "GET", url, dc, nc=1, password="guess").status == 407
    with p.connect() as c:
        resp = answer(c, "GET", url, dc, nc=1)
        assert resp.status == 200, resp
    reasons = [r["reason"] for r in p.wait_auth(2)]
    assert reasons == ["bad_response", "verified"]


# ------------------------------------------------------------------- replay ---

def test_replay_on_the_same_connection_is_refused(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    url = origin.url("/echo")
    with p.connect() as c:
        ch = challenge(c, "GET", url)
        dc = DigestClient(*ALICE, ch)
        value = dc.header("GET", "/echo")
        assert send_answer(c, "GET", url, value).status == 200
        resp = send_answer(c, "GET", url, value)
        assert resp.status == 407, resp
        assert digest_challenges(resp)
    assert len(origin.snapshot()) == 1
    assert_auth(p, 2, "fail", "replayed_nonce")


def test_replay_on_a_new_connection_is_refused(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    url = origin.url("/echo")
    with p.connect() as c:
        ch = challenge(c, "GET", url)
        dc = DigestClient(*ALICE, ch)
        value = dc.header("GET", "/echo")
        assert send_answer(c, "GET", url, value).status == 200
    for _ in range(2):
        with p.connect() as c:
            resp = send_answer(c, "GET", url, value)
            assert resp.status == 407, resp
    assert len(origin.snapshot()) == 1
    records = p.wait_auth(3)
    assert [r["reason"] for r in records] == ["verified", "replayed_nonce", "replayed_nonce"]
    assert all(r["scheme"] == "digest" for r in records)


def test_replay_of_a_connect_answer_is_refused(digest_proxy, tcp_echo):
    p = digest_proxy("--auth", "digest")
    target = f"127.0.0.1:{tcp_echo.port}"
    with p.connect() as c:
        ch = challenge(c, "CONNECT", target)
    dc = DigestClient(*ALICE, ch)
    value = dc.header("CONNECT", target)
    with p.connect() as c:
        assert send_answer(c, "CONNECT", target, value).status == 200
    with p.connect() as c:
        assert send_answer(c, "CONNECT", target, value).status == 407
    assert_auth(p, 2, "fail", "replayed_nonce")


# --------------------------------------------------------------- uri binding ---

def test_the_same_header_for_another_url_is_uri_mismatch(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    with p.connect() as c:
        ch = challenge(c, "GET", origin.url("/echo"))
    dc = DigestClient(*ALICE, ch)
    value = dc.header("GET", "/echo")
    with p.connect() as c:
        resp = send_answer(c, "GET", origin.url("/bytes/10"), value)
        assert resp.status == 400, resp
    assert origin.snapshot() == []
    assert_auth(p, 1, "fail", "uri_mismatch", user=...)
    # the captured header still works for its own URL (the mismatch did not burn it)
    with p.connect() as c:
        assert send_answer(c, "GET", origin.url("/echo"), value).status == 200


@pytest.mark.parametrize("target_path,uri", [
    ("/echo", "/echo?x=1"),
    ("/echo?x=1", "/echo"),
    ("/echo?x=1", "/echo?x=2"),
    ("/echo", "/ECHO"),
    ("/echo", "/echo/"),
    ("/echo", "echo"),
    ("/echo", "*"),
    ("/echo", "http://127.0.0.2:{port}/echo"),
    ("/echo", "http://127.0.0.1:1/echo"),
    ("/echo", "http://127.0.0.1:{port}/other"),
    ("/echo", "127.0.0.1:{port}"),
    ("/echo", ""),
])
def test_uri_not_naming_the_request_is_400(digest_proxy, origin, target_path, uri):
    p = digest_proxy("--auth", "digest")
    url = origin.url(target_path)
    uri = uri.replace("{port}", str(origin.port))
    with p.connect() as c:
        ch = challenge(c, "GET", url)
        dc = DigestClient(*ALICE, ch)
        resp = answer(c, "GET", url, dc, uri=uri)
    assert resp.status == 400, resp
    assert origin.snapshot() == []
    assert_auth(p, 1, "fail", "uri_mismatch", user=...)


@pytest.mark.parametrize("uri", [
    "/echo?x=1",
    "http://127.0.0.1:{port}/echo?x=1",
    "HTTP://127.0.0.1:{port}/echo?x=1",
])
def test_uri_forms_naming_the_request_are_accepted(digest_proxy, origin, uri):
    p = digest_proxy("--auth", "digest")
    url = origin.url("/echo?x=1")
    uri = uri.replace("{port}", str(origin.port))
    with p.connect() as c:
        ch = challenge(c, "GET", url)
        dc = DigestClient(*ALICE, ch)
        resp = answer(c, "GET", url, dc, uri=uri)
    assert resp.status == 200, resp


def test_uri_for_a_request_to_the_root_without_a_path(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    url = f"http://{origin.authority}"  # no path at all: the request is for "/"
    for uri in ("/", url, url + "/"):
        with p.connect() as c:
            ch = challenge(c, "GET", url)
            dc = DigestClient(*ALICE, ch)
            resp = answer(c, "GET", url, dc, uri=uri)
            assert resp.status in (200, 404), (uri, resp)


# ------------------------------------------------------------------ CONNECT ---

@pytest.mark.parametrize("algorithm,qop", [("SHA-256", "auth"), ("MD5-sess", "auth"),
                                           ("SHA-512-256", "auth-int")])
def test_connect_through_tcp_echo_with_host_port_uri(digest_proxy, tcp_echo, algorithm, qop):
    p = digest_proxy("--auth", ALL_OFFERED)
    target = f"127.0.0.1:{tcp_echo.port}"
    with p.connect(timeout=5) as c:
        ch = challenge(c, "CONNECT", target, algorithm)
        assert not tcp_echo.accepted.is_set()
        dc = DigestClient(*ALICE, ch, algorithm=algorithm, qop=qop)
        resp = answer(c, "CONNECT", target, dc)
        assert resp.status == 200, resp
        assert dc.last["uri"] == target
        if resp.has("Proxy-Authentication-Info"):
            dc.check_info(resp, target)
        c.send(b"ping through digest")
        assert c.read_exact(19, timeout=5) == b"ping through digest"
    assert_auth(p, 1, "ok", "verified")


@pytest.mark.parametrize("uri", ["/", "127.0.0.1:1", "127.0.0.2:{port}", "http://127.0.0.1:{port}/",
                                 "127.0.0.1"])
def test_connect_with_a_uri_naming_something_else_is_400(digest_proxy, tcp_echo, uri):
    p = digest_proxy("--auth", "digest")
    target = f"127.0.0.1:{tcp_echo.port}"
    with p.connect(timeout=5) as c:
        ch = challenge(c, "CONNECT", target)
        dc = DigestClient(*ALICE, ch)
        resp = answer(c, "CONNECT", target, dc, uri=uri.replace("{port}", str(tcp_echo.port)))
        assert resp.status == 400, resp
    assert not tcp_echo.accepted.is_set()
    assert_auth(p, 1, "fail", "uri_mismatch", user=...)


def test_connect_answer_hashed_with_get_is_refused(digest_proxy, tcp_echo):
    """A2 for CONNECT is CONNECT:host:port; a GET-hashed answer is a wrong answer."""
    p = digest_proxy("--auth", "digest")
    target = f"127.0.0.1:{tcp_echo.port}"
    with p.connect(timeout=5) as c:
        ch = challenge(c, "CONNECT", target)
        dc = DigestClient(*ALICE, ch)
        value = dc.header("GET", target)
        resp = send_answer(c, "CONNECT", target, value)
    assert resp.status == 407, resp
    assert not tcp_echo.accepted.is_set()
    assert_auth(p, 1, "fail", "bad_response")


def test_ipv6_connect_uri(proxy, tg_users, tcp_echo):
    """curl and Chromium send [v6]:port for an IPv6 CONNECT."""
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        srv.bind(("::1", tcp_echo.port))  # the port number the proxy allows for CONNECT
    except OSError:
        srv.close()
        pytest.skip("no IPv6 loopback, or the port is taken there")
    srv.listen(1)

    def serve():
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    p = proxy("--users", tg_users.path, "--auth", "digest", *RATE_EXEMPT_LOOPBACK,
              htpasswd=None)
    target = f"[::1]:{tcp_echo.port}"
    try:
        with p.connect(timeout=5) as c:
            ch = challenge(c, "CONNECT", target)
            dc = DigestClient(*ALICE, ch)
            resp = answer(c, "CONNECT", target, dc)
            assert resp.status == 200, resp
            assert dc.last["uri"] == target
            c.send(b"v6")
            assert c.read_exact(2, timeout=5) == b"v6"
    finally:
        srv.close()


# ------------------------------------------------------------------- nonces ---

def test_expired_nonce_gets_stale_true_then_the_fresh_nonce_works(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic", "--nonce-ttl", "1.5")
    url = origin.url("/echo")
    with p.connect() as c:
        ch = challenge(c, "GET", url)
        dc = DigestClient(*ALICE, ch)
        time.sleep(2.0)
        resp = answer(c, "GET", url, dc)
        assert resp.status == 407, resp
        chs = digest_challenges(resp)
        assert [x.algorithm for x in chs] == ["SHA-256", "MD5"]
        for x in chs:
            assert x.stale, f"expired nonce with the right password needs stale=true: {x.raw}"
            assert x["nonce"] != ch["nonce"]
        basic_lines = [x for x in parse_challenges(resp.all("Proxy-Authenticate"))
                       if x.scheme.lower() == "basic"]
        assert basic_lines and all("stale" not in x for x in basic_lines)
        assert origin.snapshot() == []
        dc.renew(chs[0])
        resp = answer(c, "GET", url, dc)
        assert resp.status == 200, resp
        dc.check_info(resp, "/echo")
    records = p.wait_auth(2)
    assert [(r["result"], r["reason"]) for r in records] == [("fail", "stale_nonce"),
                                                              ("ok", "verified")]


def test_expired_nonce_with_a_wrong_password_is_not_stale(digest_proxy, origin):
    p = digest_proxy("--auth", "digest", "--nonce-ttl", "1")
    url = origin.url("/echo")
    with p.connect() as c:
        ch = challenge(c, "GET", url)
        time.sleep(1.5)
        resp = answer(c, "GET", url, DigestClient("alice", "wrong", ch))
    assert_rejected_with_challenge(resp)
    assert_auth(p, 1, "fail", "bad_response")


def test_a_forged_nonce_is_never_accepted(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    url = origin.url("/echo")
    with p.connect() as c:
        ch = challenge(c, "GET", url)
        nonce = ch["nonce"]
        # flip one character in the middle of the sealed nonce
        i = len(nonce) // 2
        forged = nonce[:i] + ("A" if nonce[i] != "A" else "B") + nonce[i + 1:]
        dc = DigestClient(*ALICE, ch)
        dc.renew(forged)
        resp = answer(c, "GET", url, dc)
    assert resp.status == 407, resp
    assert origin.snapshot() == []
    r = last_auth(p, 1)
    assert r["result"] == "fail" and r["reason"] in ("stale_nonce", "malformed"), r


def test_proxies_sharing_a_nonce_secret_accept_each_others_nonces(proxy, tg_users, origin,
                                                                  tmp_path):
    secret = tmp_path / "nonce.secret"
    secret.write_bytes(os.urandom(48))
    os.chmod(secret, 0o600)
    args = ["--users", tg_users.path, "--auth", "digest", "--nonce-secret-file", str(secret),
            *RATE_EXEMPT_LOOPBACK]
    p1 = proxy(*args, htpasswd=None)
    p2 = proxy(*args, htpasswd=None)
    p3 = proxy("--users", tg_users.path, "--auth", "digest", *RATE_EXEMPT_LOOPBACK,
               htpasswd=None)  # own secret
    url = origin.url("/echo")
    with p1.connect() as c:
        ch = challenge(c, "GET", url)
    dc = DigestClient(*ALICE, ch)
    with p2.connect() as c:
        resp = answer(c, "GET", url, dc)
        assert resp.status == 200, resp
        dc.check_info(resp, "/echo")
    with p1.connect() as c:
        assert answer(c, "GET", url, dc).status == 200  # nc=2 at the issuer
    with p3.connect() as c:
        resp = answer(c, "GET", url, dc)  # nc=3 at an instance with another secret
        assert resp.status == 407, resp
    # a replay across p1 and p2 is not required to be detected (later issue): not asserted
    assert len(origin.snapshot()) == 2


def test_nonce_secret_file_too_short_is_refused(tg_users, tmp_path):
    secret = tmp_path / "short.secret"
    secret.write_bytes(b"0123456789")
    os.chmod(secret, 0o600)
    r = run_tollgate(["--listen", "127.0.0.1:0", "--users", tg_users.path,
                      "--nonce-secret-file", str(secret)], timeout=10)
    assert r.returncode == 2, r
    assert b"secret" in r.stderr.lower(), r.stderr


# --------------------------------------------------------- credential files ---

def test_passwd_made_users_file_serves_basic_and_every_digest_algorithm(proxy, tg_users, origin):
    u = tg_users  # made by `tollgate passwd`, password on stdin
    r = u.add("erin", "e:pass w\u00f6rd")
    assert (os.stat(u.path).st_mode & 0o777) == 0o600
    assert r.returncode == 0
    p = proxy("--users", u.path, "--auth", ALL_OFFERED + ",basic", *RATE_EXEMPT_LOOPBACK,
              htpasswd=None)
    url = origin.url("/echo")
    n = 0
    for algorithm in ALL_ALGORITHMS:
        for qop in ("auth", "auth-int"):
            resp, _ = login(p, url, algorithm, user=("erin", "e:pass w\u00f6rd"), qop=qop)
            assert resp.status == 200, (algorithm, qop, resp)
            n += 1
    resp = p.get(url, auth=("erin", "e:pass w\u00f6rd"))
    assert resp.status == 200
    resp = p.get(url, auth=("erin", "wrong"))
    assert resp.status == 407
    records = p.wait_auth(n + 2)
    assert [r["scheme"] for r in records] == ["digest"] * n + ["basic", "basic"]
    assert [r["result"] for r in records] == ["ok"] * (n + 1) + ["fail"]


def test_passwd_delete_and_sighup_reload_of_the_users_file(digest_proxy, tg_users, origin):
    p = digest_proxy("--auth", "digest")
    url = origin.url("/echo")
    assert login(p, url, user=("carol", "c-pw"))[0].status == 407
    tg_users.add("carol", "c-pw")
    tg_users.delete("bob")
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: login(p, url, user=("carol", "c-pw"))[0].status == 200, 10), \
        f"carol not accepted after SIGHUP\n{p.stderr()}"
    assert login(p, url, user=BOB)[0].status == 407
    assert login(p, url, user=ALICE)[0].status == 200
    # changing a password takes effect on reload, and the old one stops working
    tg_users.add("alice", "new-secret")
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: login(p, url, user=("alice", "new-secret"))[0].status == 200, 10)
    assert login(p, url, user=ALICE)[0].status == 407
    assert p.proc.poll() is None


def test_a_broken_users_file_on_sighup_keeps_the_previous_users(digest_proxy, tg_users, origin):
    p = digest_proxy("--auth", "digest")
    url = origin.url("/echo")
    assert login(p, url)[0].status == 200
    before = len(p.stderr())
    with open(tg_users.path, "a") as f:
        f.write("this is not a users line\n")
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: len(p.stderr()) > before, 5), "a failed reload must say why on stderr"
    time.sleep(0.3)
    assert login(p, url)[0].status == 200
    assert p.proc.poll() is None


def test_users_file_lines_for_another_realm_are_skipped(digest_proxy, tg_users, origin):
    tg_users.add("frank", "f-pw", realm="other-realm")
    p = digest_proxy("--auth", "digest,basic")
    resp, _ = login(p, origin.url("/echo"), user=("frank", "f-pw"))
    assert resp.status == 407
    assert_auth(p, 1, "fail", "unknown_user", user=...)
    assert p.get(origin.url("/echo"), auth=("frank", "f-pw")).status == 407


def test_htdigest_file_made_by_apache_htdigest(proxy, tmp_path, origin):
    path = tmp_path / "users.htdigest"
    htdigest_tool(path, "tollgate", "alice", "wonder land:1", create=True)
    htdigest_tool(path, "tollgate", "bob", "builder", create=False)
    htdigest_tool(path, "elsewhere", "carol", "c-pw", create=False)
    lines = path.read_text().split()
    assert lines[0] == "alice:tollgate:" + H("MD5", "alice:tollgate:wonder land:1")
    p = proxy("--htdigest", str(path), "--auth", "digest-md5", *RATE_EXEMPT_LOOPBACK,
              htpasswd=None)
    url = origin.url("/echo")
    resp = p.get(url)
    assert _offer(resp) == ["Digest MD5"]
    for user in (("alice", "wonder land:1"), BOB):
        for alg in ("MD5", "MD5-sess"):
            resp, dc = login(p, url, alg, user=user)
            assert resp.status == 200, (user, alg, resp)
            dc.check_info(resp, "/echo")
    resp, _ = login(p, url, "MD5", user=("carol", "c-pw"))  # another realm
    assert resp.status == 407
    resp, _ = login(p, url, "MD5", user=("alice", "wrong"))
    assert resp.status == 407


def test_htdigest_file_written_by_hand_and_default_offer(proxy, tmp_path, origin):
    path = tmp_path / "hand.htdigest"
    path.write_text(f"dave:tollgate:{H('MD5', 'dave:tollgate:d-pw')}\n")
    # auto: only Digest MD5 is servable
    p = proxy("--htdigest", str(path), *RATE_EXEMPT_LOOPBACK, htpasswd=None)
    url = origin.url("/echo")
    assert _offer(p.get(url)) == ["Digest MD5"]
    assert login(p, url, "MD5", user=("dave", "d-pw"))[0].status == 200
    assert login(p, url, "MD5", user=("dave", "d-pw"), userhash=True)[0].status == 200


def test_htpasswd_and_htdigest_together_serve_basic_and_md5(proxy, users, tmp_path, origin):
    path = tmp_path / "users.htdigest"
    htdigest_tool(path, "tollgate", "alice", ALICE[1], create=True)
    p = proxy("--htdigest", str(path), "--auth", "digest-md5,basic",
              *RATE_EXEMPT_LOOPBACK)  # + the default --htpasswd
    url = origin.url("/echo")
    assert _offer(p.get(url)) == ["Digest MD5", "Basic"]
    assert login(p, url, "MD5")[0].status == 200
    assert p.get(url, auth=ALICE).status == 200
    assert p.get(url, auth=BOB).status == 200  # Basic-only user
    assert login(p, url, "MD5", user=BOB)[0].status == 407  # no Digest hash for bob


# ------------------------------------------------------------ start-up errors ---

@pytest.mark.parametrize("files,auth", [
    ("htpasswd", "digest"),
    ("htpasswd", "digest-md5"),
    ("htpasswd", "digest-sha256,basic"),
    ("htdigest", "digest"),
    ("htdigest", "digest-sha256"),
    ("htdigest", "digest-sha512-256"),
    ("htdigest", "basic"),
])
def test_offering_a_scheme_no_file_can_serve_is_refused_at_start(users, tmp_path, files, auth):
    htd = tmp_path / "x.htdigest"
    htd.write_text(f"alice:tollgate:{H('MD5', 'alice:tollgate:pw')}\n")
    source = ["--htpasswd", users.path] if files == "htpasswd" else ["--htdigest", str(htd)]
    r = run_tollgate(["--listen", "127.0.0.1:0", "--auth-log", "off", "--access-log", "off",
                      *source, "--auth", auth], timeout=10)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 2, (r.returncode, err)
    assert err.startswith("tollgate:"), err
    scheme = "basic" if auth == "basic" else "digest"
    assert scheme in err.lower(), f"message does not name the scheme: {err!r}"
    assert len(err.strip().splitlines()) <= 5, err


@pytest.mark.parametrize("auth", ["digest-foo", "digest-sha1", "", "digest,,basic", "ntlm"])
def test_unknown_auth_list_items_are_refused(tg_users, auth):
    r = run_tollgate(["--listen", "127.0.0.1:0", "--users", tg_users.path, "--auth", auth],
                     timeout=10)
    assert r.returncode == 2, r
    assert r.stderr.startswith(b"tollgate"), r.stderr


# ---------------------------------------------------------- per-client rules ---

def _offer_for(p, origin, ua=None):
    headers = [("User-Agent", ua)] if ua else []
    return _offer(p.request("GET", origin.url("/echo"), headers=headers))


def test_shipped_rule_puts_md5_first_for_python_urllib(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic")
    plain = _offer_for(p, origin)
    urllib_offer = _offer_for(p, origin, "Python-urllib/3.11")
    assert plain == ["Digest SHA-256", "Digest MD5", "Basic"]
    assert urllib_offer[0] == "Digest MD5"
    assert "Basic" in urllib_offer
    assert _offer_for(p, origin, "curl/7.88.1") == plain


def test_no_default_auth_rules_drops_the_urllib_rule(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic", "--no-default-auth-rules")
    assert _offer_for(p, origin, "Python-urllib/3.11")[0] == "Digest SHA-256"


def test_auth_rules_by_user_agent_and_client(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic",
                     "--auth-rule", "user-agent=*MSIE* basic",
                     "--auth-rule", "client=10.0.0.0/8 digest-sha512-256",
                     "--auth-rule", "user-agent=special* client=127.0.0.0/8 digest-md5",
                     "--auth-rule", "user-agent=SPECIAL* digest-sha256",
                     "--auth-rule", "client=127.0.0.1/32 user-agent=loop* digest-sha512-256,basic")
    assert _offer_for(p, origin, "Mozilla/4.0 (compatible; MSIE 6.0)") == ["Basic"]
    assert _offer_for(p, origin, "mozilla/4.0 (msie)") == ["Basic"]  # glob ignores case
    assert _offer_for(p, origin, "Special/1.0") == ["Digest MD5"]  # first match wins
    assert _offer_for(p, origin, "loopy") == ["Digest SHA-512-256", "Basic"]
    assert _offer_for(p, origin, "curl/7.88.1") == ["Digest SHA-256", "Digest MD5", "Basic"]
    assert _offer_for(p, origin) == ["Digest SHA-256", "Digest MD5", "Basic"]


def test_a_rule_offer_is_answerable(digest_proxy, origin):
    p = digest_proxy("--auth", "digest", "--auth-rule", "client=127.0.0.0/8 digest-sha512-256")
    url = origin.url("/echo")
    with p.connect() as c:
        resp = ask(c, "GET", url)
        assert _offer(resp) == ["Digest SHA-512-256"]
        dc = DigestClient(*ALICE, pick(resp, "SHA-512-256"))
        assert answer(c, "GET", url, dc).status == 200


@pytest.mark.parametrize("rule", ["basic", "user-agent=x", "client=300.0.0.0/8 basic",
                                  "client=10.0.0.0/33 basic", "host=x basic",
                                  "user-agent=x digest-foo"])
def test_bad_auth_rules_are_refused(tg_users, rule):
    r = run_tollgate(["--listen", "127.0.0.1:0", "--users", tg_users.path, "--auth-rule", rule],
                     timeout=10)
    assert r.returncode == 2, r
    assert r.stderr.startswith(b"tollgate:"), r.stderr
    assert b"auth-rule" in r.stderr or rule.split()[-1].encode() in r.stderr, r.stderr


# --------------------------------------------------------------- mixed ---

def test_basic_and_digest_users_on_one_keep_alive_connection(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic")
    url = origin.url("/echo")
    with p.connect() as c:
        ch = challenge(c, "GET", url)
        dc = DigestClient(*BOB, ch)
        assert answer(c, "GET", url, dc).status == 200
        c.send(build_request("GET", url, auth=ALICE))
        assert c.response().status == 200
        assert answer(c, "GET", url, dc).status == 200
        # Digest is per request too: no credentials, no entry
        assert c.request("GET", url).status == 407
    records = p.wait_auth(3)
    assert [(r["scheme"], r["user"]) for r in records] == [("digest", "bob"), ("basic", "alice"),
                                                          ("digest", "bob")]


def test_digest_answer_is_not_accepted_when_only_basic_is_offered(proxy, origin):
    """With --htpasswd alone nothing can check a Digest answer."""
    p = proxy()
    resp = p.get(origin.url("/echo"))
    assert _offer(resp) == ["Basic"]
    fake = parse_challenges('Digest realm="tollgate", nonce="x", opaque="y", qop="auth"')[0]
    value = DigestClient(*ALICE, fake).header("GET", "/echo")
    resp = p.request("GET", origin.url("/echo"), headers=[("Proxy-Authorization", value)])
    assert resp.status == 407
    assert origin.snapshot() == []


def test_digest_credentials_never_reach_the_logs_or_the_origin(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    resp, dc = login(p, origin.url("/echo"))
    assert resp.status == 200
    bad, dc2 = login(p, origin.url("/echo"), user=("alice", "wrong-guess"))
    assert bad.status == 407
    p.wait_auth(2)
    p.wait_access(4)
    logs = "\n".join(p.access_lines() + p.auth_lines()) + p.stderr()
    for secret in (dc.last["response"], dc2.last["response"], dc.last["cnonce"], ALICE[1],
                   "wrong-guess"):
        assert secret not in logs
    raw = origin.snapshot()[0]["raw_head"].lower()
    assert b"proxy-authorization" not in raw and dc.last["response"].encode() not in raw
    assert dc2.last["response"].encode() not in bad.raw_head + bad.body
    parse_params(resp.header("Proxy-Authentication-Info"))
