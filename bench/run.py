#!/usr/bin/python3
"""`make bench`: Tollgate against Squid, tinyproxy and HAProxy, in one run.

Brings up on 127.0.0.1 an nginx origin (a 100-byte and a 100 MiB file), a
plain TCP source/sink (bench/tcpsrc.py) for tunnels, Tollgate, Squid with
Basic auth (basic_ncsa_auth, credentials cached), tinyproxy with BasicAuth
and HAProxy (HTTP reverse proxy without auth, and TCP mode). Every proxy is
pinned to CPU 0 and every client and the origin to CPU 1. The scenarios of
issue 6 run interleaved (each repetition visits every target in turn), three
times, and each figure is the median; QUICK=1 runs each once, briefly.

It prints one markdown table (absolute figures, Tollgate's ratio to direct and
to each peer), the issue's targets marked met or missed, the versions and
conditions, and writes the same under bench/results/YYYYMMDD-HHMM.md.

CPU per request is the proxy's process tree (Squid's helpers included): the
per-thread run time in /proc/PID/task/*/schedstat when no thread exited
during the window, else utime+stime from /proc/PID/stat (10 ms ticks).

It uses the Python standard library only, never leaves a process running and
bounds every step in time (and the whole run: see DEADLINE).
"""
import base64
import concurrent.futures
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time

CPU_METRIC = "CPU µs per request (direct: the origin's)"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUICK = os.environ.get("QUICK", "") not in ("", "0")
PERF = os.environ.get("PERF", "") not in ("", "0")  # add a profiling pass (perf)
TOLLGATE = os.path.join(ROOT, os.environ.get("BUILD", "build"), "tollgate")
PARSEBENCH = os.path.join(ROOT, os.environ.get("BUILD", "build"), "bench", "parsebench")
PY = sys.executable

PROXY_CPU, LOAD_CPU = "0", "1"
REPS = 1 if QUICK else 3
DURATION = 2 if QUICK else 8            # seconds per wrk run
CONNS = 50                              # wrk connections (keep-alive, close, 407)
MISS_CONNS = 8                          # connections sending cache misses
BIG = 100 << 20                         # the large body and the tunnel payload
SMALL = 100
USERS_NEEDED = 400 if QUICK else 2000   # bcrypt users (bench/cache, made once)
FD_LIMIT = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
# 20,000 idle connections need 20,000 descriptors in one process, plus its
# listeners and logs; where the hard limit is lower and cannot be raised, the
# largest level is what the limit allows.
IDLE_LEVELS = [5000] if QUICK else [5000, min(20000, FD_LIMIT - 200)]
DEADLINE = 6 * 60 if QUICK else 25 * 60  # the whole run, seconds
CACHE = os.path.join(HERE, "cache")
RESULTS = os.path.join(HERE, "results")
PEERS = ("squid", "tinyproxy", "haproxy")
COLUMNS = ("direct", "tollgate", "squid", "tinyproxy", "haproxy")
TITLES = {"direct": "direct", "tollgate": "Tollgate", "squid": "Squid",
          "tinyproxy": "tinyproxy", "haproxy": "HAProxy"}


class BenchError(Exception):
    pass


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc

def proc_tree(root):
    """Pids of root and all its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_sample(root):
    """(ticks total, {tid: runtime ns}) over the tree of root."""
    ticks, runtime = 0, {}
    for pid in proc_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    runtime[int(tid)] = int(f.read().split()[0])
        except OSError:
            continue
    return ticks, runtime


def cpu_seconds(before, after):
    """CPU seconds the tree used between two samples (see the module doc)."""
    hz = os.sysconf("SC_CLK_TCK")
    by_ticks = (after[0] - before[0]) / hz
    by_ns = sum(ns - before[1].get(tid, 0) for tid, ns in after[1].items()) / 1e9
    # Threads that exited took their run time with them: the ticks still
    # count it, so trust the precise figure only when it is not short.
    return by_ticks if by_ticks - by_ns > 2.0 / hz else by_ns


def rss_kib(root):
    total = 0
    for pid in proc_tree(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def fd_count(root):
    total = 0
    for pid in proc_tree(root):
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return total


def machine_busy():
    """Busy seconds of all CPUs (user..steal, without idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- processes

def raise_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def run(cmd, timeout, **kw):
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
        logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(pinned(self.cpu, self.cmd), stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf, preexec_fn=raise_nofile)
        logf.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode}: {self.tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise BenchError(f"{self.name} did not listen on {self.port} within {timeout}s: {self.tail()}")

    def tail(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-5:])
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


