#!/usr/bin/env python3
"""Opens N keep-alive connections to HOST:PORT, makes one GET PATH (default /keys) on each,
and holds them idle until killed. Prints "ready <n>" once every connection got its response.

Usage: idle_connections.py HOST PORT N [PATH]
"""
import resource
import socket
import sys
import time

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 1024)), hard))

path = sys.argv[4] if len(sys.argv) > 4 else "/keys"
request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
sockets = []
for _ in range(count):
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(request)
    sockets.append(s)

for s in sockets:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed before the response")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int([line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")][0])
    while len(body) < length:
        body += s.recv(65536)
    if not head.startswith(b"HTTP/1.1 200"):
        sys.exit("unexpected response: %r" % head[:40])

print("ready %d" % len(sockets), flush=True)
while True:
    time.sleep(3600)
