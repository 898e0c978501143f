"""A local HTTP/1.1 origin server and a TCP echo server for the integration tests.

The origin is written on raw sockets so its framing is exactly what the tests
say it is: persistent HTTP/1.1 connections, Content-Length, chunked and
close-delimited bodies, 1xx interim responses. It records every request it
receives (head first, then the complete request once its body has been read)
together with the connection it came over, so tests can assert what reached
it and whether the proxy reused an upstream connection.

Endpoints (any method; HEAD gets the GET head without a body):
  /echo             JSON: method, target, version, headers, body length + sha256
  /bytes/N          N bytes of pattern(N) with Content-Length
  /chunked/N        N bytes of pattern(N), chunked in uneven chunks
  /close/N          N bytes of pattern(N), close-delimited (Connection: close)
  /status/CODE      that status; 204 and 304 without a body; 401 with
                    WWW-Authenticate: Basic realm="origin"
  /hopbyhop         a response carrying hop-by-hop fields
  /slow[/SECONDS]   waits (default 3 s) before answering
  /upload           consumes the body, answers JSON length + sha256
"""

import hashlib
import json
import socket
import threading
import time

_BLOCK = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(2048))  # 64 KiB
_PATTERN_CACHE = {}


def pattern(n):
    """n deterministic bytes (not periodic within 64 KiB)."""
    data = _PATTERN_CACHE.get(n)
    if data is None:
        data = (_BLOCK * (n // len(_BLOCK) + 1))[:n]
        if n <= 16 * 1024 * 1024:
            _PATTERN_CACHE[n] = data
    return data


CHUNK_SIZES = (1, 7, 100, 4093, 16384, 3, 65536, 250)


class _Reader:
    """Buffered reads off a socket. A bytearray keeps a 10 MiB body linear to read
    (appending to bytes copied the whole buffer for every recv)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def _take(self, n, skip=0):
        data = bytes(self.buf[:n])
        del self.buf[:n + skip]
        return data

    def line(self, limit=65536):
        while (end := self.buf.find(b"\n")) < 0:
            if len(self.buf) > limit:
                raise ValueError("line too long")
            self._fill()
        return self._take(end, 1).rstrip(b"\r")

    def head(self):
        """Returns the head (bytes without the final blank line) or None at a clean EOF."""
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            try:
                self._fill()
            except EOFError:
                if self.buf:
                    raise
                return None
        return self._take(end, 4)

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        return self._take(n)

    def chunked(self):
        out = []
        while True:
            size_line = self.line()
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while self.line() != b"":  # trailers
                    pass
                return b"".join(out)
            out.append(self.exact(size))
            if self.exact(2) != b"\r\n":
                raise ValueError("bad chunk terminator")


class Origin:
    def __init__(self, host="127.0.0.1", slow_default=3.0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(128)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.slow_default = slow_default
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.heads = []  # every request head seen, as soon as it is read
        self.requests = []  # complete requests (body read)
        self.connections = 0
        self._conns = set()
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def authority(self):
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def url(self, path):
        return f"http://{self.authority}{path}"

    # ---- recording helpers for tests ----
    def wait_requests(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.requests)

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def heads_snapshot(self):
        with self.lock:
            return list(self.heads)

    def close(self):
        self._closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass

    # ---- server ----
    def _accept_loop(self):
        while not self._closed:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                conn_id = self.connections
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn, addr, conn_id), daemon=True).start()

    def _serve(self, conn, addr, conn_id):
        conn.settimeout(60)
        reader = _Reader(conn)
        try:
            while True:
                head = reader.head()
                if head is None:
                    return
                lines = head.split(b"\r\n")
                method, target, version = lines[0].decode("latin-1").split(" ", 2)
                headers = []
                for raw in lines[1:]:
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers.append((name, value.strip()))
                hmap = {}
                for n, v in headers:
                    hmap.setdefault(n.lower(), []).append(v)
                rec = {
                    "method": method,
                    "target": target,
                    "version": version,
                    "headers": headers,
                    "raw_head": head,
                    "conn_id": conn_id,
                    "peer": addr,
                    "peer_port": addr[1],
                }
                with self.cond:
                    self.heads.append(rec)
                te = ",".join(hmap.get("transfer-encoding", [])).lower()
                cl = hmap.get("content-length")
                has_body = "chunked" in te or (cl and int(cl[0]) > 0)
                if has_body and any(v.lower() == "100-continue" for v in hmap.get("expect", [])):
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                if "chunked" in te:
                    body = reader.chunked()
                elif cl:
                    body = reader.exact(int(cl[0]))
                else:
                    body = b""
                rec["body"] = body
                with self.cond:
                    self.requests.append(rec)
                    self.cond.notify_all()
                conn_tokens = ",".join(hmap.get("connection", [])).lower()
                if version == "HTTP/1.0":
                    keep = "keep-alive" in conn_tokens
                else:
                    keep = "close" not in conn_tokens
                keep = self._respond(conn, rec, keep)
                if not keep:
                    return
        except (EOFError, OSError, ValueError):
            return
        finally:
            with self.lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def _respond(self, conn, rec, keep):
        """Writes the response; returns whether the connection stays open."""
        method = rec["method"]
        target = rec["target"]
        path = target
        if "://" in path:
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        path = path.split("?", 1)[0]
        head_only = method == "HEAD"
        parts = [p for p in path.split("/") if p]
        name = parts[0] if parts else ""
        arg = parts[1] if len(parts) > 1 else None
        hdrs = [("Server", "tollgate-test-origin")]

        def send(status, reason, extra, body, framing="length"):
            lines = [f"HTTP/1.1 {status} {reason}"]
            for k, v in hdrs + list(extra):
                lines.append(f"{k}: {v}")
            if framing == "length":
                lines.append(f"Content-Length: {len(body)}")
            elif framing == "chunked":
                lines.append("Transfer-Encoding: chunked")
            if not keep and framing != "close":
                lines.append("Connection: close")
            if framing == "close":
                lines.append("Connection: close")
            conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            if head_only or framing == "none":
                return
            if framing == "chunked":
                pos, i = 0, 0
                while pos < len(body):
                    size = CHUNK_SIZES[i % len(CHUNK_SIZES)]
                    piece = body[pos:pos + size]
                    ext = ";ext=1" if i == 2 else ""
                    conn.sendall(b"%x%s\r\n%s\r\n" % (len(piece), ext.encode(), piece))
                    pos += len(piece)
                    i += 1
                conn.sendall(b"0\r\n\r\n")
            else:
                view = memoryview(body)
                for off in range(0, len(body), 262144):
                    conn.sendall(view[off:off + 262144])

        if name == "echo":
            info = {
                "method": method,
                "target": target,
                "version": rec["version"],
                "headers": rec["headers"],
                "body_length": len(rec["body"]),
                "body_sha256": hashlib.sha256(rec["body"]).hexdigest(),
            }
            send(200, "OK", [("Content-Type", "application/json")], json.dumps(info).encode())
        elif name == "upload":
            info = {"length": len(rec["body"]), "sha256": hashlib.sha256(rec["body"]).hexdigest()}
            send(200, "OK", [("Content-Type", "application/json")], json.dumps(info).encode())
        elif name == "bytes":
            send(200, "OK", [("Content-Type", "application/octet-stream")], pattern(int(arg)))
        elif name == "chunked":
            send(200, "OK", [("Content-Type", "application/octet-stream")], pattern(int(arg)), "chunked")
        elif name == "close":
            send(200, "OK", [("Content-Type", "application/octet-stream")], pattern(int(arg)), "close")
            return False
        elif name == "status":
            code = int(arg)
            if code in (204, 304):
                extra = [("ETag", '"v1"')] if code == 304 else []
                send(code, "No Content" if code == 204 else "Not Modified", extra, b"", "none")
            elif code == 401:
                send(401, "Unauthorized", [("WWW-Authenticate", 'Basic realm="origin"'),
                                           ("Content-Type", "text/plain")], b"origin says no\n")
            else:
                send(code, "Status", [("Content-Type", "text/plain")], f"status {code}\n".encode())
        elif name == "hopbyhop":
            send(200, "OK", [
                ("Connection", "X-Secret-Hop"),
                ("X-Secret-Hop", "1"),
                ("Keep-Alive", "timeout=5"),
                ("Proxy-Authenticate", 'Basic realm="evil"'),
                ("Upgrade", "foo"),
                ("Trailer", "x"),
                ("X-End-To-End", "yes"),
                ("Content-Type", "text/plain"),
            ], b"hop-by-hop test\n")
        elif name == "slow":
            delay = float(arg) if arg else self.slow_default
            time.sleep(delay)
            send(200, "OK", [("Content-Type", "text/plain")], b"finally\n")
        else:
            send(404, "Not Found", [("Content-Type", "text/plain")], b"no such endpoint\n")
        return keep


class TcpEcho:
    """Echoes every byte back; on EOF from the peer it shuts down its write side and closes."""

    def __init__(self, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.eof_seen = threading.Event()
        self.accepted = threading.Event()
        self.received = []  # bytes received per connection (first 4 KiB)
        self._conns = set()
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self._conns.add(conn)
            self.accepted.set()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(60)
        first = bytearray()
        with self.lock:
            self.received.append(first)
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    self.eof_seen.set()
                    try:
                        conn.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                if len(first) < 4096:
                    first.extend(data[: 4096 - len(first)])
                conn.sendall(data)
        except OSError:
            return
        finally:
            with self.lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self._closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
