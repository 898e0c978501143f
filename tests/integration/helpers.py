"""Shared helpers: a raw HTTP/1.1 client with strict timeouts, request building,
running the tollgate binary and the real clients, and the proxy process wrapper
used by the `proxy` fixture in conftest.py."""

import base64
import json
import os
import re
import signal
import socket
import subprocess
import time

BIN = os.environ.get("TOLLGATE_BIN", "/work/main/build/tollgate")
ALICE = ("alice", "wonderland")  # bcrypt (htpasswd -B) in the default users file
BOB = ("bob", "builder")  # apr1 (htpasswd -m) in the default users file
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                     "WARNING: ThreadSanitizer")
PROXY_ENV_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy",
                  "NO_PROXY", "all_proxy", "ALL_PROXY", "ftp_proxy", "FTP_PROXY")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in PROXY_ENV_VARS}
    env.update(extra)
    return env


def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def b64(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return base64.b64encode(s).decode("ascii")


def basic(user, password):
    return "Basic " + b64(f"{user}:{password}")


def wait_for(predicate, timeout=5.0, interval=0.05):
    """Polls predicate until it returns a truthy value or the deadline passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class ConnectionClosed(Exception):
    """The peer closed (or reset) the connection before a complete response arrived."""


class Response:
    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) in order
        self.body = body
        self.raw_head = raw_head
        self.chunked = False
        self.interim = []  # 1xx responses that preceded this one

    def all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def header(self, name):
        values = self.all(name)
        return values[0] if values else None

    def has(self, name):
        return bool(self.all(name))

    def __repr__(self):
        return f"<Response {self.status} {self.reason!r} headers={self.headers!r} body={self.body[:200]!r}>"


def build_request(method, target, headers=(), body=b"", version="HTTP/1.1", auth=None, host=None):
    """Builds a raw request. host=None derives Host from an absolute or authority target,
    host=False omits it. auth=(user, password) adds a Basic Proxy-Authorization."""
    lines = [f"{method} {target} {version}"]
    names = {(h[0] if isinstance(h, tuple) else h.split(":", 1)[0]).lower() for h in headers}
    if host is None and "host" not in names:
        if "://" in target:
            host = target.split("://", 1)[1].split("/", 1)[0]
        elif method == "CONNECT":
            host = target
    if host:
        lines.append(f"Host: {host}")
    if auth is not None:
        lines.append(f"Proxy-Authorization: {basic(*auth)}")
    for h in headers:
        lines.append(f"{h[0]}: {h[1]}" if isinstance(h, tuple) else h)
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


class Client:
    """One TCP connection to the proxy; every read bounded by a timeout."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out; buffered so far: {self.buf[:300]!r}")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            raise TimeoutError(f"timed out; buffered so far: {self.buf[:300]!r}") from None
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ConnectionClosed(f"EOF after {len(self.buf)} of {n} bytes")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_line(self, deadline):
        while b"\r\n" not in self.buf:
            if not self._fill(deadline):
                raise ConnectionClosed(f"EOF inside a line: {self.buf[:200]!r}")
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def read_until_close(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._fill(deadline):
            pass
        data, self.buf = self.buf, b""
        return data

    def recv_within(self, timeout):
        """Returns buffered or newly arrived bytes, b'' on EOF, None when nothing came in time."""
        if self.buf:
            data, self.buf = self.buf, b""
            return data
        if self.eof:
            return b""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            return None
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
        return data

    def wait_closed(self, timeout=5.0):
        """True when the peer closes within timeout (discarding any bytes that arrive)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.recv_within(max(0.01, deadline - time.monotonic()))
            if data == b"":
                return True
        return False

    def read_head(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                raise ConnectionClosed(f"EOF before a complete response head: {self.buf[:300]!r}")
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return head

    def response(self, method="GET", timeout=None, skip_interim=True):
        """Reads one response (by default skipping 1xx interim responses, kept in .interim)."""
        interim = []
        while True:
            resp = self._one_response(method, timeout)
            if skip_interim and 100 <= resp.status < 200 and resp.status != 101:
                interim.append(resp)
                continue
            resp.interim = interim
            return resp

    def _one_response(self, method, timeout):
        deadline = time.monotonic() + (timeout or self.timeout)
        head = self.read_head(timeout)
        lines = head.split(b"\r\n")
        m = re.match(rb"(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise AssertionError(f"bad status line {lines[0]!r}")
        headers = []
        for raw in lines[1:]:
            name, sep, value = raw.decode("latin-1").partition(":")
            assert sep, f"bad response header line {raw!r}"
            headers.append((name, value.strip()))
        resp = Response(m.group(1).decode(), int(m.group(2)), (m.group(3) or b"").decode("latin-1"),
                        headers, b"", head)
        no_body = (method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
                   or (method == "CONNECT" and 200 <= resp.status < 300))
        if no_body:
            return resp
        te = ",".join(resp.all("Transfer-Encoding")).lower()
        if "chunked" in te:
            resp.chunked = True
            out = []
            while True:
                size_line = self.read_line(deadline)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.read_line(deadline) != b"":
                        pass
                    break
                out.append(self.read_exact(size, max(0.01, deadline - time.monotonic())))
                assert self.read_exact(2, max(0.01, deadline - time.monotonic())) == b"\r\n"
            resp.body = b"".join(out)
        elif resp.has("Content-Length"):
            n = int(resp.header("Content-Length"))
            resp.body = self.read_exact(n, max(0.01, deadline - time.monotonic()))
        else:
            while self._fill(deadline):
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def request(self, method, target, **kw):
        timeout = kw.pop("timeout", None)
        self.send(build_request(method, target, **kw))
        return self.response(method, timeout=timeout)


def run_tollgate(args, timeout=20, **kw):
    return subprocess.run([BIN, *args], capture_output=True, timeout=timeout, env=clean_env(), **kw)


def curl(args, max_time=10, input=None):
    """Runs the real curl; returns CompletedProcess with bytes stdout/stderr."""
    return subprocess.run(["curl", "-sS", "--max-time", str(max_time), *args], capture_output=True,
                          timeout=max_time + 15, env=clean_env(), input=input)


ACCESS_FIELDS = ("time", "client", "user", "method", "target", "status", "bytes_in",
                 "bytes_out", "duration_ms", "upstream", "reason", "listener", "tls")


def parse_access(line):
    parts = line.split(" ")
    if len(parts) != len(ACCESS_FIELDS):
        return {"_raw": line, "_fields": parts}
    entry = dict(zip(ACCESS_FIELDS, parts))
    entry["_raw"] = line
    return entry


class Proxy:
    """A running tollgate process started by the `proxy` fixture."""

    def __init__(self, argv, workdir, addrs, access_log, auth_log, name="tollgate"):
        self.argv = argv
        self.name = name
        self.addrs = addrs  # [(host, port)], first is the primary listener
        self.access_log = access_log
        self.auth_log = auth_log
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        self.stdout_path = os.path.join(workdir, f"{name}.stdout")
        self.expect_exit = 0  # what teardown asserts; None: do not check
        self._stderr = open(self.stderr_path, "wb")
        self._stdout = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._stdout, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL, env=clean_env())
        self.returncode = None

    @property
    def host(self):
        return self.addrs[0][0]

    @property
    def port(self):
        return self.addrs[0][1]

    @property
    def url(self):
        h = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{h}:{self.port}"

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        pending = list(self.addrs)
        while pending:
            if self.proc.poll() is not None:
                raise AssertionError(f"tollgate exited early with {self.proc.returncode}; "
                                     f"argv={self.argv}\nstderr:\n{self.stderr()}")
            host, port = pending[0]
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                try:
                    s.connect((host, port))
                    pending.pop(0)
                    continue
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError(f"tollgate not accepting on {host}:{port} after {timeout}s\n"
                                     f"stderr:\n{self.stderr()}")
            time.sleep(0.05)

    def connect(self, timeout=10.0, index=0):
        host, port = self.addrs[index]
        return Client(port, host, timeout)

    def request(self, method, target, **kw):
        """One request on a fresh connection."""
        with self.connect() as c:
            return c.request(method, target, **kw)

    def get(self, url, auth=None, **kw):
        return self.request("GET", url, auth=auth, **kw)

    # ---- logs ----
    def access_lines(self):
        if not self.access_log or not os.path.exists(self.access_log):
            return []
        with open(self.access_log, "rb") as f:
            return [l for l in f.read().decode("utf-8", "replace").split("\n") if l]

    def access_entries(self):
        return [parse_access(l) for l in self.access_lines()]

    def wait_access(self, n, timeout=5.0):
        """Waits until at least n access-log lines exist; returns parsed entries."""
        wait_for(lambda: len(self.access_lines()) >= n, timeout)
        entries = self.access_entries()
        assert len(entries) >= n, f"expected {n} access-log lines, got {self.access_lines()!r}"
        return entries

    def auth_lines(self):
        if not self.auth_log or not os.path.exists(self.auth_log):
            return []
        with open(self.auth_log, "rb") as f:
            return [l for l in f.read().decode("utf-8", "replace").split("\n") if l]

    def auth_records(self):
        return [json.loads(l) for l in self.auth_lines()]

    def wait_auth(self, n, timeout=5.0):
        wait_for(lambda: len(self.auth_lines()) >= n, timeout)
        records = self.auth_records()
        assert len(records) >= n, f"expected {n} auth-log lines, got {self.auth_lines()!r}"
        return records

    # ---- lifecycle ----
    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=10.0):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"tollgate did not exit within {timeout}s\nstderr:\n{self.stderr()}")
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def sanitizer_report(self):
        text = self.stderr()
        return text if any(m in text for m in SANITIZER_MARKERS) else None

    def close_files(self):
        for f in (self._stderr, self._stdout):
            try:
                f.close()
            except OSError:
                pass


# ---- abuse / hostile-input tests (test_abuse.py, test_hostile_wall.py) ----

class BoundClient(Client):
    """A Client whose socket is bound to a chosen source address before it connects, so one
    test can speak from many client addresses (127.0.0.2, 127.0.0.3, ... all reach a proxy
    listening on 127.0.0.1; for IPv6 give (addr, 0, 0, scope_id) as source)."""

    def __init__(self, port, source, host="127.0.0.1", timeout=10.0):
        src = source if isinstance(source, tuple) else (source, 0)
        family = socket.AF_INET6 if ":" in src[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.bind(src)
            self.sock.connect((host, port))
        except OSError:
            self.sock.close()
            raise
        self.timeout = timeout
        self.buf = b""
        self.eof = False


def connect_from(proxy, source, timeout=10.0, index=0):
    """A BoundClient to the proxy's listener `index`, speaking from `source`."""
    host, port = proxy.addrs[index]
    return BoundClient(port, source, host, timeout)


def proc_rss_kib(pid):
    """Resident set size of a process in KiB (VmRSS from /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


# ---- TLS listener and browsers (test_tls.py, test_browser.py) ----

import base64 as _base64  # noqa: E402
import hashlib as _hashlib  # noqa: E402
import ssl  # noqa: E402

from origin import Origin  # noqa: E402


def _openssl(*args, input=None):
    r = subprocess.run(["openssl", *[str(a) for a in args]], capture_output=True, timeout=60,
                       input=input, env=clean_env())
    assert r.returncode == 0, f"openssl {' '.join(map(str, args))} failed: {r.stderr.decode()}"
    return r.stdout


class TestCA:
    """A throw-away PKI made with the openssl CLI: a root CA, an intermediate CA under it,
    and leaf certificates for 127.0.0.1/localhost. Leaves come with their chain
    (leaf + intermediate) in one PEM file, so a server loading it serves the full chain
    and clients only need to trust the root (self.ca_cert)."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.ca_key = os.path.join(self.dir, "ca.key")
        self.ca_cert = os.path.join(self.dir, "ca.pem")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", self.ca_key, "-out", self.ca_cert, "-days", "3", "-sha256",
                 "-subj", "/CN=Tollgate Test Root CA", "-set_serial", "1",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.int_key = os.path.join(self.dir, "int.key")
        self.int_cert = os.path.join(self.dir, "int.pem")
        ext = self._ext("int", "basicConstraints=critical,CA:TRUE,pathlen:0\n"
                               "keyUsage=critical,keyCertSign,cRLSign\n")
        csr = os.path.join(self.dir, "int.csr")
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", self.int_key, "-out", csr, "-subj", "/CN=Tollgate Test Intermediate CA")
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
                 "-set_serial", "2", "-days", "3", "-sha256", "-extfile", ext, "-out", self.int_cert)

    def _ext(self, name, text):
        path = os.path.join(self.dir, f"{name}.ext")
        with open(path, "w") as f:
            f.write(text)
        return path

    def issue(self, name, serial, sans=("IP:127.0.0.1", "DNS:localhost"), key_type="ec"):
        """Issues a server certificate; returns (chain_pem_path, key_path). serial: an int."""
        key = os.path.join(self.dir, f"{name}.key")
        leaf = os.path.join(self.dir, f"{name}.leaf.pem")
        chain = os.path.join(self.dir, f"{name}.pem")
        csr = os.path.join(self.dir, f"{name}.csr")
        ext = self._ext(name, "basicConstraints=critical,CA:FALSE\n"
                              "keyUsage=critical,digitalSignature,keyEncipherment\n"
                              "extendedKeyUsage=serverAuth\n"
                              f"subjectAltName={','.join(sans)}\n")
        newkey = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key_type == "ec"
                  else ["-newkey", "rsa:2048"])
        _openssl("req", "-new", *newkey, "-nodes", "-keyout", key, "-out", csr,
                 "-subj", f"/CN={name}")
        _openssl("x509", "-req", "-in", csr, "-CA", self.int_cert, "-CAkey", self.int_key,
                 "-set_serial", str(serial), "-days", "2", "-sha256", "-extfile", ext, "-out", leaf)
        with open(chain, "w") as out:
            for part in (leaf, self.int_cert):
                with open(part) as f:
                    out.write(f.read())
        return chain, key


