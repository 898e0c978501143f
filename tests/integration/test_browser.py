"""A real browser through Tollgate: Debian's headless Chromium, driven by playwright-core
(tests/integration/browser/drive.js) with executablePath set, loads an HTTP page and an HTTPS
page (CONNECT to a local TLS origin) through the plaintext listener and through the TLS
listener, answering the proxy's 407 with Basic and with Digest credentials.

Arrival is proved three ways: the page text and title carry a per-test random token, a
screenshot is written, and the origin and the access log record the request as alice's.

Chromium sends loopback destinations through a proxy only with --proxy-bypass-list=<-loopback>
(the driver passes it as Playwright's proxy.bypass). The test CA is trusted by public-key
pin (--ignore-certificate-errors-spki-list) for the origin's and the proxy's keys, so
certificate checking stays on for everything else.

Missing Chromium, node or the npm packages (make deps-test installs them: scripts/deps.sh test,
then tests/integration/browser/setup.sh) skip these tests with the reason; they never pass
silently. TOLLGATE_CHROMIUM names another Chromium binary."""

import json
import os
import secrets
import shutil
import subprocess

import pytest

from helpers import ALICE, clean_env, spki_sha256_b64, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER_DIR = os.path.join(HERE, "browser")
DRIVER = os.path.join(DRIVER_DIR, "drive.js")
CHROMIUM = os.environ.get("TOLLGATE_CHROMIUM", "/usr/bin/chromium")
BROWSER_TIMEOUT = 60  # seconds, the bound on one browser run


def _missing():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (Debian package 'chromium'; scripts/deps.sh test)"
    if not shutil.which("node"):
        return "node not found (Debian package 'nodejs'; scripts/deps.sh test)"
    if not os.path.isdir(os.path.join(DRIVER_DIR, "node_modules", "playwright-core")):
        return (f"playwright-core not installed in {DRIVER_DIR} "
                "(run scripts/deps.sh test, or npm ci there)")
    return None


@pytest.fixture(scope="module")
def browser_ready():
    reason = _missing()
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    return CHROMIUM


def run_browser(url, proxy_server, user, password, spki=(), screenshot=None):
    """Loads url in a fresh headless Chromium through proxy_server; returns the driver's
    JSON report (ok, status, title, text, error, failed)."""
    cfg = {
        "executablePath": CHROMIUM,
        "url": url,
        "proxy": {"server": proxy_server, "bypass": "<-loopback>", "username": user,
                  "password": password},
        "args": [f"--ignore-certificate-errors-spki-list={','.join(spki)}"] if spki else [],
        "timeoutMs": 30000,
        "screenshot": screenshot,
    }
    env = clean_env(HOME=os.environ.get("HOME", "/tmp"))
    try:
        r = subprocess.run(["node", DRIVER, json.dumps(cfg)], cwd=DRIVER_DIR, capture_output=True,
                           timeout=BROWSER_TIMEOUT, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"browser run exceeded {BROWSER_TIMEOUT}s; stderr: {e.stderr!r}")
    lines = [l for l in r.stdout.decode("utf-8", "replace").splitlines() if l.startswith("{")]
    assert lines, f"driver printed no report (rc {r.returncode}): {r.stdout!r} {r.stderr!r}"
    report = json.loads(lines[-1])
    report["_stderr"] = r.stderr.decode("utf-8", "replace")[-3000:]
    return report


def start_proxy(kind, scheme, proxy, tls_proxy, tg_users, connect_ports):
    """kind: plain|tls listener; scheme: basic|digest (the only challenge offered)."""
    if scheme == "digest":
        creds = dict(htpasswd=None)
        args = ["--users", tg_users.path, "--auth", "digest"]
    else:
        creds = {}
        args = ["--auth", "basic"]
    if kind == "tls":
        p = tls_proxy(*args, connect_ports=connect_ports, **creds)
        return p, p.tls_url
    p = proxy(*args, connect_ports=connect_ports, **creds)
    return p, p.url