def ensure_users(n):
    """bench/cache/users.htpasswd (bcrypt cost 10) and users.basic (one
    Proxy-Authorization value per line): made once, grown when short."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, "users.htpasswd")
    lines = []
    if os.path.exists(path):
        with open(path) as f:
            lines = [ln.rstrip("\n") for ln in f if ln.startswith("u")]
    lines = [ln for i, ln in enumerate(lines) if ln.startswith(f"u{i:04d}:$2y$10$")]
    if len(lines) < n:
        log(f"hashing {n - len(lines)} bcrypt cost-10 users into {path} (once)")

        def make(i):
            user = f"u{i:04d}"
            out = run(["htpasswd", "-nbB", "-C", "10", user, password(user)], 30)
            return out.stdout.strip()
        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as ex:
            lines += list(ex.map(make, range(len(lines), n)))
        with open(path + ".tmp", "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(path + ".tmp", path)
    basic = os.path.join(CACHE, "users.basic")
    with open(basic, "w") as f:
        for ln in lines:
            user = ln.split(":", 1)[0]
            cred = base64.b64encode(f"{user}:{password(user)}".encode()).decode()
            f.write(f"Basic {cred}\n")
    return path, basic, len(lines)


def write_conf(name, rundir, values):
    with open(os.path.join(HERE, "conf", name)) as f:
        text = string.Template(f.read()).substitute(values)
    out = os.path.join(rundir, name)
    with open(out, "w") as f:
        f.write(text)
    return out


def make_files(rundir):
    www = os.path.join(rundir, "www")
    os.makedirs(www)
    with open(os.path.join(www, "small"), "wb") as f:
        f.write(b"x" * (SMALL - 1) + b"\n")
    big = os.path.join(www, "big")
    with open(big, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(BIG >> 20):
            f.write(chunk)
    os.chmod(rundir, 0o755)
    return big


# ---------------------------------------------------------------- the stack

class Stack:
    """Origin, TCP source and every installed proxy, with their ports."""

    def __init__(self, rundir, htpasswd, basic_file):
        self.rundir, self.htpasswd, self.basic_file = rundir, htpasswd, basic_file
        # A copy, so a rebuild of build/ during the run changes nothing.
        self.tollgate = os.path.join(rundir, "tollgate")
        shutil.copy2(TOLLGATE, self.tollgate)
        helptext = run([self.tollgate, "--help"], 10).stdout
        # Newer builds refuse loopback destinations (SSRF guard) and limit
        # the connections of one client address; every client here is
        # 127.0.0.1, so both are lifted where the build has them.
        self.tollgate_compat = []
        for flag, value in (("--allow-destination", "127.0.0.0/8"),
                            ("--max-connections-per-address", "0")):
            if flag in helptext:
                self.tollgate_compat += [flag, value]
        p = free_ports(9)
        self.ports = dict(origin=p[0], tcpsrc=p[1], tollgate=p[2], squid=p[3], tinyproxy=p[4],
                          haproxy=p[5], haproxy_tcp=p[6], tollgate2=p[7], spare=p[8])
        self.user = "u0000"
        self.auth = "Basic " + base64.b64encode(f"u0000:{password('u0000')}".encode()).decode()
        self.servers = {}
        self.status = {}  # peer -> "ok" | "missing: ..." | "failed: ..."

    def origin_url(self, path):
        return f"http://127.0.0.1:{self.ports['origin']}{path}"

    def conf_values(self, tinyproxy_max=1000):
        r = self.rundir
        return dict(run=r, origin_port=self.ports["origin"], tcpsrc_port=self.ports["tcpsrc"],
                    squid_port=self.ports["squid"], tinyproxy_port=self.ports["tinyproxy"],
                    haproxy_http_port=self.ports["haproxy"],
                    haproxy_tcp_port=self.ports["haproxy_tcp"], htpasswd=self.htpasswd,
                    user=self.user, password=password(self.user),
                    tinyproxy_maxclients=tinyproxy_max, haproxy_maxconn=(FD_LIMIT - 100) // 2)

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
        conf = write_conf("nginx.conf", self.rundir, self.conf_values())
        self.servers["origin"] = Server("nginx", ["nginx", "-c", conf], self.ports["origin"],
                                        self.rundir, LOAD_CPU).start()
        self.servers["tcpsrc"] = Server("tcpsrc", [PY, os.path.join(HERE, "tcpsrc.py"),
                                                   str(self.ports["tcpsrc"]), big],
                                        self.ports["tcpsrc"], self.rundir, LOAD_CPU).start()

    def start_proxy(self, name, **kw):
        """Starts a proxy; a peer that is not installed or fails to start is
        recorded, not fatal. Tollgate failing is fatal."""
        binary = {"tollgate": self.tollgate}.get(name, name)
        if not shutil.which(binary):
            self.status[name] = "missing: not installed"
            if name == "tollgate":
                raise BenchError(f"{TOLLGATE} not built")
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

    def stop(self, name):
        srv = self.servers.pop(name, None)
        if srv:
            srv.stop()

    def stop_all(self):
        for name in list(self.servers):
            self.stop(name)

    def up(self, name):
        return name in self.servers and self.status.get(name) == "ok"


# ---------------------------------------------------------------- clients

def wrk(url, script, args, conns, duration, cpu=LOAD_CPU):
    cmd = pinned(cpu, ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--timeout", "5s",
                       "-s", os.path.join(HERE, "wrk", script), url, "--"] + args)
    out = run(cmd, duration + 30)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise BenchError(f"wrk printed no result: {out.stdout[-300:]} {out.stderr[-300:]}")


def wrk_target(stack, name, close=False, auth=True):
    """(url wrk connects to, wrk arguments) for one target."""
    origin = f"127.0.0.1:{stack.ports['origin']}"
    if name == "direct":
        url, args = f"http://{origin}", ["target=/small"]
    elif name == "haproxy":
        url, args = f"http://127.0.0.1:{stack.ports['haproxy']}", ["target=/small"]
    else:
        url = f"http://127.0.0.1:{stack.ports[name]}"
        args = [f"target=http://{origin}/small", f"host={origin}"]
        if auth:
            args.append(f"auth={stack.auth}")
    if close:
        args.append("close=1")
    return url, args


def curl_args(stack, name, path="/big", auth=True):
    """curl arguments that fetch the origin's path through one target."""
    if name == "direct":
        return [stack.origin_url(path)]
    if name == "haproxy":
        return [f"http://127.0.0.1:{stack.ports['haproxy']}{path}"]
    cred = ["--proxy-user", f"{stack.user}:{password(stack.user)}"] if auth else []
    return ["-x", f"http://127.0.0.1:{stack.ports[name]}"] + cred + [stack.origin_url(path)]


