"""The processes `make bench` runs: the nginx origin, the TCP source/sink and
the proxies (Tollgate, Squid, tinyproxy, HAProxy), with their configurations
(bench/conf/, filled in per run) and fixtures (files, bcrypt users).

A peer that is not installed or does not start is recorded in
Stack.status and left out; Tollgate or the origin failing stops the run.
Every process is started pinned (taskset), with the descriptor limit raised
to the hard limit, and stopped by its own pid.
"""
import base64
import concurrent.futures
import os
import resource
import shutil
import socket
import string
import subprocess
import time

from params import (BIG, CACHE, FD_LIMIT, HERE, IDLE_LEVELS, LOAD_CPU, PROXY_CPU, PY, SMALL,
                    TOLLGATE, BenchError, log)


def raise_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def run(cmd, timeout, **kw):
    """subprocess.run with output captured and text decoded."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=raise_nofile, **kw)


def pinned(cpu, cmd):
    return ["taskset", "-c", cpu] + cmd


class Server:
    """One long-running process (and its children), stopped by its pid."""

    def __init__(self, name, cmd, port, rundir, cpu=PROXY_CPU):
        self.name, self.cmd, self.port, self.cpu = name, cmd, port, cpu
        self.logpath = os.path.join(rundir, f"{name}.out")
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=20):
        """Starts and waits until the port accepts; BenchError otherwise."""
        with open(self.logpath, "ab") as logf:
            self.proc = subprocess.Popen(pinned(self.cpu, self.cmd), stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=logf, preexec_fn=raise_nofile)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode}: {self.tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise BenchError(f"{self.name} did not listen on {self.port} in {timeout} s: {self.tail()}")

    def tail(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-3:])
        except OSError:
            return ""

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


# ---------------------------------------------------------------- fixtures

def password(user):
    return f"bench-{user}"


def basic_value(user):
    return "Basic " + base64.b64encode(f"{user}:{password(user)}".encode()).decode()


def ensure_users(n):
    """bench/cache/users.htpasswd (u0000.., bcrypt cost 10, made with Apache's
    htpasswd) and users.basic (their Proxy-Authorization values, one a
    line). Hashing 2,000 users takes a minute or two, so it is done once and
    grown when short. Returns (htpasswd path, basic path, user count)."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, "users.htpasswd")
    lines = []
    if os.path.exists(path):
        with open(path) as f:
            lines = [ln.rstrip("\n") for ln in f]
    for i, ln in enumerate(lines):  # keep the valid prefix only
        if not ln.startswith(f"u{i:04d}:$2y$10$"):
            lines = lines[:i]
            break
    if len(lines) < n:
        log(f"hashing {n - len(lines)} bcrypt cost-10 users into {path} (once)")

        def make(i):
            user = f"u{i:04d}"
            out = run(["htpasswd", "-nbB", "-C", "10", user, password(user)], 60)
            if out.returncode != 0 or not out.stdout.startswith(f"{user}:$2y$10$"):
                raise BenchError(f"htpasswd failed: {out.stderr.strip()}")
            return out.stdout.strip()
        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as ex:
            lines += list(ex.map(make, range(len(lines), n)))
        with open(path + ".tmp", "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(path + ".tmp", path)
    basic = os.path.join(CACHE, "users.basic")
    with open(basic, "w") as f:
        f.writelines(basic_value(ln.split(":", 1)[0]) + "\n" for ln in lines)
    return path, basic, len(lines)


def write_conf(name, rundir, values):
    """bench/conf/NAME with ${...} filled in, written to the run directory."""
    with open(os.path.join(HERE, "conf", name)) as f:
        text = string.Template(f.read()).substitute(values)
    out = os.path.join(rundir, name)
    with open(out, "w") as f:
        f.write(text)
    return out


def make_files(rundir):
    """The origin's files: www/small (100 bytes) and www/big (100 MiB)."""
    www = os.path.join(rundir, "www")
    os.makedirs(www)
    with open(os.path.join(www, "small"), "wb") as f:
        f.write(b"x" * (SMALL - 1) + b"\n")
    big = os.path.join(www, "big")
    with open(big, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(BIG >> 20):
            f.write(chunk)
    os.chmod(rundir, 0o755)  # nginx's worker and Squid run as other users
    return big


# ---------------------------------------------------------------- the stack

class Stack:
    """Origin, TCP source and the proxies of one run, with their ports."""

    def __init__(self, rundir, htpasswd, basic_file):
        self.rundir, self.htpasswd, self.basic_file = rundir, htpasswd, basic_file
        # A copy, so a rebuild of build/ during the run changes nothing.
        self.tollgate = os.path.join(rundir, "tollgate")
        shutil.copy2(TOLLGATE, self.tollgate)
        helptext = run([self.tollgate, "--help"], 10).stdout
        # Builds with an SSRF guard refuse loopback destinations, and builds
        # with a per-address limit cap one client address; every client here
        # is 127.0.0.1, so both are lifted where the build has them.
        self.tollgate_compat = []
        for flag, value in (("--allow-destination", "127.0.0.0/8"),
                            ("--max-connections-per-address", "0")):
            if flag in helptext:
                self.tollgate_compat += [flag, value]
        p = free_ports(8)
        self.ports = dict(origin=p[0], tcpsrc=p[1], tollgate=p[2], squid=p[3], tinyproxy=p[4],
                          haproxy=p[5], haproxy_tcp=p[6], tollgate2=p[7])
        self.user = "u0000"
        self.auth = basic_value(self.user)
        self.servers = {}
        self.status = {}  # proxy -> "ok" | "missing: ..." | "failed: ..."

    def origin(self):
        return f"127.0.0.1:{self.ports['origin']}"

    def origin_url(self, path):
        return f"http://{self.origin()}{path}"

    def conf_values(self, tinyproxy_max=1000):
        return dict(run=self.rundir, origin_port=self.ports["origin"],
                    tcpsrc_port=self.ports["tcpsrc"], squid_port=self.ports["squid"],
                    tinyproxy_port=self.ports["tinyproxy"],
                    haproxy_http_port=self.ports["haproxy"],
                    haproxy_tcp_port=self.ports["haproxy_tcp"], htpasswd=self.htpasswd,
                    user=self.user, password=password(self.user),
                    tinyproxy_maxclients=tinyproxy_max,
                    haproxy_maxconn=min(25000, (FD_LIMIT - 100) // 2))

    def tollgate_cmd(self, port, extra=(), hash_threads=1):
        r = self.rundir
        return [self.tollgate, "--listen", f"127.0.0.1:{port}", "--htpasswd", self.htpasswd,
                "--threads", "1", "--hash-threads", str(hash_threads),
                "--access-log", f"{r}/tollgate-access.log", "--auth-log", f"{r}/tollgate-auth.log",
                "--connect-ports", str(self.ports["tcpsrc"]),
                "--max-connections", str(max(IDLE_LEVELS) + 50)] + self.tollgate_compat + list(extra)

    def make_server(self, name, tinyproxy_max=1000, tollgate_extra=()):
        r, v = self.rundir, self.conf_values(tinyproxy_max)
        if name == "tollgate":
            return Server(name, self.tollgate_cmd(self.ports["tollgate"], tollgate_extra),
                          self.ports["tollgate"], r)
        if name == "squid":
            os.makedirs(f"{r}/squid", exist_ok=True)
            shutil.chown(f"{r}/squid", "proxy", "proxy")
            conf = write_conf("squid.conf", r, v)
            return Server(name, ["squid", "-N", "-f", conf], self.ports["squid"], r)
        if name == "tinyproxy":
            os.makedirs(f"{r}/tinyproxy", exist_ok=True)
            shutil.chown(f"{r}/tinyproxy", "nobody", "nogroup")
            conf = write_conf("tinyproxy.conf", r, v)
            return Server(name, ["tinyproxy", "-d", "-c", conf], self.ports["tinyproxy"], r)
        if name == "haproxy":
            conf = write_conf("haproxy.cfg", r, v)
            return Server(name, ["haproxy", "-db", "-f", conf], self.ports["haproxy"], r)
        raise ValueError(name)

    def start_base(self, big):
        """The origin (nginx) and the TCP source/sink, on the load CPU."""
        conf = write_conf("nginx.conf", self.rundir, self.conf_values())
        self.servers["origin"] = Server("nginx", ["nginx", "-c", conf], self.ports["origin"],
                                        self.rundir, LOAD_CPU).start()
        self.servers["tcpsrc"] = Server("tcpsrc", [PY, os.path.join(HERE, "tcpsrc.py"),
                                                   str(self.ports["tcpsrc"]), big],
                                        self.ports["tcpsrc"], self.rundir, LOAD_CPU).start()

    def start_proxy(self, name, **kw):
        """Starts a proxy and returns its Server, or None (status says why)."""
        binary = self.tollgate if name == "tollgate" else name
        if not shutil.which(binary):
            self.status[name] = "missing: not installed"
            return None
        try:
            srv = self.make_server(name, **kw).start()
        except BenchError as e:
            if name == "tollgate":
                raise
            self.status[name] = f"failed: {e}"
            log(f"{name} failed to start: {e}")
            return None
        self.servers[name] = srv
        self.status.setdefault(name, "ok")
        return srv

    def pid(self, name):
        """The measured process: the proxy's, or the origin's for direct."""
        return self.servers["origin" if name == "direct" else name].pid

    def up(self, name):
        return name == "direct" or (name in self.servers and self.status.get(name) == "ok")

    def stop(self, name):
        srv = self.servers.pop(name, None)
        if srv:
            srv.stop()

    def stop_all(self):
        for name in list(self.servers):
            self.stop(name)
