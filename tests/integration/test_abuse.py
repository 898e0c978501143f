"""Abuse resistance against the real proxy: failed-login rate limiting (per address, IPv6
per prefix, penalties that double, users under attack slowed but never locked out),
connection limits, the tighter limits before authentication, access rules and the SSRF
guard. Every test checks exact statuses and log lines, that nothing reached the origin that
should not have, and that the proxy keeps serving other clients.

Client addresses: the proxy listens on 127.0.0.1 and the tests speak from 127.0.0.2,
127.0.0.3, ... (any 127/8 source reaches it). The fixture exempts loopback from the rate
limit, so the rate-limit tests pass rate_exempt=False; it lets the SSRF guard pass loopback
destinations, so the guard tests pass loopback_origin=False."""

import ipaddress
import signal
import socket
import threading
import time

import pytest

from helpers import (ALICE, BOB, ConnectionClosed, b64, basic, build_request, connect_from,
                     wait_for)
from origin import Origin

# Short windows and penalties keep these tests fast: more than 3 failures in 10 s starts a
# 2 s penalty, doubling up to 4 s.
RATE = ("--rate-limit", "3/10", "--rate-penalty", "2:4")
WRONG = ("alice", "not-the-password")
DENIAL_BODY = b"Tollgate does not allow this request.\n"


# ---- helpers ----

def _ip(client_field):
    """The address part of a log CLIENT field: 127.0.0.2:5000 or [::1]:5000."""
    host = client_field.rsplit(":", 1)[0]
    return host.strip("[]")


def _auth_from(p, addr):
    return [r for r in p.auth_records() if _ip(r["client"]) == addr]


def _access_from(p, addr):
    return [e for e in p.access_entries() if "client" in e and _ip(e["client"]) == addr]


def _wait_auth_from(p, addr, pred, timeout=5.0):
    wait_for(lambda: pred(_auth_from(p, addr)), timeout)
    return _auth_from(p, addr)


def _wait_access_from(p, addr, pred, timeout=5.0):
    wait_for(lambda: pred(_access_from(p, addr)), timeout)
    return _access_from(p, addr)


def _get_from(p, src, url, auth=None, **kw):
    with connect_from(p, src) as c:
        return c.request("GET", url, auth=auth, **kw)


def _assert_429(resp):
    assert resp.status == 429, resp
    assert resp.reason == "Too Many Requests"
    retry = resp.header("Retry-After")
    assert retry is not None and retry.isdigit(), resp
    assert 0 < len(resp.body) < 200, "a 429 carries a short body"
    assert int(resp.header("Content-Length")) == len(resp.body)
    assert not resp.has("Proxy-Authenticate"), "a 429 is not a login prompt"
    return int(retry)


def _assert_407(resp):
    assert resp.status == 407, resp
    assert resp.has("Proxy-Authenticate")


def _assert_serves(p, origin, src="127.0.0.1"):
    before = len(origin.snapshot())
    resp = _get_from(p, src, origin.url("/bytes/7"), auth=ALICE)
    assert resp.status == 200, f"proxy stopped serving {src}: {resp}"
    assert len(origin.wait_requests(before + 1)) == before + 1


def _penalty_ends(p, src, url, timeout):
    """Polls with valid credentials until the address is let in again; returns the response
    and how long it took."""
    start = time.monotonic()
    while True:
        resp = _get_from(p, src, url, auth=ALICE)
        if resp.status != 429 or time.monotonic() - start > timeout:
            return resp, time.monotonic() - start
        time.sleep(0.1)


def _cross_limit(p, src, url, n=3):
    """n failures answered 407, then the one that crosses the limit: returns that 429."""
    with connect_from(p, src) as c:
        for i in range(n):
            _assert_407(c.request("GET", url, auth=WRONG))
        return c.request("GET", url, auth=WRONG)


# ---- failed-login rate limiting ----

