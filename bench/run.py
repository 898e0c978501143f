#!/usr/bin/python3
"""`make bench`: Tollgate against Squid, tinyproxy and HAProxy, in one run.

Brings up on 127.0.0.1 an nginx origin (a 100-byte and a 100 MiB file), a
plain TCP source/sink (tcpsrc.py) for tunnels, Tollgate, Squid with Basic
auth (basic_ncsa_auth, credentials cached), tinyproxy with BasicAuth and
HAProxy (HTTP reverse proxy without auth, and TCP mode); proxies pinned to
CPU 0, clients and origin to CPU 1. Runs the scenarios of issue 6
(scenarios.py), interleaved and repeated, and the parser micro-benchmark
under callgrind; prints the markdown of report.py and writes it to
bench/results/YYYYMMDD-HHMM.md. QUICK=1 runs each scenario once, briefly;
PERF=1 adds a perf profile of Tollgate and HAProxy (profiles.py).

Python standard library only. Every step is bounded in time, the whole run
by DEADLINE, and every process it starts is stopped by its pid at the end.
"""
import datetime
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

import profiles
import scenarios
from params import (CLOSE, DEADLINE, KEEPALIVE, NOCRED, PARSEBENCH, PEERS, PERF, RESULTS, ROOT,
                    TOLLGATE, USERS_NEEDED, BenchError, log)
from procstat import machine_busy
from report import render
from stack import Stack, ensure_users, make_files


def on_deadline(signum, frame):
    raise BenchError(f"the run exceeded its deadline of {DEADLINE} s")


def measure(stack, res, nusers):
    """Every scenario, in an order that keeps the shared stack up for 1-5
    and gives 6 and 7 processes of their own."""
    big = make_files(stack.rundir)
    stack.start_base(big)
    for name in ("tollgate",) + PEERS:
        stack.start_proxy(name)
    scenarios.smoke(stack)
    everyone = ("direct", "tollgate") + PEERS
    scenarios.wrk_scenario(stack, res, KEEPALIVE, everyone)
    scenarios.wrk_scenario(stack, res, CLOSE, everyone, close=True)
    scenarios.body_scenario(stack, res)
    scenarios.tunnel_scenario(stack, res)
    scenarios.wrk_scenario(stack, res, NOCRED, ("tollgate", "squid", "tinyproxy"), auth=False)
    sections = profiles.profiles(stack) if PERF else []
    for name in ("tollgate",) + PEERS:
        stack.stop(name)
    scenarios.bcrypt_scenario(stack, res, nusers)
    scenarios.idle_scenario(stack, res)
    scenarios.callgrind_scenario(res)
    return sections


def other_cpu(busy0):
    """CPU the machine spent outside this run's processes since busy0."""
    ours = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = ours.ru_utime + ours.ru_stime + kids.ru_utime + kids.ru_stime
    return max(0.0, machine_busy() - busy0 - spent)


def main():
    started = datetime.datetime.now()
    busy0 = machine_busy()
    for tool in ("nginx", "wrk", "curl", "htpasswd", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing: run scripts/deps.sh bench")
    for path in (TOLLGATE, PARSEBENCH):
        if not os.path.exists(path):
            sys.exit(f"bench: {path} is missing: run make bench")
    signal.signal(signal.SIGALRM, on_deadline)
    signal.alarm(DEADLINE)
    rundir = tempfile.mkdtemp(prefix="tollgate-bench.")
    stack, res = None, scenarios.Results()
    failed, sections = None, []
    try:
        htpasswd, basic, nusers = ensure_users(USERS_NEEDED)
        stack = Stack(rundir, htpasswd, basic)
        sections = measure(stack, res, nusers)
    except (BenchError, subprocess.SubprocessError, OSError) as e:
        failed = e
        res.notes.append(f"the run stopped early: {e}")
    finally:
        signal.alarm(0)
        if stack:
            stack.stop_all()
    if stack is None:
        shutil.rmtree(rundir, ignore_errors=True)
        sys.exit(f"bench: {failed}")
    text = render(res, stack, started, other_cpu(busy0), sections)
    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS, f"{started:%Y%m%d-%H%M}.md")
    with open(out, "w") as f:
        f.write(text)
    print(text)
    log(f"written to {os.path.relpath(out, ROOT)}")
    big = os.path.join(rundir, "www", "big")
    if os.path.exists(big):
        os.remove(big)
    if failed:
        log(f"failed: {failed}; the processes' logs are in {rundir}")
        sys.exit(1)
    shutil.rmtree(rundir, ignore_errors=True)


if __name__ == "__main__":
    main()