def measured(server_pid, fn):
    """Runs fn() and returns (its result, CPU seconds of the server tree)."""
    before = cpu_sample(server_pid) if server_pid else None
    result = fn()
    cpu = cpu_seconds(before, cpu_sample(server_pid)) if server_pid else None
    return result, cpu


# ---------------------------------------------------------------- scenarios

class Results:
    """samples[(scenario, metric)][column] = list of values, one per rep."""

    def __init__(self):
        self.samples = {}
        self.order = []
        self.notes = []

    def add(self, key, column, value):
        if key not in self.samples:
            self.samples[key] = {}
            self.order.append(key)
        self.samples[key].setdefault(column, []).append(value)

    def median(self, key, column):
        vals = [v for v in self.samples.get(key, {}).get(column, []) if v is not None]
        return statistics.median(vals) if vals else None


def proxy_pid(stack, name):
    srv = stack.servers["origin" if name == "direct" else name]
    return srv.pid


def run_wrk_scenario(stack, res, scen, names, close=False, auth=True, expect_status=False):
    """Scenarios 1, 2 and 5: req/s, p50, p99 and CPU per request."""
    for rep in range(REPS):
        for name in names:
            if name != "direct" and not stack.up(name):
                continue
            url, args = wrk_target(stack, name, close=close, auth=auth)
            origin_before = cpu_sample(stack.servers["origin"].pid)
            r, cpu = measured(proxy_pid(stack, name),
                              lambda: wrk(url, "proxy.lua", args, CONNS, DURATION))
            origin_cpu = cpu_seconds(origin_before, cpu_sample(stack.servers["origin"].pid))
            n = r["requests"]
            bad = r["err_status"] if not expect_status else n - r["err_status"]
            errs = bad + r["err_connect"] + r["err_timeout"]
            if n == 0 or errs > 0.01 * n:
                res.notes.append(f"{scen}, {TITLES[name]} rep {rep + 1}: {n} responses, "
                                 f"{errs} unexpected (status/connect/timeout): {r}")
            if not close and n and r["err_read"] > 0.5 * n and rep == 0:
                res.notes.append(f"{scen}, {TITLES[name]}: the proxy closed the connection "
                                 f"after {r['err_read']} of {n} responses (no keep-alive), so "
                                 "wrk reconnected")
            secs = r["duration_us"] / 1e6
            res.add((scen, "req/s"), name, n / secs)
            res.add((scen, "p50 latency (µs)"), name, r["p50_us"])
            res.add((scen, "p99 latency (µs)"), name, r["p99_us"])
            if name == "direct":
                res.add((scen, CPU_METRIC), name,
                        origin_cpu / n * 1e6 if n else None)
            else:
                res.add((scen, CPU_METRIC), name,
                        cpu / n * 1e6 if n else None)
            log(f"{scen} rep {rep + 1} {name}: {n / secs:.0f} req/s, p99 {r['p99_us']} µs, "
                f"cpu {cpu / n * 1e6 if cpu and n else 0:.1f} µs/req")


def curl_big(stack, name, streams):
    cmd = pinned(LOAD_CPU, ["curl", "-s", "-o", "/dev/null", "--max-time", "120", "-w",
                            "%{http_code} %{size_download} %{time_total}"] + curl_args(stack, name))
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(streams)]
    total, longest = 0, 0.0
    for p in procs:
        out, _ = p.communicate(timeout=150)
        code, size, secs = out.split()
        if code != "200" or int(size) != BIG:
            raise BenchError(f"{name}: body download got {out}")
        total += int(size)
        longest = max(longest, float(secs))
    return total, longest


def scenario_body(stack, res):
    """Scenario 3: a 100 MiB body through each target, one stream and four."""
    scen = "3 100 MiB body"
    for rep in range(REPS):
        for streams in (1, 4):
            for name in ("direct", "tollgate") + PEERS:
                if name != "direct" and not stack.up(name):
                    continue
                pid = None if name == "direct" else proxy_pid(stack, name)
                try:
                    (total, secs), cpu = measured(pid, lambda: curl_big(stack, name, streams))
                except (BenchError, ValueError, subprocess.TimeoutExpired) as e:
                    res.notes.append(f"{scen}, {TITLES[name]}, {streams} stream(s): {e}")
                    continue
                res.add((scen, f"MB/s, {streams} stream{'s' if streams > 1 else ''}"), name,
                        total / secs / 1e6)
                if cpu is not None:
                    res.add((scen, f"proxy CPU s per GiB, {streams} stream"
                                   f"{'s' if streams > 1 else ''}"), name, cpu / total * (1 << 30))
        log(f"{scen} rep {rep + 1} done")