def test_failures_past_the_limit_get_429_with_retry_after_until_the_penalty_ends(proxy, origin):
    p = proxy(*RATE, rate_exempt=False)
    url = origin.url("/echo")
    with connect_from(p, "127.0.0.2") as c:
        # Failures on one kept-alive connection and on new ones all count against the address.
        for _ in range(2):
            _assert_407(c.request("GET", url, auth=WRONG))
    _assert_407(_get_from(p, "127.0.0.2", url, auth=WRONG))
    crossing = _get_from(p, "127.0.0.2", url, auth=WRONG)
    crossed_at = time.monotonic()
    assert _assert_429(crossing) == 2, "the failure that crosses the limit starts a 2 s penalty"
    assert crossing.body == b"Too many failed attempts. Try again later.\n"

    # In the penalty every request of that address gets 429: valid credentials, none at all,
    # a CONNECT, and a connection that is kept alive.
    with connect_from(p, "127.0.0.2") as c:
        assert _assert_429(c.request("GET", url, auth=ALICE)) in (1, 2)
        assert _assert_429(c.request("GET", url)) in (1, 2)
        assert _assert_429(c.request("CONNECT", "127.0.0.1:443", auth=ALICE)) in (1, 2)
    assert origin.snapshot() == [], "nothing from a penalised address may reach the origin"

    # Another address is served meanwhile.
    _assert_serves(p, origin, "127.0.0.3")

    # The auth log has a rate_limited line for every 429, the access log says rate_limited.
    nr_429 = 4  # the crossing failure, then GET, GET without credentials, CONNECT
    recs = _wait_auth_from(p, "127.0.0.2",
                           lambda rs: sum(r["result"] == "rate_limited" for r in rs) >= nr_429)
    limited = [r for r in recs if r["result"] == "rate_limited"]
    assert len(limited) == nr_429, recs
    for r in limited:
        assert r["scheme"] == "-" and r["reason"] == "too_many_failures", r
    fails = [r for r in recs if r["result"] == "fail"]
    assert len(fails) == 4 and all(r["reason"] == "bad_password" for r in fails), recs
    assert all(r["user"] == "alice" for r in fails)
    entries = _wait_access_from(p, "127.0.0.2", lambda es: len(es) >= 7)
    # Four connections: a line is written once its response is out, so lines of different
    # connections may land in either order.
    assert sorted(e["status"] for e in entries) == ["407"] * 3 + ["429"] * 4, entries
    assert all(e["reason"] == "rate_limited" for e in entries if e["status"] == "429")
    assert all(e["reason"] == "bad_password" for e in entries if e["status"] == "407")

    # The penalty ends after about 2 s and the right password gets in again.
    resp, _ = _penalty_ends(p, "127.0.0.2", url, timeout=6)
    waited = time.monotonic() - crossed_at
    assert resp.status == 200, resp
    assert 1.5 <= waited < 5, waited
    assert len(origin.snapshot()) == 2  # 127.0.0.3's check and this one


def test_penalty_doubles_on_each_repeat_offence_up_to_the_cap(proxy, origin):
    p = proxy("--rate-limit", "3/10", "--rate-penalty", "1:2", rate_exempt=False)
    url = origin.url("/echo")
    expected = [1, 2, 2]  # 1 s, doubled to 2 s, capped at 2 s
    for offence, penalty in enumerate(expected, 1):
        resp = _cross_limit(p, "127.0.0.4", url)
        start = time.monotonic()
        assert _assert_429(resp) == penalty, f"offence {offence}: {resp}"
        if penalty == 2:
            time.sleep(1.2)  # past what a 1 s penalty would be: still refused
            assert _get_from(p, "127.0.0.4", url, auth=ALICE).status == 429
        resp, _ = _penalty_ends(p, "127.0.0.4", url, timeout=penalty + 3)
        assert resp.status == 200, resp
        assert penalty - 0.5 <= time.monotonic() - start < penalty + 2.5
    limited = [r for r in _auth_from(p, "127.0.0.4") if r["result"] == "rate_limited"]
    assert len(limited) >= 3
    _assert_serves(p, origin, "127.0.0.5")


def test_default_limit_is_more_than_5_failures_and_a_60_second_penalty(proxy, origin):
    p = proxy(rate_exempt=False)
    url = origin.url("/echo")
    with connect_from(p, "127.0.0.6") as c:
        for _ in range(5):
            _assert_407(c.request("GET", url, auth=WRONG))
        assert _assert_429(c.request("GET", url, auth=WRONG)) == 60
        assert _assert_429(c.request("GET", url, auth=ALICE)) in (59, 60)
    assert origin.snapshot() == []
    _assert_serves(p, origin, "127.0.0.7")


def test_a_407_for_missing_credentials_is_not_a_failure(proxy, origin):
    p = proxy(*RATE, rate_exempt=False)
    url = origin.url("/echo")
    with connect_from(p, "127.0.0.8") as c:
        for _ in range(12):
            resp = c.request("GET", url)
            _assert_407(resp)
            assert "error=" not in resp.header("Proxy-Authenticate")
    assert _auth_from(p, "127.0.0.8") == [], "no credentials: no auth-log line"
    assert _get_from(p, "127.0.0.8", url, auth=ALICE).status == 200
    # and the failure count is untouched: 3 failures are still answered 407
    with connect_from(p, "127.0.0.8") as c:
        for _ in range(3):
            _assert_407(c.request("GET", url, auth=WRONG))


@pytest.mark.parametrize("value", [
    "Basic !!!not-base64!!!",
    "Basic " + "QUJD" * 2000,  # over-long
    basic(*ALICE) + ", " + basic(*ALICE),  # two credentials in one field
    "Basic " + b64("alice-without-colon"),
], ids=["not-base64", "over-long", "repeated-in-one-field", "no-colon"])
def test_malformed_credentials_count_as_failures(proxy, origin, value):
    p = proxy(*RATE, rate_exempt=False)
    url = origin.url("/echo")
    with connect_from(p, "127.0.0.9") as c:
        for _ in range(3):
            _assert_407(c.request("GET", url, headers=[("Proxy-Authorization", value)]))
        _assert_429(c.request("GET", url, headers=[("Proxy-Authorization", value)]))
    recs = _wait_auth_from(p, "127.0.0.9", lambda rs: len(rs) >= 5)
    assert [r["reason"] for r in recs if r["result"] == "fail"] == ["malformed"] * 4, recs
    assert origin.snapshot() == []
    _assert_serves(p, origin, "127.0.0.10")


