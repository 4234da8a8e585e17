#!/usr/bin/env python3
"""Checks keycoord's HTTP server with h11, an independent strict HTTP/1.1 implementation.

Usage: http_h11_client.py HOST PORT
Every response is parsed by h11's client state machine, which raises on any framing or
syntax error. Prints "ok <checks>" and exits 0 on success; prints the failure and exits 1.
The server must serve the routes of Tests/HTTPTests/Support/TestServer.swift.
"""
import json
import socket
import sys

import h11

HOST, PORT = sys.argv[1], int(sys.argv[2])
checks = 0


def check(condition, message):
    global checks
    if not condition:
        raise AssertionError(message)
    checks += 1


class Client:
    def __init__(self):
        self.sock = socket.create_connection((HOST, PORT), timeout=10)
        self.conn = h11.Connection(our_role=h11.CLIENT)

    def send(self, *events):
        for event in events:
            data = self.conn.send(event)
            if data:
                self.sock.sendall(data)

    def next_event(self):
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(self.sock.recv(65536))
                continue
            return event

    def response(self):
        """Returns (informational responses, final response, body) of one exchange."""
        informational, final, body = [], None, b""
        while True:
            event = self.next_event()
            if isinstance(event, h11.InformationalResponse):
                informational.append(event)
            elif isinstance(event, h11.Response):
                final = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return informational, final, body
            elif isinstance(event, h11.ConnectionClosed):
                raise AssertionError("connection closed mid-response")

    def request(self, method, target, headers=(), body=None):
        fields = [("Host", "test")] + list(headers)
        self.send(h11.Request(method=method, target=target, headers=fields))
        if body is not None:
            self.send(h11.Data(data=body))
        self.send(h11.EndOfMessage())
        return self.response()

    def next_cycle(self):
        self.conn.start_next_cycle()


def header(response, name):
    for key, value in response.headers:
        if key.decode().lower() == name.lower():
            return value.decode()
    return None


# Keep-alive: several exchanges on one connection, each with Date and an exact length.
client = Client()
for i in range(3):
    _, response, body = client.request("GET", "/echo?i=%d" % i)
    check(response.status_code == 200, "status %r" % response.status_code)
    check(body == b"echo %d" % i, "body %r" % body)
    check(header(response, "date") is not None, "Date missing")
    check(response.http_version == b"1.1", "version")
    client.next_cycle()

# HEAD: same headers as GET, no body (h11 knows HEAD responses carry none).
_, get, get_body = client.request("GET", "/keys")
client.next_cycle()
_, head, head_body = client.request("HEAD", "/keys")
client.next_cycle()
check(head.status_code == 200 and head_body == b"", "HEAD body")
check(header(head, "content-length") == str(len(get_body)), "HEAD Content-Length")
check(header(head, "content-type") == header(get, "content-type"), "HEAD Content-Type")

# Chunked upload (h11 chunks a body sent without Content-Length).
client.send(h11.Request(method="POST", target="/echo", headers=[("Host", "test"), ("Transfer-Encoding", "chunked")]))
for part in (b"hello", b" ", b"chunked", b" world"):
    client.send(h11.Data(data=part))
client.send(h11.EndOfMessage())
_, response, body = client.response()
check(response.status_code == 200 and body == b"hello chunked world", "chunked echo %r" % body)
client.next_cycle()

# Expect: 100-continue yields an informational response before the final one.
client.send(h11.Request(method="POST", target="/echo",
                        headers=[("Host", "test"), ("Content-Length", "4"), ("Expect", "100-continue")]))
event = client.next_event()
check(isinstance(event, h11.InformationalResponse) and event.status_code == 100, "100 Continue: %r" % (event,))
client.send(h11.Data(data=b"data"), h11.EndOfMessage())
_, response, body = client.response()
check(response.status_code == 200 and body == b"data", "body after 100")
client.next_cycle()

# Error responses are well-formed problem details.
_, response, body = client.request("GET", "/missing")
check(response.status_code == 404, "404")
check(header(response, "content-type") == "application/problem+json", "problem type")
problem = json.loads(body)
check(problem["status"] == 404 and problem["type"].startswith("https://keycoord.dev/problems/"), "problem body")
client.next_cycle()
_, response, body = client.request("PATCH", "/keys")
check(response.status_code == 405 and header(response, "allow") == "GET, HEAD", "405 Allow")
client.next_cycle()

# Pipelining: 20 requests in one write; h11 parses the 20 responses in order.
raw = b""
for i in range(20):
    generator = h11.Connection(our_role=h11.CLIENT)
    raw += generator.send(h11.Request(method="GET", target="/slow?i=%d&ms=%d" % (i, (20 - i) % 5) if i % 2 else "/echo?i=%d" % i,
                                      headers=[("Host", "test")]))
    raw += generator.send(h11.EndOfMessage())
client.sock.sendall(raw)
for i in range(20):
    client.conn.send(h11.Request(method="GET", target="/", headers=[("Host", "test")]))
    client.conn.send(h11.EndOfMessage())
    _, response, body = client.response()
    expected = (b"slow %d" if i % 2 else b"echo %d") % i
    check(response.status_code == 200 and body == expected, "pipelined %d: %r" % (i, body))
    client.next_cycle()

# Connection: close is honoured: h11 sees the close and then EOF.
_, response, _ = client.request("GET", "/hello", headers=[("Connection", "close")])
check(header(response, "connection") == "close", "Connection: close")
check(client.conn.our_state is h11.MUST_CLOSE or client.conn.their_state is h11.MUST_CLOSE, "h11 must close")
check(client.sock.recv(1) == b"", "EOF after close")

# A malformed request gets a well-formed 400 and a close.
bad = socket.create_connection((HOST, PORT), timeout=10)
bad.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n")
parser = h11.Connection(our_role=h11.CLIENT)
parser.send(h11.Request(method="GET", target="/", headers=[("Host", "a")]))
parser.send(h11.EndOfMessage())
events = []
while True:
    event = parser.next_event()
    if event is h11.NEED_DATA:
        parser.receive_data(bad.recv(65536))
        continue
    events.append(event)
    if isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
        break
check(isinstance(events[0], h11.Response) and events[0].status_code == 400, "400 for bad name: %r" % (events[0],))
check(header(events[0], "connection") == "close", "400 closes")

print("ok %d" % checks)