def tunnel_once(stack, name, direction):
    to = f"127.0.0.1:{stack.ports['tcpsrc']}"
    cmd = [PY, os.path.join(HERE, "tunnelclient.py"), "--bytes", str(BIG), "--dir", direction,
           "--file", os.path.join(stack.rundir, "www", "big")]
    if name == "direct":
        cmd += ["--to", to]
    elif name == "haproxy":
        cmd += ["--to", f"127.0.0.1:{stack.ports['haproxy_tcp']}"]
    else:
        cmd += ["--to", to, "--proxy", f"127.0.0.1:{stack.ports[name]}", "--auth", stack.auth]
    out = run(pinned(LOAD_CPU, cmd), 120)
    if out.returncode != 0:
        raise BenchError(f"{name} tunnel {direction}: {out.stdout.strip()} {out.stderr.strip()}")
    return json.loads(out.stdout)


def scenario_tunnel(stack, res):
    """Scenario 4: 100 MiB each way through a CONNECT tunnel (HAProxy: TCP
    mode, no CONNECT) and straight to the source."""
    scen = "4 tunnel 100 MiB"
    for rep in range(REPS):
        for direction in ("down", "up"):
            for name in ("direct", "tollgate") + PEERS:
                if name != "direct" and not stack.up(name):
                    continue
                pid = None if name == "direct" else proxy_pid(stack, name)
                try:
                    r, cpu = measured(pid, lambda: tunnel_once(stack, name, direction))
                except (BenchError, subprocess.TimeoutExpired) as e:
                    res.notes.append(f"{scen}, {TITLES[name]}: {e}")
                    continue
                label = "to client" if direction == "down" else "to server"
                res.add((scen, f"MB/s, {label}"), name, r["mbps"])
                if cpu is not None:
                    res.add((scen, f"proxy CPU s per GiB, {label}"), name,
                            cpu / r["bytes"] * (1 << 30))
        log(f"{scen} rep {rep + 1} done")


def idle_request_file(stack, name, rundir):
    origin = f"127.0.0.1:{stack.ports['origin']}"
    if name == "haproxy":
        req = f"GET /small HTTP/1.1\r\nHost: {origin}\r\n\r\n"
    else:
        req = (f"GET http://{origin}/small HTTP/1.1\r\nHost: {origin}\r\n"
               f"Proxy-Authorization: {stack.auth}\r\n\r\n")
    path = os.path.join(rundir, f"idle-{name}.req")
    with open(path, "w") as f:
        f.write(req)
    return path


