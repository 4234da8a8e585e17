#!/usr/bin/env python3
"""Measures a well-behaved relying party's JWKS latency while one attack runs.

    attack.py --port PORT --attack {none,slowloris,header-flood,idle,smuggling}
              [--connections N] [--requests N]

The attack runs in its own processes; the measuring client runs here. It makes
--requests GETs of /.well-known/jwks.json over one keep-alive connection, then the same
number each on a fresh connection (what a relying party with no connection pool does),
and prints one JSON object with p50/p99/max in milliseconds, errors, and what the
attackers did. Every loop is bounded: the attack stops when the measurement ends.
Targets only 127.0.0.1.
"""
import argparse
import json
import multiprocessing
import resource
import selectors
import signal
import socket
import statistics
import sys
import time

HOST = "127.0.0.1"
JWKS = b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: localhost\r\n\r\n"
JWKS_CLOSE = b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

SMUGGLING = [
    b"POST /v1/locks/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    b"GET /v1/keys HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /v1/locks/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    b"POST /v1/locks/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    b"POST /v1/locks/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    b"POST /v1/locks/x HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /v1/locks/x HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
    b"POST /v1/locks/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
]


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def connect(port, timeout=5.0):
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(sock, buffer):
    """Reads one Content-Length response; returns (status, rest of buffer)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response head")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a body")
        rest += chunk
    return status, rest[length:]


# Attacks: each runs until `stop` is set, and reports counters through `stats`.

def slowloris(port, connections, stop, stats):
    """Holds `connections` sockets, each trickling one header byte a second; reopens the
    ones the server answers (408) or closes at its header timeout."""
    raise_nofile()
    sel = selectors.DefaultSelector()
    counts = {"opened": 0, "cut_by_server": 0}
    started = {}

    def open_one():
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex((HOST, port))
        sel.register(sock, selectors.EVENT_READ)
        started[sock] = False
        counts["opened"] += 1

    for _ in range(connections):
        open_one()
    while not stop.is_set():
        tick = time.monotonic()
        for sock in list(started):
            try:
                sock.send(b"a" if started[sock] else b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: a\r\nX-Slow: ")
                started[sock] = True
            except OSError:
                pass
        for key, _ in sel.select(timeout=0):
            sock = key.fileobj
            sel.unregister(sock)
            del started[sock]
            sock.close()
            counts["cut_by_server"] += 1
            open_one()
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    stats.update(counts)


def idle(port, connections, stop, stats):
    """Holds `connections` sockets that send nothing; reopens the ones the server closes."""
    raise_nofile()
    sel = selectors.DefaultSelector()
    opened = closed = refused = 0
    for _ in range(connections):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex((HOST, port))
        sel.register(sock, selectors.EVENT_READ)
        opened += 1
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.2):
            sock = key.fileobj
            sel.unregister(sock)
            sock.close()
            closed += 1
            replacement = socket.socket()
            replacement.setblocking(False)
            if replacement.connect_ex((HOST, port)) not in (0, 115):
                refused += 1
            sel.register(replacement, selectors.EVENT_READ)
            opened += 1
    stats.update(opened=opened, closed_by_server=closed, connect_errors=refused)


def header_flood(port, _connections, stop, stats):
    """Sends requests with 200 headers, then with one 20 KB header, as fast as it can."""
    many = b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: a\r\n" + b"".join(
        b"X-Flood-%d: x\r\n" % i for i in range(200)) + b"\r\n"
    huge = b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: a\r\nX-Huge: " + b"h" * 20000 + b"\r\n\r\n"
    sent = statuses = 0
    while not stop.is_set():
        for payload in (many, huge):
            try:
                with connect(port) as sock:
                    sock.sendall(payload)
                    status, _ = read_response(sock, b"")
                    statuses += status == 431
                    sent += 1
            except OSError:
                pass
    stats.update(sent=sent, answered_431=statuses)


def smuggling(port, _connections, stop, stats):
    """Cycles through smuggling variants, each on a new connection, as fast as it can."""
    sent = refused = 0
    while not stop.is_set():
        for payload in SMUGGLING:
            try:
                with connect(port) as sock:
                    sock.sendall(payload)
                    status, rest = read_response(sock, b"")
                    refused += status in (400, 501) and sock.recv(4096) == b"" and rest == b""
                    sent += 1
            except OSError:
                pass
    stats.update(sent=sent, refused_and_closed=refused)


ATTACKS = {"slowloris": slowloris, "idle": idle, "header-flood": header_flood, "smuggling": smuggling}


def run_attack(name, port, connections, stop, results):
    stats = {}
    ATTACKS[name](port, connections, stop, stats)
    results.put(stats)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(port, requests, fresh):
    latencies, errors = [], 0
    sock, buffer = None, b""
    for _ in range(requests):
        started = time.perf_counter()
        try:
            if fresh:
                with connect(port) as one:
                    one.sendall(JWKS_CLOSE)
                    status, _ = read_response(one, b"")
            else:
                if sock is None:
                    sock, buffer = connect(port), b""
                sock.sendall(JWKS)
                status, buffer = read_response(sock, buffer)
            if status != 200:
                errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
        except OSError:
            errors += 1
            if sock is not None:
                sock.close()
            sock = None
        time.sleep(0.002)
    if sock is not None:
        sock.close()
    if not latencies:
        return {"ok": 0, "errors": errors}
    return {"ok": len(latencies), "errors": errors, "p50_ms": round(statistics.median(latencies), 2),
            "p99_ms": round(percentile(latencies, 0.99), 2), "max_ms": round(max(latencies), 2)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--attack", choices=["none"] + sorted(ATTACKS), required=True)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2, help="processes for the flood and smuggling attacks")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds the attack runs before measuring")
    args = parser.parse_args()
    raise_nofile()
    # A SIGTERM unwinds through the finally below, so no attacker outlives this process.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    stop = multiprocessing.Event()
    results = multiprocessing.Queue()
    workers = []
    try:
        if args.attack != "none":
            count = args.workers if args.attack in ("header-flood", "smuggling") else 1
            for _ in range(count):
                process = multiprocessing.Process(target=run_attack, daemon=True,
                                                  args=(args.attack, args.port, args.connections, stop, results))
                process.start()
                workers.append(process)
            time.sleep(args.warmup)
        keep_alive = measure(args.port, args.requests, fresh=False)
        fresh = measure(args.port, args.requests, fresh=True)
    finally:
        stop.set()
    attack = {}
    for _ in workers:
        for key, value in results.get(timeout=60).items():
            attack[key] = attack.get(key, 0) + value
    for process in workers:
        process.join(timeout=30)
    print(json.dumps({"attack": args.attack, "connections": args.connections if args.attack in ("slowloris", "idle") else None,
                      "keep_alive": keep_alive, "fresh_connection": fresh, "attacker": attack}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