def spki_sha256_b64(cert_path):
    """base64(sha256(SubjectPublicKeyInfo DER)) of a PEM certificate's key: the form
    Chromium's --ignore-certificate-errors-spki-list takes."""
    pub = _openssl("x509", "-in", cert_path, "-pubkey", "-noout")
    der = _openssl("pkey", "-pubin", "-outform", "der", input=pub)
    return _base64.b64encode(_hashlib.sha256(der).digest()).decode("ascii")


def tls_client_context(ca, minimum=None, maximum=None, alpn=None):
    ctx = ssl.create_default_context(cafile=ca)
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


class TlsClient(Client):
    """A Client speaking TLS to a TLS listener: same request/response helpers, plus what the
    handshake gave (version, ALPN, peer certificate serial, session resumption)."""

    def __init__(self, port, ca=None, host="127.0.0.1", timeout=10.0, context=None,
                 server_hostname=None, session=None):
        ctx = context or tls_client_context(ca)
        raw = socket.create_connection((host, port), timeout=timeout)
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=server_hostname or host,
                                        session=session)
        except BaseException:
            raw.close()
            raise
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    @property
    def version(self):
        return self.sock.version()

    @property
    def alpn(self):
        return self.sock.selected_alpn_protocol()

    @property
    def serial(self):
        """The peer certificate's serial number as an int (verification must be on)."""
        return int(self.sock.getpeercert()["serialNumber"], 16)

    @property
    def session(self):
        return self.sock.session

    @property
    def session_reused(self):
        return self.sock.session_reused