def test_failures_are_counted_per_address(proxy, origin):
    p = proxy(*RATE, rate_exempt=False)
    url = origin.url("/echo")
    for src in ("127.0.0.11", "127.0.0.12", "127.0.0.13"):
        for _ in range(3):
            _assert_407(_get_from(p, src, url, auth=WRONG))
    # 9 failures in all, but 3 per address: nobody is limited
    for src in ("127.0.0.11", "127.0.0.12", "127.0.0.13"):
        assert _get_from(p, src, url, auth=ALICE).status == 200
    # one more from .12 crosses its own limit only
    _assert_429(_get_from(p, "127.0.0.12", url, auth=WRONG))
    assert _get_from(p, "127.0.0.12", url, auth=ALICE).status == 429
    assert _get_from(p, "127.0.0.11", url, auth=ALICE).status == 200
    assert len(origin.snapshot()) == 4


def test_failures_through_connect_count_and_the_penalty_reaches_authenticated_connections(
        proxy, origin, tcp_echo):
    p = proxy(*RATE, rate_exempt=False)
    url = origin.url("/echo")
    # A connection that authenticated before the penalty...
    kept = connect_from(p, "127.0.0.14")
    try:
        assert kept.request("GET", url, auth=ALICE).status == 200
        # ...then failures from the same address, CONNECT ones included
        with connect_from(p, "127.0.0.14") as c:
            for _ in range(3):
                _assert_407(c.request("CONNECT", f"127.0.0.1:{tcp_echo.port}", auth=WRONG))
            _assert_429(c.request("CONNECT", f"127.0.0.1:{tcp_echo.port}", auth=WRONG))
        # every request of the address is refused, on the old connection too
        _assert_429(kept.request("GET", url, auth=ALICE))
    finally:
        kept.close()
    assert not tcp_echo.accepted.is_set(), "a refused CONNECT must not reach its target"
    assert len(origin.snapshot()) == 1
    _assert_serves(p, origin, "127.0.0.15")


def test_exempt_addresses_are_never_limited(proxy, origin):
    p = proxy(*RATE, "--rate-exempt", "127.0.0.16/32", rate_exempt=False)
    url = origin.url("/echo")
    with connect_from(p, "127.0.0.16") as c:
        for _ in range(10):
            _assert_407(c.request("GET", url, auth=WRONG))
        assert c.request("GET", url, auth=ALICE).status == 200
    # the limit is on for everyone else
    _assert_429(_cross_limit(p, "127.0.0.17", url))
    assert not [r for r in _auth_from(p, "127.0.0.16") if r["result"] == "rate_limited"]


def test_user_under_attack_from_many_addresses_is_slowed_but_the_real_user_gets_in(
        proxy, origin):
    p = proxy(*RATE, rate_exempt=False)
    url = origin.url("/echo")
    timings = []
    # One failure each from 10 distinct addresses: none of them crosses its own limit.
    for i in range(2, 12):
        start = time.monotonic()
        resp = _get_from(p, f"127.0.1.{i}", url, auth=WRONG)
        timings.append(time.monotonic() - start)
        _assert_407(resp)  # slowed, never refused with another status
    assert max(timings[:9]) < 1.0, timings
    assert 1.5 <= timings[9] < 4.0, f"the 10th address's failure must be delayed: {timings}"

    # While another delayed failure is pending, the real user at their usual address gets in
    # at once, and so does alice from an address that failed once.
    pending = {}

    def attacker():
        start = time.monotonic()
        pending["resp"] = _get_from(p, "127.0.1.20", url, auth=WRONG)
        pending["elapsed"] = time.monotonic() - start

    t = threading.Thread(target=attacker)
    t.start()
    try:
        time.sleep(0.3)
        for src in ("127.0.0.1", "127.0.1.5"):
            start = time.monotonic()
            assert _get_from(p, src, url, auth=ALICE).status == 200
            assert time.monotonic() - start < 1.0, "the real user must not be slowed"
    finally:
        t.join(10)
    _assert_407(pending["resp"])
    assert 1.5 <= pending["elapsed"] < 4.0, pending

    # Another user's failures are not slowed.
    start = time.monotonic()
    _assert_407(_get_from(p, "127.0.1.30", url, auth=("bob", "wrong")))
    assert time.monotonic() - start < 1.0
    assert len(origin.snapshot()) == 2


def _ipv6_pair():
    """Two local non-loopback IPv6 addresses sharing a prefix, a usable listener first:
    ((addr, scope), (addr, scope), common_prefix_bits), or None."""
    try:
        with open("/proc/net/if_inet6") as f:
            lines = f.read().split("\n")
    except OSError:
        return None
    addrs = []
    for line in lines:
        fields = line.split()
        if len(fields) < 6:
            continue
        a = ipaddress.IPv6Address(int(fields[0], 16))
        if a.is_loopback or a.is_multicast:
            continue
        addrs.append((a, int(fields[1], 16) if a.is_link_local else 0))
    best = None
    for x in addrs:
        if x[0].is_link_local:
            continue  # the listener: the fixture cannot give a scope id
        for y in addrs:
            if y is x:
                continue
            common = 128 - (int(x[0]) ^ int(y[0])).bit_length()
            if 1 <= common < 128 and (best is None or common > best[2]):
                best = (x, y, common)
    return best


