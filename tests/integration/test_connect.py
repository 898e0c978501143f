"""CONNECT tunnels: establishment, byte-exact relay both ways, half-close,
port policy, and curl's --proxytunnel."""

import json
import os
import threading
import time

from helpers import ALICE, build_request, curl, free_port


def _open_tunnel(proxy, port, auth=ALICE, extra=()):
    c = proxy.connect(timeout=10)
    c.send(build_request("CONNECT", f"127.0.0.1:{port}", auth=auth, headers=list(extra)))
    resp = c.response("CONNECT")
    return c, resp


def test_connect_with_credentials_gets_200_connection_established_and_relays(authed, tcp_echo):
    c, resp = _open_tunnel(authed, tcp_echo.port)
    with c:
        assert resp.status == 200
        assert resp.version == "HTTP/1.1"
        assert resp.reason.lower() == "connection established"
        c.send(b"hello through the tunnel")
        assert c.read_exact(24, timeout=5) == b"hello through the tunnel"


def test_no_bytes_follow_the_200_before_the_client_speaks(authed, tcp_echo):
    c, resp = _open_tunnel(authed, tcp_echo.port)
    with c:
        assert resp.status == 200
        assert not resp.has("Content-Length") and not resp.has("Transfer-Encoding")
        assert c.recv_within(0.7) is None, "proxy sent bytes after the 200"


def test_one_mib_of_random_bytes_round_trips_byte_for_byte(authed, tcp_echo):
    data = os.urandom(1024 * 1024)
    c, resp = _open_tunnel(authed, tcp_echo.port)
    with c:
        assert resp.status == 200
        sender = threading.Thread(target=c.send, args=(data,), daemon=True)
        sender.start()
        got = c.read_exact(len(data), timeout=30)
        sender.join(10)
    assert got == data


def test_half_close_is_propagated_both_ways(authed, tcp_echo):
    c, resp = _open_tunnel(authed, tcp_echo.port)
    with c:
        assert resp.status == 200
        c.send(b"last words")
        c.shutdown_write()
        assert tcp_echo.eof_seen.wait(5), "echo server never saw EOF through the tunnel"
        assert c.read_exact(10, timeout=5) == b"last words"
        assert c.wait_closed(5), "client never saw EOF after the target closed"


def test_bytes_sent_right_after_connect_in_the_same_write_reach_the_target(authed, tcp_echo):
    with authed.connect() as c:
        c.send(build_request("CONNECT", f"127.0.0.1:{tcp_echo.port}", auth=ALICE) + b"early")
        resp = c.response("CONNECT")
        assert resp.status == 200
        assert c.read_exact(5, timeout=5) == b"early"


def test_connect_to_a_port_not_in_connect_ports_gets_403(authed, origin):
    c, resp = _open_tunnel(authed, origin.port)  # origin port is not in --connect-ports
    with c:
        assert resp.status == 403
    assert origin.connections == 0


def test_connect_port_check_happens_even_without_credentials_or_after_auth(authed, origin):
    # Without credentials the proxy may challenge first, but never tunnels.
    c, resp = _open_tunnel(authed, origin.port, auth=None)
    with c:
        assert resp.status in (403, 407)
    assert origin.connections == 0


def test_connect_port_ranges_are_accepted(proxy, tcp_echo):
    lo, hi = tcp_echo.port - 1, tcp_echo.port + 1
    p = proxy(connect_ports=f"443,{lo}-{hi}")
    c, resp = _open_tunnel(p, tcp_echo.port)
    with c:
        assert resp.status == 200


def test_connect_to_a_refused_port_gets_502(proxy):
    port = free_port()
    p = proxy(connect_ports=f"{port}")
    c, resp = _open_tunnel(p, port)
    with c:
        assert resp.status == 502


def test_connect_without_a_port_gets_400(authed, tcp_echo):
    with authed.connect() as c:
        c.send(build_request("CONNECT", "127.0.0.1", auth=ALICE))
        resp = c.response("GET")
    assert resp.status == 400
    assert not tcp_echo.accepted.is_set()


def test_connect_with_proxy_connection_keep_alive_works(authed, tcp_echo):
    c, resp = _open_tunnel(authed, tcp_echo.port, extra=[("Proxy-Connection", "Keep-Alive"),
                                                         ("User-Agent", "curl/7.88.1")])
    with c:
        assert resp.status == 200
        c.send(b"x")
        assert c.read_exact(1, timeout=5) == b"x"
    # CONNECT headers never reach the target: the first bytes it saw were ours
    assert tcp_echo.received[0][:1] == b"x"


def test_tunnel_over_ipv6_listener(proxy, tcp_echo):
    p = proxy(listen=("::1",))
    c, resp = _open_tunnel(p, tcp_echo.port)
    with c:
        assert resp.status == 200
        c.send(b"v6")
        assert c.read_exact(2, timeout=5) == b"v6"


def test_curl_proxytunnel_reaches_origin_through_connect(proxy, origin, tcp_echo):
    p = proxy(connect_ports=f"{tcp_echo.port},{origin.port}")
    r = curl(["-p", "-x", p.url, "--proxy-user", "alice:wonderland", origin.url("/echo")])
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    names = [n.lower() for n, _ in seen["headers"]]
    assert "proxy-authorization" not in names and "proxy-connection" not in names
    assert seen["target"] == "/echo"
    entries = p.wait_access(1)
    assert entries[0].get("method") == "CONNECT" and entries[0].get("status") == "200"


def test_curl_proxytunnel_without_credentials_reports_407(proxy, origin, tcp_echo):
    p = proxy(connect_ports=f"{tcp_echo.port},{origin.port}")
    r = curl(["-p", "-x", p.url, "-o", "/dev/null", "-w", "%{http_connect}", origin.url("/echo")])
    assert r.stdout == b"407", r
    assert origin.connections == 0


def test_tunnel_closes_when_the_target_closes_first(authed, tcp_echo):
    c, resp = _open_tunnel(authed, tcp_echo.port)
    with c:
        assert resp.status == 200
        c.send(b"abc")
        assert c.read_exact(3, timeout=5) == b"abc"
        tcp_echo.close()  # drops the target side
        assert c.wait_closed(5)


def test_tunnel_idle_timeout_closes_an_idle_tunnel(proxy, tcp_echo):
    p = proxy("--tunnel-idle-timeout", "1")
    c, resp = _open_tunnel(p, tcp_echo.port)
    with c:
        assert resp.status == 200
        start = time.monotonic()
        assert c.wait_closed(6), "idle tunnel was not closed"
        assert time.monotonic() - start >= 0.8
