"""Forwarding: request forms, versions, keep-alive, pipelining, hop-by-hop
fields, Via, upstream reuse and the error statuses the proxy writes itself."""

import json
import os
import socket
import threading
import time

import pytest

from helpers import ALICE, basic, build_request, curl, free_port, run_tollgate, wait_for
from origin import Origin, pattern


def _origin_header_names(rec):
    return [n.lower() for n, _ in rec["headers"]]


def _is_short_text_error(resp):
    return (resp.header("Content-Type") or "").startswith("text/") and 0 < len(resp.body) < 2048


def test_absolute_form_get_reaches_origin_in_origin_form(authed, origin):
    resp = authed.get(origin.url("/echo?a=1&b=two"), auth=ALICE)
    assert resp.status == 200
    rec = origin.wait_requests(1)[0]
    assert rec["method"] == "GET"
    assert rec["target"] == "/echo?a=1&b=two"
    assert dict((n.lower(), v) for n, v in rec["headers"])["host"] == origin.authority


def test_host_header_is_replaced_by_the_authority_of_the_absolute_target(authed, origin):
    resp = authed.request("GET", origin.url("/echo"), auth=ALICE,
                          headers=[("Host", "wrong.example")])
    assert resp.status == 200
    rec = origin.wait_requests(1)[0]
    hosts = [v for n, v in rec["headers"] if n.lower() == "host"]
    assert hosts == [origin.authority]


def test_empty_path_in_absolute_target_becomes_slash(authed, origin):
    resp = authed.get(f"http://{origin.authority}", auth=ALICE)
    assert resp.status == 404  # the origin has no "/" endpoint; what matters is the target
    assert origin.wait_requests(1)[0]["target"] == "/"


def test_http10_request_gets_a_response_and_the_connection_closes(authed, origin):
    with authed.connect() as c:
        c.send(build_request("GET", origin.url("/bytes/1000"), auth=ALICE, version="HTTP/1.0"))
        resp = c.response()
        assert resp.status == 200
        assert resp.body == pattern(1000)
        assert c.wait_closed(5)


def test_http10_keep_alive_request_may_stay_open_and_serve_a_second_request(authed, origin):
    with authed.connect() as c:
        c.send(build_request("GET", origin.url("/bytes/10"), auth=ALICE, version="HTTP/1.0",
                             headers=[("Connection", "keep-alive")]))
        resp = c.response()
        assert resp.status == 200 and len(resp.body) == 10
        if "keep-alive" in (resp.header("Connection") or "").lower():
            c.send(build_request("GET", origin.url("/bytes/20"), auth=ALICE, version="HTTP/1.0",
                                 headers=[("Connection", "keep-alive")]))
            assert len(c.response().body) == 20
        else:
            assert c.wait_closed(5)


def test_http11_keep_alive_serves_several_requests_on_one_connection(authed, origin):
    with authed.connect() as c:
        for n in (1, 100, 5000):
            resp = c.request("GET", origin.url(f"/bytes/{n}"), auth=ALICE)
            assert resp.status == 200 and len(resp.body) == n
    assert len(origin.wait_requests(3)) == 3


def test_connection_close_from_client_closes_after_the_response(authed, origin):
    with authed.connect() as c:
        c.send(build_request("GET", origin.url("/bytes/10"), auth=ALICE,
                             headers=[("Connection", "close")]))
        assert c.response().status == 200
        assert c.wait_closed(5)


