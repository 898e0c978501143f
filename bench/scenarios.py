"""The scenarios of issue 6, each filling Results with one value per
repetition and target. Targets are visited in turn within each repetition
(interleaved), so slow drift on the machine touches every target alike.
"""
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import time

from clients import (IdleClient, curl_big, curl_status, measured, tunnel_once, wrk,
                     wrk_target)
from params import (BCRYPT, BODY, CONNS, CPU_METRIC, DURATION, IDLE, IDLE_LEVELS, MISS_CONNS,
                    PARSEBENCH, PARSERS, PEERS, PROXY_CPU, QUICK, REPS, TITLES, TUNNEL,
                    BenchError, log)
from procstat import fd_count, rss_kib
from stack import Server, password, run


class Results:
    """samples[(scenario, metric)][column] = [value per repetition]."""

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
        vals = [v for v in self.samples.get(key, {}).get(column, [])
                if isinstance(v, (int, float))]
        return statistics.median(vals) if vals else None


def smoke(stack):
    """Each proxy answers an authenticated request 200 and one without
    credentials 407 (HAProxy, without auth: 200), or it is marked failed."""
    for name in ("tollgate",) + PEERS:
        if not stack.up(name):
            continue
        ok = curl_status(stack, name)
        if ok != "200":
            stack.status[name] = f"failed: an authenticated request got {ok or 'no answer'}"
        elif name != "haproxy" and curl_status(stack, name, auth=False) != "407":
            stack.status[name] = "failed: a request without credentials did not get 407"
        log(f"smoke {name}: {stack.status[name]}")


def wrk_scenario(stack, res, scen, names, close=False, auth=True):
    """Scenarios 1, 2 and 5: req/s, p50, p99 and CPU per request. Without
    credentials every answer must be an error status (407, checked by smoke)."""
    for rep in range(REPS):
        # Each repetition starts at a different target, so none is always
        # measured first or right after the slowest peer.
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            if not stack.up(name):
                continue
            url, args = wrk_target(stack, name, close=close, auth=auth)
            r, cpu = measured(stack.pid(name), lambda: wrk(url, "proxy.lua", args, CONNS, DURATION))
            n = r["requests"]
            wrong = r["err_status"] if auth else n - r["err_status"]
            errs = wrong + r["err_connect"] + r["err_timeout"]
            if n == 0 or errs > 0.01 * n:
                res.notes.append(f"{scen}, {TITLES[name]} rep {rep + 1}: {n} responses, {errs} "
                                 f"with a wrong status, refused or timed out: {r}")
            if not close and rep == 0 and n and r["err_read"] > 0.5 * n:
                res.notes.append(f"{scen}, {TITLES[name]}: closed the connection after "
                                 f"{r['err_read']} of {n} responses (no keep-alive); wrk "
                                 "reconnected")
            secs = r["duration_us"] / 1e6
            res.add((scen, "req/s"), name, n / secs)
            res.add((scen, "p50 latency (µs)"), name, r["p50_us"])
            res.add((scen, "p99 latency (µs)"), name, r["p99_us"])
            res.add((scen, CPU_METRIC), name, cpu / n * 1e6 if n else None)
            log(f"{scen} rep {rep + 1} {name}: {n / secs:.0f} req/s, p99 {r['p99_us']} µs, "
                f"{cpu / n * 1e6 if n else 0:.1f} µs CPU/req")


def body_scenario(stack, res):
    """Scenario 3: the 100 MiB file through each target, one stream and four."""
    for rep in range(REPS):
        for streams in (1, 4):
            label = f"{streams} stream{'s' if streams > 1 else ''}"
            for name in ("direct", "tollgate") + PEERS:
                if not stack.up(name):
                    continue
                pid = None if name == "direct" else stack.pid(name)
                try:
                    (total, secs), cpu = measured(pid, lambda: curl_big(stack, name, streams))
                except (BenchError, ValueError, subprocess.TimeoutExpired) as e:
                    res.notes.append(f"{BODY}, {TITLES[name]}, {label}: {e}")
                    continue
                res.add((BODY, f"MB/s, {label}"), name, total / secs / 1e6)
                if cpu is not None:
                    res.add((BODY, f"proxy CPU s per GiB, {label}"), name, cpu / total * (1 << 30))
        log(f"{BODY} rep {rep + 1} done")


