"""Basic proxy authentication (RFC 7617, RFC 9110 §11.7): challenges, failures,
malformed credentials, and what reaches the origin."""

import json

import pytest

from helpers import ALICE, BOB, b64, basic, build_request

CHALLENGE = 'Basic realm="tollgate", charset="UTF-8"'
CHALLENGE_ERROR = 'Basic realm="tollgate", charset="UTF-8", error="invalid_credentials"'


def _without_date(resp):
    return [(n.lower(), v) for n, v in resp.headers if n.lower() != "date"]


def test_request_without_credentials_gets_407_with_exactly_one_basic_challenge(authed, origin):
    resp = authed.get(origin.url("/echo"))
    assert resp.status == 407
    assert resp.all("Proxy-Authenticate") == [CHALLENGE]
    assert not resp.has("WWW-Authenticate"), "a proxy must challenge with 407/Proxy-Authenticate only"
    assert origin.snapshot() == []


def test_407_has_content_length_a_short_body_and_keeps_the_connection_alive(authed, origin):
    with authed.connect() as c:
        first = c.request("GET", origin.url("/echo"))
        assert first.status == 407
        assert first.header("Content-Length") is not None
        assert int(first.header("Content-Length")) == len(first.body)
        assert 0 < len(first.body) < 1024
        assert "close" not in (first.header("Connection") or "").lower()
        second = c.request("GET", origin.url("/echo"), auth=ALICE)
        assert second.status == 200
    assert len(origin.snapshot()) == 1


def test_realm_is_configurable(proxy, origin):
    p = proxy("--realm", "Corp Proxy")
    resp = p.get(origin.url("/echo"))
    assert resp.status == 407
    assert resp.all("Proxy-Authenticate") == ['Basic realm="Corp Proxy", charset="UTF-8"']


def test_valid_credentials_are_forwarded_and_proxy_authorization_never_reaches_origin(authed, origin):
    resp = authed.get(origin.url("/echo"), auth=ALICE)
    assert resp.status == 200
    seen = json.loads(resp.body)
    names = [n.lower() for n, _ in seen["headers"]]
    assert "proxy-authorization" not in names
    reqs = origin.snapshot()
    assert len(reqs) == 1
    assert b"proxy-authorization" not in reqs[0]["raw_head"].lower()


def test_apr1_user_is_accepted_as_well_as_bcrypt_user(authed, origin):
    assert authed.get(origin.url("/echo"), auth=ALICE).status == 200
    assert authed.get(origin.url("/echo"), auth=BOB).status == 200


def test_wrong_password_gets_a_fresh_407_with_error_param(authed, origin):
    resp = authed.get(origin.url("/echo"), auth=("alice", "not-the-password"))
    assert resp.status == 407
    assert resp.all("Proxy-Authenticate") == [CHALLENGE_ERROR]
    assert origin.snapshot() == []


def test_unknown_user_gets_exactly_the_same_response_as_a_wrong_password(authed, origin):
    wrong = authed.get(origin.url("/echo"), auth=("alice", "not-the-password"))
    unknown = authed.get(origin.url("/echo"), auth=("mallory", "not-the-password"))
    assert wrong.status == unknown.status == 407
    assert wrong.reason == unknown.reason
    assert _without_date(wrong) == _without_date(unknown)
    assert wrong.body == unknown.body


def test_wrong_password_keeps_the_connection_usable_for_a_retry(authed, origin):
    with authed.connect() as c:
        assert c.request("GET", origin.url("/echo"), auth=("alice", "nope")).status == 407
        assert c.request("GET", origin.url("/echo"), auth=ALICE).status == 200


@pytest.mark.parametrize("value", [
    "Basic !!!not-base64!!!",
    "Basic " + b64("alicewonderland"),  # no colon
    "Basic " + b64(":"),
    "Basic",
    "Basic ",
    "",
    "Bearer " + b64("alice:wonderland"),
    "Basic " + b64("alice:wonderland") + " extra",
    "Basic " + b64("alice:wonderland")[:-3],  # truncated: impossible base64 length
], ids=["not-base64", "no-colon", "empty-user-and-password", "scheme-only", "scheme-space", "empty",
        "other-scheme", "trailing-garbage", "truncated-base64"])
def test_malformed_credentials_get_407_and_never_reach_origin(authed, origin, value):
    resp = authed.request("GET", origin.url("/echo"), headers=[("Proxy-Authorization", value)])
    assert resp.status == 407, resp
    assert resp.all("Proxy-Authenticate"), "a 407 must carry a challenge"
    assert origin.snapshot() == []
    assert authed.get(origin.url("/echo"), auth=ALICE).status == 200


def test_two_proxy_authorization_headers_are_not_accepted(authed, origin):
    resp = authed.request("GET", origin.url("/echo"), headers=[
        ("Proxy-Authorization", basic(*ALICE)),
        ("Proxy-Authorization", basic(*ALICE)),
    ])
    assert resp.status in (400, 407), resp
    assert origin.snapshot() == []


