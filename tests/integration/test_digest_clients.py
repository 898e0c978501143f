"""Real clients against Digest proxy authentication (RFC 7616), proving the facts
in /work/shared/INTEROP.md: curl --proxy-digest and --proxy-anyauth take the
first Digest challenge (SHA-256) for GET, POST and CONNECT; Python's urllib
ProxyDigestAuthHandler works only because the shipped User-Agent rule puts MD5
first; wget and curl -U send Basic pre-emptively and are accepted on the very
first request when Basic is offered next to Digest."""

import hashlib
import json
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from digestclient import parse_challenges, parse_params
from helpers import ALICE, BOB, clean_env, curl
from origin import pattern

ALICE_ARG = f"{ALICE[0]}:{ALICE[1]}"


def _settled_statuses(p, n):
    """Statuses of all access-log lines once at least n exist (and a moment has passed)."""
    p.wait_access(n)
    time.sleep(0.2)
    return [e.get("status") for e in p.access_entries()]


def _settled_auth(p, n):
    p.wait_auth(n)
    time.sleep(0.2)
    return [(r["scheme"], r["result"], r["reason"], r["user"]) for r in p.auth_records()]


def _sent_proxy_authorization(verbose_stderr):
    """The Proxy-Authorization values curl -v says it sent, in order."""
    text = verbose_stderr.decode("utf-8", "replace")
    return re.findall(r"^> Proxy-Authorization: (.*?)\r?$", text, flags=re.M | re.I)


def _digest_answer(value):
    assert value.lower().startswith("digest "), value
    return parse_params(value[len("digest "):])


# -------------------------------------------------------------------- curl ---