def tunnel_scenario(stack, res):
    """Scenario 4: 100 MiB each way through a CONNECT tunnel (HAProxy: TCP
    mode, no CONNECT), and straight to the source (direct)."""
    for rep in range(REPS):
        for direction, label in (("down", "to client"), ("up", "to server")):
            for name in ("direct", "tollgate") + PEERS:
                if not stack.up(name):
                    continue
                pid = None if name == "direct" else stack.pid(name)
                try:
                    r, cpu = measured(pid, lambda: tunnel_once(stack, name, direction))
                except (BenchError, subprocess.TimeoutExpired) as e:
                    res.notes.append(f"{TUNNEL}, {TITLES[name]}: {e}")
                    continue
                res.add((TUNNEL, f"MB/s, {label}"), name, r["mbps"])
                if cpu is not None:
                    res.add((TUNNEL, f"proxy CPU s per GiB, {label}"), name,
                            cpu / r["bytes"] * (1 << 30))
        log(f"{TUNNEL} rep {rep + 1} done")


# ---------------------------------------------------------------- 6: idle

def idle_request_file(stack, name):
    if name == "haproxy":
        req = f"GET /small HTTP/1.1\r\nHost: {stack.origin()}\r\n\r\n"
    else:
        req = (f"GET {stack.origin_url('/small')} HTTP/1.1\r\nHost: {stack.origin()}\r\n"
               f"Proxy-Authorization: {stack.auth}\r\n\r\n")
    path = os.path.join(stack.rundir, f"idle-{name}.req")
    with open(path, "w") as f:
        f.write(req)
    return path


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


def idle_measure(stack, srv, name, count):
    """(held idle, RSS KiB growth idle, held after, growth after, request
    outcome). Held: open at the client and accepted by the proxy (one still
    in the listen backlog costs the proxy nothing yet)."""
    base_rss, base_fds = rss_kib(srv.pid), fd_count(srv.pid)
    client = IdleClient(stack.ports[name], count, idle_request_file(stack, name))
    try:
        opened = client.answer(180)
        settle(srv.pid, base_fds + opened["opened"])
        time.sleep(1)
        held = min(client.ask("alive", 60)["alive"], fd_count(srv.pid) - base_fds)
        grown = rss_kib(srv.pid) - base_rss
        req = client.ask("request", 300)
        time.sleep(1)
        held2 = min(client.ask("alive", 60)["alive"], fd_count(srv.pid) - base_fds)
        grown2 = rss_kib(srv.pid) - base_rss
    finally:
        client.close()
    return held, grown, held2, grown2, req


