"""What the cloud fakes share: the server loop, the request limits, the fault plan, the
admin API under /__fake/, the one-line request log and the clean stop on SIGTERM/SIGINT.

A fake is an App: it routes a Request to (operation name, handler) and knows how its
vendor words an error. Everything vendor-neutral lives here so both fakes behave the
same way towards the tests that start them (see README.md beside this file).
"""
import argparse
import base64
import json
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Bodies above this are refused with 413 before they are read: a fake must not be made to
# buffer whatever a client sends. Both APIs' largest legitimate body is a few KiB.
DEFAULT_MAX_BODY_BYTES = 1 << 20
# Each open connection holds a thread; a client (or a bug) opening thousands must not be
# able to exhaust the fake.
DEFAULT_MAX_CONNECTIONS = 256
# A refused body up to this size is read and dropped before the 413, so the client sees the
# answer; past it the connection is just closed.
DISCARD_LIMIT_BYTES = 64 << 20
# An idle keep-alive connection is closed after this, so a stopped client frees its thread.
IDLE_TIMEOUT_SECONDS = 30

_LOG_LOCK = threading.Lock()


def log(name, line):
    with _LOG_LOCK:
        sys.stderr.write(f"{name}: {line}\n")
        sys.stderr.flush()


class Request:
    """One parsed request, as an App's handlers see it."""

    def __init__(self, method, target, headers, body):
        split = urllib.parse.urlsplit(target)
        self.method = method
        self.path = split.path
        self.raw_query = split.query
        self.query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        self.headers = headers
        self.body = body

    def param(self, name, default=None):
        values = self.query.get(name)
        return values[-1] if values else default

    def header(self, name, default=None):
        return self.headers.get(name, default)


