"""Settings of `make bench` shared by its modules: what runs where, how long
and how often. QUICK=1 shortens everything; PERF=1 adds a profiling pass."""
import os
import resource
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUICK = os.environ.get("QUICK", "") not in ("", "0")
PERF = os.environ.get("PERF", "") not in ("", "0")
BUILD = os.path.join(ROOT, os.environ.get("BUILD") or "build")
TOLLGATE = os.path.join(BUILD, "tollgate")
PARSEBENCH = os.path.join(BUILD, "bench", "parsebench")
PY = sys.executable
CACHE = os.path.join(HERE, "cache")
RESULTS = os.path.join(HERE, "results")

PROXY_CPU, LOAD_CPU = "0", "1"          # taskset: proxies / clients and origin
REPS = 1 if QUICK else 3                # interleaved repetitions; figures are medians
DURATION = 2 if QUICK else 8            # seconds per wrk run
CONNS = 50                              # wrk connections (keep-alive, close, 407)
MISS_CONNS = 8                          # connections sending bcrypt cache misses
BIG = 100 << 20                         # the large body and the tunnel payload
SMALL = 100                             # the small response body
USERS_NEEDED = 400 if QUICK else 2000   # bcrypt users (bench/cache/, made once)
FD_LIMIT = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
# 20,000 idle connections need 20,000 descriptors in one process plus its
# listeners and logs; where the hard limit is lower and cannot be raised (no
# CAP_SYS_RESOURCE), the largest level is what the limit allows.
IDLE_LEVELS = [5000] if QUICK else [5000, min(20000, FD_LIMIT - 200)]
DEADLINE = 8 * 60 if QUICK else 25 * 60  # the whole run, seconds

PEERS = ("squid", "tinyproxy", "haproxy")
COLUMNS = ("direct", "tollgate") + PEERS
TITLES = {"direct": "direct", "tollgate": "Tollgate", "squid": "Squid",
          "tinyproxy": "tinyproxy", "haproxy": "HAProxy"}

# Scenario and metric names: the table's rows and the targets' keys.
KEEPALIVE = "1 keep-alive, Basic auth"
CLOSE = "2 new connection per request"
BODY = "3 100 MiB body"
TUNNEL = "4 tunnel 100 MiB"
NOCRED = "5 no credentials (407)"
IDLE = "6 idle connections"
BCRYPT = "7 bcrypt cost 10"
PARSERS = "parsers (callgrind)"
CPU_METRIC = "CPU µs per request (direct: the origin's)"


class BenchError(Exception):
    """A step failed in a way the run reports rather than survives."""


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)