def test_ipv6_clients_are_counted_per_prefix(proxy, origin):
    pair = _ipv6_pair()
    if pair is None:
        pytest.skip("needs two local IPv6 addresses sharing a prefix")
    (a, _), (b, b_scope), common = pair
    src_a, src_b = (str(a), 0, 0, 0), (str(b), 0, 0, b_scope)
    url = origin.url("/echo")

    # Grouped by a prefix both share: failures from A count against B.
    p = proxy(*RATE, "--rate-ipv6-prefix", str(common), listen=(str(a),), rate_exempt=False)
    try:
        with connect_from(p, src_b) as c:
            assert c.request("GET", url, auth=ALICE).status == 200
    except OSError as e:
        pytest.skip(f"cannot connect from {b} to {a}: {e}")
    for _ in range(3):
        _assert_407(_get_from(p, src_a, url, auth=WRONG))
    _assert_429(_get_from(p, src_b, url, auth=WRONG))
    _assert_429(_get_from(p, src_a, url, auth=ALICE))

    # One bit longer and they are two groups.
    q = proxy(*RATE, "--rate-ipv6-prefix", str(common + 1), listen=(str(a),),
              rate_exempt=False)
    for _ in range(3):
        _assert_407(_get_from(q, src_a, url, auth=WRONG))
    _assert_407(_get_from(q, src_b, url, auth=WRONG))
    assert _get_from(q, src_b, url, auth=ALICE).status == 200
    _assert_429(_get_from(q, src_a, url, auth=WRONG))


# ---- connection limits ----

def _read_shed(p, src="127.0.0.1"):
    """Connects without sending (a shed connection is answered at once) and returns the raw
    bytes up to the close."""
    with connect_from(p, src, timeout=5) as c:
        return c.read_until_close(5)


def _hold(p, n, src="127.0.0.1", origin=None):
    """n connections, each proven accepted by an answered request. A connection shed because
    the proxy still counts the fixture's readiness probe is retried briefly."""
    held = []
    try:
        for _ in range(n):
            deadline = time.monotonic() + 3
            while True:
                c = connect_from(p, src)
                try:
                    if origin is not None:
                        resp = c.request("GET", origin.url("/echo"), auth=ALICE)
                    else:
                        resp = c.request("GET", "http://127.0.0.1:9/")
                except (ConnectionClosed, OSError):
                    resp = None
                if resp is not None and resp.status != 503:
                    break
                c.close()
                assert time.monotonic() < deadline, f"connection {len(held) + 1} refused"
                time.sleep(0.05)
            held.append(c)
            if origin is not None:
                assert resp.status == 200, resp
            else:
                _assert_407(resp)
    except BaseException:
        for c in held:
            c.close()
        raise
    return held


def test_global_connection_limit_answers_503_and_logs_it(proxy, origin):
    p = proxy("--max-connections", "3")
    held = _hold(p, 3, origin=origin)
    try:
        raw = _read_shed(p, "127.0.0.2")
        assert raw.startswith(b"HTTP/1.1 503 "), raw
        head = raw.split(b"\r\n\r\n", 1)[0].decode()
        assert "\r\nConnection: close" in head
        entries = _wait_access_from(p, "127.0.0.2", lambda es: len(es) >= 1)
        assert entries[-1]["status"] == "503" and entries[-1]["reason"] == "max_connections"
        # the held connections still work; the refused one reached nothing
        assert held[0].request("GET", origin.url("/echo"), auth=ALICE).status == 200
        assert len(origin.snapshot()) == 4
        held.pop().close()

        def served():
            try:
                with connect_from(p, "127.0.0.3", timeout=3) as c:
                    return c.request("GET", origin.url("/echo"), auth=ALICE).status == 200
            except (ConnectionClosed, OSError):
                return False

        assert wait_for(served, 5, interval=0.1), "a freed slot must let a new client in"
    finally:
        for c in held:
            c.close()


def test_shed_503_body_matches_its_content_length(proxy):
    p = proxy("--max-connections", "1")
    held = _hold(p, 1)
    try:
        raw = _read_shed(p)
    finally:
        held[0].close()
    head, _, body = raw.partition(b"\r\n\r\n")
    length = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    assert length, raw
    assert int(length[0].split(b":")[1]) == len(body), raw


def test_per_address_connection_limit_answers_503_only_to_that_address(proxy, origin):
    p = proxy("--max-connections-per-address", "2")
    held = _hold(p, 2, origin=origin)
    try:
        raw = _read_shed(p, "127.0.0.1")
        assert raw.startswith(b"HTTP/1.1 503 "), raw
        entries = _wait_access_from(p, "127.0.0.1", lambda es: any(e["status"] == "503"
                                                                   for e in es))
        shed = [e for e in entries if e["status"] == "503"]
        assert len(shed) == 1 and shed[0]["reason"] == "max_connections_per_address", entries
        # other addresses are served, the held ones keep working
        _assert_serves(p, origin, "127.0.0.2")
        assert held[1].request("GET", origin.url("/echo"), auth=ALICE).status == 200
        held.pop().close()

        def served():
            try:
                with connect_from(p, "127.0.0.1", timeout=3) as c:
                    return c.request("GET", origin.url("/echo"), auth=ALICE).status == 200
            except (ConnectionClosed, OSError):
                return False

        assert wait_for(served, 5, interval=0.1)
    finally:
        for c in held:
            c.close()


