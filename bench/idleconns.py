#!/usr/bin/python3
"""Idle-connection client for `make bench`: holds N connections open to a
proxy and, on command, sends one keep-alive request on each, so bench/run.py
can read the proxy's RSS between the steps.

  idleconns.py --to 127.0.0.1:PORT --count N --request FILE

FILE holds the raw request bytes (head only; the response must carry
Content-Length). Commands are read from stdin, one per line; each answer is
one JSON line on stdout:
  (start)  -> {"opened": n, "failed": m}    after connecting
  alive    -> {"alive": n}                  connections the proxy still holds
  request  -> {"ok": n, "failed": m, "seconds": s}
  quit     -> exits, closing everything with RST (no TIME_WAIT left behind)
"""
import argparse
import json
import selectors
import socket
import struct
import sys
import time

WINDOW = 8  # requests in flight at once: the proxy needs an upstream for each
GIVE_UP = 3  # connects in a row that fail: the proxy is full


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def open_all(addr, count):
    """Connects one at a time. A proxy at its connection limit stops
    accepting and, once its listen backlog is full, SYNs go unanswered:
    after a few connects in a row time out, the rest would too, so stop."""
    socks, failed, in_a_row = [], 0, 0
    for _ in range(count):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.settimeout(2)
        try:
            s.connect(addr)
        except OSError:
            s.close()
            failed += 1
            in_a_row += 1
            if in_a_row == GIVE_UP:
                break
            continue
        in_a_row = 0
        s.setblocking(False)
        socks.append(s)
    return socks, failed


def count_alive(socks):
    """A connection the proxy closed reads as EOF (or an error); an open one
    has nothing to read."""
    alive = []
    for s in socks:
        try:
            data = s.recv(1, socket.MSG_PEEK)
            if data:
                alive.append(s)  # unexpected bytes, but open
            else:
                s.close()
        except BlockingIOError:
            alive.append(s)
        except OSError:
            s.close()
    return alive


def response_done(buf):
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    length = 0
    for line in buf[:head_end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return len(buf) >= head_end + 4 + length


def request_all(socks, request):
    sel = selectors.DefaultSelector()
    pending = list(socks)
    bufs, ok, failed, inflight = {}, 0, 0, 0
    t0 = time.monotonic()
    while pending or inflight:
        while pending and inflight < WINDOW:
            s = pending.pop()
            try:
                s.send(request)
            except OSError:
                failed += 1
                continue
            bufs[s] = b""
            sel.register(s, selectors.EVENT_READ)
            inflight += 1
        events = sel.select(timeout=10)
        if not events:
            failed += inflight
            break
        for key, _ in events:
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b""
            bufs[s] += chunk
            done = chunk and response_done(bufs[s])
            if done or not chunk:
                sel.unregister(s)
                inflight -= 1
                good = done and bufs[s][8:13] == b" 200 "
                ok += 1 if good else 0
                failed += 0 if good else 1
                del bufs[s]
    return ok, failed, time.monotonic() - t0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--to", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--request", required=True)
    args = p.parse_args()
    host, port = args.to.rsplit(":", 1)
    request = open(args.request, "rb").read()
    socks, failed = open_all((host, int(port)), args.count)
    say({"opened": len(socks), "failed": failed})
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "alive":
            socks = count_alive(socks)
            say({"alive": len(socks)})
        elif cmd == "request":
            ok, bad, secs = request_all(socks, request)
            say({"ok": ok, "failed": bad, "seconds": secs})
        elif cmd == "quit":
            break
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