class Response:
    def __init__(self, status, body=b"", content_type="application/json; charset=UTF-8", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def form_fields(body):
    """An application/x-www-form-urlencoded body as {name: last value}; raises
    UnicodeDecodeError when it is not UTF-8."""
    return {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}


def bearer_token(request):
    scheme, _, token = (request.header("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class TokenStore:
    """The access tokens a fake issued, each with its expiry, and how many each source
    (grant type) issued. Thread-safe."""

    def __init__(self, prefix, ttl, sources):
        self._lock = threading.Lock()
        self._prefix = prefix
        self.ttl = ttl
        self._sources = tuple(sources)
        self._expiries = {}
        self._issued = dict.fromkeys(self._sources, 0)

    def issue(self, source):
        token = self._prefix + secrets.token_urlsafe(32)
        with self._lock:
            self._expiries[token] = time.time() + self.ttl
            self._issued[source] += 1
        return token

    def check(self, token):
        """"valid", "expired" or "unknown"."""
        with self._lock:
            expiry = self._expiries.get(token)
        if expiry is None:
            return "unknown"
        return "valid" if expiry > time.time() else "expired"

    def clear(self):
        with self._lock:
            self._expiries.clear()
            self._issued = dict.fromkeys(self._sources, 0)

    def issued(self):
        with self._lock:
            return dict(self._issued)


class FaultError(ValueError):
    pass


class FaultPlan:
    """Faults the tests queue over POST /__fake/faults. A request takes the first fault whose
    `match` is a substring of its path or of its operation name; that fault's count drops
    by one and it leaves the plan at zero. Thread-safe."""

    FIELDS = {"match", "status", "count", "retry_after", "delay_seconds", "drop"}

    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []

    @staticmethod
    def validate(spec):
        if not isinstance(spec, dict):
            raise FaultError("a fault is a JSON object")
        unknown = set(spec) - FaultPlan.FIELDS
        if unknown:
            raise FaultError(f"unknown fault fields: {sorted(unknown)}")
        match = spec.get("match")
        if not isinstance(match, str) or not match:
            raise FaultError("match must be a non-empty string")
        status = spec.get("status")
        if status is not None and (not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599):
            raise FaultError("status must be an HTTP error code 400-599")
        count = spec.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise FaultError("count must be a positive integer")
        for field in ("retry_after", "delay_seconds"):
            value = spec.get(field)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 300):
                raise FaultError(f"{field} must be a number of seconds 0-300")
        drop = spec.get("drop", False)
        if not isinstance(drop, bool):
            raise FaultError("drop must be a boolean")
        if status is None and not drop and spec.get("delay_seconds") is None:
            raise FaultError("a fault needs status, drop or delay_seconds")
        if status is not None and drop:
            raise FaultError("status and drop exclude each other: a dropped answer has no status")
        return {"match": match, "status": status, "count": count, "retry_after": spec.get("retry_after"),
                "delay_seconds": spec.get("delay_seconds"), "drop": drop}

    def add(self, specs):
        faults = [self.validate(s) for s in (specs if isinstance(specs, list) else [specs])]
        with self._lock:
            self._faults.extend(faults)
        return len(faults)

    def take(self, path, operation):
        with self._lock:
            for fault in self._faults:
                if fault["match"] in path or (operation and fault["match"] in operation):
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self._faults.remove(fault)
                    return dict(fault)
        return None

    def clear(self):
        with self._lock:
            self._faults.clear()

    def snapshot(self):
        with self._lock:
            return [dict(f) for f in self._faults]


class App:
    """The vendor part of a fake. Subclasses implement route(), error() and the state hooks."""

    name = "fake"

    def route(self, request):
        """(operation name, handler(request) -> Response); handler None answers not-found."""
        raise NotImplementedError

    def error(self, status, message, operation=None):
        """The vendor's error answer, shaped for `operation` (an API call and a token
        endpoint word errors differently), for an injected fault or a refused request."""
        raise NotImplementedError

    def state(self):
        return {}

    def reset(self, options):
        pass


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, app, max_body_bytes, max_connections, tls_context=None):
        super().__init__(address, FakeHandler)
        self.app = app
        self.max_body_bytes = max_body_bytes
        # One thread per connection: past this many, a new connection is closed at once.
        self.connection_slots = threading.BoundedSemaphore(max_connections)
        self.tls_context = tls_context
        self.faults = FaultPlan()
        self.counts_lock = threading.Lock()
        self.counts = {}

    def get_request(self):
        sock, address = super().get_request()
        # The status line and headers go out in one write and the body in another; without
        # this, Nagle's algorithm holds the body for the client's delayed ACK (40 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls_context is not None:
            # The handshake runs in the connection's own thread (FakeHandler.setup), so a
            # slow or broken client cannot hold up accept().
            sock = self.tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def verify_request(self, request, client_address):
        if self.connection_slots.acquire(blocking=False):
            return True
        log(self.app.name, f"connection {client_address[0]}:{client_address[1]} refused: at the connection limit")
        return False

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()

    def handle_error(self, request, client_address):
        kind, value, _ = sys.exc_info()
        log(self.app.name, f"connection {client_address[0]}:{client_address[1]} ended: {kind.__name__}: {value}")

    def count(self, operation):
        with self.counts_lock:
            self.counts[operation] = self.counts.get(operation, 0) + 1

    def counts_snapshot(self):
        with self.counts_lock:
            return dict(self.counts)


class _BodyRefused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def send_error(self, code, message=None, explain=None):
        """Parse errors BaseHTTPRequestHandler finds itself (bad request line, header too
        long, ...) are answered in the vendor's error shape too, then the connection closes."""
        self.close_connection = True
        self.command = self.command or "-"
        response = self.server.app.error(code, message or self.responses.get(code, ("error",))[0])
        self.log_message("refused %s: %s", code, message)
        self._send(response)

    def log_message(self, format, *args):
        # Parse errors BaseHTTPRequestHandler answers itself (400/414/431) still get a line.
        log(self.server.app.name, f"{self.address_string()} {format % args}")

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self):
        if self.headers.get("Transfer-Encoding"):
            raise _BodyRefused(411, "Transfer-Encoding is not accepted; send Content-Length")
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.isdigit():
            raise _BodyRefused(400, "invalid Content-Length")
        length = int(length)
        if length > self.server.max_body_bytes:
            if length <= DISCARD_LIMIT_BYTES:
                self._discard(length)
            raise _BodyRefused(413, f"request body over {self.server.max_body_bytes} bytes")
        return self.rfile.read(length)

    def _discard(self, length):
        """Reads and drops a refused body so the client, still sending, gets to read the
        413 (closing with unread data would reset the connection under it)."""
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                return
            length -= len(chunk)

    def _dispatch(self):
        server = self.server
        app = server.app
        started = time.monotonic()
        operation, note, response = "-", "", None
        try:
            try:
                body = self._read_body()
            except _BodyRefused as refused:
                # The unread body would be taken for the next request: close after answering.
                self.close_connection = True
                response = app.error(refused.status, refused.message)
                return
            request = Request(self.command, self.path, self.headers, body)
            if request.path.startswith("/__fake/"):
                operation = "admin"
                response = self._admin(request)
                return
            operation, handler = app.route(request)
            operation = operation or "unknown"
            server.count(operation)
            fault = server.faults.take(request.path, operation)
            if fault:
                note = " fault=" + json.dumps({k: v for k, v in fault.items() if v not in (None, False)})
                if fault["delay_seconds"]:
                    time.sleep(fault["delay_seconds"])
                if fault["status"] is not None:
                    response = app.error(fault["status"], "injected fault", operation)
                    if fault["retry_after"] is not None:
                        response.headers["Retry-After"] = str(int(fault["retry_after"]) if float(fault["retry_after"]).is_integer() else fault["retry_after"])
                    return
            response = handler(request) if handler else app.error(
                404, f"no such resource or method: {self.command} {request.path}", operation)
            if fault and fault["drop"]:
                # The operation took effect; its answer is lost on the way back.
                note += " dropped"
                response = None
                self.close_connection = True
        except Exception as error:
            log(app.name, "handler failed: " + "".join(traceback.format_exception_only(type(error), error)).strip())
            traceback.print_exc(file=sys.stderr)
            response = app.error(500, "internal error in the fake", operation)
        finally:
            if response is not None:
                self._send(response)
            status = response.status if response is not None else "-"
            size = len(response.body) if response is not None else 0
            log(app.name, f"{self.command} {self.path} op={operation} status={status} bytes={size} "
                          f"ms={(time.monotonic() - started) * 1000:.1f}{note}")

    def _send(self, response):
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True

    def log_request(self, code="-", size="-"):
        # Every request already gets one line from _dispatch.
        pass

    def _admin(self, request):
        server = self.server
        try:
            payload = json.loads(request.body) if request.body.strip() else {}
        except ValueError:
            return Response(400, {"error": "body is not JSON"})
        if request.method == "POST" and request.path == "/__fake/faults":
            try:
                added = server.faults.add(payload)
            except FaultError as error:
                return Response(400, {"error": str(error)})
            return Response(200, {"added": added, "faults": server.faults.snapshot()})
        if request.method == "POST" and request.path == "/__fake/reset":
            if not isinstance(payload, dict):
                return Response(400, {"error": "reset takes a JSON object"})
            server.faults.clear()
            server.app.reset(payload)
            if payload.get("keys"):
                with server.counts_lock:
                    server.counts.clear()
            return Response(200, {"reset": True})
        if request.method == "GET" and request.path == "/__fake/state":
            state = server.app.state()
            state["requests"] = server.counts_snapshot()
            state["faults"] = server.faults.snapshot()
            return Response(200, state)
        return Response(404, {"error": f"no admin route {request.method} {request.path}"})


