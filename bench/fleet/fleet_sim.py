#!/usr/bin/env python3
"""Fleet simulation: N SPIRE servers, each restarting M times, share keys through keycoord.

Starts S `keycoord serve` sidecars on one state directory (file store, disk backend) with
a compressed key lifetime. Each simulated server calls ensure on a sidecar, signs a
JWT-SVID with the key it was given every --sign-interval seconds (joserfc, from the key
file — as a SPIRE server with the disk key manager would), asks again when refresh_after
passes, and "restarts" M times (forgets its key, asks again). A relying party caches the
JWKS for --rp-cache seconds (refreshing only then, as Envoy does) and verifies every JWT.
A monitor polls the JWKS to record the most keys ever published per key type.

Prints a JSON summary; exits 1 when a goal is missed (≤ 3 keys per type, 0 failures).
"""
import argparse
import http.client
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

ALG_KEY = {"ES256": ECKey, "ES384": ECKey, "RS256": RSAKey}


def request(port, method, path, body=None, token=None, timeout=30):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def start_sidecar(binary, state_dir, index, args):
    process = subprocess.Popen(
        [binary, "serve", "--state-dir", state_dir, "--public-listen", "127.0.0.1:0",
         "--control-listen", "127.0.0.1:0", "--instance-id", f"sidecar-{index}",
         "--key-ttl", args.key_ttl, "--publish-lead", args.publish_lead, "--grace", args.grace,
         "--key-type", args.key_type, "--log-format", "json", "--log-level", "notice"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("msg") == "keycoord serving":
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return process, int(record["public"].rsplit(":", 1)[1]), int(record["control"].rsplit(":", 1)[1])
    process.kill()
    raise RuntimeError("sidecar did not start")


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.signed = 0
        self.verified = 0
        self.failures = []
        self.ensure_calls = 0
        self.ensure_errors = []
        self.max_keys = 0
        self.kids_seen = set()

    def add(self, **kw):
        with self.lock:
            for key, value in kw.items():
                setattr(self, key, getattr(self, key) + value)


def parse_time(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").timestamp()


def server(index, sidecars, token, args, stop, tokens, stats):
    """One simulated SPIRE server."""
    restarts_left = args.restarts
    restart_every = args.duration / (args.restarts + 1)
    next_restart = time.time() + restart_every * random.uniform(0.5, 1.0)
    key = None
    while not stop.is_set():
        if key is None or time.time() >= key["refresh_after"]:
            port = random.choice(sidecars)[2]
            status, data = request(port, "POST", f"/v1/jwt-keys/{args.key_type}/ensure",
                                   {"server_id": f"spire-{index}"}, token)
            stats.add(ensure_calls=1)
            if status != 200:
                with stats.lock:
                    stats.ensure_errors.append(f"{status} {data[:200]!r}")
                time.sleep(1)
                continue
            answer = json.loads(data)
            with open(answer["backend_ref"], "rb") as handle:
                private = ALG_KEY[answer["alg"]].import_key(handle.read())
            key = {"kid": answer["kid"], "alg": answer["alg"], "key": private,
                   "refresh_after": parse_time(answer["refresh_after"])}
        now = int(time.time())
        claims = {"sub": f"spiffe://example.org/workload/{index}", "aud": ["rp"], "iat": now, "exp": now + 300}
        token_text = jwt.encode({"alg": key["alg"], "kid": key["kid"], "typ": "JWT"}, claims, key["key"])
        tokens.put(token_text)
        stats.add(signed=1)
        time.sleep(args.sign_interval)
        if restarts_left > 0 and time.time() >= next_restart:
            restarts_left -= 1
            next_restart += restart_every
            key = None  # a restart: the server forgets everything and asks again


def relying_party(sidecars, args, stop, tokens, stats):
    """Caches the JWKS for rp_cache seconds and verifies every token with it."""
    cached, fetched_at = None, 0.0
    while not stop.is_set() or not tokens.empty():
        try:
            token_text = tokens.get(timeout=0.2)
        except queue.Empty:
            continue
        if cached is None or time.time() - fetched_at >= args.rp_cache:
            status, data = request(random.choice(sidecars)[1], "GET", "/keys")
            if status == 200:
                cached, fetched_at = KeySet.import_key_set(json.loads(data)), time.time()
        try:
            jwt.decode(token_text, cached, algorithms=["ES256", "ES384", "RS256"])
            stats.add(verified=1)
        except Exception as error:
            with stats.lock:
                stats.failures.append(f"{type(error).__name__}: {error}")


def monitor(sidecars, stop, stats):
    while not stop.is_set():
        for _, public, _ in sidecars:
            status, data = request(public, "GET", "/keys")
            if status == 200:
                kids = [k["kid"] for k in json.loads(data)["keys"]]
                with stats.lock:
                    stats.max_keys = max(stats.max_keys, len(kids))
                    stats.kids_seen.update(kids)
        time.sleep(0.25)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--servers", type=int, default=30)
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--sidecars", type=int, default=3)
    parser.add_argument("--duration", type=float, default=300)
    parser.add_argument("--key-type", default="ec-p256")
    parser.add_argument("--key-ttl", default="2m")
    parser.add_argument("--publish-lead", default="20s")
    parser.add_argument("--grace", default="5s")
    parser.add_argument("--rp-cache", type=float, default=10)
    parser.add_argument("--sign-interval", type=float, default=1.0)
    args = parser.parse_args()

    state_dir = tempfile.mkdtemp(prefix="keycoord-fleet.")
    sidecars = []
    # A SIGTERM unwinds through the finally below, which stops every sidecar.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        for index in range(args.sidecars):
            sidecars.append(start_sidecar(args.binary, state_dir, index, args))
        with open(os.path.join(state_dir, "control-token")) as handle:
            token = handle.read().strip()
        stats, stop, tokens = Stats(), threading.Event(), queue.Queue()
        threads = [threading.Thread(target=monitor, args=(sidecars, stop, stats))]
        threads += [threading.Thread(target=server, args=(i, sidecars, token, args, stop, tokens, stats))
                    for i in range(args.servers)]
        rp = threading.Thread(target=relying_party, args=(sidecars, args, stop, tokens, stats))
        started = time.time()
        for thread in threads + [rp]:
            thread.start()
        time.sleep(args.duration)
        stop.set()
        for thread in threads + [rp]:
            thread.join()
        summary = {
            "servers": args.servers, "restarts": args.restarts, "sidecars": args.sidecars,
            "duration_s": round(time.time() - started, 1), "key_type": args.key_type,
            "key_ttl": args.key_ttl, "publish_lead": args.publish_lead, "rp_cache_s": args.rp_cache,
            "without_sharing_keys": args.servers * args.restarts,
            "max_keys_in_jwks": stats.max_keys, "distinct_keys_over_run": len(stats.kids_seen),
            "ensure_calls": stats.ensure_calls, "ensure_errors": len(stats.ensure_errors),
            "jwts_signed": stats.signed, "jwts_verified": stats.verified,
            "verification_failures": len(stats.failures), "failure_examples": stats.failures[:5],
            "ensure_error_examples": stats.ensure_errors[:5],
        }
        print(json.dumps(summary, indent=2))
        ok = stats.max_keys <= 3 and not stats.failures and not stats.ensure_errors
        sys.exit(0 if ok else 1)
    finally:
        for process, _, _ in sidecars:
            process.send_signal(signal.SIGTERM)
        for process, _, _ in sidecars:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