class IdleClient:
    def __init__(self, port, count, request):
        self.p = subprocess.Popen(
            pinned(LOAD_CPU, [PY, os.path.join(HERE, "idleconns.py"), "--to",
                              f"127.0.0.1:{port}", "--count", str(count), "--request", request]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=raise_nofile)

    def answer(self, timeout):
        import select
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not ready:
            raise BenchError("idle client did not answer in time")
        line = self.p.stdout.readline()
        if not line:
            raise BenchError("idle client exited")
        return json.loads(line)

    def ask(self, cmd, timeout):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.answer(timeout)

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
            self.p.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()


def settle(pid, want_fds, timeout=20):
    """Waits until the server holds want_fds descriptors or stops gaining."""
    end, last, still = time.monotonic() + timeout, -1, 0
    while time.monotonic() < end:
        n = fd_count(pid)
        if n >= want_fds:
            return
        still = still + 1 if n == last else 0
        if still >= 10:
            return
        last = n
        time.sleep(0.2)


def idle_once(stack, res, name, count):
    scen = "6 idle connections"
    kw = {}
    if name == "tinyproxy":
        kw["tinyproxy_max"] = count + 100
    if name == "tollgate":
        # A connection that has sent nothing is closed after header-timeout
        # (10 s): longer here, so the count stays put while RSS is read.
        kw["tollgate_extra"] = ["--header-timeout", "300"]
    srv = stack.start_proxy(name, **kw)
    if not srv:
        return
    try:
        warm = run(pinned(LOAD_CPU, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"]
                          + curl_args(stack, name, "/small")), 30)
        time.sleep(0.5)
        base_rss, base_fds = rss_kib(srv.pid), fd_count(srv.pid)
        client = IdleClient(stack.ports[name], count, idle_request_file(stack, name, stack.rundir))
        try:
            opened = client.answer(180)
            settle(srv.pid, base_fds + opened["opened"])
            time.sleep(1)
            # Held: open at the client and accepted by the proxy (a connection
            # waiting in the listen backlog costs the proxy nothing yet).
            alive = min(client.ask("alive", 60)["alive"], fd_count(srv.pid) - base_fds)
            rss_open = rss_kib(srv.pid)
            req = client.ask("request", 300)
            time.sleep(1)
            alive2 = min(client.ask("alive", 60)["alive"], fd_count(srv.pid) - base_fds)
            rss_req = rss_kib(srv.pid)
        finally:
            client.close()
        res.add((scen, f"held of {count} (idle, then after a request)"), name,
                f"{alive} / {alive2}")
        res.add((scen, f"RSS KiB per connection, {count} idle"), name,
                (rss_open - base_rss) / alive if alive else None)
        res.add((scen, f"RSS KiB per connection, {count}, after 1 request each"), name,
                (rss_req - base_rss) / alive2 if alive2 else None)
        if req["failed"] or warm.stdout != "200":
            res.notes.append(f"{scen}, {TITLES[name]} at {count}: warm-up {warm.stdout}, "
                             f"{req['ok']} requests answered 200, {req['failed']} failed")
        log(f"{scen} {name} {count}: held {alive}, {alive2}; RSS +{rss_open - base_rss} KiB, "
            f"+{rss_req - base_rss} KiB; requests {req}")
    except (BenchError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        res.notes.append(f"{scen}, {TITLES[name]} at {count}: {e}")
        log(f"{scen} {name} {count}: {e}")
    finally:
        stack.stop(name)


def scenario_idle(stack, res):
    """Scenario 6, on fresh processes, one proxy at a time."""
    for count in IDLE_LEVELS:
        for name in ("tollgate",) + PEERS:
            if stack.status.get(name, "ok").startswith("missing"):
                continue
            idle_once(stack, res, name, count)


def start_miss_tollgate(stack, cpus, hash_threads):
    srv = Server("tollgate-miss", stack.tollgate_cmd(stack.ports["tollgate2"],
                                                     hash_threads=hash_threads),
                 stack.ports["tollgate2"], stack.rundir, cpus).start()
    # The cache-hit client's user is verified once before anything is timed.
    run(["curl", "-s", "-o", "/dev/null", "-x", f"http://127.0.0.1:{stack.ports['tollgate2']}",
         "--proxy-user", f"{stack.user}:{password(stack.user)}", stack.origin_url("/small")], 30)
    time.sleep(0.5)  # the verification runs on the pool; let it land in the cache
    return srv


def miss_wrk(stack, res, nusers, duration, pid):
    """Cache misses for `duration`; adds "cores": the proxy's CPU seconds per
    second meanwhile, i.e. how many hash threads really ran at once."""
    origin = f"127.0.0.1:{stack.ports['origin']}"
    r, cpu = measured(pid, lambda: wrk(
        f"http://127.0.0.1:{stack.ports['tollgate2']}", "users.lua",
        [f"target=http://{origin}/small", f"host={origin}", f"users={stack.basic_file}",
         "first=2"], MISS_CONNS, duration))
    r["cores"] = cpu / (r["duration_us"] / 1e6)
    if r["requests"] >= nusers - 1:
        res.notes.append(f"scenario 7: {r['requests']} misses in one run used all {nusers - 1} "
                         "users: some were cache hits; raise USERS_NEEDED")
    return r


def hit_wrk(stack, duration):
    url, args = wrk_target(stack, "tollgate")
    return wrk(f"http://127.0.0.1:{stack.ports['tollgate2']}", "proxy.lua", args, 1, duration)


def scenario_bcrypt(stack, res, nusers):
    """Scenario 7: users stored as bcrypt cost 10. A single-connection
    cache-hit client, alone and while MISS_CONNS connections send a
    different valid user each time; then the hashing pool's throughput with
    1 and 2 hash threads, Tollgate allowed on both CPUs."""
    scen = "7 bcrypt cost 10"
    for rep in range(REPS):
        srv = start_miss_tollgate(stack, PROXY_CPU, 2)
        try:
            idle = hit_wrk(stack, DURATION)
            with concurrent.futures.ThreadPoolExecutor(1) as ex:
                misses = ex.submit(miss_wrk, stack, res, nusers, DURATION + 2, srv.pid)
                time.sleep(1)
                loaded = hit_wrk(stack, DURATION)
                m = misses.result(timeout=DURATION + 60)
        finally:
            srv.stop()
        res.add((scen, "cache-hit client p99 (µs), 1 conn, proxy idle"), "tollgate", idle["p99_us"])
        res.add((scen, f"cache-hit client p99 (µs), during {MISS_CONNS} conns of misses"),
                "tollgate", loaded["p99_us"])
        res.add((scen, "p99 during misses / p99 idle"), "tollgate",
                loaded["p99_us"] / idle["p99_us"])
        res.add((scen, "hashes/s, CPU 0 only, 2 hash threads"), "tollgate",
                m["requests"] / (m["duration_us"] / 1e6))
        if m["err_status"] or m["err_timeout"] or loaded["err_status"]:
            res.notes.append(f"{scen} rep {rep + 1}: misses {m}, hits {loaded}")
        for threads in (1, 2):
            srv = start_miss_tollgate(stack, "0,1", threads)
            try:
                m = miss_wrk(stack, res, nusers, DURATION, srv.pid)
            finally:
                srv.stop()
            label = f"{threads} hash thread{'s' if threads > 1 else ''}"
            res.add((scen, f"hashes/s, CPUs 0-1, {label}"), "tollgate",
                    m["requests"] / (m["duration_us"] / 1e6))
            res.add((scen, f"CPUs busy in Tollgate during misses, CPUs 0-1, {label}"), "tollgate",
                    m["cores"])
        log(f"{scen} rep {rep + 1}: p99 idle {idle['p99_us']} µs, loaded {loaded['p99_us']} µs")
    one = res.samples[(scen, "hashes/s, CPUs 0-1, 1 hash thread")]["tollgate"]
    two = res.samples[(scen, "hashes/s, CPUs 0-1, 2 hash threads")]["tollgate"]
    for a, b in zip(one, two):
        res.add((scen, "hashes/s with 2 threads / with 1"), "tollgate", b / a if a else None)


def scenario_callgrind(res):
    """Instructions per parse under callgrind: exact, repeatable."""
    scen = "parsers (callgrind)"
    if not shutil.which("valgrind"):
        res.notes.append("callgrind: valgrind missing")
        return
    n = 2000 if QUICK else 20000
    for what, label in (("reqhead", "instructions per request head (tg_reqhead_parse)"),
                        ("authparam", "instructions per Digest auth-params (tg_authparam_parse)")):
        out = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                   "--collect-atstart=no", f"--toggle-collect=run_{what}", PARSEBENCH, what,
                   str(n)], 300)
        collected = [ln for ln in out.stderr.splitlines() if "Collected :" in ln]
        if out.returncode != 0 or not collected:
            res.notes.append(f"callgrind {what}: {out.stdout} {out.stderr[-300:]}")
            continue
        res.add((scen, label), "tollgate", int(collected[0].split(":")[-1]) / n)
        res.add((scen, label.replace("instructions per", "input of one")), "tollgate",
                out.stdout.strip().split(": ", 1)[1])