def write_atomically(path, data, mode=0o600):
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(temporary, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def base_arguments(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port-file", required=True, help="where the bound port is written once it accepts connections")
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (default: a free one)")
    parser.add_argument("--state-dir", help="directory for the generated credential files")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        help=f"larger request bodies get 413 (default {DEFAULT_MAX_BODY_BYTES})")
    parser.add_argument("--max-connections", type=int, default=DEFAULT_MAX_CONNECTIONS,
                        help=f"open connections served at once; more are closed (default {DEFAULT_MAX_CONNECTIONS})")
    return parser


def serve(args, make_app, tls_context=None):
    """Binds, builds the app (which needs the port for its URLs), writes the port file,
    serves until SIGTERM/SIGINT, and returns 0 after a clean stop."""
    if args.max_connections < 1:
        raise SystemExit("--max-connections must be at least 1")
    server = FakeServer(("127.0.0.1", args.port), None, args.max_body_bytes, args.max_connections, tls_context)
    port = server.server_address[1]
    server.app = make_app(port)

    def on_signal(signum, frame):
        # This runs on the main thread, inside serve_forever: shutdown() waits for that
        # loop to end, so it has to be called from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    write_atomically(args.port_file, f"{port}\n", 0o644)
    log(server.app.name, f"listening on 127.0.0.1:{port}")
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    log(server.app.name, "stopped")
    return 0
