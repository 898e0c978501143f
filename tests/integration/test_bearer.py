"""Bearer tokens on Proxy-Authorization (RFC 6750 semantics): tokens minted by
`tollgate token` and JWTs from tests/unit/fixtures/jwt (made by gen.py there
with openssl) for every key type, sent by the real curl; the bare challenge,
error="invalid_token" with an error_description that says why, SIGHUP
reloading the token file and the JWK Set, and the auth log."""

import hashlib
import importlib.util
import os
import re
import shutil
import signal
import stat
import time

import pytest

from helpers import ALICE, curl, run_tollgate, wait_for
from origin import pattern

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "fixtures",
                        "jwt")
JWKS = os.path.join(FIXTURES, "jwks.json")
ISSUER = "https://issuer.tollgate.test"
AUDIENCE = "tollgate-proxy"
BARE = 'Bearer realm="tollgate"'
DESCRIPTIONS = {"malformed token", "unknown token", "token revoked", "token expired",
                "token not yet valid", "bad token signature", "token issuer not accepted",
                "token audience not accepted", "token names no usable user",
                "token signing algorithm not accepted", "invalid token"}
CHALLENGE_RE = re.compile(r'^Bearer realm="tollgate", error="invalid_token", '
                          r'error_description="([^"\\]*)"$')


