#!/usr/bin/python3
"""Tunnel client for `make bench`: moves N bytes through a CONNECT tunnel
(--proxy with --auth), through a TCP forwarder, or straight to the source
(--to alone), and prints one JSON line: bytes, seconds, MB/s.

  tunnelclient.py --to 127.0.0.1:PORT [--proxy 127.0.0.1:P --auth VALUE]
                  --bytes N --dir down|up

The clock starts after the tunnel is established, when the first request
line is sent, and stops at the last byte (down) or at the sink's "OK" (up).
"""
import argparse
import json
import socket
import sys
import time


def connect(args):
    if not args.proxy:
        host, port = args.to.rsplit(":", 1)
        return socket.create_connection((host, int(port)))
    host, port = args.proxy.rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    head = f"CONNECT {args.to} HTTP/1.1\r\nHost: {args.to}\r\n"
    if args.auth:
        head += f"Proxy-Authorization: {args.auth}\r\n"
    s.sendall((head + "\r\n").encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("tunnelclient: proxy closed before answering CONNECT")
        resp += chunk
    status = resp.split(b"\r\n", 1)[0]
    if b" 200" not in status:
        sys.exit(f"tunnelclient: CONNECT refused: {status.decode(errors='replace')}")
    if resp.index(b"\r\n\r\n") + 4 != len(resp):
        sys.exit("tunnelclient: unexpected bytes after the CONNECT answer")
    return s


def move(s, args):
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    t0 = time.monotonic()
    if args.dir == "down":
        s.sendall(f"GET {args.bytes}\n".encode())
        got = 0
        while True:
            k = s.recv_into(view)
            if not k:
                break
            got += k
    else:
        s.sendall(f"PUT {args.bytes}\n".encode())
        with open(args.file, "rb") as f:
            s.sendfile(f, 0, args.bytes)
        answer = s.recv(16)
        got = args.bytes if answer.startswith(b"OK") else 0
    return got, time.monotonic() - t0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--to", required=True)
    p.add_argument("--proxy")
    p.add_argument("--auth")
    p.add_argument("--bytes", type=int, required=True)
    p.add_argument("--dir", choices=("down", "up"), default="down")
    p.add_argument("--file", help="bytes to upload (dir=up)")
    args = p.parse_args()
    s = connect(args)
    got, secs = move(s, args)
    s.close()
    ok = got == args.bytes
    print(json.dumps({"ok": ok, "bytes": got, "seconds": secs, "mbps": got / secs / 1e6}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