def test_default_per_address_limit_is_256(proxy):
    p = proxy("--max-connections", "1000")
    held = _hold(p, 256, src="127.0.0.21")
    try:
        assert _read_shed(p, "127.0.0.21").startswith(b"HTTP/1.1 503 ")
        with connect_from(p, "127.0.0.22") as c:
            _assert_407(c.request("GET", "http://127.0.0.1:9/"))
    finally:
        for c in held:
            c.close()
    shed = [e for e in _wait_access_from(p, "127.0.0.21",
                                         lambda es: any(e["status"] == "503" for e in es))
            if e["status"] == "503"]
    assert [e["reason"] for e in shed] == ["max_connections_per_address"]


# ---- limits before authentication ----

def test_preauth_head_limit_applies_until_the_connection_has_authenticated(proxy, origin):
    p = proxy("--preauth-max-header-size", "2048", "--max-header-size", "8192")
    url = origin.url("/echo")
    pad = [("X-Pad", "p" * 3000)]
    # Fresh connection: the smaller limit, even with valid credentials in that head.
    with p.connect() as c:
        resp = c.request("GET", url, auth=ALICE, headers=pad)
        assert resp.status == 431, resp
        assert resp.header("Connection") == "close"
        assert c.wait_closed(5)
    assert origin.snapshot() == []
    # Once the connection has authenticated, the normal limit applies to it.
    with p.connect() as c:
        assert c.request("GET", url, auth=ALICE).status == 200
        assert c.request("GET", url, auth=ALICE, headers=pad).status == 200
        _assert_407(c.request("GET", url, headers=pad))  # still needs credentials
        resp = c.request("GET", url, auth=ALICE, headers=[("X-Pad", "p" * 9000)])
        assert resp.status == 431, resp
    assert len(origin.snapshot()) == 2
    entries = p.wait_access(5)
    assert [e["status"] for e in entries] == ["431", "200", "200", "407", "431"], entries
    assert [e["reason"] for e in entries if e["status"] == "431"] == ["header_too_large"] * 2


def test_default_preauth_head_limit_is_12k_below_the_16k_head_limit(proxy, origin):
    p = proxy()
    url = origin.url("/echo")
    pad = [("X-Pad", "p" * 13000)]
    with p.connect() as c:
        assert c.request("GET", url, auth=ALICE, headers=pad).status == 431
    with p.connect() as c:
        assert c.request("GET", url, auth=ALICE).status == 200
        assert c.request("GET", url, auth=ALICE, headers=pad).status == 200
    assert len(origin.snapshot()) == 2