def _proxy_side_inode(proxy_port, client_port):
    """The socket inode of the proxy's end of a connection from client_port
    (0 once the proxy closed its descriptor), or None if it is gone."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (int(local.split(":")[1], 16) == proxy_port
                    and int(remote.split(":")[1], 16) == client_port):
                return int(fields[9])
    return None


def test_connection_close_with_nothing_more_sent_frees_the_connection_at_once(authed, origin):
    """Nothing is left to drain, so the proxy closes its descriptor without
    waiting for the client's FIN (a lingering close, for clients still
    sending, would hold it for 2 s)."""
    with authed.connect() as c:
        c.send(build_request("GET", origin.url("/bytes/10"), auth=ALICE,
                             headers=[("Connection", "close")]))
        assert c.response().status == 200
        assert c.wait_closed(5)
        # The client has not closed its end; the proxy's must be orphaned (inode 0).
        assert wait_for(lambda: not _proxy_side_inode(authed.port, c.local_port), 1.0), \
            _proxy_side_inode(authed.port, c.local_port)


def test_bytes_sent_after_a_connection_close_request_do_not_reset_its_response(authed, origin):
    """The client is still sending: the proxy drains (lingering close, RFC 9112
    §9.6) rather than closing into unread data, which would send a RST that
    can destroy the response in flight."""
    with authed.connect() as c:
        c.send(build_request("GET", origin.url("/bytes/100000"), auth=ALICE,
                             headers=[("Connection", "close")]) + b"X" * 200000)
        resp = c.response()
        assert resp.status == 200 and len(resp.body) == 100000
        assert c.wait_closed(5)


def test_pipelined_requests_get_responses_in_order(authed, origin):
    data = b"".join(build_request("GET", origin.url(f"/bytes/{n}"), auth=ALICE)
                    for n in (11, 2222, 333))
    with authed.connect() as c:
        c.send(data)
        sizes = [len(c.response().body) for _ in range(3)]
    assert sizes == [11, 2222, 333]


def test_pipelined_requests_mixing_slow_and_fast_keep_their_order(authed, origin):
    data = (build_request("GET", origin.url("/slow/0.5"), auth=ALICE)
            + build_request("GET", origin.url("/bytes/7"), auth=ALICE))
    with authed.connect() as c:
        c.send(data)
        first, second = c.response(), c.response()
    assert first.body == b"finally\n"
    assert len(second.body) == 7


def test_origin_form_request_gets_a_friendly_400_mentioning_proxy(authed, origin):
    resp = authed.request("GET", "/", host=origin.authority)
    assert resp.status == 400
    assert b"proxy" in resp.body.lower()
    assert origin.snapshot() == []


def test_non_http_scheme_in_target_gets_400(authed, origin):
    resp = authed.request("GET", f"ftp://{origin.authority}/x", auth=ALICE)
    assert resp.status == 400
    assert origin.snapshot() == []


def test_userinfo_in_target_gets_400(authed, origin):
    resp = authed.request("GET", f"http://user:pw@{origin.authority}/echo", auth=ALICE,
                          host=origin.authority)
    assert resp.status == 400
    assert b"user:pw" not in resp.body
    assert origin.snapshot() == []


def test_hop_by_hop_request_headers_do_not_reach_origin(authed, origin):
    resp = authed.request("GET", origin.url("/echo"), auth=ALICE, headers=[
        ("Connection", "keep-alive, X-Private-Hop, Upgrade"),
        ("X-Private-Hop", "secret"),
        ("Proxy-Connection", "keep-alive"),
        ("Keep-Alive", "timeout=30"),
        ("TE", "trailers"),
        ("Trailer", "X-Foo"),
        ("Upgrade", "websocket"),
        ("X-End-To-End", "kept"),
    ])
    assert resp.status == 200
    names = _origin_header_names(origin.wait_requests(1)[0])
    for hop in ("proxy-authorization", "proxy-connection", "x-private-hop", "keep-alive", "te",
                "trailer", "upgrade"):
        assert hop not in names, f"{hop} reached the origin: {names}"
    assert "x-end-to-end" in names
    conn = [v for n, v in origin.wait_requests(1)[0]["headers"] if n.lower() == "connection"]
    assert all("x-private-hop" not in v.lower() for v in conn)


def test_header_listed_in_a_second_connection_field_is_also_removed(authed, origin):
    resp = authed.request("GET", origin.url("/echo"), auth=ALICE, headers=[
        ("Connection", "keep-alive"),
        ("Connection", "X-Second"),
        ("X-Second", "secret"),
    ])
    assert resp.status == 200
    assert "x-second" not in _origin_header_names(origin.wait_requests(1)[0])


def test_hop_by_hop_response_headers_do_not_reach_the_client(authed, origin):
    resp = authed.get(origin.url("/hopbyhop"), auth=ALICE)
    assert resp.status == 200
    names = [n.lower() for n, _ in resp.headers]
    for hop in ("x-secret-hop", "keep-alive", "proxy-authenticate", "upgrade", "trailer"):
        assert hop not in names, f"{hop} reached the client: {resp.headers}"
    for v in resp.all("Connection"):
        assert "x-secret-hop" not in v.lower()
    assert resp.header("X-End-To-End") == "yes"
    assert resp.body == b"hop-by-hop test\n"


def test_authorization_header_reaches_origin_untouched(authed, origin):
    value = basic("origin-user", "origin-pass")
    resp = authed.request("GET", origin.url("/echo"), auth=ALICE,
                          headers=[("Authorization", value)])
    assert resp.status == 200
    rec = origin.wait_requests(1)[0]
    assert [v for n, v in rec["headers"] if n.lower() == "authorization"] == [value]


def test_origin_401_and_www_authenticate_pass_through_untouched(authed, origin):
    resp = authed.get(origin.url("/status/401"), auth=ALICE)
    assert resp.status == 401
    assert resp.all("WWW-Authenticate") == ['Basic realm="origin"']
    assert not resp.has("Proxy-Authenticate")
    assert resp.body == b"origin says no\n"


def test_via_is_added_to_the_request_to_origin_and_to_the_response(authed, origin):
    resp = authed.get(origin.url("/echo"), auth=ALICE)
    assert resp.status == 200
    via_up = [v for n, v in origin.wait_requests(1)[0]["headers"] if n.lower() == "via"]
    assert any("1.1 tollgate" in v for v in via_up), via_up
    assert any("1.1 tollgate" in v for v in resp.all("Via")), resp.headers


def test_existing_via_is_kept_and_extended(authed, origin):
    resp = authed.request("GET", origin.url("/echo"), auth=ALICE,
                          headers=[("Via", "1.0 upstream-proxy")])
    assert resp.status == 200
    via = ", ".join(v for n, v in origin.wait_requests(1)[0]["headers"] if n.lower() == "via")
    assert "1.0 upstream-proxy" in via and "1.1 tollgate" in via
    assert via.index("1.0 upstream-proxy") < via.index("1.1 tollgate")


def test_upstream_connection_is_reused_for_sequential_keep_alive_requests(authed, origin):
    with authed.connect() as c:
        for _ in range(3):
            assert c.request("GET", origin.url("/echo"), auth=ALICE).status == 200
    reqs = origin.wait_requests(3)
    assert len({r["conn_id"] for r in reqs}) == 1, [(r["conn_id"], r["peer_port"]) for r in reqs]
    assert len({r["peer_port"] for r in reqs}) == 1


def test_upstream_close_delimited_response_is_not_reused(authed, origin):
    with authed.connect() as c:
        assert len(c.request("GET", origin.url("/close/100"), auth=ALICE).body) == 100
        assert len(c.request("GET", origin.url("/bytes/100"), auth=ALICE).body) == 100
    reqs = origin.wait_requests(2)
    assert reqs[0]["conn_id"] != reqs[1]["conn_id"]


def test_request_methods_other_than_get_are_forwarded(authed, origin):
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        resp = authed.request(method, origin.url("/echo"), auth=ALICE, body=b"x" * 3)
        assert resp.status == 200, method
        assert json.loads(resp.body)["method"] == method
        assert json.loads(resp.body)["body_length"] == 3


def test_502_when_upstream_refuses_the_connection(authed):
    port = free_port()
    resp = authed.get(f"http://127.0.0.1:{port}/", auth=ALICE)
    assert resp.status == 502
    assert _is_short_text_error(resp)
    assert authed.get(f"http://127.0.0.1:{port}/", auth=ALICE).status == 502


def test_502_when_the_host_name_does_not_resolve(authed):
    with authed.connect(timeout=40) as c:
        resp = c.request("GET", "http://nonexistent.invalid/", auth=ALICE, timeout=40)
    assert resp.status == 502
    assert _is_short_text_error(resp)


def test_504_when_origin_answers_slower_than_the_response_timeout(proxy, origin):
    p = proxy("--response-timeout", "1")
    start = time.monotonic()
    resp = p.get(origin.url("/slow/4"), auth=ALICE)
    elapsed = time.monotonic() - start
    assert resp.status == 504
    assert _is_short_text_error(resp)
    assert elapsed < 3.5, f"504 took {elapsed:.1f}s with --response-timeout 1"


def test_decimal_response_timeout_is_honoured(proxy, origin):
    p = proxy("--response-timeout", "0.5")
    start = time.monotonic()
    assert p.get(origin.url("/slow/3"), auth=ALICE).status == 504
    assert time.monotonic() - start < 2.5


def test_504_when_the_origin_does_not_accept_within_the_connect_timeout(proxy):
    p = proxy("--connect-timeout", "1")
    # A listener whose accept queue is full drops further SYNs: connect() hangs.
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(0)
    port = sink.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):
            f = socket.socket()
            f.setblocking(False)
            fillers.append(f)
            f.connect_ex(("127.0.0.1", port))
        time.sleep(0.2)
        start = time.monotonic()
        resp = p.get(f"http://127.0.0.1:{port}/", auth=ALICE)
        elapsed = time.monotonic() - start
    finally:
        for f in fillers:
            f.close()
        sink.close()
    assert resp.status == 504 and _is_short_text_error(resp), resp
    assert 0.9 < elapsed < 3, elapsed
    entry = p.wait_access(1)[-1]
    assert entry["reason"] == "upstream_connect_timeout", entry


def test_a_steady_upload_longer_than_the_response_timeout_is_forwarded(proxy, origin):
    # The timeout bounds a wait without progress, not the length of an upload.
    p = proxy("--response-timeout", "1")
    piece = os.urandom(20000)
    with p.connect(timeout=15) as c:
        c.send(build_request("PUT", origin.url("/upload"), auth=ALICE,
                             headers=[("Content-Length", str(8 * len(piece)))]))
        start = time.monotonic()
        for _ in range(8):
            c.send(piece)
            time.sleep(0.35)
        resp = c.response()
        elapsed = time.monotonic() - start
    assert elapsed > 2.5
    assert resp.status == 200, resp
    assert json.loads(resp.body)["length"] == 8 * len(piece)


def test_a_client_that_stops_sending_its_body_gets_408_after_the_response_timeout(proxy, origin):
    p = proxy("--response-timeout", "1")
    with p.connect(timeout=10) as c:
        c.send(build_request("PUT", origin.url("/upload"), auth=ALICE,
                             headers=[("Content-Length", "100000")]) + b"x" * 1000)
        start = time.monotonic()
        resp = c.response(timeout=6)
        elapsed = time.monotonic() - start
        assert c.wait_closed(5)
    assert resp.status == 408, resp
    assert "close" in resp.header("Connection").lower()
    assert 0.9 < elapsed < 4, elapsed
    entry = p.wait_access(1)[-1]
    assert entry["status"] == "408" and entry["reason"] == "client_body_timeout", entry


def test_a_client_that_stalls_after_the_origins_100_continue_gets_408(proxy, origin):
    p = proxy("--response-timeout", "1")
    with p.connect(timeout=10) as c:
        c.send(build_request("PUT", origin.url("/upload"), auth=ALICE,
                             headers=[("Content-Length", "5000"), ("Expect", "100-continue")]))
        interim = c.response(timeout=5, skip_interim=False)
        assert interim.status == 100
        c.send(b"z" * 100)
        resp = c.response(timeout=6)
    assert resp.status == 408, resp
    assert p.wait_access(1)[-1]["reason"] == "client_body_timeout"


def test_a_client_waiting_for_100_continue_from_a_silent_origin_gets_504(proxy):
    p = proxy("--response-timeout", "1")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/upload"
    try:
        with p.connect(timeout=10) as c:
            c.send(build_request("PUT", url, auth=ALICE,
                                 headers=[("Content-Length", "5000"), ("Expect", "100-continue")]))
            resp = c.response(timeout=6)
    finally:
        silent.close()
    assert resp.status == 504, resp
    assert p.wait_access(1)[-1]["reason"] == "upstream_timeout"


def test_an_origin_that_stops_reading_the_body_gets_504_after_the_response_timeout(proxy):
    p = proxy("--response-timeout", "1")
    sink = socket.socket()
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sink.bind(("127.0.0.1", 0))
    sink.listen(1)
    url = f"http://127.0.0.1:{sink.getsockname()[1]}/upload"
    stop = threading.Event()
    held = None
    with p.connect(timeout=0.2) as c:
        def send_body():  # until the proxy stops reading as well, or the test ends
            while not stop.is_set():
                try:
                    c.sock.send(b"y" * 65536)
                except socket.timeout:
                    continue
                except OSError:
                    return

        c.send(build_request("PUT", url, auth=ALICE, headers=[("Content-Length", str(1 << 30))]))
        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        try:
            sink.settimeout(10)
            held, _ = sink.accept()  # and never read from
            start = time.monotonic()
            head = b""
            while b"\r\n\r\n" not in head and time.monotonic() - start < 8:
                try:
                    data = c.sock.recv(4096)
                except socket.timeout:
                    continue
                if not data:
                    break
                head += data
            elapsed = time.monotonic() - start
        finally:
            stop.set()
            sender.join(3)
            if held:
                held.close()
            sink.close()
    assert head.startswith(b"HTTP/1.1 504 "), head
    assert elapsed < 4, elapsed
    entry = p.wait_access(1)[-1]
    assert entry["status"] == "504" and entry["reason"] == "upstream_timeout", entry


def test_proxy_still_serves_after_an_upstream_error(authed, origin):
    assert authed.get(f"http://127.0.0.1:{free_port()}/", auth=ALICE).status == 502
    assert authed.get(origin.url("/echo"), auth=ALICE).status == 200


def test_keep_alive_connection_survives_an_upstream_error(authed, origin):
    with authed.connect() as c:
        resp = c.request("GET", f"http://127.0.0.1:{free_port()}/", auth=ALICE)
        assert resp.status == 502
        if "close" in (resp.header("Connection") or "").lower():
            assert c.wait_closed(5)
        else:
            assert c.request("GET", origin.url("/echo"), auth=ALICE).status == 200


def test_no_auth_mode_forwards_requests_without_credentials(proxy, origin):
    p = proxy("--no-auth", htpasswd=None)
    resp = p.get(origin.url("/echo"))
    assert resp.status == 200
    assert len(origin.wait_requests(1)) == 1


def test_ipv6_listener_works_with_curl(proxy, origin):
    p = proxy(listen=("::1",))
    r = curl(["-x", f"http://[::1]:{p.port}", "--proxy-user", "alice:wonderland",
              "-o", "-", origin.url("/echo")])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["method"] == "GET"


def test_ipv6_origin_literal_in_target_is_reached(proxy):
    o6 = Origin(host="::1")
    try:
        p = proxy()
        resp = p.get(f"http://[::1]:{o6.port}/echo", auth=ALICE)
        assert resp.status == 200
        hosts = [v for n, v in o6.wait_requests(1)[0]["headers"] if n.lower() == "host"]
        assert hosts == [f"[::1]:{o6.port}"]
    finally:
        o6.close()


def test_ipv4_and_ipv6_listeners_both_serve(proxy, origin):
    p = proxy(listen=("127.0.0.1", "::1"))
    for i in (0, 1):
        with p.connect(index=i) as c:
            assert c.request("GET", origin.url("/echo"), auth=ALICE).status == 200


def test_a_second_instance_cannot_share_a_port_through_so_reuseport(proxy, origin, users):
    """Workers share each port through SO_REUSEPORT; a second Tollgate started on the same
    port by mistake must fail loudly, not silently take half of the connections."""
    p = proxy()
    host, port = p.addrs[0]
    r = run_tollgate(["--listen", f"{host}:{port}", "--htpasswd", str(users.path)], timeout=10)
    assert r.returncode == 1, r
    assert b"cannot listen on" in r.stderr and b"Address already in use" in r.stderr, r.stderr
    for _ in range(8):  # every connection still reaches the first instance
        assert p.get(origin.url("/echo"), auth=ALICE).status == 200
