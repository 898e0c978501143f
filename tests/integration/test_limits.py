"""Configured limits and timeouts: connection count, head size, field count,
request-line length, idle connections, upstream pool expiry."""

import threading
import time

import pytest

from helpers import ALICE, ConnectionClosed, basic, build_request, wait_for


def test_connection_past_max_connections_gets_503_or_is_closed(proxy, origin):
    p = proxy("--max-connections", "5")
    held = []
    try:
        for _ in range(5):
            c = p.connect()
            held.append(c)
            assert c.request("GET", origin.url("/echo"), auth=ALICE).status == 200
        with p.connect(timeout=5) as extra:
            try:
                extra.send(build_request("GET", origin.url("/echo"), auth=ALICE))
                resp = extra.response(timeout=5)
                assert resp.status == 503, resp
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                pass  # closed without a response is acceptable
        assert len(origin.snapshot()) == 5
        # the held connections still work
        assert held[0].request("GET", origin.url("/echo"), auth=ALICE).status == 200
        # freeing a slot lets a new client in
        held.pop().close()

        def new_client_served():
            try:
                with p.connect(timeout=3) as c:
                    return c.request("GET", origin.url("/echo"), auth=ALICE).status == 200
            except (ConnectionClosed, OSError):
                return False

        assert wait_for(new_client_served, 5, interval=0.2)
    finally:
        for c in held:
            c.close()


def _req_with_fields(origin, n_extra):
    return build_request("GET", origin.url("/echo"), auth=ALICE,
                         headers=[(f"X-F{i}", "v") for i in range(n_extra)])


def test_field_count_over_max_headers_gets_431(proxy, origin):
    p = proxy("--max-headers", "10")
    # Host + Proxy-Authorization + 8 = 10 fields: accepted
    with p.connect() as c:
        c.send(_req_with_fields(origin, 8))
        assert c.response().status == 200
    with p.connect() as c:
        c.send(_req_with_fields(origin, 12))
        resp = c.response()
    assert resp.status == 431
    assert len(origin.snapshot()) == 1


def test_head_over_max_header_size_gets_431(proxy, origin):
    p = proxy("--max-header-size", "2048")
    ok = build_request("GET", origin.url("/echo"), auth=ALICE, headers=[("X-Pad", "a" * 1000)])
    big = build_request("GET", origin.url("/echo"), auth=ALICE, headers=[("X-Pad", "a" * 3000)])
    assert p.request("GET", origin.url("/echo"), auth=ALICE,
                     headers=[("X-Pad", "a" * 1000)]).status == 200
    with p.connect() as c:
        c.send(big)
        assert c.response().status == 431
    assert len(ok) < 2048 < len(big)
    assert len(origin.snapshot()) == 1


def test_request_line_over_max_request_line_gets_414(proxy, origin):
    p = proxy("--max-request-line", "1024")
    assert p.get(origin.url("/echo?" + "q" * 800), auth=ALICE).status == 200
    assert p.get(origin.url("/echo?" + "q" * 1200), auth=ALICE).status == 414
    assert len(origin.snapshot()) == 1


def test_idle_keep_alive_connection_is_closed_after_the_idle_timeout(proxy, origin):
    p = proxy("--idle-timeout", "1")
    with p.connect() as c:
        assert c.request("GET", origin.url("/echo"), auth=ALICE).status == 200
        start = time.monotonic()
        assert c.wait_closed(5), "idle connection not closed"
        assert time.monotonic() - start >= 0.7


def test_idle_timeout_does_not_cut_a_request_waiting_for_a_slow_origin(proxy, origin):
    p = proxy("--idle-timeout", "1")
    resp = p.get(origin.url("/slow/2"), auth=ALICE)
    assert resp.status == 200 and resp.body == b"finally\n"


def test_idle_upstream_connections_expire_after_the_upstream_idle_timeout(proxy, origin):
    p = proxy("--upstream-idle-timeout", "0.5")
    with p.connect() as c:
        assert c.request("GET", origin.url("/echo"), auth=ALICE).status == 200
        time.sleep(1.5)
        assert c.request("GET", origin.url("/echo"), auth=ALICE).status == 200
    reqs = origin.wait_requests(2)
    assert reqs[0]["conn_id"] != reqs[1]["conn_id"]


def test_upstream_pool_size_zero_disables_reuse(proxy, origin):
    p = proxy("--upstream-pool-size", "0")
    with p.connect() as c:
        for _ in range(2):
            assert c.request("GET", origin.url("/echo"), auth=ALICE).status == 200
    reqs = origin.wait_requests(2)
    assert reqs[0]["conn_id"] != reqs[1]["conn_id"]


def test_concurrent_bcrypt_logins_with_one_hash_thread_all_succeed(proxy, origin):
    p = proxy("--hash-threads", "1", "--cred-cache-size", "0")
    results = []

    def one():
        try:
            results.append(p.get(origin.url("/echo"), auth=ALICE).status)
        except Exception as e:  # noqa: BLE001 - reported below
            results.append(repr(e))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [200] * 8, results


@pytest.mark.parametrize("value", ["0.5", "1.25"])
def test_decimal_header_timeout_is_honoured(proxy, origin, value):
    p = proxy("--header-timeout", value)
    with p.connect(timeout=10) as c:
        c.send(b"GET " + origin.url("/echo").encode() + b" HTTP/1.1\r\n")
        start = time.monotonic()
        resp = c.response()
        elapsed = time.monotonic() - start
    assert resp.status == 408
    assert float(value) * 0.7 <= elapsed < float(value) + 2, elapsed


def test_authenticated_request_with_a_header_below_the_limit_is_not_rejected(proxy, origin):
    p = proxy("--max-header-size", "4096")
    value = basic(*ALICE)
    resp = p.request("GET", origin.url("/echo"), headers=[("Proxy-Authorization", value),
                                                          ("Cookie", "c" * 3000)])
    assert resp.status == 200
