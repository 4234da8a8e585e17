#!/usr/bin/env python3
"""Idle-connection flood for HostileConnectionFloodTests, run in its own process so the
client ends of the connections do not share the test process's file limit.

stdin: {"port": P, "count": N, "extras": E}
Opens N connections to 127.0.0.1:P that send nothing, then E more (expected beyond the
server's max-connections) and times how fast each is closed, then asks on a sample of
the held connections, then closes them all and tries one fresh request.
stdout: {"held": n, "refused_in_time": k, "extras_seconds": [...], "sample": [statuses...],
         "fresh": status}
"""
import json
import resource
import socket
import sys
import time

REQUEST = b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: localhost\r\n\r\n"


def status_of(sock, timeout=10.0):
    sock.settimeout(timeout)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return -1
        data += chunk
    return int(data.split(b" ", 2)[1])


def main():
    spec = json.load(sys.stdin)
    port, count, extras = spec["port"], spec["count"], spec["extras"]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        held.append(sock)

    # Beyond the limit: the server accepts and closes at once, so EOF comes quickly.
    seconds = []
    extra_socks = []
    for _ in range(extras):
        started = time.monotonic()
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.settimeout(2.0)
        try:
            closed = sock.recv(1) == b""
        except socket.timeout:
            closed = False
        except ConnectionResetError:
            closed = True
        seconds.append(round(time.monotonic() - started, 3) if closed else None)
        extra_socks.append(sock)
    for sock in extra_socks:
        sock.close()

    # Held connections are real: a sample of them asks and is answered.
    sample = []
    for index in range(0, count, max(1, count // 10)):
        try:
            held[index].sendall(REQUEST)
            sample.append(status_of(held[index]))
        except OSError:
            sample.append(-1)

    for sock in held:
        sock.close()
    time.sleep(0.5)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(REQUEST)
            fresh = status_of(sock)
    except OSError:
        fresh = -1

    json.dump({"held": len(held), "refused_in_time": sum(1 for s in seconds if s is not None and s < 1.0),
               "extras_seconds": seconds, "sample": sample, "fresh": fresh}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
