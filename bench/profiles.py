"""PERF=1: where Tollgate and HAProxy spend their time in the keep-alive,
body and tunnel scenarios: `perf record -g` self time by symbol, and
syscalls per request or per MiB from `perf stat` on the syscall tracepoints.
A separate pass after the measured ones: perf slows what it watches, so
nothing here feeds the table.
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
    rec = subprocess.Popen(["perf", "record", "-q", "-g", "-p", str(pid), "-o", path],
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
    report = run(["perf", "report", "-i", path, "--stdio", "--no-children", "--sort",
                  "dso,symbol", "--percent-limit", "1.5", "-g", "none"], 180)
    os.remove(path)
    top = [" ".join(ln.split()[:4]) for ln in report.stdout.splitlines()
           if ln.strip() and not ln.startswith("#")]
    return top[:14], sorted(calls, reverse=True)[:8]


def jobs_for(stack, name):
    url, args = wrk_target(stack, name)
    tcp = " TCP mode" if name == "haproxy" else ""
    return [
        (f"1 keep-alive, {TITLES[name]}", "request",
         lambda: wrk(url, "proxy.lua", args, CONNS, DURATION), lambda r: r["requests"]),
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
                top, calls = perf_profile(stack.pid(name), work, units, path)
            except (BenchError, subprocess.SubprocessError, OSError, ZeroDivisionError) as e:
                out.append(f"### {label}\n\nprofile failed: {e}\n")
                continue
            out.append(f"### {label}\n\nsyscalls per {unit}: "
                       + ", ".join(f"{call} {k:.2f}" for k, call in calls)
                       + "\n\n```\n" + "\n".join(top) + "\n```\n")
            log(f"profiled {label}")
    return out