# ---------------------------------------------------------------- profiles

def perf_profile(pid, workload, units, rundir, tag):
    """Runs workload() while `perf record -g` and `perf stat` (syscall
    tracepoints) watch pid; returns (top symbols, syscalls per unit) where
    units(result) is the number of requests or MiB the workload moved."""
    data = os.path.join(rundir, f"perf-{tag}.data")
    rec = subprocess.Popen(["perf", "record", "-q", "-g", "-p", str(pid), "-o", data],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stat = subprocess.Popen(["perf", "stat", "-x", ",", "-e", "syscalls:sys_enter_*", "-p",
                             str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(1)
    try:
        result = workload()
    finally:
        for p in (rec, stat):
            p.send_signal(signal.SIGINT)
        rec.wait(timeout=60)
        _, err = stat.communicate(timeout=60)
    n = units(result)
    calls = []
    for line in err.splitlines():
        f = line.split(",")
        if len(f) > 2 and f[0].isdigit() and int(f[0]) > 0:
            calls.append((int(f[0]) / n, f[2].replace("syscalls:sys_enter_", "")))
    calls.sort(reverse=True)
    rep = run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,symbol",
               "--percent-limit", "1.5", "-g", "none"], 180)
    top = [" ".join(ln.split()[:4]) for ln in rep.stdout.splitlines()
           if ln.strip() and not ln.startswith("#")][:14]
    os.remove(data)
    return top, calls[:8]


def scenario_profiles(stack):
    """PERF=1: where Tollgate and HAProxy spend their time in the keep-alive,
    body and tunnel scenarios. A separate pass: perf slows what it watches,
    so none of these runs feeds the table."""
    if not shutil.which("perf"):
        return ["perf is not installed (Debian: linux-perf)."]
    out = []
    jobs = []
    for name in ("tollgate", "haproxy"):
        if not stack.up(name):
            continue
        url, args = wrk_target(stack, name)
        jobs.append((f"1 keep-alive, {TITLES[name]}", name, "request",
                     lambda u=url, a=args: wrk(u, "proxy.lua", a, CONNS, DURATION),
                     lambda r: r["requests"]))
        jobs.append((f"3 100 MiB body, 1 stream, {TITLES[name]}", name, "MiB",
                     lambda n=name: curl_big(stack, n, 1), lambda r: r[0] / (1 << 20)))
        jobs.append((f"4 tunnel to client, {TITLES[name]}{' TCP mode' if name == 'haproxy' else ''}",
                     name, "MiB", lambda n=name: tunnel_once(stack, n, "down"),
                     lambda r: r["bytes"] / (1 << 20)))
    for label, name, unit, work, units in jobs:
        try:
            top, calls = perf_profile(proxy_pid(stack, name), work, units, stack.rundir,
                                      label.split(",")[0].replace(" ", "-"))
        except (BenchError, subprocess.SubprocessError, OSError, ZeroDivisionError) as e:
            out.append(f"### {label}\n\nprofile failed: {e}\n")
            continue
        out.append(f"### {label}\n\nsyscalls per {unit}: "
                   + ", ".join(f"{name_} {n:.2f}" for n, name_ in calls)
                   + "\n\n```\n" + "\n".join(top) + "\n```\n")
        log(f"profiled {label}")
    return out


# ---------------------------------------------------------------- smoke

def smoke(stack):
    """Each peer answers one authenticated request with 200 and one without
    credentials with 407 (HAProxy: 200, no auth), or it is marked failed."""
    for name in ("tollgate",) + PEERS:
        if not stack.up(name):
            continue
        base = pinned(LOAD_CPU, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                 "--max-time", "10"])
        ok = run(base + curl_args(stack, name, "/small"), 20).stdout
        if ok != "200":
            stack.status[name] = f"failed: authenticated request answered {ok or 'nothing'}"
        if name != "haproxy":
            deny = run(base + curl_args(stack, name, "/small", auth=False), 20).stdout
            if deny != "407":
                stack.status[name] = f"failed: request without credentials answered {deny}"
        log(f"smoke {name}: {stack.status[name]}")


# ---------------------------------------------------------------- report

def fmt(v):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def better(metric):
    if any(w in metric for w in ("req/s", "MB/s", "hashes/s")):
        return "higher"
    if any(w in metric for w in ("CPU", "latency", "p99", "RSS", "instructions")):
        return "lower"
    return ""


