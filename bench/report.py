"""The markdown `make bench` prints and writes: one table of medians with
Tollgate's ratio to direct and to each peer, the targets of issue 6 marked
met or missed, and the versions and conditions of the run."""
import os
import platform
import subprocess
import time

from params import (BCRYPT, BODY, CLOSE, COLUMNS, CONNS, CPU_METRIC, DURATION, FD_LIMIT,
                    IDLE, IDLE_LEVELS, KEEPALIVE, LOAD_CPU, MISS_CONNS, NOCRED, PEERS,
                    PROXY_CPU, QUICK, REPS, ROOT, TITLES, TUNNEL)


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
    if any(w in metric for w in ("CPU µs", "CPU s", "latency", "p99", "RSS", "instructions")):
        return "lower"
    return ""


def cell(res, stack, key, column):
    """The median, or the one text value, or why a peer has none."""
    med = res.median(key, column)
    if med is None and column in res.samples[key]:
        med = res.samples[key][column][0]
    peers_measured = any(c in PEERS for c in res.samples[key])
    status = stack.status.get(column, "ok")
    if med is None and column in PEERS and peers_measured and not status.startswith("ok"):
        med = status.split(":")[0]  # "missing" or "failed"
    return med


def table(res, stack):
    head = ["Scenario", "Metric", "better"] + [TITLES[c] for c in COLUMNS] + \
        [f"T/{TITLES[c]}" for c in COLUMNS if c != "tollgate"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in res.order:
        vals = {c: cell(res, stack, key, c) for c in COLUMNS}
        t = vals["tollgate"]
        ratios = [f"{t / vals[c]:.2f}" if isinstance(t, (int, float)) and
                  isinstance(vals[c], (int, float)) and vals[c] else "—"
                  for c in COLUMNS if c != "tollgate"]
        row = list(key) + [better(key[1])] + [fmt(vals[c]) for c in COLUMNS] + ratios
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def targets(res):
    """The issue's targets, each with the measured ratio or figure."""
    m = res.median
    rows = []

    def ratio(a, b):
        return a / b if a is not None and b else None

    def check(what, value, op, limit):
        if value is None:
            rows.append((what, "not measured", "—"))
            return
        met = {"<=": value <= limit, ">=": value >= limit, "<": value < limit}[op]
        rows.append((what, f"{value:.2f} (target {op} {limit})", "met" if met else "MISSED"))

    t_ka, h_ka = m((KEEPALIVE, CPU_METRIC), "tollgate"), m((KEEPALIVE, CPU_METRIC), "haproxy")
    check("keep-alive: CPU/request ÷ HAProxy HTTP mode (no auth)", ratio(t_ka, h_ka), "<=", 1.0)
    check("keep-alive: CPU/request ÷ Squid", ratio(t_ka, m((KEEPALIVE, CPU_METRIC), "squid")),
          "<=", 0.25)
    check("keep-alive: req/s ÷ HAProxy", ratio(m((KEEPALIVE, "req/s"), "tollgate"),
                                               m((KEEPALIVE, "req/s"), "haproxy")), ">=", 1.0)
    p99 = "p99 latency (µs)"
    check("keep-alive: p99 ÷ Squid's p99", ratio(m((KEEPALIVE, p99), "tollgate"),
                                                 m((KEEPALIVE, p99), "squid")), "<", 1.0)
    check("new connection per request: CPU/request ÷ HAProxy",
          ratio(m((CLOSE, CPU_METRIC), "tollgate"), m((CLOSE, CPU_METRIC), "haproxy")), "<=", 1.0)
    check("100 MiB body, 1 stream: MB/s ÷ direct", ratio(m((BODY, "MB/s, 1 stream"), "tollgate"),
                                                         m((BODY, "MB/s, 1 stream"), "direct")),
          ">=", 0.95)
    down = "MB/s, to client"
    check("tunnel: MB/s ÷ direct (to client)", ratio(m((TUNNEL, down), "tollgate"),
                                                     m((TUNNEL, down), "direct")), ">=", 0.9)
    gib = "proxy CPU s per GiB, to client"
    check("tunnel: CPU/GiB ÷ HAProxy TCP mode (to client)",
          ratio(m((TUNNEL, gib), "tollgate"), m((TUNNEL, gib), "haproxy")), "<=", 0.25)
    check("407: CPU/answer ÷ HAProxy CPU/request (keep-alive)",
          ratio(m((NOCRED, CPU_METRIC), "tollgate"), h_ka), "<=", 1.0)
    for count in IDLE_LEVELS:
        check(f"idle: RSS KiB per connection, {count:,}",
              m((IDLE, f"RSS KiB per connection, {count} idle"), "tollgate"), "<=", 1.0)
        check(f"idle: RSS KiB per connection after a request, {count:,}",
              m((IDLE, f"RSS KiB per connection, {count}, after 1 request each"), "tollgate"),
              "<=", 2.0)
    top = max(IDLE_LEVELS)
    held = res.samples.get((IDLE, f"held of {top} (idle, then after a request)"), {})
    if "tollgate" in held:
        n = int(held["tollgate"][0].split(" / ")[0])
        where = "" if top >= 20000 else " (QUICK: 5,000 only)" if QUICK else \
            f" (here {top:,}: descriptor hard limit {FD_LIMIT:,})"
        verdict = "met" if n >= 20000 else "MISSED" if n < top else \
            "not measured" if QUICK else "met up to the limit"
        rows.append((f"idle: 20,000 connections held{where}", held["tollgate"][0], verdict))
    check("bcrypt misses: cache-hit p99 during misses ÷ idle",
          m((BCRYPT, "p99 during misses / p99 idle"), "tollgate"), "<=", 2.0)
    check("bcrypt misses: hashes/s with 2 threads ÷ 1 (on 2 CPUs)",
          m((BCRYPT, "hashes/s with 2 threads / with 1"), "tollgate"), ">=", 1.5)
    out = ["| Target | Measured | Result |", "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(out)


def version_of(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0].strip() if text else "?"


def conditions(stack, started, other_cpu):
    pkgs = []
    for p in ("nginx", "squid", "tinyproxy", "haproxy", "wrk", "curl", "valgrind"):
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", p], capture_output=True,
                             text=True)
        pkgs.append(f"{p} {out.stdout.strip() or 'missing'}")
    git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    compat = " ".join(stack.tollgate_compat)
    elapsed = time.time() - started.timestamp()
    mode = "QUICK: one repetition, short runs" if QUICK else \
        f"medians of {REPS} interleaved repetitions"
    return "\n".join([
        f"- {started:%Y-%m-%d %H:%M}, {mode}; {version_of([stack.tollgate, '--version'])} "
        f"at {git}{f' (run with {compat})' if compat else ''}.",
        f"- {os.cpu_count()} CPUs ({model}), Linux {platform.release()}, "
        f"{platform.freedesktop_os_release().get('PRETTY_NAME', '?')}; "
        f"descriptor hard limit {FD_LIMIT:,}.",
        f"- Proxies pinned to CPU {PROXY_CPU}; wrk, curl, the Python clients and the origin "
        f"(nginx with one worker, tcpsrc.py) to CPU {LOAD_CPU} (taskset).",
        "- Debian packages: " + ", ".join(pkgs) + ".",
        "- Peers: " + ", ".join(f"{TITLES[p]} {stack.status.get(p, 'not run')}"
                                for p in PEERS) + ".",
        f"- wrk: 1 thread, {CONNS} connections, {DURATION} s a run. Scenario 7: one cache-hit "
        f"connection; {MISS_CONNS} connections sending a different user each request.",
        "- Tollgate: --threads 1 --hash-threads 1 (scenario 7: 2 on CPU 0, and 1 against 2 on "
        "CPUs 0-1), Basic against bcrypt cost 10 (htpasswd), access and auth logs to files; "
        "scenario 6 with --header-timeout 300.",
        "- Squid: basic_ncsa_auth on the same htpasswd, 5 helpers, credentialsttl 2 hours, "
        "cache deny all, access log to a file. tinyproxy: BasicAuth, LogLevel Info. HAProxy: "
        f"nbthread 1, maxconn {stack.conf_values()['haproxy_maxconn']:,}, HTTP mode as a "
        "reverse proxy (origin-form requests, no auth, no log, http-reuse always), TCP mode "
        "for the tunnel.",
        "- CPU: the measured process tree (Squid with its helpers; for direct, the origin) "
        "from /proc. T/x columns: Tollgate ÷ x; whether above 1 is good depends on \"better\".",
        f"- Other load: processes outside the benchmark (and interrupts) used {other_cpu:.0f} "
        f"CPU-seconds during the {elapsed:.0f} s run; figures are noisier the higher this is.",
    ])


def render(res, stack, started, other_cpu, profile_sections):
    text = [f"# Tollgate benchmark, {started:%Y-%m-%d %H:%M}{' (QUICK)' if QUICK else ''}", "",
            table(res, stack), "", "## Targets (issue 6)", "", targets(res), "",
            "## Conditions", "", conditions(stack, started, other_cpu)]
    if res.notes:
        text += ["", "## Notes", ""] + [f"- {n}" for n in res.notes]
    if profile_sections:
        text += ["", "## Profiles (PERF=1: perf self time by symbol, above 1.5 %)", ""]
        text += profile_sections
    return "\n".join(text) + "\n"