def test_preauth_body_limit_keeps_small_refused_bodies_and_closes_on_big_ones(proxy, origin):
    p = proxy("--preauth-body-max", "1024")
    up = origin.url("/upload")
    # At the limit: the body is read and dropped, the connection stays usable.
    with p.connect() as c:
        resp = c.request("POST", up, body=b"s" * 1024)
        _assert_407(resp)
        assert resp.header("Connection") is None
        assert c.request("GET", origin.url("/echo"), auth=ALICE).status == 200
    # Past it: 407 with Connection: close, and the connection is closed.
    for auth, size in ((None, 1025), (None, 300_000), (WRONG, 50_000)):
        with p.connect() as c:
            try:
                c.send(build_request("POST", up, auth=auth, body=b"b" * size))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the proxy may stop reading once it has answered
            resp = c.response()
            _assert_407(resp)
            assert resp.header("Connection") == "close", (size, resp)
            assert c.wait_closed(5), size
    # A chunked body is discarded up to a bound, then the connection is closed.
    with p.connect(timeout=10) as c:
        c.send(build_request("POST", up, headers=[("Transfer-Encoding", "chunked")]))
        _assert_407(c.response())
        try:
            for _ in range(64):
                c.send(b"1000\r\n" + b"c" * 4096 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert c.wait_closed(5), "an endless refused chunked body must not be read forever"
    assert [r["target"] for r in origin.snapshot()] == ["/echo"]
    _assert_serves(p, origin)


# ---- access rules ----

def _denied(resp):
    assert resp.status == 403, resp
    assert resp.body == DENIAL_BODY, resp
    assert not resp.has("Proxy-Authenticate")


def _last_reason(p, n):
    return p.wait_access(n)[n - 1]["reason"]


def test_deny_rule_on_host_gives_a_plain_403_and_names_the_rule_in_the_log(proxy, origin):
    p = proxy("--access-rule", "allow host=example.invalid",
              "--access-rule", "deny host=localhost")
    for host in ("localhost", "LocalHost"):
        resp = p.get(f"http://{host}:{origin.port}/echo", auth=ALICE)
        _denied(resp)
        for word in (b"rule", b"localhost", b"deny", b"access"):
            assert word not in resp.body.lower()
    entries = p.wait_access(2)
    assert [e["reason"] for e in entries] == ["access_rule_2"] * 2
    assert [e["user"] for e in entries] == ["alice"] * 2
    assert origin.heads_snapshot() == []
    # the rule is about the target's host, not the Host header
    resp = p.request("GET", origin.url("/echo"), auth=ALICE, headers=[("Host", "localhost")])
    assert resp.status == 200
    resp = p.request("GET", f"http://localhost:{origin.port}/echo", auth=ALICE,
                     headers=[("Host", origin.authority)])
    _denied(resp)
    assert len(origin.snapshot()) == 1


def test_rules_are_judged_after_authentication(proxy, origin):
    p = proxy("--access-rule", "deny host=localhost")
    url = f"http://localhost:{origin.port}/echo"
    _assert_407(p.get(url))
    _assert_407(p.get(url, auth=WRONG))
    _denied(p.get(url, auth=ALICE))
    # Three connections: their lines may land in either order.
    assert sorted(e["reason"] for e in p.wait_access(3)) == ["access_rule_1", "bad_password",
                                                              "no_credentials"]


def test_wildcard_host_rule_matches_subdomains_only(proxy, origin):
    p = proxy("--access-rule", "deny host=*.localhost")
    assert p.get(f"http://localhost:{origin.port}/echo", auth=ALICE).status == 200


def test_deny_host_rule_refuses_without_resolving_the_name(proxy, origin):
    p = proxy("--access-rule", "deny host=*.invalid,blocked.invalid")
    for url in ("http://blocked.invalid/", "http://a.b.invalid/x"):
        _denied(p.get(url, auth=ALICE))
    assert [e["reason"] for e in p.wait_access(2)] == ["access_rule_1"] * 2


def test_user_and_group_rules(proxy, origin, users, tmp_path):
    users.add("carol", "carol-pw", flag="-m")
    groups = tmp_path / "groups"
    groups.write_text("# Apache htgroup\nadmins: bob\nstaff: alice  bob\n\nstaff: carol\n")
    p = proxy("--groups", str(groups),
              "--access-rule", "allow group=admins",
              "--access-rule", "deny user=alice",
              "--access-rule", "deny group=staff port=1-65535")
    url = origin.url("/echo")
    assert p.get(url, auth=BOB).status == 200          # rule 1
    _denied(p.get(url, auth=ALICE))                     # rule 2
    _denied(p.get(url, auth=("carol", "carol-pw")))     # rule 3 (second staff line)
    reasons = {e["user"]: e["reason"] for e in p.wait_access(3)}  # one connection each
    assert reasons == {"bob": "-", "alice": "access_rule_2", "carol": "access_rule_3"}
    assert len(origin.snapshot()) == 1


def test_sighup_reloads_the_groups_file_and_a_broken_one_keeps_the_old(proxy, origin, tmp_path):
    groups = tmp_path / "groups"
    groups.write_text("blocked: bob\n")
    p = proxy("--groups", str(groups), "--access-rule", "deny group=blocked")
    url = origin.url("/echo")
    with p.connect() as kept:  # a keep-alive connection spans the reload
        assert kept.request("GET", url, auth=ALICE).status == 200
        _denied(p.get(url, auth=BOB))
        groups.write_text("blocked: alice\n")
        p.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reloaded groups" in p.stderr(), 5), p.stderr()
        assert "(1 memberships)" in p.stderr()
        _denied(kept.request("GET", url, auth=ALICE))
        assert p.get(url, auth=BOB).status == 200
    groups.write_text("blocked alice\n")  # no colon: refused, the old table stays
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "groups reload failed" in p.stderr(), 5), p.stderr()
    assert f"{groups}:1:" in p.stderr()
    _denied(p.get(url, auth=ALICE))
    assert p.get(url, auth=BOB).status == 200


def test_first_matching_rule_wins(proxy, origin):
    url = origin.url("/echo")
    p = proxy("--access-rule", "allow user=alice", "--access-rule", "deny user=alice")
    assert p.get(url, auth=ALICE).status == 200
    q = proxy("--access-rule", "deny user=alice", "--access-rule", "allow user=alice")
    _denied(q.get(url, auth=ALICE))
    assert _last_reason(q, 1) == "access_rule_1"


def test_dest_rule_matches_the_resolved_address(proxy, origin):
    p = proxy("--access-rule", "deny dest=127.0.0.2/32",
              "--access-rule", "deny dest=127.0.0.1/32 port=%d" % origin.port)
    _denied(p.get(f"http://localhost:{origin.port}/echo", auth=ALICE))  # resolves to 127.0.0.1
    _denied(p.get(origin.url("/echo"), auth=ALICE))
    _denied(p.get(f"http://127.0.0.2:{origin.port}/echo", auth=ALICE))
    reasons = {e["target"]: e["reason"] for e in p.wait_access(3)}  # one connection each
    assert reasons == {f"http://localhost:{origin.port}/echo": "access_rule_2",
                       origin.url("/echo"): "access_rule_2",
                       f"http://127.0.0.2:{origin.port}/echo": "access_rule_1"}
    assert origin.heads_snapshot() == []
    # another port on 127.0.0.1 is not matched by rule 2
    other = Origin()
    try:
        assert p.get(other.url("/echo"), auth=ALICE).status == 200
    finally:
        other.close()