def table(res, stack):
    head = ["Scenario", "Metric", "better"] + [TITLES[c] for c in COLUMNS] + \
        [f"T/{TITLES[c]}" for c in COLUMNS if c != "tollgate"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in res.order:
        scen, metric = key
        vals = {}
        for c in COLUMNS:
            st = stack.status.get(c, "ok")
            med = res.median(key, c)
            if med is None and c in res.samples[key]:
                med = res.samples[key][c][0]
            if med is None and c != "direct" and not st.startswith("ok") and \
                    any(x != "tollgate" for x in res.samples[key]):
                med = st.split(":")[0]
            vals[c] = med
        ratios = []
        for c in COLUMNS:
            if c == "tollgate":
                continue
            t, o = vals["tollgate"], vals[c]
            ok = isinstance(t, (int, float)) and isinstance(o, (int, float)) and o
            ratios.append(f"{t / o:.2f}" if ok else "—")
        row = [scen, metric, better(metric)] + [fmt(vals[c]) for c in COLUMNS] + ratios
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def targets(res):
    """The issue's targets, each with the measured ratio."""
    m = res.median
    ka, cl, ex = "1 keep-alive, Basic auth", "2 new connection per request", "5 no credentials (407)"
    cpu = CPU_METRIC
    rows = []

    def check(what, value, limit, op):
        if value is None:
            rows.append((what, "not measured", "—"))
            return
        met = value <= limit if op == "<=" else value >= limit if op == ">=" else value < limit
        rows.append((what, f"{value:.2f} (target {op} {limit})", "met" if met else "MISSED"))

    def ratio(a, b):
        return a / b if a is not None and b else None

    t_ka, h_ka = m((ka, cpu), "tollgate"), m((ka, cpu), "haproxy")
    check("keep-alive CPU/req ÷ HAProxy HTTP (no auth)", ratio(t_ka, h_ka), 1.0, "<=")
    check("keep-alive CPU/req ÷ Squid", ratio(t_ka, m((ka, cpu), "squid")), 0.25, "<=")
    check("keep-alive req/s ÷ HAProxy", ratio(m((ka, "req/s"), "tollgate"),
                                               m((ka, "req/s"), "haproxy")), 1.0, ">=")
    check("keep-alive p99 ÷ Squid p99", ratio(m((ka, "p99 latency (µs)"), "tollgate"),
                                               m((ka, "p99 latency (µs)"), "squid")), 1.0, "<")
    check("new connection CPU/req ÷ HAProxy", ratio(m((cl, cpu), "tollgate"),
                                                     m((cl, cpu), "haproxy")), 1.0, "<=")
    body = "3 100 MiB body"
    check("100 MiB body, 1 stream ÷ direct", ratio(m((body, "MB/s, 1 stream"), "tollgate"),
                                                    m((body, "MB/s, 1 stream"), "direct")), 0.95, ">=")
    tun = "4 tunnel 100 MiB"
    check("tunnel MB/s ÷ direct (to client)", ratio(m((tun, "MB/s, to client"), "tollgate"),
                                                     m((tun, "MB/s, to client"), "direct")), 0.9, ">=")
    check("tunnel CPU/GiB ÷ HAProxy TCP (to client)",
          ratio(m((tun, "proxy CPU s per GiB, to client"), "tollgate"),
                m((tun, "proxy CPU s per GiB, to client"), "haproxy")), 0.25, "<=")
    check("CPU per 407 ÷ HAProxy CPU per request", ratio(m((ex, cpu), "tollgate"), h_ka), 1.0, "<=")
    idle = "6 idle connections"
    for count in IDLE_LEVELS:
        check(f"RSS KiB per idle connection, {count}",
              m((idle, f"RSS KiB per connection, {count} idle"), "tollgate"), 1.0, "<=")
        check(f"RSS KiB per connection after a request, {count}",
              m((idle, f"RSS KiB per connection, {count}, after 1 request each"), "tollgate"),
              2.0, "<=")
    held = res.samples.get((idle, f"held of {max(IDLE_LEVELS)} (idle, then after a request)"),
                           {}).get("tollgate")
    if held:
        n = int(held[0].split(" / ")[0])
        rows.append((f"20,000 idle connections held (here {max(IDLE_LEVELS)}: descriptor limit "
                     f"{FD_LIMIT})", held[0], "met" if n >= 20000 else
                     ("met at the limit" if n >= max(IDLE_LEVELS) else "MISSED")))
    b = "7 bcrypt cost 10"
    check("cache-hit p99 during misses ÷ idle", m((b, "p99 during misses / p99 idle"), "tollgate"),
          2.0, "<=")
    check("hashing throughput, 2 threads ÷ 1 (2 CPUs)",
          m((b, "hashes/s with 2 threads / with 1"), "tollgate"), 1.5, ">=")
    out = ["| Target | Measured | Result |", "|---|---|---|"]
    out += [f"| {a} | {b_} | {c} |" for a, b_, c in rows]
    return "\n".join(out)


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0].strip() if text else "?"