def _fixture_tokens():
    cases = {}
    with open(os.path.join(FIXTURES, "tokens.txt")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, expect, user, token = line.split()
            cases[name] = (expect, user, token)
    return cases


JWTS = _fixture_tokens()
OK_JWTS = ["ok-rs256", "ok-rs384", "ok-rs512", "ok-ps256", "ok-ps384", "ok-ps512", "ok-es256",
           "ok-es384", "ok-eddsa", "ok-hs256", "ok-hs384", "ok-hs512"]


def sha256_hex(token):
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(token):
    return ("Proxy-Authorization", f"Bearer {token}")


def mint(path, user, *extra):
    """Runs the real `tollgate token FILE USER ...`; returns the token it printed."""
    r = run_tollgate(["token", str(path), user, *extra])
    assert r.returncode == 0, f"tollgate token failed ({r.returncode}): {r.stderr!r}"
    out = r.stdout.decode()
    assert out.endswith("\n") and out.count("\n") == 1, f"stdout must be the token alone: {out!r}"
    return out.strip()


def curl_bearer(p, url, token):
    """curl through the proxy with a Bearer Proxy-Authorization; returns (status, headers)."""
    r = curl(["-x", p.url, "--proxy-header", f"Proxy-Authorization: Bearer {token}", "-D", "-",
              "-o", os.devnull, url])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = [tuple(s.strip() for s in l.split(":", 1)) for l in lines[1:] if ":" in l]
    return status, headers


def description(resp):
    """The error_description of the single Bearer challenge of a 407."""
    assert resp.status == 407, resp
    challenges = [c for c in resp.all("Proxy-Authenticate") if c.startswith("Bearer")]
    assert len(challenges) == 1, resp.all("Proxy-Authenticate")
    m = CHALLENGE_RE.match(challenges[0])
    assert m, f"not an invalid_token challenge: {challenges[0]!r}"
    assert m.group(1) in DESCRIPTIONS
    return m.group(1)


def last_auth(p, n):
    return p.wait_auth(n)[n - 1]


@pytest.fixture
def tokens_file(tmp_path):
    return tmp_path / "tokens"


@pytest.fixture
def token_proxy(proxy, tokens_file):
    """Factory: a proxy serving only Bearer from tokens_file (created empty if missing)."""

    def start(*extra, **kw):
        if not tokens_file.exists():
            tokens_file.write_text("")
        kw.setdefault("htpasswd", None)
        return proxy("--tokens", str(tokens_file), *extra, **kw)

    return start


@pytest.fixture
def jwt_proxy(proxy):
    """Factory: a proxy serving only Bearer JWTs verified with a JWK Set."""

    def start(*extra, keys=JWKS, **kw):
        kw.setdefault("htpasswd", None)
        return proxy("--jwt-keys", str(keys), "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE,
                     *extra, **kw)

    return start


# ---- tollgate token ----

def test_a_minted_token_lets_curl_through_and_the_file_holds_only_its_hash(
        token_proxy, tokens_file, origin):
    token = mint(tokens_file, "alice")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert tokens_file.read_text() == f"{sha256_hex(token)} alice\n"
    assert stat.S_IMODE(os.stat(tokens_file).st_mode) == 0o600
    p = token_proxy()
    status, _ = curl_bearer(p, origin.url("/echo"), token)
    assert status == 200
    rec = last_auth(p, 1)
    assert (rec["scheme"], rec["result"], rec["user"], rec["reason"]) == \
        ("bearer", "ok", "alice", "verified")
    assert curl_bearer(p, origin.url("/echo"), token)[0] == 200
    rec = last_auth(p, 2)
    assert (rec["scheme"], rec["user"], rec["reason"]) == ("bearer", "alice", "cached")
    for log in (p.access_log, p.auth_log, p.stderr_path):
        with open(log) as f:
            assert token not in f.read(), f"the token leaked into {log}"


def test_token_ttl_sets_an_expiry_and_every_mint_differs(tokens_file):
    before = int(time.time())
    a = mint(tokens_file, "alice", "--ttl", "90m")
    b = mint(tokens_file, "bob", "--ttl=12h")
    c = mint(tokens_file, "carol")
    after = int(time.time())
    assert len({a, b, c}) == 3
    lines = [l.split() for l in tokens_file.read_text().splitlines()]
    assert [l[:2] for l in lines] == [[sha256_hex(a), "alice"], [sha256_hex(b), "bob"],
                                      [sha256_hex(c), "carol"]]
    assert before + 5400 <= int(lines[0][2]) <= after + 5400
    assert before + 43200 <= int(lines[1][2]) <= after + 43200
    assert len(lines[2]) == 2


@pytest.mark.parametrize("args", [[], ["only-a-file"], ["F", "u", "--ttl"], ["F", "u", "--ttl", "0"],
                                  ["F", "u", "--ttl", "5y"], ["F", "u", "--ttl", "-5"],
                                  ["F", "u", "--bogus"], ["F", "two words"], ["F", "u", "extra"]])
def test_token_usage_errors_exit_2_and_write_nothing(tmp_path, args):
    args = [str(tmp_path / "F") if a == "F" else a for a in args]
    r = run_tollgate(["token", *args])
    assert r.returncode == 2, (args, r.stderr)
    assert r.stdout == b""
    assert b"usage: tollgate token" in r.stderr or b"user name" in r.stderr
    assert not (tmp_path / "F").exists()


def test_token_refuses_to_append_to_a_broken_file(tokens_file):
    tokens_file.write_text("this is not a token line\n")
    r = run_tollgate(["token", str(tokens_file), "alice"])
    assert r.returncode == 1
    assert r.stdout == b""
    assert f"{tokens_file}:1:".encode() in r.stderr
    assert tokens_file.read_text() == "this is not a token line\n"


# ---- challenges and failures ----

def test_no_token_gets_the_bare_bearer_challenge(token_proxy, origin):
    p = token_proxy()
    resp = p.get(origin.url("/echo"))
    assert resp.status == 407
    assert resp.all("Proxy-Authenticate") == [BARE]
    assert origin.snapshot() == []


def test_an_unknown_token_gets_invalid_token_with_a_description(token_proxy, origin):
    p = token_proxy()
    status, headers = curl_bearer(p, origin.url("/echo"), "not-a-token-we-issued")
    assert status == 407
    assert [v for n, v in headers if n.lower() == "proxy-authenticate"] == \
        ['Bearer realm="tollgate", error="invalid_token", error_description="unknown token"']
    rec = last_auth(p, 1)
    assert (rec["scheme"], rec["result"], rec["user"], rec["reason"]) == \
        ("bearer", "fail", None, "unknown")
    assert origin.snapshot() == []


def test_an_expired_token_is_refused_saying_it_expired(token_proxy, tokens_file, origin):
    tokens_file.write_text(f"{sha256_hex('old-token')} alice 1000000000\n"
                           f"{sha256_hex('good-token')} bob {int(time.time()) + 3600}\n")
    p = token_proxy()
    resp = p.get(origin.url("/echo"), headers=[bearer("old-token")])
    assert description(resp) == "token expired"
    assert last_auth(p, 1)["reason"] == "expired"
    assert p.get(origin.url("/echo"), headers=[bearer("good-token")]).status == 200


def test_a_malformed_token_is_refused_as_malformed(token_proxy, origin):
    p = token_proxy()
    resp = p.get(origin.url("/echo"), headers=[bearer("two words")])
    assert description(resp) == "malformed token"


def test_a_failed_token_leaves_the_connection_usable(token_proxy, tokens_file, origin):
    tokens_file.write_text(f"{sha256_hex('good-token')} alice\n")
    p = token_proxy()
    with p.connect() as c:
        assert c.request("GET", origin.url("/echo"), headers=[bearer("wrong")]).status == 407
        assert c.request("GET", origin.url("/echo"), headers=[bearer("good-token")]).status == 200


def test_bearer_and_basic_are_offered_side_by_side(proxy, tokens_file, origin):
    tokens_file.write_text(f"{sha256_hex('good-token')} bob\n")
    p = proxy("--tokens", str(tokens_file), "--auth", "bearer,basic")
    resp = p.get(origin.url("/echo"))
    assert resp.all("Proxy-Authenticate") == [BARE, 'Basic realm="tollgate", charset="UTF-8"']
    assert p.get(origin.url("/echo"), auth=ALICE).status == 200
    assert p.get(origin.url("/echo"), headers=[bearer("good-token")]).status == 200
    # A failed Basic attempt does not decorate the Bearer challenge, and vice versa.
    resp = p.get(origin.url("/echo"), auth=("alice", "wrong"))
    assert BARE in resp.all("Proxy-Authenticate")
    resp = p.get(origin.url("/echo"), headers=[bearer("wrong")])
    assert 'Basic realm="tollgate", charset="UTF-8"' in resp.all("Proxy-Authenticate")
    assert description(resp) == "unknown token"


# ---- JWTs ----

@pytest.mark.parametrize("name", OK_JWTS)
def test_a_jwt_of_each_key_type_and_algorithm_is_accepted(jwt_proxy, origin, name):
    _, user, token = JWTS[name]
    p = jwt_proxy()
    status, _ = curl_bearer(p, origin.url("/echo"), token)
    assert status == 200
    rec = last_auth(p, 1)
    assert (rec["scheme"], rec["result"], rec["user"], rec["reason"]) == \
        ("bearer", "ok", user, "verified")


@pytest.mark.parametrize("name,text", [
    ("expired", "token expired"),
    ("expired-rs256", "token expired"),
    ("nbf-future", "token not yet valid"),
    ("bad-signature-flipped", "bad token signature"),
    ("bad-signature-other-key", "bad token signature"),
    ("wrong-issuer", "token issuer not accepted"),
    ("wrong-audience", "token audience not accepted"),
    ("missing-sub", "token names no usable user"),
    ("alg-none", "token signing algorithm not accepted"),
    ("alg-key-mismatch-es256-on-rsa", "token signing algorithm not accepted"),
    ("confusion-hs256-rsa-pem-kid", "token signing algorithm not accepted"),
    ("confusion-hs256-rsa-n-nokid", "bad token signature"),
    ("unknown-kid", "unknown token"),
    ("malformed-two-parts", "malformed token"),
])
def test_a_bad_jwt_is_refused_with_the_reason(jwt_proxy, origin, name, text):
    expect, _, token = JWTS[name]
    p = jwt_proxy()
    resp = p.get(origin.url("/echo"), headers=[bearer(token)])
    assert description(resp) == text
    rec = last_auth(p, 1)
    assert (rec["scheme"], rec["result"], rec["reason"]) == ("bearer", "fail", expect)
    assert origin.snapshot() == []


def test_the_algorithm_confusion_attack_fails_against_an_rsa_only_key_set(jwt_proxy, origin):
    p = jwt_proxy(keys=os.path.join(FIXTURES, "jwks-rsa-only.json"))
    for what in ("pem", "der", "n", "jwk-n"):
        for kid in ("kid", "nokid"):
            _, _, token = JWTS[f"confusion-hs256-rsa-{what}-{kid}"]
            resp = p.get(origin.url("/echo"), headers=[bearer(token)])
            assert description(resp) == "token signing algorithm not accepted"
    assert p.get(origin.url("/echo"), headers=[bearer(JWTS["ok-rs256"][2])]).status == 200


def test_the_user_claim_is_configurable(jwt_proxy, origin):
    p = jwt_proxy("--jwt-user-claim", "email")
    assert p.get(origin.url("/echo"), headers=[bearer(JWTS["ok-email-claim"][2])]).status == 200
    assert last_auth(p, 1)["user"] == "carol@example.test"
    resp = p.get(origin.url("/echo"), headers=[bearer(JWTS["ok-rs256"][2])])
    assert description(resp) == "token names no usable user"


def test_tokens_and_jwts_work_together(proxy, tokens_file, origin):
    tokens_file.write_text(f"{sha256_hex('opaque-one')} dave\n")
    p = proxy("--tokens", str(tokens_file), "--jwt-keys", JWKS, "--jwt-issuer", ISSUER,
              "--jwt-audience", AUDIENCE, htpasswd=None)
    assert p.get(origin.url("/echo"), headers=[bearer("opaque-one")]).status == 200
    assert p.get(origin.url("/echo"), headers=[bearer(JWTS["ok-eddsa"][2])]).status == 200
    users = [r["user"] for r in p.wait_auth(2)]
    assert users == ["dave", "user-eddsa"]


def test_a_broken_key_set_stops_startup_with_the_reason(proxy, tmp_path):
    bad = tmp_path / "keys.json"
    bad.write_text('{"keys": [{"kty": "oct", "k": "c2hvcnQ"}]}')
    p = proxy("--jwt-keys", str(bad), htpasswd=None, wait=False)
    assert p.wait_exit(15) == 2
    p.expect_exit = 2
    assert f"{bad}: keys[0]: oct key shorter than 32 bytes" in p.stderr()


# ---- SIGHUP ----

def _status(p, origin, token):
    return p.get(origin.url("/echo"), headers=[bearer(token)]).status


def test_sighup_reloads_the_token_file_revoking_at_once(token_proxy, tokens_file, origin):
    tokens_file.write_text(f"{sha256_hex('alice-token')} alice\n"
                           f"{sha256_hex('bob-token')} bob\n")
    p = token_proxy()
    assert _status(p, origin, "alice-token") == 200
    assert _status(p, origin, "alice-token") == 200  # now cached
    tokens_file.write_text(f"{sha256_hex('alice-token')} alice - revoked\n"
                           f"{sha256_hex('bob-token')} bob\n"
                           f"{sha256_hex('carol-token')} carol\n")
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: _status(p, origin, "carol-token") == 200, 5), "new token not loaded"
    resp = p.get(origin.url("/echo"), headers=[bearer("alice-token")])
    assert description(resp) == "token revoked"
    assert _status(p, origin, "bob-token") == 200