def test_port_and_port_range_rules(proxy, origin):
    url = origin.url("/echo")
    p = proxy("--access-rule", "deny port=1-1024,%d" % (origin.port - 1))
    assert p.get(url, auth=ALICE).status == 200
    q = proxy("--access-rule", "deny port=%d-%d" % (origin.port - 1, origin.port + 1))
    _denied(q.get(url, auth=ALICE))
    r = proxy("--access-rule", "deny port=%d" % origin.port)
    _denied(r.get(url, auth=ALICE))
    assert len(origin.snapshot()) == 1


def test_method_rules_tell_connect_from_the_rest(proxy, origin, tcp_echo):
    url = origin.url("/echo")
    target = f"127.0.0.1:{tcp_echo.port}"
    p = proxy("--access-rule", "deny method=!CONNECT")
    _denied(p.get(url, auth=ALICE))
    with p.connect() as c:
        assert c.request("CONNECT", target, auth=ALICE).status == 200
        c.send(b"ping")
        assert c.read_exact(4) == b"ping"
    q = proxy("--access-rule", "deny method=CONNECT")
    assert q.get(url, auth=ALICE).status == 200
    _denied(q.request("CONNECT", target, auth=ALICE))
    assert _last_reason(q, 2) == "access_rule_1"
    assert len(tcp_echo.received) == 1, "the denied CONNECT must not reach its target"


def test_client_rule_matches_the_client_address(proxy, origin):
    p = proxy("--access-rule", "deny client=127.0.0.32/30")
    url = origin.url("/echo")
    for src in ("127.0.0.32", "127.0.0.35"):
        _denied(_get_from(p, src, url, auth=ALICE))
    for src in ("127.0.0.1", "127.0.0.36"):
        assert _get_from(p, src, url, auth=ALICE).status == 200
    assert len(origin.snapshot()) == 2


def test_default_deny_applies_when_no_rule_matches(proxy, origin, tcp_echo):
    p = proxy("--access-default", "deny", "--access-rule", "allow user=bob method=!CONNECT")
    url = origin.url("/echo")
    _denied(p.get(url, auth=ALICE))
    assert _last_reason(p, 1) == "access_default_deny"
    assert p.get(url, auth=BOB).status == 200
    # the --connect-ports rules come after the user's and allow a listed port
    with p.connect() as c:
        assert c.request("CONNECT", f"127.0.0.1:{tcp_echo.port}", auth=ALICE).status == 200
    assert len(origin.snapshot()) == 1


def test_connect_ports_are_rules_after_the_users_so_a_rule_can_open_a_port(proxy, origin,
                                                                           tcp_echo):
    other = TcpEchoLike()
    try:
        p = proxy("--access-rule", f"allow user=alice method=CONNECT port={other.port}",
                  "--access-rule", "deny user=bob method=CONNECT port=%d" % tcp_echo.port)
        # alice may reach the port her rule opens; bob gets the connect-ports denial
        with p.connect() as c:
            assert c.request("CONNECT", f"127.0.0.1:{other.port}", auth=ALICE).status == 200
        _denied(p.request("CONNECT", f"127.0.0.1:{other.port}", auth=BOB))
        # a listed port: allowed for alice, bob's own deny rule comes first
        with p.connect() as c:
            assert c.request("CONNECT", f"127.0.0.1:{tcp_echo.port}", auth=ALICE).status == 200
        _denied(p.request("CONNECT", f"127.0.0.1:{tcp_echo.port}", auth=BOB))
        wait_for(lambda: sum(e.get("status") == "403" for e in p.access_entries()) >= 2)
        entries = p.access_entries()
        by_user = [(e["user"], e["status"], e["reason"]) for e in entries
                   if e["status"] == "403"]
        assert by_user == [("bob", "403", "connect_port_denied"),
                           ("bob", "403", "access_rule_2")], entries
        assert wait_for(lambda: other.accepted == 1, 2), other.accepted
    finally:
        other.close()