def wait_tls_ready(proxy, port, ca, host="127.0.0.1", timeout=15.0):
    """Waits until a TLS listener completes a handshake. A bare TCP probe would leave a
    tls_handshake_failed line in the access log; a completed handshake closed before any
    request leaves none."""
    deadline = time.monotonic() + timeout
    while True:
        if proxy.proc.poll() is not None:
            raise AssertionError(f"tollgate exited early with {proxy.proc.returncode}; "
                                 f"argv={proxy.argv}\nstderr:\n{proxy.stderr()}")
        try:
            TlsClient(port, ca, host=host, timeout=2.0).close()
            return
        except (OSError, ssl.SSLError):
            if time.monotonic() > deadline:
                raise AssertionError(f"tollgate TLS listener {host}:{port} not ready after "
                                     f"{timeout}s\nstderr:\n{proxy.stderr()}") from None
            time.sleep(0.05)


def page_html(token):
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>tollgate {token}</title>"
            f"</head><body><h1>Arrived through the proxy</h1><p id=\"token\">{token}</p>"
            f"</body></html>").encode("utf-8")


class PageOrigin(Origin):
    """The test origin plus /page/TOKEN: a small HTML page whose title and text carry TOKEN,
    so a browser test can prove which page arrived."""

    def _respond(self, conn, rec, keep):
        target = rec["target"]
        path = target
        if "://" in path:
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        path = path.split("?", 1)[0]
        if not path.startswith("/page/"):
            return super()._respond(conn, rec, keep)
        body = page_html(path[len("/page/"):])
        head = ["HTTP/1.1 200 OK", "Server: tollgate-test-origin",
                "Content-Type: text/html; charset=utf-8", "Cache-Control: no-store",
                f"Content-Length: {len(body)}"]
        if not keep:
            head.append("Connection: close")
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if rec["method"] != "HEAD":
            conn.sendall(body)
        return keep


class TlsOrigin(PageOrigin):
    """PageOrigin over TLS (Python's ssl module) with a certificate from TestCA: the far end
    of CONNECT tunnels. url(path) gives https:// URLs."""

    def __init__(self, cert, key, host="127.0.0.1"):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.handshake_failures = 0
        super().__init__(host)

    def url(self, path):
        return f"https://{self.authority}{path}"

    def _serve(self, conn, addr, conn_id):
        conn.settimeout(15)
        try:
            tconn = self.ctx.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):
            with self.lock:
                self.handshake_failures += 1
                self._conns.discard(conn)
            conn.close()
            return
        with self.lock:
            self._conns.discard(conn)
            self._conns.add(tconn)
        super()._serve(tconn, addr, conn_id)