def test_sighup_with_a_broken_token_file_keeps_the_old_tokens(token_proxy, tokens_file, origin):
    tokens_file.write_text(f"{sha256_hex('alice-token')} alice\n")
    p = token_proxy()
    assert _status(p, origin, "alice-token") == 200
    tokens_file.write_text(f"{sha256_hex('alice-token')} alice\nbroken line\n")
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "keeping the previous tokens" in p.stderr(), 5), p.stderr()
    assert f"{tokens_file}:2:" in p.stderr()
    assert _status(p, origin, "alice-token") == 200


def test_sighup_reloads_the_jwk_set(jwt_proxy, tmp_path, origin):
    keys = tmp_path / "jwks.json"
    shutil.copy(os.path.join(FIXTURES, "jwks-rsa-only.json"), keys)
    p = jwt_proxy(keys=keys)
    es = JWTS["ok-es256"][2]
    assert description(p.get(origin.url("/echo"), headers=[bearer(es)])) == "unknown token"
    assert _status(p, origin, JWTS["ok-rs256"][2]) == 200
    shutil.copy(JWKS, keys)
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: _status(p, origin, es) == 200, 5), "new key set not loaded"


def test_minted_tokens_are_picked_up_by_sighup(token_proxy, tokens_file, origin):
    p = token_proxy()
    token = mint(tokens_file, "erin", "--ttl", "1h")
    assert _status(p, origin, token) == 407
    p.send_signal(signal.SIGHUP)
    assert wait_for(lambda: _status(p, origin, token) == 200, 5)
    # The poll above may have seen more than one 407 before the reload took: wait for
    # the success line itself, which the proxy writes just after answering.
    assert wait_for(lambda: [r["user"] for r in p.auth_records()][-1:] == ["erin"], 5), \
        p.auth_lines()



