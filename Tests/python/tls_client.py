"""TLS client for the TLS tests: Python's ssl module (OpenSSL, but none of our code).

stdin JSON with "mode":
- "get": {host, port, cafile, path, version? ("1.1"|"1.2"|"1.3"), cert?, key?, method?, headers?, body?}
  -> {status, body, version, alpn, cipher, serial} or {error}
- "reload_watch": {host, port, cafile, path, new_serial, seconds, ready_file}
  keeps one connection open (creates ready_file once it served a request, so the test
  replaces the certificate only then), requests on fresh connections until one shows new_serial,
  then uses the old connection again -> {serials, failures, requests, persistent_ok, persistent_serial}
- "pipeline": {host, port, cafile, count} sends GET /echo?i=0..count-1 in one write (several
  TLS records), then reads every response -> {bodies: [...]} or {error}
- "handshake": {host, port, cafile, alpn?} handshakes only (offering `alpn`, default
  h2 and http/1.1) -> {version, alpn} or {error}
- "stall": {host, port, cafile, path, garbage_count, silent_count, wait}
  opens connections that send garbage or nothing, checks a real request is served meanwhile,
  then reports when each bad connection was closed -> {served, closed_after: [seconds|null]}
"""
import json
import socket
import ssl
import sys
import time

from cryptography import x509


def context(r):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(r["cafile"])
    # The requests below are HTTP/1.1, so that is all this client offers (a listener that
    # also speaks HTTP/2 would otherwise choose h2); "handshake" offers what it is told.
    ctx.set_alpn_protocols(["http/1.1"])
    v = r.get("version")
    if v == "1.1":
        # Let this client offer TLS 1.1 at all; the server must be the one refusing.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    elif v == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif v == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if r.get("cert"):
        ctx.load_cert_chain(r["cert"], r["key"])
    return ctx


def connect(r, ctx):
    raw = socket.create_connection((r["host"], r["port"]), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=r.get("sni", "localhost"))


def request(conn, r, path=None):
    method = r.get("method", "GET")
    body = r.get("body", "").encode()
    head = f"{method} {path or r['path']} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n"
    for name, value in r.get("headers", {}).items():
        head += f"{name}: {value}\r\n"
    conn.sendall(head.encode() + b"\r\n" + body)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = 0
    for line in lines[1:]:
        name, value = line.split(":", 1)
        if name.lower() == "content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-body")
        rest += chunk
    return status, rest[:length].decode(errors="replace")


def serial(conn):
    return x509.load_der_x509_certificate(conn.getpeercert(binary_form=True)).serial_number


def get(r):
    try:
        conn = connect(r, context(r))
        status, body = request(conn, r)
        out = {"status": status, "body": body, "version": conn.version(), "alpn": conn.selected_alpn_protocol(),
               "cipher": conn.cipher()[0], "serial": serial(conn)}
        conn.close()
        return out
    except Exception as e:  # the test inspects the reason
        return {"error": f"{type(e).__name__}: {e}"}


def handshake(r):
    try:
        ctx = context(r)
        ctx.set_alpn_protocols(r.get("alpn", ["h2", "http/1.1"]))
        conn = connect(r, ctx)
        out = {"version": conn.version(), "alpn": conn.selected_alpn_protocol()}
        conn.close()
        return out
    except Exception as e:  # the test inspects the reason
        return {"error": f"{type(e).__name__}: {e}"}


def reload_watch(r):
    ctx = context(r)
    persistent = connect(r, ctx)
    request(persistent, r)
    open(r["ready_file"], "w").close()
    serials, failures, requests = [], 0, 0
    deadline = time.monotonic() + r["seconds"]
    while time.monotonic() < deadline:
        try:
            conn = connect(r, ctx)
            status, _ = request(conn, r)
            s = serial(conn)
            conn.close()
            requests += 1
            if status != 200:
                failures += 1
            if not serials or serials[-1] != s:
                serials.append(s)
            if s == r["new_serial"]:
                break
        except Exception:
            failures += 1
    persistent_ok = False
    try:
        status, _ = request(persistent, r)
        persistent_ok = status == 200
    except Exception:
        pass
    return {"serials": serials, "failures": failures, "requests": requests, "persistent_ok": persistent_ok,
            "persistent_serial": serial(persistent)}


def pipeline(r):
    try:
        conn = connect(r, context(r))
        conn.sendall(b"".join(f"GET /echo?i={i} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode() for i in range(r["count"])))
        conn.settimeout(20)
        data, bodies = b"", []
        while len(bodies) < r["count"]:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return {"error": f"closed after {len(bodies)} responses"}
                data += chunk
            head, data = data.split(b"\r\n\r\n", 1)
            length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
            while len(data) < length:
                data += conn.recv(65536)
            bodies.append(data[:length].decode())
            data = data[length:]
        return {"bodies": bodies}
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}


def stall(r):
    bad = []
    start = time.monotonic()
    for _ in range(r.get("garbage_count", 0)):
        s = socket.create_connection((r["host"], r["port"]), timeout=10)
        s.sendall(b"\x16\x03\x01\x00\x05garbage that is not a ClientHello" * 4)
        bad.append(s)
    for _ in range(r.get("silent_count", 0)):
        bad.append(socket.create_connection((r["host"], r["port"]), timeout=10))
    if bad:
        # Let the server accept and count them before the real client arrives: accepted
        # connections are adopted by the loops in turn, not in strict arrival order.
        time.sleep(r.get("settle", 0.3))
    ok = get(r)
    served = ok.get("status") == 200
    closed = []
    for s in bad:
        s.settimeout(max(0.1, r["wait"] - (time.monotonic() - start)))
        try:
            while s.recv(4096):
                pass
            closed.append(time.monotonic() - start)
        except ConnectionResetError:
            closed.append(time.monotonic() - start)
        except socket.timeout:
            closed.append(None)
        s.close()
    return {"served": served, "closed_after": closed, "served_detail": ok}


r = json.load(sys.stdin)
print(json.dumps({"get": get, "handshake": handshake, "reload_watch": reload_watch, "stall": stall, "pipeline": pipeline}[r["mode"]](r)))
