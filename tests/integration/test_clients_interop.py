"""The real clients (curl 7.88, wget 1.21, Python 3.11 urllib) against the
proxy, proving the facts in /work/shared/INTEROP.md: Basic is sent
pre-emptively by all of them, so there is no 407 round; urllib's
ProxyBasicAuthHandler and curl --proxy-anyauth do challenge-response."""

import json
import subprocess
import time
import urllib.error
import urllib.request

from helpers import ALICE, clean_env, curl
from origin import pattern

ALICE_ARG = f"{ALICE[0]}:{ALICE[1]}"


def _settled_statuses(p, n):
    """Statuses of all access-log lines once at least n exist (and a moment has passed)."""
    p.wait_access(n)
    time.sleep(0.2)
    return [e.get("status") for e in p.access_entries()]


def test_curl_sends_basic_preemptively_so_there_is_no_407_round(authed, origin):
    r = curl(["-x", authed.url, "--proxy-user", ALICE_ARG, origin.url("/echo")])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["method"] == "GET"
    assert len(origin.wait_requests(1)) == 1
    assert _settled_statuses(authed, 1) == ["200"]


def test_curl_capital_u_option_works(authed, origin):
    r = curl(["-x", authed.url, "-U", ALICE_ARG, "-o", "/dev/null", "-w", "%{http_code}",
              origin.url("/echo")])
    assert r.stdout == b"200", r
    assert _settled_statuses(authed, 1) == ["200"]


def test_curl_without_credentials_sees_407(authed, origin):
    r = curl(["-x", authed.url, "-o", "/dev/null", "-w", "%{http_code}", origin.url("/echo")])
    assert r.stdout == b"407", r
    assert origin.snapshot() == []


def test_curl_with_a_wrong_password_sees_407(authed, origin):
    r = curl(["-x", authed.url, "-U", "alice:wrong", "-o", "/dev/null", "-w", "%{http_code}",
              origin.url("/echo")])
    assert r.stdout == b"407", r
    assert origin.snapshot() == []


def test_curl_proxy_anyauth_against_a_basic_only_proxy_works(authed, origin):
    r = curl(["-x", authed.url, "--proxy-anyauth", "-U", ALICE_ARG, "-o", "/dev/null",
              "-w", "%{http_code}", origin.url("/echo")])
    assert r.stdout == b"200", r
    assert _settled_statuses(authed, 2) == ["407", "200"]
    assert len(origin.snapshot()) == 1


def test_curl_proxy_basic_flag_works(authed, origin):
    r = curl(["-x", authed.url, "--proxy-basic", "-U", ALICE_ARG, "-o", "/dev/null",
              "-w", "%{http_code}", origin.url("/echo")])
    assert r.stdout == b"200", r


def test_curl_credentials_in_the_proxy_url_work(authed, origin):
    url = authed.url.replace("http://", f"http://{ALICE_ARG}@")
    r = curl(["-x", url, "-o", "/dev/null", "-w", "%{http_code}", origin.url("/echo")])
    assert r.stdout == b"200", r


def test_curl_password_with_colon_and_utf8(proxy, users, origin):
    users.add("utf8user", "pä:ss€")
    p = proxy()
    r = curl(["-x", p.url, "--proxy-user", "utf8user:pä:ss€", "-o", "/dev/null",
              "-w", "%{http_code}", origin.url("/echo")])
    assert r.stdout == b"200", r


def test_curl_reuses_its_proxy_connection_for_two_urls(authed, origin):
    r = curl(["-x", authed.url, "-U", ALICE_ARG, "-o", "/dev/null", "-o", "/dev/null",
              origin.url("/bytes/10"), origin.url("/chunked/20000")])
    assert r.returncode == 0, r.stderr
    entries = authed.wait_access(2)
    assert [e["status"] for e in entries] == ["200", "200"]
    assert entries[0]["client"] == entries[1]["client"], "curl opened a second connection"
    reqs = origin.wait_requests(2)
    assert reqs[0]["conn_id"] == reqs[1]["conn_id"]


def test_curl_post_and_head_through_the_proxy(authed, origin):
    r = curl(["-x", authed.url, "-U", ALICE_ARG, "--data-binary", "abc", origin.url("/upload")])
    assert json.loads(r.stdout)["length"] == 3, r
    r = curl(["-x", authed.url, "-U", ALICE_ARG, "-I", origin.url("/bytes/1234")])
    assert r.returncode == 0, r.stderr
    assert b"Content-Length: 1234" in r.stdout