class TcpEchoLike:
    """A listener that counts accepted connections and echoes (a second CONNECT target)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._conns = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)

    def close(self):
        self.sock.close()
        for c in self._conns:
            c.close()


def test_pooled_upstream_is_not_reused_for_a_user_a_rule_denies(proxy, origin):
    p = proxy("--access-rule", "deny user=bob dest=127.0.0.1/32")
    url = origin.url("/echo")
    with p.connect() as c:
        assert c.request("GET", url, auth=ALICE).status == 200
    time.sleep(0.1)  # the upstream connection is back in the pool
    _denied(p.get(url, auth=BOB))
    assert _last_reason(p, 2) == "access_rule_1"
    assert len(origin.snapshot()) == 1


# ---- SSRF guard ----

GUARDED = [
    "169.254.169.254", "169.254.0.1", "[fe80::1]", "[FE80::abcd]", "0.0.0.0", "0.1.2.3",
    "[::]", "224.0.0.1", "239.255.255.250", "255.255.255.255", "[ff02::1]",
    "[::ffff:169.254.169.254]", "[::ffff:224.0.0.1]",
]
LOOPBACK = ["127.0.0.1", "127.1.2.3", "127.255.255.254", "[::1]", "[0:0:0:0:0:0:0:1]",
            "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "localhost", "LOCALHOST"]


def _guarded(p, url, **kw):
    resp = p.get(url, auth=ALICE, **kw)
    _denied(resp)
    return resp


def test_ssrf_guard_refuses_loopback_destinations_including_names_resolving_there(
        proxy, origin):
    p = proxy(loopback_origin=False)
    for host in LOOPBACK:
        _guarded(p, f"http://{host}:{origin.port}/echo")
    entries = p.wait_access(len(LOOPBACK))
    assert [e["reason"] for e in entries] == ["ssrf_guard"] * len(LOOPBACK), entries
    assert all(e["upstream"] == "-" for e in entries)
    assert origin.heads_snapshot() == [] and origin.connections == 0
    _assert_407(p.get(origin.url("/echo")))  # still answering


@pytest.mark.parametrize("host", GUARDED)
def test_ssrf_guard_refuses_link_local_unspecified_and_multicast(proxy, host):
    p = proxy(loopback_origin=False)
    _guarded(p, f"http://{host}/latest/meta-data/")
    assert _last_reason(p, 1) == "ssrf_guard"


def test_ssrf_guard_refuses_connect_to_loopback(proxy, tcp_echo):
    p = proxy(loopback_origin=False)  # the echo port is in --connect-ports
    for target in (f"127.0.0.1:{tcp_echo.port}", f"localhost:{tcp_echo.port}",
                   f"[::ffff:127.0.0.1]:{tcp_echo.port}"):
        _denied(p.request("CONNECT", target, auth=ALICE))
    assert [e["reason"] for e in p.wait_access(3)] == ["ssrf_guard"] * 3
    time.sleep(0.2)
    assert not tcp_echo.accepted.is_set()


def test_obscure_loopback_spellings_never_reach_the_origin(proxy, origin):
    p = proxy(loopback_origin=False)
    for host in ("2130706433", "0x7f000001", "0177.0.0.1", "127.1", "127.0.1"):
        resp = p.get(f"http://{host}:{origin.port}/echo", auth=ALICE, timeout=15)
        assert resp.status in (403, 502), (host, resp)  # guarded, or not an address at all
    assert origin.connections == 0


def test_allow_destination_lets_a_guarded_prefix_through(proxy, origin):
    p = proxy("--allow-destination", "127.0.0.1/32", loopback_origin=False)
    assert p.get(origin.url("/echo"), auth=ALICE).status == 200
    assert p.get(f"http://localhost:{origin.port}/echo", auth=ALICE).status == 200
    _guarded(p, f"http://127.0.0.2:{origin.port}/echo")
    _guarded(p, "http://169.254.169.254/")
    assert len(origin.snapshot()) == 2


def test_allow_rule_with_dest_clears_the_guard_but_one_without_does_not(proxy, origin):
    url = origin.url("/echo")
    p = proxy("--access-rule", "allow user=alice dest=127.0.0.1/32", loopback_origin=False)
    assert p.get(url, auth=ALICE).status == 200
    resp = p.get(url, auth=BOB)  # no rule for bob: default allow, still guarded
    _denied(resp)
    # Two connections, maybe two worker threads: their lines may land in either order.
    assert {e["user"]: e["reason"] for e in p.wait_access(2)} == {"alice": "-",
                                                                  "bob": "ssrf_guard"}
    q = proxy("--access-rule", "allow user=alice", loopback_origin=False)
    _guarded(q, url)
    assert _last_reason(q, 1) == "ssrf_guard"
    assert len(origin.snapshot()) == 1


def _non_loopback_ipv4():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.254", 9))  # no packet is sent; this only picks a source address
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    a = ipaddress.IPv4Address(addr)
    if a.is_loopback or a.is_link_local or a.is_unspecified:
        return None
    return addr


def test_ordinary_destinations_pass_the_guard_but_the_proxys_own_addresses_do_not(proxy):
    addr = _non_loopback_ipv4()
    if addr is None:
        pytest.skip("needs a non-loopback IPv4 address")
    lan_origin = Origin(addr)
    try:
        p = proxy(loopback_origin=False)
        assert p.get(lan_origin.url("/echo"), auth=ALICE).status == 200
        # listening on that address makes it the proxy's own: refused, whatever the port
        q = proxy(listen=("127.0.0.1", addr))
        own_port = q.addrs[1][1]
        _guarded(q, f"http://{addr}:{own_port}/")
        _guarded(q, lan_origin.url("/echo"))
        # a wildcard listener owns every interface address
        w = proxy(listen=("0.0.0.0",), loopback_origin=False)
        _guarded(w, f"http://{addr}:{w.port}/")
        _guarded(w, lan_origin.url("/echo"))
        assert [e["reason"] for e in q.wait_access(2)] == ["ssrf_guard"] * 2
        assert [e["reason"] for e in w.wait_access(2)] == ["ssrf_guard"] * 2
        assert len(lan_origin.snapshot()) == 1
    finally:
        lan_origin.close()