def assert_png(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, f"no screenshot at {path}"


@pytest.mark.parametrize("scheme", ["basic", "digest"])
@pytest.mark.parametrize("kind", ["plain", "tls"])
def test_http_page(browser_ready, proxy, tls_proxy, tg_users, tls_ca, page_origin, tmp_path,
                   kind, scheme):
    p, server = start_proxy(kind, scheme, proxy, tls_proxy, tg_users, connect_ports="443")
    token = "tok-" + secrets.token_hex(8)
    url = page_origin.url(f"/page/{token}")
    shot = str(tmp_path / "page.png")
    spki = [spki_sha256_b64(tls_ca.proxy_cert)] if kind == "tls" else []
    rep = run_browser(url, server, *ALICE, spki=spki, screenshot=shot)
    assert rep["ok"], f"browser failed: {rep}\nproxy access log: {p.access_lines()}"
    assert rep["status"] == 200
    assert token in rep["text"] and rep["title"] == f"tollgate {token}", rep
    assert_png(shot)
    assert any(r["target"] == f"/page/{token}" and r["method"] == "GET"
               for r in page_origin.snapshot())
    wait_for(lambda: any(e.get("target") == url and e.get("status") == "200"
                         for e in p.access_entries()))
    ok = [e for e in p.access_entries() if e.get("target") == url and e.get("status") == "200"]
    assert ok and ok[0]["user"] == "alice", p.access_lines()
    # Chromium met the challenge first (it never sends credentials unasked).
    assert any(e.get("target") == url and e.get("status") == "407" for e in p.access_entries())
    assert any(r.get("scheme") == scheme and r.get("result") == "ok" for r in p.auth_records()), \
        p.auth_lines()


@pytest.mark.parametrize("scheme", ["basic", "digest"])
@pytest.mark.parametrize("kind", ["plain", "tls"])
def test_https_page_via_connect(browser_ready, proxy, tls_proxy, tg_users, tls_ca, tls_origin,
                                tmp_path, kind, scheme):
    p, server = start_proxy(kind, scheme, proxy, tls_proxy, tg_users,
                            connect_ports=str(tls_origin.port))
    token = "tok-" + secrets.token_hex(8)
    url = tls_origin.url(f"/page/{token}")
    shot = str(tmp_path / "page.png")
    spki = [spki_sha256_b64(tls_ca.origin_cert)]
    if kind == "tls":
        spki.append(spki_sha256_b64(tls_ca.proxy_cert))
    rep = run_browser(url, server, *ALICE, spki=spki, screenshot=shot)
    assert rep["ok"], f"browser failed: {rep}\nproxy access log: {p.access_lines()}"
    assert rep["status"] == 200
    assert token in rep["text"] and rep["title"] == f"tollgate {token}", rep
    assert_png(shot)
    assert any(r["target"] == f"/page/{token}" for r in tls_origin.snapshot())
    authority = tls_origin.authority
    wait_for(lambda: any(e.get("target") == authority and e.get("status") == "200"
                         for e in p.access_entries()))
    tunnels = [e for e in p.access_entries()
               if e.get("method") == "CONNECT" and e.get("target") == authority]
    assert any(e["status"] == "200" and e["user"] == "alice" for e in tunnels), p.access_lines()
    assert any(r.get("scheme") == scheme and r.get("result") == "ok" for r in p.auth_records()), \
        p.auth_lines()


def test_wrong_password_page_does_not_arrive(browser_ready, proxy, page_origin):
    p = proxy("--auth", "basic")
    token = "tok-" + secrets.token_hex(8)
    url = page_origin.url(f"/page/{token}")
    rep = run_browser(url, p.url, "alice", "not-the-password")
    # Chromium gives up after the refused answer and shows the proxy's 407 page.
    assert token not in (rep["text"] or "") and rep["status"] in (407, None), rep
    assert wait_for(lambda: any(e.get("target") == url and e.get("reason") == "bad_password"
                                for e in p.access_entries())), p.access_lines()
    assert all(r["target"] != f"/page/{token}" for r in page_origin.snapshot())
    assert not any(e.get("target") == url and e.get("status") == "200"
                   for e in p.access_entries())