def test_two_proxy_authorization_headers_one_valid_one_wrong_are_not_accepted(authed, origin):
    resp = authed.request("GET", origin.url("/echo"), headers=[
        ("Proxy-Authorization", basic("alice", "wrong")),
        ("Proxy-Authorization", basic(*ALICE)),
    ])
    assert resp.status in (400, 407), resp
    assert origin.snapshot() == []


@pytest.mark.parametrize("scheme", ["basic", "BASIC", "bAsIc"])
def test_scheme_name_is_case_insensitive(authed, origin, scheme):
    value = f"{scheme} {b64('alice:wonderland')}"
    resp = authed.request("GET", origin.url("/echo"), headers=[("Proxy-Authorization", value)])
    assert resp.status == 200


def test_header_name_proxy_authorization_is_case_insensitive(authed, origin):
    resp = authed.request("GET", origin.url("/echo"),
                          headers=[("proxy-AUTHORIZATION", basic(*ALICE))])
    assert resp.status == 200


def test_user_names_are_case_sensitive(proxy, users, origin):
    users.add("Alice", "capital-pw")
    p = proxy()
    assert p.get(origin.url("/echo"), auth=("Alice", "capital-pw")).status == 200
    assert p.get(origin.url("/echo"), auth=("alice", "capital-pw")).status == 407
    assert p.get(origin.url("/echo"), auth=("Alice", ALICE[1])).status == 407
    assert p.get(origin.url("/echo"), auth=("ALICE", ALICE[1])).status == 407
    assert p.get(origin.url("/echo"), auth=ALICE).status == 200


def test_password_is_split_at_the_first_colon_only(proxy, users, origin):
    users.add("carol", "a:b:c")
    p = proxy()
    assert p.get(origin.url("/echo"), auth=("carol", "a:b:c")).status == 200
    assert p.get(origin.url("/echo"), auth=("carol", "a:b")).status == 407


def test_utf8_password_with_colon_works_with_raw_utf8_credentials(proxy, users, origin):
    users.add("dora", "pä:ss€")
    p = proxy()
    assert p.get(origin.url("/echo"), auth=("dora", "pä:ss€")).status == 200
    # the same password in Latin-1 bytes is a different password
    latin1 = "Basic " + b64("dora:pä:ss".encode("latin-1"))
    resp = p.request("GET", origin.url("/echo"), headers=[("Proxy-Authorization", latin1)])
    assert resp.status == 407


def test_empty_password_does_not_match_a_user_with_a_password(authed, origin):
    assert authed.get(origin.url("/echo"), auth=("alice", "")).status == 407
    assert authed.get(origin.url("/echo"), auth=("", "")).status == 407


def test_407_body_never_echoes_the_credentials(authed, origin):
    cred = b64("alice:Sup3rS3cretGuess")
    resp = authed.request("GET", origin.url("/echo"),
                          headers=[("Proxy-Authorization", "Basic " + cred)])
    assert resp.status == 407
    assert cred.encode() not in resp.raw_head + resp.body
    assert b"Sup3rS3cretGuess" not in resp.raw_head + resp.body


def test_connect_without_credentials_gets_407_and_the_connection_is_not_left_half_open(authed, tcp_echo):
    with authed.connect(timeout=5) as c:
        c.send(build_request("CONNECT", f"127.0.0.1:{tcp_echo.port}"))
        resp = c.response("GET")  # a 407 to CONNECT has a body
        assert resp.status == 407
        assert resp.all("Proxy-Authenticate") == [CHALLENGE]
        keep_alive = (resp.has("Content-Length")
                      and "close" not in (resp.header("Connection") or "").lower())
        if keep_alive:
            c.send(build_request("CONNECT", f"127.0.0.1:{tcp_echo.port}", auth=ALICE))
            again = c.response("CONNECT")
            assert again.status == 200
            c.send(b"ping")
            assert c.read_exact(4, timeout=5) == b"ping"
        else:
            assert c.wait_closed(5), "407 without keep-alive framing must close the connection"


def test_connect_with_wrong_password_gets_407_with_error_param(authed, tcp_echo):
    with authed.connect(timeout=5) as c:
        c.send(build_request("CONNECT", f"127.0.0.1:{tcp_echo.port}", auth=("alice", "nope")))
        resp = c.response("GET")
        assert resp.status == 407
        assert resp.all("Proxy-Authenticate") == [CHALLENGE_ERROR]
    assert not tcp_echo.accepted.is_set()


def test_credentials_on_one_connection_do_not_authenticate_another(authed, origin):
    with authed.connect() as a:
        assert a.request("GET", origin.url("/echo"), auth=ALICE).status == 200
        with authed.connect() as b:
            assert b.request("GET", origin.url("/echo")).status == 407
        # and not a later request on the same connection either: Basic is per request
        assert a.request("GET", origin.url("/echo")).status == 407
