"""The load generators of `make bench`, each pinned to the load CPU: wrk (with
bench/wrk/*.lua), curl for the 100 MiB body, bench/tunnelclient.py and
bench/idleconns.py. Each call is bounded in time and returns parsed figures.
"""
import json
import os
import select
import subprocess

from params import BIG, HERE, LOAD_CPU, PY, BenchError
from procstat import cpu_sample, cpu_seconds
from stack import password, pinned, raise_nofile, run


def measured(pid, fn):
    """Runs fn() and returns (its result, CPU seconds of pid's tree meanwhile);
    the CPU is None without a pid."""
    before = cpu_sample(pid) if pid else None
    result = fn()
    return result, (cpu_seconds(before, cpu_sample(pid)) if pid else None)


def wrk(url, script, args, conns, duration):
    """One wrk run; returns the dict the script's done() prints."""
    cmd = pinned(LOAD_CPU, ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--timeout", "5s",
                            "-s", os.path.join(HERE, "wrk", script), url, "--"] + args)
    out = run(cmd, duration + 30)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise BenchError(f"wrk printed no result: {out.stdout[-300:]} {out.stderr[-300:]}")


def wrk_target(stack, name, close=False, auth=True, port=None):
    """(URL wrk connects to, proxy.lua arguments) for the small file through
    one target: origin-form for direct and HAProxy, absolute-form with
    Proxy-Authorization for the forward proxies."""
    if name in ("direct", "haproxy"):
        port = port or stack.ports["origin" if name == "direct" else "haproxy"]
        url, args = f"http://127.0.0.1:{port}", ["target=/small"]
    else:
        url = f"http://127.0.0.1:{port or stack.ports[name]}"
        args = [f"target={stack.origin_url('/small')}", f"host={stack.origin()}"]
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


def curl_status(stack, name, path="/small", auth=True):
    """The status code of one request, as text ("" when none came)."""
    return run(pinned(LOAD_CPU, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                 "--max-time", "10"] + curl_args(stack, name, path, auth)),
               20).stdout


def curl_big(stack, name, streams):
    """`streams` concurrent downloads of the 100 MiB file; returns (bytes,
    seconds of the longest)."""
    cmd = pinned(LOAD_CPU, ["curl", "-s", "-o", "/dev/null", "--max-time", "120", "-w",
                            "%{http_code} %{size_download} %{time_total}"] + curl_args(stack, name))
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for _ in range(streams)]
    results = [p.communicate(timeout=150)[0].split() for p in procs]
    for r in results:
        if len(r) != 3 or r[0] != "200" or int(r[1]) != BIG:
            raise BenchError(f"{name}: a 100 MiB download ended with {' '.join(r) or 'nothing'}")
    return sum(int(r[1]) for r in results), max(float(r[2]) for r in results)


def tunnel_once(stack, name, direction):
    """100 MiB to the client ("down") or to the sink ("up"): straight to the
    source (direct), through HAProxy's TCP mode, or through a CONNECT tunnel."""
    src = f"127.0.0.1:{stack.ports['tcpsrc']}"
    cmd = [PY, os.path.join(HERE, "tunnelclient.py"), "--bytes", str(BIG), "--dir", direction,
           "--file", os.path.join(stack.rundir, "www", "big")]
    if name == "direct":
        cmd += ["--to", src]
    elif name == "haproxy":
        cmd += ["--to", f"127.0.0.1:{stack.ports['haproxy_tcp']}"]
    else:
        cmd += ["--to", src, "--proxy", f"127.0.0.1:{stack.ports[name]}", "--auth", stack.auth]
    out = run(pinned(LOAD_CPU, cmd), 120)
    if out.returncode != 0:
        raise BenchError(f"{name} tunnel {direction}: "
                         f"{(out.stdout + out.stderr).strip().splitlines()[-1:]}")
    return json.loads(out.stdout)


class IdleClient:
    """bench/idleconns.py holding `count` connections; commands as its doc says."""

    def __init__(self, port, count, request_file):
        self.p = subprocess.Popen(
            pinned(LOAD_CPU, [PY, os.path.join(HERE, "idleconns.py"), "--to",
                              f"127.0.0.1:{port}", "--count", str(count),
                              "--request", request_file]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=raise_nofile)

    def answer(self, timeout):
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not ready:
            raise BenchError(f"the idle client did not answer within {timeout} s")
        line = self.p.stdout.readline()
        if not line:
            raise BenchError("the idle client exited")
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
