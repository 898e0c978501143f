"""PERF=1: where Tollgate and HAProxy spend their time in the keep-alive,
new-connection, body and tunnel scenarios: self time by symbol, time with
callees for the program's own functions (`perf record --call-graph dwarf`,
so no frame pointers are needed), and syscalls per request or per MiB from
`perf stat` on the syscall tracepoints. A separate pass after the measured
ones: perf slows what it watches, so nothing here feeds the table.
"""
import os
import shutil
import signal
import subprocess
import time

from clients import curl_big, tunnel_once, wrk, wrk_target
from params import CONNS, DURATION, TITLES, BenchError, log
from stack import run


def perf_profile(pid, workload, units, path):
    """Runs workload() under perf watching pid; returns (top symbols,
    [(syscalls per unit, name)]), units(result) being requests or MiB."""
    rec = subprocess.Popen(["perf", "record", "-q", "-F", "999", "--call-graph", "dwarf,8192",
                            "-p", str(pid), "-o", path],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stat = subprocess.Popen(["perf", "stat", "-x", ",", "-e", "syscalls:sys_enter_*", "-p",
                             str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(1)  # both attached before the first request
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
    self_time = run(["perf", "report", "-i", path, "--stdio", "--no-children", "--sort",
                     "dso,symbol", "--percent-limit", "1.5", "-g", "none"], 300)
    inclusive = run(["perf", "report", "-i", path, "--stdio", "--children", "--sort",
                     "dso,symbol", "--percent-limit", "2", "-g", "none"], 300)
    os.remove(path)
    top = [" ".join(ln.split()[:4]) for ln in self_time.stdout.splitlines()
           if ln.strip() and not ln.startswith("#")]
    # The program's own functions with their callees: where its time goes.
    # Frames every sample passes through (thread start, the loop) say nothing.
    own = []
    for ln in inclusive.stdout.splitlines():
        f = ln.split()
        if len(f) >= 5 and not ln.startswith("#") and f[3] == "[.]" and \
                not f[2].startswith(("libc", "[")) and not f[4].startswith("0x") and \
                float(f[0].rstrip("%")) < 90:
            own.append(f"{f[0]} {f[4]}")
    return top[:14], own[:40], sorted(calls, reverse=True)[:8]


def jobs_for(stack, name):
    url, args = wrk_target(stack, name)
    _, close_args = wrk_target(stack, name, close=True)
    tcp = " TCP mode" if name == "haproxy" else ""
    return [
        (f"1 keep-alive, {TITLES[name]}", "request",
         lambda: wrk(url, "proxy.lua", args, CONNS, DURATION), lambda r: r["requests"]),
        (f"2 new connection per request, {TITLES[name]}", "request",
         lambda: wrk(url, "proxy.lua", close_args, CONNS, DURATION), lambda r: r["requests"]),
        (f"3 100 MiB body, 1 stream, {TITLES[name]}", "MiB",
         lambda: curl_big(stack, name, 1), lambda r: r[0] / (1 << 20)),
        (f"4 tunnel to client, {TITLES[name]}{tcp}", "MiB",
         lambda: tunnel_once(stack, name, "down"), lambda r: r["bytes"] / (1 << 20)),
    ]


def profiles(stack):
    """Markdown sections, one per profiled workload."""
    if not shutil.which("perf"):
        return ["perf is not installed (Debian: linux-perf), so nothing was profiled."]
    out = []
    for name in ("tollgate", "haproxy"):
        if not stack.up(name):
            continue
        for i, (label, unit, work, units) in enumerate(jobs_for(stack, name)):
            path = os.path.join(stack.rundir, f"perf-{name}-{i}.data")
            try:
                top, own, calls = perf_profile(stack.pid(name), work, units, path)
            except (BenchError, subprocess.SubprocessError, OSError, ZeroDivisionError) as e:
                out.append(f"### {label}\n\nprofile failed: {e}\n")
                continue
            out.append(f"### {label}\n\nSyscalls per {unit}: "
                       + ", ".join(f"{call} {k:.2f}" for k, call in calls)
                       + "\n\nSelf time:\n\n```\n" + "\n".join(top) + "\n```\n\n"
                       + "Including callees, the program's own functions:\n\n```\n"
                       + "\n".join(own) + "\n```\n")
            log(f"profiled {label}")
    return out
