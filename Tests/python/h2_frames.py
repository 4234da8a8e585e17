"""HTTP/2 frames a well-behaved client never sends, from Python's h2 and hyperframe (an
HTTP/2 implementation that shares no code with libnghttp2), to check what keycoord's
HTTP/2 connections answer. JSON in on stdin, JSON out on stdout:
  {"mode": M, "host": H, "port": P, ...}
  -> {"events": [...], "goaway": code|null, "closed": bool, ...}
Modes: bad_preface, frame_too_large, data_on_stream_zero, oversized_headers, max_streams,
rapid_reset, idle, request_timeout, concurrent.
"""
import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings


def connect(request):
    sock = socket.create_connection((request["host"], request["port"]), timeout=request.get("timeout", 5))
    return sock


def client(sock):
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return conn


def pump(sock, conn, until, deadline):
    """Reads events until `until(events)` is true, the peer closes, or `deadline` passes."""
    events = []
    closed = False
    while not until(events) and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not data:
            closed = True
            break
        try:
            events.extend(conn.receive_data(data))
        except Exception as error:  # h2 refuses what the server sent: report it
            events.append(("client-error", repr(error)))
            break
        out = conn.data_to_send()
        if out:
            try:
                sock.sendall(out)
            except OSError:
                closed = True
                break
    return events, closed


def summary(events, closed):
    goaway = next((e.error_code for e in events if isinstance(e, h2.events.ConnectionTerminated)), None)
    resets = {}
    statuses = {}
    bodies = {}
    for e in events:
        if isinstance(e, h2.events.StreamReset):
            resets[str(e.stream_id)] = int(e.error_code)
        elif isinstance(e, h2.events.ResponseReceived):
            statuses[str(e.stream_id)] = dict(e.headers)[":status"]
        elif isinstance(e, h2.events.DataReceived):
            bodies[str(e.stream_id)] = bodies.get(str(e.stream_id), "") + e.data.decode("utf-8", "replace")
    return {"goaway": None if goaway is None else int(goaway), "closed": closed, "resets": resets,
            "statuses": statuses, "bodies": bodies}


def terminated(events):
    return any(isinstance(e, h2.events.ConnectionTerminated) for e in events)


def raw_until_closed(sock, deadline):
    """Reads raw bytes until the server closes; returns them."""
    seen = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return seen, False
        except ConnectionResetError:
            return seen, True
        if not data:
            return seen, True
        seen += data
    return seen, False


def get_headers(request, path, method="GET", extra=()):
    return [(":method", method), (":scheme", "http"), (":authority", f"{request['host']}:{request['port']}"),
            (":path", path)] + list(extra)


def main():
    request = json.load(sys.stdin)
    mode = request["mode"]
    sock = connect(request)
    deadline = time.monotonic() + request.get("timeout", 5)
    if mode == "bad_preface":
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + b"\x00" * 32)
        seen, closed = raw_until_closed(sock, deadline)
        # A GOAWAY frame: 9-byte header with type 0x7; its error code is the last 4 of the first 8 payload bytes.
        goaway = None
        offset = 0
        while offset + 9 <= len(seen):
            length = int.from_bytes(seen[offset:offset + 3], "big")
            if seen[offset + 3] == 0x7 and offset + 9 + 8 <= len(seen):
                goaway = int.from_bytes(seen[offset + 13:offset + 17], "big")
            offset += 9 + length
        print(json.dumps({"closed": closed, "goaway": goaway, "bytes": len(seen)}))
        return
    conn = client(sock)
    if mode == "frame_too_large":
        # A HEADERS frame header announcing 20,000 bytes, past the 16,384 the server allows.
        sock.sendall((20000).to_bytes(3, "big") + bytes([0x1, 0x4]) + (1).to_bytes(4, "big") + b"\x00" * 20000)
        events, closed = pump(sock, conn, terminated, deadline)
    elif mode == "data_on_stream_zero":
        # hyperframe refuses to build it, so by hand: length 1, type DATA, no flags, stream 0.
        sock.sendall((1).to_bytes(3, "big") + bytes([0x0, 0x0]) + (0).to_bytes(4, "big") + b"x")
        events, closed = pump(sock, conn, terminated, deadline)
    elif mode == "oversized_headers":
        conn.send_headers(1, get_headers(request, "/keys", extra=[("x-big", "a" * request["size"])]), end_stream=True)
        sock.sendall(conn.data_to_send())
        events, closed = pump(sock, conn, lambda ev: any(isinstance(e, h2.events.StreamEnded) for e in ev), deadline)
    elif mode == "max_streams":
        # Streams held open (no END_STREAM) past the announced limit.
        count = request["streams"]
        pump(sock, conn, lambda ev: any(isinstance(e, h2.events.RemoteSettingsChanged) for e in ev), deadline)
        # Let h2 send past the server's announced limit: that is the point of the test.
        conn.remote_settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = 10 ** 6
        conn.remote_settings.acknowledge()
        for index in range(count):
            conn.send_headers(1 + 2 * index, get_headers(request, "/echo", method="POST"), end_stream=False)
        sock.sendall(conn.data_to_send())
        events, closed = pump(sock, conn, lambda ev: any(isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated)) for e in ev), deadline)
    elif mode == "rapid_reset":
        sent = 0
        events = []
        closed = False
        for index in range(request["streams"]):
            stream = 1 + 2 * index
            try:
                conn.send_headers(stream, get_headers(request, "/keys"), end_stream=True)
                conn.reset_stream(stream, error_code=8)
                sock.sendall(conn.data_to_send())
            except (OSError, h2.exceptions.ProtocolError):
                closed = True
                break
            sent += 1
            if index % 50 == 49:
                sock.setblocking(False)
                try:
                    data = sock.recv(65536)
                    if not data:
                        closed = True
                        break
                    events.extend(conn.receive_data(data))
                except BlockingIOError:
                    pass
                except (ConnectionResetError, h2.exceptions.ProtocolError):
                    closed = True
                    break
                sock.setblocking(True)
                if terminated(events):
                    break
        if not closed and not terminated(events):
            more, closed = pump(sock, conn, terminated, deadline)
            events.extend(more)
        result = summary(events, closed)
        result["sent"] = sent
        result.pop("bodies")
        print(json.dumps(result))
        return
    elif mode == "idle":
        # PINGs every 100 ms must not keep an idle connection open.
        started = time.monotonic()
        events = []
        closed = False
        while not terminated(events) and not closed and time.monotonic() < deadline:
            conn.ping(b"12345678")
            sock.sendall(conn.data_to_send())
            more, closed = pump(sock, conn, terminated, min(deadline, time.monotonic() + 0.1))
            events.extend(more)
        result = summary(events, closed)
        result["seconds"] = time.monotonic() - started
        print(json.dumps(result))
        return
    elif mode == "request_timeout":
        conn.send_headers(1, get_headers(request, "/echo", method="POST"), end_stream=False)
        sock.sendall(conn.data_to_send())
        events, closed = pump(sock, conn, lambda ev: any(isinstance(e, h2.events.StreamReset) for e in ev), deadline)
    elif mode == "concurrent":
        count = request["streams"]
        for index in range(count):
            conn.send_headers(1 + 2 * index, get_headers(request, request.get("path", "/keys")), end_stream=True)
        sock.sendall(conn.data_to_send())
        events, closed = pump(sock, conn,
                              lambda ev: sum(isinstance(e, h2.events.StreamEnded) for e in ev) >= count, deadline)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(summary(events, closed)))


if __name__ == "__main__":
    main()
