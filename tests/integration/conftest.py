"""Fixtures for the integration suite: a local origin, a TCP echo server, an
htpasswd file made with Apache's own tool, and a factory that starts the real
tollgate binary and, at teardown, stops it with SIGTERM and fails the test on
a non-zero exit or a sanitizer report in its stderr."""

import os
import signal
import subprocess

import pytest

from helpers import ALICE, BOB, BIN, Proxy, free_port
from origin import Origin, TcpEcho



@pytest.fixture
def origin():
    server = Origin()
    yield server
    server.close()


@pytest.fixture
def tcp_echo():
    server = TcpEcho()
    yield server
    server.close()


class Users:
    """An htpasswd file maintained with the real `htpasswd` tool."""

    def __init__(self, path):
        self.path = str(path)
        self.passwords = {}

    def add(self, user, password, flag="-B"):
        create = [] if os.path.exists(self.path) else ["-c"]
        args = ["htpasswd", "-b", *create, flag, self.path, user, password]
        subprocess.run(args, check=True, capture_output=True, timeout=30)
        self.passwords[user] = password

    def add_line(self, user, hashed):
        with open(self.path, "a") as f:
            f.write(f"{user}:{hashed}\n")

    def remove(self, user):
        subprocess.run(["htpasswd", "-D", self.path, user], check=True, capture_output=True,
                       timeout=30)
        self.passwords.pop(user, None)


@pytest.fixture
def users(tmp_path):
    u = Users(tmp_path / "users.htpasswd")
    u.add(*ALICE, flag="-B")
    u.add(*BOB, flag="-m")
    return u


def _tail(path, limit=4000):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries the logs of the proxies it started: CI keeps
    nothing else from a run, and a flaky failure may not come back on demand."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not rep.failed:
        return
    for p in getattr(item, "tg_proxies", []):
        for what, path in (("stderr", p.stderr_path), ("access log", p.access_log),
                           ("auth log", p.auth_log)):
            text = _tail(path) if path else ""
            if text:
                rep.sections.append((f"{p.name} {what}", text))


@pytest.fixture
def proxy(request, tmp_path, users, tcp_echo):
    """Factory: proxy(*extra_args, htpasswd=..., listen=[hosts], connect_ports=..., ...).

    By default: --listen 127.0.0.1:<free> --access-log FILE --auth-log FILE --threads 2
    --connect-ports <echo port>,443 --htpasswd <users file>. base=False passes only the
    given args (then give addrs=[(host, port)] to wait on)."""
    started = []
    request.node.tg_proxies = started

    def start(*extra, htpasswd=users.path, listen=("127.0.0.1",), connect_ports=None,
              access_log=True, auth_log=True, threads=2, base=True, addrs=None, wait=True,
              loopback_origin=True, rate_exempt=True):
        n = len(started)
        access = str(tmp_path / f"access{n}.log") if access_log is True else access_log
        authl = str(tmp_path / f"auth{n}.log") if auth_log is True else auth_log
        if connect_ports is None:
            connect_ports = f"{tcp_echo.port},443"
        argv = [BIN]
        if base:
            addrs = [(h, free_port(h)) for h in listen]
            for h, p in addrs:
                argv += ["--listen", f"[{h}]:{p}" if ":" in h else f"{h}:{p}"]
            if access is not None:
                argv += ["--access-log", access]
            if authl is not None:
                argv += ["--auth-log", authl]
            if threads is not None:
                argv += ["--threads", str(threads)]
            if connect_ports:
                argv += ["--connect-ports", str(connect_ports)]
            if rate_exempt:
                # Many tests fail logins on purpose; the rate-limit tests turn this off.
                argv += ["--rate-exempt", "127.0.0.0/8", "--rate-exempt", "::1/128"]
            if loopback_origin:
                # The origins of this suite live on loopback, which the SSRF guard refuses
                # unless told otherwise: these tests say so.
                argv += ["--allow-destination", "127.0.0.0/8", "--allow-destination", "::1/128"]
            if htpasswd is not None and "--no-auth" not in extra:
                argv += ["--htpasswd", htpasswd]
        argv += [str(a) for a in extra]
        access_path = access if access not in (None, "-", "off") else None
        auth_path = authl if authl not in (None, "-", "off") else None
        p = Proxy(argv, str(tmp_path), addrs or [], access_path, auth_path, name=f"tollgate{n}")
        started.append(p)
        if wait:
            p.wait_ready()
        return p

    yield start

    problems = []
    for p in started:
        try:
            if p.proc.poll() is None:
                try:
                    p.stop(signal.SIGTERM, timeout=10)
                except AssertionError as e:
                    problems.append(str(e))
            rc = p.proc.returncode
            if p.expect_exit is not None and rc != p.expect_exit:
                problems.append(f"tollgate exited with {rc}, expected {p.expect_exit}; "
                                f"argv={p.argv}\nstderr:\n{p.stderr()[-6000:]}")
            report = p.sanitizer_report()
            if report:
                problems.append(f"sanitizer report in tollgate stderr:\n{report[-12000:]}")
        finally:
            p.close_files()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def authed(proxy):
    """A proxy with the default users, ready to use."""
    return proxy()


def pytest_report_header(config):
    exists = os.path.exists(BIN)
    return [f"tollgate binary: {BIN} ({'present' if exists else 'MISSING'})"]