# ---- over the TLS listener ----

def test_curl_bearer_through_the_tls_listener_with_minted_token_and_jwt(tls_proxy, tokens_file,
                                                                         origin, tcp_echo):
    """curl -x https://... with --proxy-cacert: a token minted by the tool and a JWT, for a
    GET and a CONNECT, and a bad token refused with invalid_token, all over TLS."""
    token = mint(tokens_file, "alice")
    p = tls_proxy("--tokens", str(tokens_file), "--jwt-keys", JWKS, "--jwt-issuer", ISSUER,
                  "--jwt-audience", AUDIENCE, htpasswd=None)
    url = origin.url("/bytes/7")
    for tok in (token, JWTS["ok-es256"][2]):
        r = curl(["-x", p.tls_url, "--proxy-cacert", p.ca, "--proxy-header",
                  f"Proxy-Authorization: Bearer {tok}", "-o", "-", url])
        assert r.returncode == 0 and r.stdout == pattern(7), r.stderr
    r = curl(["-x", p.tls_url, "--proxy-cacert", p.ca, "--proxy-header",
              "Proxy-Authorization: Bearer not-a-token", "-D", "-", "-o", os.devnull, url])
    assert b" 407 " in r.stdout.split(b"\r\n")[0], r.stdout
    assert b'error="invalid_token"' in r.stdout
    # CONNECT through the TLS listener: curl sends the proxy header on the CONNECT.
    r = curl(["-x", p.tls_url, "--proxy-cacert", p.ca, "-p", "--proxy-header",
              f"Proxy-Authorization: Bearer {token}", "-o", os.devnull, "-w", "%{http_connect}",
              f"http://127.0.0.1:{tcp_echo.port}/"], max_time=5)
    assert r.stdout.startswith(b"200"), (r.stdout, r.stderr)
    users = [(e["user"], e["tls"]) for e in p.access_entries() if e["status"] == "200"]
    assert users[:2] == [("alice", "TLSv1.3"), (JWTS["ok-es256"][1], "TLSv1.3")], users


