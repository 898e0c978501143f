"""Signals: SIGTERM/SIGINT drain and exit 0, SIGHUP reloads the user file
without dropping connections, SIGUSR1 reopens log files."""

import os
import signal
import socket
import time

import pytest

from helpers import ALICE, BOB, ConnectionClosed, build_request, wait_for


def _status(p, origin, auth):
    return p.get(origin.url("/echo"), auth=auth).status


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_idle_proxy_exits_zero_on_signal(proxy, sig):
    p = proxy()
    assert p.stop(sig, timeout=10) == 0


def test_sigterm_lets_an_in_flight_request_finish_and_exits_zero(proxy, origin):
    p = proxy()
    with p.connect(timeout=15) as c:
        c.send(build_request("GET", origin.url("/slow/2"), auth=ALICE))
        assert wait_for(lambda: origin.heads_snapshot(), 5), "request never reached the origin"
        p.send_signal(signal.SIGTERM)
        resp = c.response(timeout=10)
        assert resp.status == 200
        assert resp.body == b"finally\n"
    assert p.wait_exit(10) == 0


def test_sigterm_stops_accepting_new_connections(proxy, origin):
    p = proxy()
    with p.connect(timeout=15) as inflight:
        inflight.send(build_request("GET", origin.url("/slow/2"), auth=ALICE))
        assert wait_for(lambda: origin.heads_snapshot(), 5)
        p.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        served = False
        try:
            with p.connect(timeout=3) as late:
                late.send(build_request("GET", origin.url("/echo"), auth=ALICE))
                try:
                    served = late.response(timeout=3).status == 200
                except (ConnectionClosed, TimeoutError):
                    served = False
        except OSError:
            served = False  # refused: the listener is closed
        assert not served, "a connection made after SIGTERM was served"
        assert inflight.response(timeout=10).status == 200
    assert p.wait_exit(10) == 0


def test_sigterm_does_not_wait_for_idle_keep_alive_connections(proxy, origin):
    p = proxy()
    with p.connect() as c:
        assert c.request("GET", origin.url("/echo"), auth=ALICE).status == 200
        start = time.monotonic()
        p.send_signal(signal.SIGTERM)
        assert p.wait_exit(10) == 0
        assert time.monotonic() - start < 5
        assert c.wait_closed(2)


def test_shutdown_grace_bounds_how_long_a_slow_request_delays_exit(proxy, origin):
    p = proxy("--shutdown-grace", "1")
    with p.connect(timeout=15) as c:
        c.send(build_request("GET", origin.url("/slow/6"), auth=ALICE))
        assert wait_for(lambda: origin.heads_snapshot(), 5)
        start = time.monotonic()
        p.send_signal(signal.SIGTERM)
        rc = p.wait_exit(10)
        elapsed = time.monotonic() - start
    assert elapsed < 4, f"exit took {elapsed:.1f}s with --shutdown-grace 1"
    assert rc == 0


def test_sighup_reloads_users_without_dropping_connections(proxy, users, origin):
    p = proxy()
    with p.connect() as kept:
        assert kept.request("GET", origin.url("/echo"), auth=ALICE).status == 200
        assert _status(p, origin, ("carol", "carolpw")) == 407
        users.add("carol", "carolpw")
        users.remove("bob")
        p.send_signal(signal.SIGHUP)
        assert wait_for(lambda: _status(p, origin, ("carol", "carolpw")) == 200, 5), \
            "new user not accepted after SIGHUP"
        assert _status(p, origin, BOB) == 407, "removed user still accepted after SIGHUP"
        # the connection opened before the reload is still served
        assert kept.request("GET", origin.url("/echo"), auth=ALICE).status == 200
    assert p.proc.poll() is None


def test_sighup_invalidates_cached_credentials_of_a_changed_password(proxy, users, origin):
    p = proxy()
    with p.connect() as kept:
        for _ in range(2):  # the second one is served from the credential cache
            assert kept.request("GET", origin.url("/echo"), auth=ALICE).status == 200
        users.add("alice", "new-password")
        p.send_signal(signal.SIGHUP)
        assert wait_for(lambda: _status(p, origin, ("alice", "new-password")) == 200, 5)
        resp = kept.request("GET", origin.url("/echo"), auth=ALICE)
        assert resp.status == 407, "old password still accepted (stale credential cache)"


def test_sighup_with_a_missing_file_keeps_the_old_users_and_says_why(proxy, users, origin):
    p = proxy()
    assert _status(p, origin, ALICE) == 200
    before = len(p.stderr())
    moved = users.path + ".away"
    os.rename(users.path, moved)
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: len(p.stderr()) > before, 5), "nothing logged about the failed reload"
    news = p.stderr()[before:]
    assert os.path.basename(users.path) in news, news
    assert _status(p, origin, ALICE) == 200
    assert _status(p, origin, BOB) == 200
    # a later good reload still works
    os.rename(moved, users.path)
    users.add("carol", "carolpw")
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: _status(p, origin, ("carol", "carolpw")) == 200, 5)


def test_sigusr1_reopens_the_log_files(proxy, origin):
    p = proxy()
    assert _status(p, origin, ALICE) == 200
    p.wait_access(1)
    p.wait_auth(1)
    os.rename(p.access_log, p.access_log + ".1")
    os.rename(p.auth_log, p.auth_log + ".1")
    p.send_signal(signal.SIGUSR1)

    def logged_to_new_files():
        _status(p, origin, ALICE)
        return os.path.exists(p.access_log) and p.access_lines() and p.auth_lines()

    assert wait_for(logged_to_new_files, 5, interval=0.2), "no new log files after SIGUSR1"
    with open(p.access_log + ".1") as f:
        assert len(f.read().splitlines()) >= 1
    assert p.proc.poll() is None


def test_signals_do_not_disturb_an_open_tunnel(proxy, tcp_echo):
    p = proxy()
    with p.connect() as c:
        c.send(build_request("CONNECT", f"127.0.0.1:{tcp_echo.port}", auth=ALICE))
        assert c.response("CONNECT").status == 200
        for sig in (signal.SIGHUP, signal.SIGUSR1):
            p.send_signal(sig)
            time.sleep(0.2)
            c.send(b"still here")
            assert c.read_exact(10, timeout=5) == b"still here"
