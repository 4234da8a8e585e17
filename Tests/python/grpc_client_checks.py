"""Calls keycoord's gRPC layer with Python grpcio (the C-core gRPC stack, no code shared with
ours) over a unix socket, then attacks it with raw HTTP/2 bytes (answers decoded with the
hpack package). The server under test
serves /keycoord.test.Echo/{Unary,Bidi,Hang} on serialized bytes.
Prints "ok <checks>" and exits 0 when every check passed."""
import socket
import struct
import sys

import grpc
import hpack

path = sys.argv[1]
target = "unix:" + path
identity = lambda b: b
checks = 0


def expect(condition, message):
    global checks
    if not condition:
        print("FAIL: " + message, file=sys.stderr)
        sys.exit(1)
    checks += 1


def status_of(call):
    try:
        call()
    except grpc.RpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, ""


with grpc.insecure_channel(target) as channel:
    unary = channel.unary_unary("/keycoord.test.Echo/Unary", request_serializer=identity, response_deserializer=identity)
    expect(unary(b"hello", timeout=10) == b"hello", "unary echo")
    expect(unary(b"", timeout=10) == b"", "empty message")
    big = bytes(range(256)) * 4096  # 1 MiB: many DATA frames and flow-control windows
    expect(unary(big, timeout=10) == big, "1 MiB echo")

    bidi = channel.stream_stream("/keycoord.test.Echo/Bidi", request_serializer=identity, response_deserializer=identity)
    answers = list(bidi(iter([b"one", b"two", b"three"]), timeout=10))
    expect(answers == [b"one", b"two", b"three"], "bidi echo: %r" % answers)

    code, details = status_of(lambda: channel.unary_unary("/keycoord.test.Echo/Nope", request_serializer=identity,
                                                          response_deserializer=identity)(b"x", timeout=10))
    expect(code == grpc.StatusCode.UNIMPLEMENTED, "unknown method: %s" % code)

    oversized = b"\0" * (5 * 1024 * 1024)
    code, details = status_of(lambda: unary(oversized, timeout=10))
    expect(code == grpc.StatusCode.RESOURCE_EXHAUSTED, "oversized message: %s %s" % (code, details))

    hang = channel.unary_unary("/keycoord.test.Echo/Hang", request_serializer=identity, response_deserializer=identity)
    code, details = status_of(lambda: hang(b"x", timeout=0.3))
    expect(code == grpc.StatusCode.DEADLINE_EXCEEDED, "deadline: %s" % code)

    future = hang.future(b"x", timeout=10)
    future.cancel()
    expect(future.cancelled(), "client cancellation")

    code, details = status_of(lambda: channel.unary_unary("/keycoord.test.Echo/Fail", request_serializer=identity,
                                                          response_deserializer=identity)(b"x", timeout=10))
    expect(code == grpc.StatusCode.NOT_FOUND and details == "no key \"x\" 100%", "status and message: %s %r" % (code, details))

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def read_frames(sock):
    """Frames until the server closes; [(type, flags, stream, payload)]."""
    data = b""
    sock.settimeout(5)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    frames = []
    while len(data) >= 9:
        length = int.from_bytes(data[0:3], "big")
        frames.append((data[3], data[4], int.from_bytes(data[5:9], "big") & 0x7FFFFFFF, data[9:9 + length]))
        data = data[9 + length:]
    return frames


def raw(payload):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.sendall(payload)
    frames = read_frames(sock)
    sock.close()
    return frames


# Not HTTP/2 at all: the connection closes (after a GOAWAY where nghttp2 sends one). The
# server's own preface (SETTINGS, and WINDOW_UPDATE for its 1 MiB connection window) may
# already be out.
frames = raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
expect(all(kind in (4, 7, 8) for kind, _, _, _ in frames), "garbage preface: %r" % frames)
# DATA on stream 0 is a connection error: GOAWAY(PROTOCOL_ERROR = 1).
frames = raw(PREFACE + frame(4, 0, 0) + frame(0, 0, 0, b"junk"))
goaways = [payload for kind, _, _, payload in frames if kind == 7]
expect(goaways and int.from_bytes(goaways[0][4:8], "big") == 1, "DATA on stream 0: %r" % frames)
# A frame longer than the 16 KiB SETTINGS_MAX_FRAME_SIZE: GOAWAY(FRAME_SIZE_ERROR = 6).
frames = raw(PREFACE + frame(4, 0, 0) + frame(6, 0, 0, b"\0" * 20000))
goaways = [payload for kind, _, _, payload in frames if kind == 7]
expect(goaways and int.from_bytes(goaways[0][4:8], "big") == 6, "oversized frame: %r" % frames)
# A truncated gRPC message (prefix says 100 bytes, stream ends after 3): status INTERNAL in trailers.
def literal(index, value):
    """HPACK literal header field with incremental indexing, indexed name (RFC 7541 6.2.1)."""
    return bytes([0x40 | index, len(value)]) + value


headers = bytes([0x83, 0x86]) + literal(4, b"/keycoord.test.Echo/Unary") + literal(1, b"x") + literal(31, b"application/grpc")
request = frame(1, 0x4, 1, headers) + frame(0, 0x1, 1, b"\0\0\0\0\x64abc")
frames = raw(PREFACE + frame(4, 0, 0) + request + frame(7, 0, 0, b"\0\0\0\0\0\0\0\0"))
decoder = hpack.Decoder()
answered = [dict(decoder.decode(payload)) for kind, _, stream, payload in frames if kind == 1 and stream == 1]
statuses = [fields.get("grpc-status") for fields in answered if "grpc-status" in fields]
expect(statuses == ["13"], "truncated message gets INTERNAL: %r" % answered)


def unary_statuses(body_frames):
    """The grpc-status trailers a raw unary request with these frames after its headers gets."""
    frames = raw(PREFACE + frame(4, 0, 0) + frame(1, 0x4 | (0 if body_frames else 0x1), 1, headers) + body_frames
                 + frame(7, 0, 0, b"\0\0\0\0\0\0\0\0"))
    decoder = hpack.Decoder()
    fields = [dict(decoder.decode(payload)) for kind, _, stream, payload in frames if kind == 1 and stream == 1]
    return [f.get("grpc-status") for f in fields if "grpc-status" in f]


# A unary request must carry exactly one message: none, or two, is INTERNAL before the method runs.
expect(unary_statuses(b"") == ["13"], "unary request without a message gets INTERNAL")
two = b"\0\0\0\0\x01a" + b"\0\0\0\0\x01b"
expect(unary_statuses(frame(0, 0x1, 1, two)) == ["13"], "unary request with two messages gets INTERNAL")

# The server survived all of it.
with grpc.insecure_channel(target) as channel:
    unary = channel.unary_unary("/keycoord.test.Echo/Unary", request_serializer=identity, response_deserializer=identity)
    expect(unary(b"still here", timeout=10) == b"still here", "server alive after attacks")

print("ok %d" % checks)