def conditions(stack, started, busy0, other_cpu):
    pkgs = {}
    for p in ("nginx", "squid", "tinyproxy", "haproxy", "wrk", "curl", "valgrind"):
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", p], capture_output=True,
                             text=True)
        pkgs[p] = out.stdout.strip() or "missing"
    git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    lines = [
        f"- Date {started:%Y-%m-%d %H:%M}, {'QUICK (1 repetition, short runs)' if QUICK else f'median of {REPS} interleaved repetitions'}; "
        f"Tollgate {version([stack.tollgate, '--version'])} at {git}"
        f"{' (with ' + ' '.join(stack.tollgate_compat) + ')' if stack.tollgate_compat else ''}.",
        f"- Machine: {os.cpu_count()} CPUs ({model}), Linux {platform.release()}, "
        f"{platform.freedesktop_os_release().get('PRETTY_NAME', '?')}; RLIMIT_NOFILE hard limit {FD_LIMIT}.",
        f"- Proxies pinned to CPU {PROXY_CPU}; wrk, curl, the Python clients and the origin "
        f"(nginx, 1 worker, and tcpsrc.py) to CPU {LOAD_CPU} (taskset).",
        "- Versions (Debian packages): " + ", ".join(f"{k} {v}" for k, v in pkgs.items()) + ".",
        "- Peers: " + ", ".join(f"{TITLES[p]} {stack.status.get(p, 'not run')}" for p in PEERS) + ".",
        f"- wrk: 1 thread, {CONNS} connections, {DURATION} s per run; scenario 7: 1 cache-hit "
        f"connection, {MISS_CONNS} connections of cache misses.",
        f"- Tollgate: --threads 1 --hash-threads 1 (scenario 7: 2, and 1 vs 2 on CPUs 0-1), Basic "
        f"with bcrypt cost 10 from an htpasswd file, access and auth logs written to files; "
        f"idle scenario with --header-timeout 300.",
        f"- Squid: basic_ncsa_auth on the same htpasswd, 5 helpers, credentialsttl 2 hours, "
        f"cache deny all, access log to a file. tinyproxy: BasicAuth, LogLevel Info. "
        f"HAProxy: nbthread 1, HTTP mode reverse proxy (origin-form requests, no auth, no log, "
        f"http-reuse always) and TCP mode for the tunnel.",
        f"- CPU per request: the proxy's process tree (Squid: with its helpers), from /proc; "
        f"for direct, the origin's. Ratios are Tollgate ÷ the column (T/x).",
        f"- CPU time used on this machine by processes other than the benchmark's (and by "
        f"interrupts) during the run: {other_cpu:.0f} CPU-seconds over "
        f"{time.time() - started.timestamp():.0f} s; results are noisier when this is high.",
    ]
    return "\n".join(lines)


def report(res, stack, started, busy0, profiles):
    ours = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours_cpu = ours.ru_utime + ours.ru_stime + kids.ru_utime + kids.ru_stime
    other = max(0.0, machine_busy() - busy0 - ours_cpu)
    text = [f"# Tollgate benchmark, {started:%Y-%m-%d %H:%M}", "",
            table(res, stack), "", "## Targets (issue 6)", "", targets(res), "",
            "## Conditions", "", conditions(stack, started, busy0, other)]
    if res.notes:
        text += ["", "## Notes", ""] + [f"- {n}" for n in res.notes]
    if profiles:
        text += ["", "## Profiles (PERF=1; perf self time by symbol, above 1.5 %)", ""] + profiles
    return "\n".join(text) + "\n"


# ---------------------------------------------------------------- main

def on_deadline(signum, frame):
    raise BenchError(f"the run exceeded its deadline of {DEADLINE} s")


def main():
    started = datetime.datetime.now()
    busy0 = machine_busy()
    for tool in ("nginx", "wrk", "curl", "htpasswd", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing; run scripts/deps.sh bench")
    if not os.path.exists(TOLLGATE):
        sys.exit(f"bench: {TOLLGATE} is missing; run make")
    signal.signal(signal.SIGALRM, on_deadline)
    signal.alarm(DEADLINE)
    htpasswd, basic, nusers = ensure_users(USERS_NEEDED)
    rundir = tempfile.mkdtemp(prefix="tollgate-bench.")
    stack = Stack(rundir, htpasswd, basic)
    res = Results()
    failed, profiles = None, []
    try:
        big = make_files(rundir)
        stack.start_base(big)
        for name in ("tollgate",) + PEERS:
            stack.start_proxy(name)
        smoke(stack)
        run_wrk_scenario(stack, res, "1 keep-alive, Basic auth", ("direct", "tollgate") + PEERS)
        run_wrk_scenario(stack, res, "2 new connection per request",
                         ("direct", "tollgate") + PEERS, close=True)
        scenario_body(stack, res)
        scenario_tunnel(stack, res)
        run_wrk_scenario(stack, res, "5 no credentials (407)", ("tollgate", "squid", "tinyproxy"),
                         auth=False, expect_status=True)
        if PERF:
            profiles = scenario_profiles(stack)
        for name in ("tollgate",) + PEERS:
            stack.stop(name)
        scenario_bcrypt(stack, res, nusers)
        scenario_idle(stack, res)
        scenario_callgrind(res)
    except (BenchError, subprocess.TimeoutExpired, OSError) as e:
        failed = e
        res.notes.append(f"the run stopped early: {e}")
    finally:
        signal.alarm(0)
        stack.stop_all()
    text = report(res, stack, started, busy0, profiles)
    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS, f"{started:%Y%m%d-%H%M}.md")
    with open(out, "w") as f:
        f.write(text)
    print(text)
    log(f"written to {os.path.relpath(out, ROOT)}")
    if failed:
        log(f"failed: {failed}; logs kept in {rundir}")
        os.remove(os.path.join(rundir, "www", "big"))
        sys.exit(1)
    shutil.rmtree(rundir, ignore_errors=True)


if __name__ == "__main__":
    main()