def _wget(proxy, url, user=ALICE[0], password=ALICE[1], extra=()):
    args = ["wget", "--no-config", "-q", "-O", "-", "--tries=1", "--timeout=10",
            "-e", "use_proxy=yes", "-e", f"http_proxy={proxy.url}"]
    if user is not None:
        args += [f"--proxy-user={user}", f"--proxy-password={password}"]
    args += [*extra, url]
    return subprocess.run(args, capture_output=True, timeout=30, env=clean_env())


def test_wget_sends_basic_preemptively(authed, origin):
    r = _wget(authed, origin.url("/echo"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["method"] == "GET"
    assert _settled_statuses(authed, 1) == ["200"]
    assert len(origin.snapshot()) == 1


def test_wget_downloads_a_chunked_body_intact(authed, origin):
    r = _wget(authed, origin.url("/chunked/300000"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == pattern(300000)


def test_wget_with_a_wrong_password_fails_and_reaches_nothing(authed, origin):
    r = _wget(authed, origin.url("/echo"), password="wrong")
    assert r.returncode != 0
    assert origin.snapshot() == []


def _urllib_open(handlers, url):
    opener = urllib.request.build_opener(*handlers)
    with opener.open(url, timeout=10) as resp:
        return resp.status, resp.read()


def test_python_urllib_with_credentials_in_the_proxy_url_is_preemptive(authed, origin):
    proxy_url = authed.url.replace("http://", f"http://{ALICE_ARG}@")
    status, body = _urllib_open([urllib.request.ProxyHandler({"http": proxy_url})],
                                origin.url("/echo"))
    assert status == 200
    assert json.loads(body)["method"] == "GET"
    assert _settled_statuses(authed, 1) == ["200"]


def test_python_urllib_proxy_basic_auth_handler_does_challenge_response(authed, origin):
    mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    mgr.add_password(None, authed.url, *ALICE)
    handlers = [urllib.request.ProxyHandler({"http": authed.url}),
                urllib.request.ProxyBasicAuthHandler(mgr)]
    status, _ = _urllib_open(handlers, origin.url("/echo"))
    assert status == 200
    assert _settled_statuses(authed, 2) == ["407", "200"]
    assert len(origin.snapshot()) == 1


def test_python_urllib_proxy_basic_auth_handler_with_the_realm_name(authed, origin):
    mgr = urllib.request.HTTPPasswordMgr()
    mgr.add_password("tollgate", authed.url, *ALICE)
    handlers = [urllib.request.ProxyHandler({"http": authed.url}),
                urllib.request.ProxyBasicAuthHandler(mgr)]
    status, _ = _urllib_open(handlers, origin.url("/echo"))
    assert status == 200


def test_python_urllib_without_credentials_gets_http_error_407(authed, origin):
    try:
        _urllib_open([urllib.request.ProxyHandler({"http": authed.url})], origin.url("/echo"))
    except urllib.error.HTTPError as e:
        assert e.code == 407
        assert e.headers.get_all("Proxy-Authenticate") == [
            'Basic realm="tollgate", charset="UTF-8"']
    else:
        raise AssertionError("expected HTTP 407")


def test_python_urllib_posts_a_body(authed, origin):
    proxy_url = authed.url.replace("http://", f"http://{ALICE_ARG}@")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy_url}))
    req = urllib.request.Request(origin.url("/upload"), data=b"x" * 70000, method="POST")
    with opener.open(req, timeout=10) as resp:
        assert json.loads(resp.read())["length"] == 70000


def test_python_urllib_uploading_megabytes_without_credentials_reads_its_407(authed, origin):
    # urllib sends the whole body before it reads anything (no Expect: 100-continue).
    # The proxy answers 407 early and drains what is still coming before it closes:
    # closing on unread bytes would reset the connection and lose the answer.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": authed.url}))
    req = urllib.request.Request(origin.url("/upload"), data=b"u" * (5 << 20), method="POST")
    try:
        opener.open(req, timeout=20)
    except urllib.error.HTTPError as e:
        assert e.code == 407
        assert e.headers.get("Connection") == "close"
    else:
        raise AssertionError("expected HTTP 407")
    assert origin.heads == []