# ---- JWTs minted now, with real times ----

def _gen():
    """tests/unit/fixtures/jwt/gen.py as a module: its openssl-based signing and test keys."""
    spec = importlib.util.spec_from_file_location("jwtgen", os.path.join(FIXTURES, "gen.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_jwts_minted_at_test_time_expire_on_the_real_clock(jwt_proxy, origin):
    """Tokens signed now (openssl, the fixture keys) with exp and nbf relative to the real
    clock: accepted, cached only until exp, then refused as expired; nbf in the future is
    not yet valid; a payload changed after signing is a bad signature."""
    gen = _gen()
    now = int(time.time())
    p = jwt_proxy("--jwt-clock-skew", "0")
    minted = {
        alg: gen.jwt({"alg": alg, "kid": kid, "typ": "JWT"},
                     gen.claims(sub=f"user-{kid}", iat=now, exp=now + 3), kid)
        for alg, kid in (("ES256", "ec256"), ("RS256", "rsa1"), ("EdDSA", "ed1"),
                         ("HS256", "hmac1"))
    }
    for alg, token in minted.items():
        assert _status(p, origin, token) == 200, alg
    assert _status(p, origin, minted["ES256"]) == 200
    reasons = [r["reason"] for r in p.wait_auth(5)]
    assert reasons == ["verified"] * 4 + ["cached"], reasons

    later = gen.jwt({"alg": "ES256", "kid": "ec256"}, gen.claims(nbf=now + 60, exp=now + 120),
                    "ec256")
    assert description(p.get(origin.url("/echo"), headers=[bearer(later)])) == \
        "token not yet valid"
    head, payload, sig = minted["HS256"].split(".")
    forged = gen.part(gen.claims(sub="admin", iat=now, exp=now + 3))
    assert description(p.get(origin.url("/echo"),
                             headers=[bearer(f"{head}.{forged}.{sig}")])) == "bad token signature"

    time.sleep(max(0.0, now + 3.2 - time.time()))
    for alg, token in minted.items():
        assert description(p.get(origin.url("/echo"), headers=[bearer(token)])) == \
            "token expired", alg
