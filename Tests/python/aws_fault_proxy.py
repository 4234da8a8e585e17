#!/usr/bin/env python3
"""An HTTP/1.1 proxy in front of moto that injects faults into KMS calls.

argv[1]: upstream URL; argv[2]: JSON plan {operation: [fault, ...]}, operation being the
X-Amz-Target suffix (e.g. "CreateKey") or "*" for any. Each request takes the next fault
of its operation's list (then of "*"); when both are empty it is forwarded untouched.
Faults:
  "throttle"       400 ThrottlingException, nothing forwarded
  "limit"          400 LimitExceededException, nothing forwarded
  "denied"         400 AccessDeniedException, nothing forwarded
  "500" / "503"    that status with KMSInternalException, nothing forwarded
  "429"            429 ThrottlingException, nothing forwarded
  "delay:S"        wait S seconds, then forward
  "lost:S"         forward (moto performs the call), then wait S seconds before answering,
                   so a client with a shorter timeout never sees the answer
Prints "READY <port>" once listening. GET /_stats returns {operation: requests seen};
POST /_plan with a JSON plan appends its faults to the running plan.
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = urllib.parse.urlsplit(sys.argv[1])
PLAN = {op: list(faults) for op, faults in json.loads(sys.argv[2]).items()}
LOCK = threading.Lock()
STATS = {}

ERRORS = {
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
    "limit": (400, "LimitExceededException", "Too many keys"),
    "denied": (400, "AccessDeniedException", "User is not authorized to perform kms:Sign"),
    "500": (500, "KMSInternalException", "injected internal error"),
    "503": (503, "KMSInternalException", "injected unavailable"),
    "429": (429, "ThrottlingException", "injected 429"),
}


def next_fault(operation):
    with LOCK:
        STATS[operation] = STATS.get(operation, 0) + 1
        for key in (operation, "*"):
            if PLAN.get(key):
                return PLAN[key].pop(0)
    return None


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/x-amz-json-1.1"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/_stats":
            with LOCK:
                body = json.dumps(STATS).encode()
            self.reply(200, body, "application/json")
        else:
            self.forward(b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/_plan":
            with LOCK:
                for op, faults in json.loads(body).items():
                    PLAN.setdefault(op, []).extend(faults)
            self.reply(200, b"{}", "application/json")
            return
        target = self.headers.get("X-Amz-Target", "")
        operation = target.split(".")[-1] if target else "?"
        fault = next_fault(operation)
        if fault in ERRORS:
            status, code, message = ERRORS[fault]
            self.reply(status, json.dumps({"__type": code, "message": message}).encode())
            return
        if fault and fault.startswith("delay:"):
            time.sleep(float(fault.split(":")[1]))
        answer = self.forward_request(body)
        if fault and fault.startswith("lost:"):
            time.sleep(float(fault.split(":")[1]))
        try:
            self.send_response(answer[0])
            for name, value in answer[1]:
                if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer[2])))
            self.end_headers()
            self.wfile.write(answer[2])
        except OSError:
            pass  # the client gave up (timeout): exactly the lost-answer case

    def forward(self, body):
        answer = self.forward_request(body)
        self.reply(answer[0], answer[2])

    def forward_request(self, body):
        connection = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length")}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        result = (response.status, response.getheaders(), data)
        connection.close()
        return result


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    server.daemon_threads = True
    print(f"READY {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