def test_curl_proxy_digest_get_uses_sha256(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic")
    r = curl(["-v", "-x", p.url, "--proxy-digest", "-U", ALICE_ARG, origin.url("/echo?a=1")])
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert seen["method"] == "GET" and seen["target"] == "/echo?a=1"
    assert "proxy-authorization" not in [n.lower() for n, _ in seen["headers"]]
    assert _settled_statuses(p, 2) == ["407", "200"]
    assert _settled_auth(p, 1) == [("digest", "ok", "verified", "alice")]
    sent = _sent_proxy_authorization(r.stderr)
    assert len(sent) == 1, sent
    ans = _digest_answer(sent[0])
    assert ans["algorithm"].upper() == "SHA-256", ans
    assert ans["uri"] == "/echo?a=1", ans  # curl sends path+query
    assert ans["qop"] == "auth"
    # curl honours userhash=true even for an ASCII name; the log still names alice
    assert ans.get("userhash", "").lower() == "true", ans
    assert len(origin.snapshot()) == 1


def test_curl_proxy_digest_post_body_arrives_intact(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic")
    body = pattern(50000)
    r = curl(["-v", "-x", p.url, "--proxy-digest", "-U", ALICE_ARG, "--data-binary", "@-",
              "-H", "Content-Type: application/octet-stream", origin.url("/upload")], input=body)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"length": len(body),
                                    "sha256": hashlib.sha256(body).hexdigest()}
    assert _settled_statuses(p, 2)[-1] == "200"
    assert _settled_auth(p, 1)[-1] == ("digest", "ok", "verified", "alice")
    ans = _digest_answer(_sent_proxy_authorization(r.stderr)[-1])
    assert ans["algorithm"].upper() == "SHA-256"
    assert len(origin.snapshot()) == 1


def test_curl_proxy_digest_small_post(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    r = curl(["-x", p.url, "--proxy-digest", "-U", ALICE_ARG, "--data-binary", "abc",
              origin.url("/upload")])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["length"] == 3


def test_curl_proxy_digest_connect_tunnel(digest_proxy, origin):
    """curl -p makes curl CONNECT to the origin's port and speak HTTP inside the tunnel;
    for CONNECT curl puts host:port in uri and CONNECT in A2."""
    p = digest_proxy("--auth", "digest,basic", connect_ports=str(origin.port))
    r = curl(["-v", "-p", "-x", p.url, "--proxy-digest", "-U", ALICE_ARG, origin.url("/echo")])
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert seen["target"] == "/echo"  # origin-form: it came through the tunnel
    assert "proxy-authorization" not in [n.lower() for n, _ in seen["headers"]]
    entries = p.wait_access(2)
    time.sleep(0.2)
    entries = p.access_entries()
    assert [(e["method"], e["status"]) for e in entries] == [("CONNECT", "407"),
                                                             ("CONNECT", "200")]
    assert _settled_auth(p, 1) == [("digest", "ok", "verified", "alice")]
    ans = _digest_answer(_sent_proxy_authorization(r.stderr)[-1])
    assert ans["algorithm"].upper() == "SHA-256"
    assert ans["uri"] == origin.authority


def test_curl_proxy_digest_with_a_wrong_password_ends_with_407(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    r = curl(["-x", p.url, "--proxy-digest", "-U", "alice:wrong", "-o", "/dev/null",
              "-w", "%{http_code}", origin.url("/echo")])
    assert r.stdout == b"407", r
    assert origin.snapshot() == []
    assert ("digest", "fail", "bad_response", "alice") in _settled_auth(p, 1)


def test_curl_proxy_digest_against_an_md5_only_offer(digest_proxy, origin):
    p = digest_proxy("--auth", "digest-md5")
    r = curl(["-v", "-x", p.url, "--proxy-digest", "-U", ALICE_ARG, "-o", "/dev/null",
              "-w", "%{http_code}", origin.url("/echo")])
    assert r.stdout == b"200", r
    ans = _digest_answer(_sent_proxy_authorization(r.stderr)[-1])
    assert ans.get("algorithm", "MD5").upper() == "MD5"


def test_curl_proxy_digest_userhash_for_a_non_ascii_user(digest_proxy, tg_users, origin):
    """curl honours userhash=true: it sends H(user:realm) as the user name."""
    tg_users.add("j\u00fcrgen", "pw\u20ac")
    p = digest_proxy("--auth", "digest")
    r = curl(["-v", "-x", p.url, "--proxy-digest", "-U", "j\u00fcrgen:pw\u20ac", "-o", "/dev/null",
              "-w", "%{http_code}", origin.url("/echo")])
    assert r.stdout == b"200", r
    ans = _digest_answer(_sent_proxy_authorization(r.stderr)[-1])
    assert ans.get("userhash", "").lower() == "true", ans
    assert ans["username"] == hashlib.sha256("j\u00fcrgen:tollgate".encode()).hexdigest()
    r = _settled_auth(p, 1)
    assert r[0][:3] == ("digest", "ok", "verified"), r


def test_curl_keep_alive_reuses_the_nonce_with_increasing_nc(digest_proxy, origin):
    p = digest_proxy("--auth", "digest")
    r = curl(["-v", "-x", p.url, "--proxy-digest", "-U", ALICE_ARG, "-o", "/dev/null",
              "-o", "/dev/null", "-o", "/dev/null", origin.url("/bytes/1"), origin.url("/bytes/2"),
              origin.url("/bytes/3")])
    assert r.returncode == 0, r.stderr
    statuses = _settled_statuses(p, 4)
    assert statuses.count("200") == 3, statuses
    records = _settled_auth(p, 3)
    assert all(x[1] == "ok" for x in records), records
    assert len(origin.snapshot()) == 3


def test_curl_proxy_anyauth_picks_digest_sha256(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic")
    r = curl(["-v", "-x", p.url, "--proxy-anyauth", "-U", ALICE_ARG, origin.url("/echo")])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["method"] == "GET"
    assert _settled_statuses(p, 2) == ["407", "200"]
    assert _settled_auth(p, 1) == [("digest", "ok", "verified", "alice")]
    sent = _sent_proxy_authorization(r.stderr)
    assert len(sent) == 1, sent
    assert _digest_answer(sent[0])["algorithm"].upper() == "SHA-256"


def test_curl_capital_u_sends_basic_preemptively_and_is_accepted_first_time(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic")
    r = curl(["-x", p.url, "-U", ALICE_ARG, "-o", "/dev/null", "-w", "%{http_code}",
              origin.url("/echo")])
    assert r.stdout == b"200", r
    assert _settled_statuses(p, 1) == ["200"]
    assert _settled_auth(p, 1) == [("basic", "ok", "verified", "alice")]


def test_curl_capital_u_connect_is_accepted_first_time(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic", connect_ports=str(origin.port))
    r = curl(["-p", "-x", p.url, "-U", ALICE_ARG, "-o", "/dev/null", "-w", "%{http_code}",
              origin.url("/echo")])
    assert r.stdout == b"200", r
    statuses = _settled_statuses(p, 1)
    assert statuses == ["200"], statuses


def test_curl_407_lines_are_split_and_the_first_digest_wins(digest_proxy, origin):
    """curl reports each Proxy-Authenticate line of the 407 it received."""
    p = digest_proxy("--auth", "digest,basic")
    r = curl(["-s", "-o", "/dev/null", "-D", "-", "-x", p.url, origin.url("/echo")])
    head = r.stdout.decode("latin-1")
    lines = re.findall(r"^Proxy-Authenticate: (.*?)\r?$", head, flags=re.M | re.I)
    chs = [parse_challenges(line) for line in lines]
    assert [len(c) for c in chs] == [1, 1, 1]
    assert [c[0].get("algorithm", "") for c in chs] == ["SHA-256", "MD5", ""]


# ------------------------------------------------------------------ urllib ---

def _urllib_digest_opener(p, url_for_password, user=ALICE):
    mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    # urllib looks the password up under the target URL, so register both
    mgr.add_password(None, url_for_password, *user)
    mgr.add_password(None, p.url, *user)
    return urllib.request.build_opener(urllib.request.ProxyHandler({"http": p.url}),
                                       urllib.request.ProxyDigestAuthHandler(mgr))


def test_python_urllib_proxy_digest_handler_gets_md5_thanks_to_the_shipped_rule(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic")
    opener = _urllib_digest_opener(p, origin.url("/"))
    with opener.open(origin.url("/echo?from=urllib"), timeout=10) as resp:
        assert resp.status == 200
        seen = json.loads(resp.read())
    assert seen["target"] == "/echo?from=urllib"
    assert _settled_statuses(p, 2) == ["407", "200"]
    assert _settled_auth(p, 1) == [("digest", "ok", "verified", "alice")]
    assert len(origin.snapshot()) == 1


def test_python_urllib_proxy_digest_handler_posts_a_body(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic")
    opener = _urllib_digest_opener(p, origin.url("/"))
    body = pattern(30000)
    req = urllib.request.Request(origin.url("/upload"), data=body, method="POST")
    with opener.open(req, timeout=10) as resp:
        assert json.loads(resp.read()) == {"length": len(body),
                                           "sha256": hashlib.sha256(body).hexdigest()}


def test_python_urllib_without_the_shipped_rule_fails_on_sha256(digest_proxy, origin):
    """Why the rule exists: urllib reads only the first Proxy-Authenticate line and
    raises on algorithm=SHA-256 instead of falling back to MD5."""
    p = digest_proxy("--auth", "digest,basic", "--no-default-auth-rules")
    opener = _urllib_digest_opener(p, origin.url("/"))
    with pytest.raises((ValueError, urllib.error.URLError)):
        with opener.open(origin.url("/echo"), timeout=10) as resp:
            resp.read()
    assert origin.snapshot() == []


def test_python_urllib_with_a_wrong_password_gets_407(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic")
    opener = _urllib_digest_opener(p, origin.url("/"), user=("alice", "wrong"))
    with pytest.raises(urllib.error.HTTPError) as info:
        opener.open(origin.url("/echo"), timeout=10)
    # urllib retries a few times, then gives up with its own "401 digest auth failed"
    assert info.value.code in (401, 407), info.value
    info.value.close()
    assert origin.snapshot() == []
    records = _settled_auth(p, 1)
    assert records and all(r[:3] == ("digest", "fail", "bad_response") for r in records), records


# -------------------------------------------------------------------- wget ---

def _wget(proxy, url, user=ALICE[0], password=ALICE[1], extra=()):
    args = ["wget", "--no-config", "-q", "-O", "-", "--tries=1", "--timeout=10",
            "-e", "use_proxy=yes", "-e", f"http_proxy={proxy.url}"]
    if user is not None:
        args += [f"--proxy-user={user}", f"--proxy-password={password}"]
    args += [*extra, url]
    return subprocess.run(args, capture_output=True, timeout=30, env=clean_env())


def test_wget_preemptive_basic_is_accepted_next_to_digest(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic")
    r = _wget(p, origin.url("/echo"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["method"] == "GET"
    statuses = _settled_statuses(p, 1)
    assert "407" not in statuses, statuses
    assert statuses == ["200"]
    assert _settled_auth(p, 1) == [("basic", "ok", "verified", "alice")]


def test_wget_with_bob_and_a_body(digest_proxy, origin):
    p = digest_proxy("--auth", "digest,basic")
    r = _wget(p, origin.url("/upload"), user=BOB[0], password=BOB[1],
              extra=["--post-data", "x" * 1000])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["length"] == 1000
    assert "407" not in _settled_statuses(p, 1)


def test_wget_against_a_digest_only_offer_fails(digest_proxy, origin):
    """wget cannot do Digest: with no Basic offered its pre-emptive Basic is refused."""
    p = digest_proxy("--auth", "digest")
    r = _wget(p, origin.url("/echo"))
    assert r.returncode != 0
    assert origin.snapshot() == []