@pytest.fixture(autouse=True)
def _binary_present():
    if not os.path.exists(BIN):
        pytest.fail(f"tollgate binary not found at {BIN} (set TOLLGATE_BIN)", pytrace=False)


# Every subprocess the tests start must not pick up a proxy from the environment.
for _var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY",
             "all_proxy", "ALL_PROXY"):
    os.environ.pop(_var, None)


# ---- Digest (tests/integration/test_digest*.py) ----

from helpers import clean_env  # noqa: E402


class TollgateUsers:
    """A Tollgate users file (Basic + every Digest algorithm) maintained with the real
    `tollgate passwd` subcommand, the password given on stdin."""

    def __init__(self, path):
        self.path = str(path)
        self.passwords = {}

    def run(self, *args, input=b""):
        return subprocess.run([BIN, "passwd", self.path, *args], input=input,
                              capture_output=True, timeout=60, env=clean_env())

    def add(self, user, password, realm=None):
        extra = ["--realm", realm] if realm is not None else []
        r = self.run(user, *extra, input=(password + "\n").encode("utf-8"))
        assert r.returncode == 0, f"tollgate passwd {user} failed: {r.returncode} {r.stderr!r}"
        self.passwords[user] = password
        return r

    def delete(self, user, realm=None):
        extra = ["--realm", realm] if realm is not None else []
        r = self.run(user, "--delete", *extra)
        assert r.returncode == 0, f"tollgate passwd --delete {user} failed: {r.stderr!r}"
        self.passwords.pop(user, None)
        return r


@pytest.fixture
def tg_users(tmp_path):
    """A Tollgate users file holding alice and bob (same passwords as the htpasswd users)."""
    u = TollgateUsers(tmp_path / "tollgate.users")
    u.add(*ALICE)
    u.add(*BOB)
    return u


# The Digest tests make many deliberate failures from loopback; the login rate limit
# (--rate-limit, 429) is not what they test, so their proxies exempt loopback.
RATE_EXEMPT_LOOPBACK = ("--rate-exempt", "127.0.0.0/8", "--rate-exempt", "::1/128")


@pytest.fixture
def digest_proxy(proxy, tg_users):
    """Factory like `proxy`, but with --users <tg_users>, no --htpasswd by default, and
    loopback exempt from the login rate limit (rate_exempt=False to keep it)."""

    def start(*extra, users_file=True, rate_exempt=True, **kw):
        kw.setdefault("htpasswd", None)
        args = ["--users", tg_users.path] if users_file else []
        if rate_exempt:
            args += RATE_EXEMPT_LOOPBACK
        return proxy(*args, *extra, **kw)

    return start


# ---- TLS listener and browsers (test_tls.py, test_browser.py) ----

from helpers import PageOrigin, TestCA, TlsClient, TlsOrigin, wait_tls_ready  # noqa: E402


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory):
    """A test PKI (root + intermediate, openssl CLI) with a proxy certificate (serial 0x1001)
    and an origin certificate (serial 0x5001), both for IP:127.0.0.1 and DNS:localhost.
    Tests that rewrite certificate files copy them first."""
    ca = TestCA(tmp_path_factory.mktemp("pki"))
    ca.proxy_cert, ca.proxy_key = ca.issue("proxy", 0x1001)
    ca.origin_cert, ca.origin_key = ca.issue("origin", 0x5001)
    return ca


@pytest.fixture
def page_origin():
    """The plaintext origin with /page/TOKEN HTML pages."""
    server = PageOrigin()
    yield server
    server.close()


@pytest.fixture
def tls_origin(tls_ca):
    """An HTTPS origin (Python ssl) with a certificate from tls_ca; same endpoints as origin."""
    server = TlsOrigin(tls_ca.origin_cert, tls_ca.origin_key)
    yield server
    server.close()


@pytest.fixture
def tls_proxy(proxy, tls_ca):
    """Factory like `proxy`, with --tls-listen 127.0.0.1:<free> (tls_listeners of them),
    --tls-cert/--tls-key (the tls_ca proxy pair unless cert=/key= say otherwise). By default
    there is no plaintext listener; plain=True keeps the fixture's --listen. The returned
    Proxy gains tls_port, tls_addrs, tls_url ("https://127.0.0.1:PORT"), ca and
    tls_connect(**kw) -> TlsClient."""

    def start(*extra, plain=False, cert=None, key=None, tls_listeners=1, **kw):
        ports = [free_port() for _ in range(tls_listeners)]
        args = []
        for port in ports:
            args += ["--tls-listen", f"127.0.0.1:{port}"]
        args += ["--tls-cert", cert or tls_ca.proxy_cert, "--tls-key", key or tls_ca.proxy_key]
        if not plain:
            kw.setdefault("listen", ())
        p = proxy(*args, *extra, **kw)
        p.tls_addrs = [("127.0.0.1", port) for port in ports]
        p.tls_port = ports[0]
        p.tls_url = f"https://127.0.0.1:{ports[0]}"
        p.ca = tls_ca.ca_cert
        if kw.get("wait", True):
            for port in ports:
                wait_tls_ready(p, port, tls_ca.ca_cert)
        p.tls_connect = lambda index=0, **ckw: TlsClient(ports[index], tls_ca.ca_cert, **ckw)
        return p

    return start
