#!/usr/bin/python3
"""Plain TCP source and sink for the tunnel scenario of `make bench`.

A client sends one line: "GET N" and receives N bytes of FILE (sent with
sendfile, so the source costs little CPU), or "PUT N", sends N bytes and
receives "OK". Then the connection closes. Nothing else is spoken: this is
the far end of a CONNECT tunnel or of HAProxy's TCP mode, not an HTTP server.
"""
import os
import socket
import sys
import threading


def serve_one(conn, path):
    with conn:
        data = b""
        while b"\n" not in data:
            chunk = conn.recv(64)
            if not chunk:
                return
            data += chunk
        # Through a proxy the line and the first payload bytes may arrive
        # together: what follows the newline is payload.
        line, _, early = data.partition(b"\n")
        verb, _, count = line.strip().partition(b" ")
        n = int(count)
        if verb == b"GET":
            with open(path, "rb") as f:
                sent = 0
                while sent < n:
                    sent += os.sendfile(conn.fileno(), f.fileno(), sent, n - sent)
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        elif verb == b"PUT":
            buf = bytearray(1 << 20)
            got = len(early)
            while got < n:
                k = conn.recv_into(buf)
                if not k:
                    return
                got += k
            conn.sendall(b"OK\n")


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(128)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve_one, args=(conn, path), daemon=True).start()


if __name__ == "__main__":
    main()