def idle_once(stack, res, name, count):
    """Scenario 6 for one proxy and one count, on a fresh process."""
    kw = {}
    if name == "tinyproxy":
        kw["tinyproxy_max"] = count + 100
    if name == "tollgate":
        # A connection that sends nothing is closed after header-timeout
        # (10 s): longer here, so the count holds while RSS is read.
        kw["tollgate_extra"] = ["--header-timeout", "300"]
    srv = stack.start_proxy(name, **kw)
    if not srv:
        return
    try:
        for _ in range(3):  # credential cache and upstream pool, once
            warm = curl_status(stack, name)
            if warm == "200":
                break
            time.sleep(1)  # Squid listens before its helpers are up
        time.sleep(0.5)
        held, grown, held2, grown2, req = idle_measure(stack, srv, name, count)
        res.add((IDLE, f"held of {count} (idle, then after a request)"), name, f"{held} / {held2}")
        res.add((IDLE, f"RSS KiB per connection, {count} idle"), name,
                grown / held if held else None)
        # Only a figure when (nearly) every held connection got its request.
        answered = req["ok"] >= 0.99 * held2
        res.add((IDLE, f"RSS KiB per connection, {count}, after 1 request each"), name,
                grown2 / held2 if held2 and answered else None)
        if req["failed"] or warm != "200":
            res.notes.append(f"{IDLE}, {TITLES[name]} at {count}: warm-up {warm}, "
                             f"{req['ok']} requests answered 200, {req['failed']} not")
        log(f"{IDLE} {name} {count}: held {held}, then {held2}; RSS +{grown} KiB, then "
            f"+{grown2} KiB; requests {req}")
    except (BenchError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
        res.notes.append(f"{IDLE}, {TITLES[name]} at {count}: {e}")
        log(f"{IDLE} {name} {count}: {e}")
    finally:
        stack.stop(name)


def idle_scenario(stack, res):
    """Scenario 6: fresh processes, one proxy at a time, each count."""
    for count in IDLE_LEVELS:
        for name in ("tollgate",) + PEERS:
            if not stack.status.get(name, "ok").startswith("missing"):
                idle_once(stack, res, name, count)


# ---------------------------------------------------------------- 7: bcrypt

def start_miss_tollgate(stack, cpus, hash_threads):
    """A fresh Tollgate (empty credential cache) on the second port."""
    srv = Server("tollgate-miss", stack.tollgate_cmd(stack.ports["tollgate2"],
                                                     hash_threads=hash_threads),
                 stack.ports["tollgate2"], stack.rundir, cpus).start()
    # The cache-hit client's user is verified once before anything is timed.
    run(["curl", "-s", "-o", "/dev/null", "-x", f"http://127.0.0.1:{stack.ports['tollgate2']}",
         "--proxy-user", f"{stack.user}:{password(stack.user)}", stack.origin_url("/small")], 30)
    return srv


def miss_wrk(stack, res, nusers, duration, pid):
    """MISS_CONNS connections, each request a different valid user. Adds
    "cores": the proxy's CPU seconds per second, i.e. how many hash threads
    really ran at once."""
    url = f"http://127.0.0.1:{stack.ports['tollgate2']}"
    args = [f"target={stack.origin_url('/small')}", f"host={stack.origin()}",
            f"users={stack.basic_file}", "first=2"]
    r, cpu = measured(pid, lambda: wrk(url, "users.lua", args, MISS_CONNS, duration))
    r["cores"] = cpu / (r["duration_us"] / 1e6)
    if r["requests"] >= nusers - 1:
        res.notes.append(f"{BCRYPT}: {r['requests']} misses in one run used all {nusers - 1} "
                         "users, so some were cache hits; raise USERS_NEEDED")
    return r


def hit_wrk(stack, duration):
    url, args = wrk_target(stack, "tollgate", port=stack.ports["tollgate2"])
    return wrk(url, "proxy.lua", args, 1, duration)


def loop_latency_once(stack, res, nusers, rep):
    """The cache-hit client alone, then while misses keep the pool busy."""
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
    res.add((BCRYPT, "cache-hit client p99 (µs), 1 conn, proxy idle"), "tollgate", idle["p99_us"])
    res.add((BCRYPT, f"cache-hit client p99 (µs), during {MISS_CONNS} conns of misses"),
            "tollgate", loaded["p99_us"])
    res.add((BCRYPT, "p99 during misses / p99 idle"), "tollgate",
            loaded["p99_us"] / idle["p99_us"])
    res.add((BCRYPT, "hashes/s, CPU 0 only, 2 hash threads"), "tollgate",
            m["requests"] / (m["duration_us"] / 1e6))
    if m["err_status"] or m["err_timeout"] or loaded["err_status"]:
        res.notes.append(f"{BCRYPT} rep {rep + 1}: misses {m}, hits {loaded}")
    log(f"{BCRYPT} rep {rep + 1}: p99 idle {idle['p99_us']} µs, during misses "
        f"{loaded['p99_us']} µs")


def pool_scaling_once(stack, res, nusers):
    """Hash throughput with 1 and 2 hash threads, Tollgate on both CPUs."""
    for threads in (1, 2):
        srv = start_miss_tollgate(stack, "0,1", threads)
        try:
            m = miss_wrk(stack, res, nusers, DURATION, srv.pid)
        finally:
            srv.stop()
        label = f"{threads} hash thread{'s' if threads > 1 else ''}"
        res.add((BCRYPT, f"hashes/s, CPUs 0-1, {label}"), "tollgate",
                m["requests"] / (m["duration_us"] / 1e6))
        res.add((BCRYPT, f"CPUs busy in Tollgate during misses, CPUs 0-1, {label}"), "tollgate",
                m["cores"])


def bcrypt_scenario(stack, res, nusers):
    """Scenario 7: users stored as bcrypt cost 10, cache misses on purpose."""
    for rep in range(REPS):
        loop_latency_once(stack, res, nusers, rep)
        pool_scaling_once(stack, res, nusers)
    one = res.samples[(BCRYPT, "hashes/s, CPUs 0-1, 1 hash thread")]["tollgate"]
    two = res.samples[(BCRYPT, "hashes/s, CPUs 0-1, 2 hash threads")]["tollgate"]
    for a, b in zip(one, two):
        res.add((BCRYPT, "hashes/s with 2 threads / with 1"), "tollgate", b / a if a else None)


# ---------------------------------------------------------------- parsers

def callgrind_scenario(res):
    """Instructions per parse under callgrind, collected only inside the
    benchmark loop: exact and repeatable, unlike a timer."""
    if not shutil.which("valgrind"):
        res.notes.append(f"{PARSERS}: valgrind is missing")
        return
    n = 2000 if QUICK else 20000
    for what, label in (("reqhead", "instructions per request head (tg_reqhead_parse)"),
                        ("authparam", "instructions per Digest auth-params (tg_authparam_parse)")):
        out = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                   "--collect-atstart=no", f"--toggle-collect=run_{what}", PARSEBENCH, what,
                   str(n)], 300)
        collected = [ln for ln in out.stderr.splitlines() if "Collected :" in ln]
        if out.returncode != 0 or not collected:
            res.notes.append(f"{PARSERS}, {what}: {out.stdout} {out.stderr[-300:]}")
            continue
        res.add((PARSERS, label), "tollgate", int(collected[0].split(":")[-1]) / n)
        res.add((PARSERS, label.replace("instructions per", "input:")), "tollgate",
                out.stdout.strip().split(": ", 1)[1])
