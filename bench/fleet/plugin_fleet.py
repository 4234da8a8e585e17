#!/usr/bin/env python3
"""Fleet simulation with SPIRE in the loop (issue 14): N SPIRE-like servers, each with its
own keycoord SPIRE plugin process and its own clock offset, run SPIRE's JWT slot schedule
(pkg/server/ca/manager: the first key prepared and activated at once, the next one
prepared at NotAfter − ca_ttl/2 and activated at NotAfter − ca_ttl/6, on the server's own
clock) against one `keycoord serve` sidecar (file store, disk backend). Every server signs
JWT-SVIDs through SignData; a relying party caching the sidecar's JWKS verifies every
token with joserfc. Servers restart their plugin (keeping keys_path and SPIRE's journal,
checked with GetPublicKey), and once each lose SPIRE's journal (start with empty slots).
With --taint-at, an operator taints keycoord's current key part-way through: no later
GenerateKey may hand it out (keycoord's key-ttl is at least a minute, so a short run sees a
new key only this way).

Goals: at most 3 keys per key type in the JWKS at any time, 0 failed verifications, X.509
CA keys distinct per server, slots unchanged across plugin restarts. Prints a JSON summary;
exits 1 when a goal is missed.

The settings keep docs/spire.md's relation: publish-lead ≤ ca_ttl/3 and
5/6·ca_ttl + svid_ttl ≤ key-ttl/6 + grace.
"""
import argparse
import base64
import hashlib
import json
import os
import queue
import random
import shutil
import sys
import tempfile
import threading
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import utils
from joserfc import jws
from joserfc.jwk import KeySet

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "python"))
from spire_plugin_support import Plugin, Sidecar, load_protos  # noqa: E402


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def spire_kid(pkix):
    """SPIRE PR 6537's deterministic kid: hex SHA-1 of the subjectPublicKey bits."""
    public = serialization.load_der_public_key(pkix)
    bits = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return hashlib.sha1(bits).hexdigest()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.signed = 0
        self.verified = 0
        self.failures = []
        self.errors = []
        self.max_keys = 0
        self.kids_seen = set()
        self.restarts = 0
        self.journal_losses = 0
        self.slot_mismatches = []
        self.x509 = {}
        self.tainted = set()
        self.tainted_handed_out = []


class SpireServer:
    """SPIRE's CA manager JWT schedule over one plugin, on a clock `offset` seconds off."""

    def __init__(self, index, args, sidecar, protos, work, stats):
        self.index = index
        self.args = args
        self.sidecar = sidecar
        self.protos = protos
        self.km = protos[0]
        self.stats = stats
        self.offset = random.uniform(-args.clock_offset, args.clock_offset)
        self.keys_path = os.path.join(work, "server-%d.json" % index)
        self.current = None  # {"id", "not_after", "pkix"}
        self.next = None
        self.plugin = None

    def now(self):
        return time.time() + self.offset

    def start_plugin(self):
        self.plugin = Plugin(self.args.plugin, self.protos)
        self.plugin.configure("example.org", self.sidecar.plugin_data("spire-%d" % self.index, self.keys_path))

    def prepare(self, slot_id):
        public = self.plugin.generate(slot_id, self.km.EC_P256)
        with self.stats.lock:
            if spire_kid(public.pkix_data) in self.stats.tainted:
                self.stats.tainted_handed_out.append("spire-%d %s" % (self.index, slot_id))
        return {"id": slot_id, "not_after": self.now() + self.args.ca_ttl, "pkix": public.pkix_data}

    def rotate(self):
        now = self.now()
        ttl = self.args.ca_ttl
        if self.current is None:
            self.current = self.prepare("JWT-Signer-A" if self.next is None or self.next["id"] != "JWT-Signer-A"
                                        else "JWT-Signer-B")
        if self.next is None and now >= self.current["not_after"] - ttl / 2:
            other = "JWT-Signer-B" if self.current["id"] == "JWT-Signer-A" else "JWT-Signer-A"
            self.next = self.prepare(other)
        if self.next is not None and now >= self.current["not_after"] - ttl / 6:
            self.current, self.next = self.next, None

    def sign(self, tokens):
        kid = spire_kid(self.current["pkix"])
        now = int(self.now())
        header = b64url(json.dumps({"alg": "ES256", "kid": kid, "typ": "JWT"}).encode())
        claims = b64url(json.dumps({"sub": "spiffe://example.org/w/%d" % self.index, "aud": ["rp"], "iat": now,
                                    "exp": now + int(self.args.svid_ttl)}).encode())
        signing_input = ("%s.%s" % (header, claims)).encode()
        der = self.plugin.sign(self.current["id"], hashlib.sha256(signing_input).digest(), self.km.SHA256).signature
        r, s = utils.decode_dss_signature(der)
        tokens.put((time.time(), "%s.%s" % (signing_input.decode(), b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big")))))
        with self.stats.lock:
            self.stats.signed += 1

    def restart(self, lose_journal):
        before = {slot["id"]: slot["pkix"] for slot in (self.current, self.next) if slot}
        self.plugin.stop()
        self.start_plugin()
        with self.stats.lock:
            self.stats.restarts += 1
        if lose_journal:
            # SPIRE without its journal starts with empty slots; the plugin still has keys_path.
            self.current = self.next = None
            with self.stats.lock:
                self.stats.journal_losses += 1
            return
        for slot_id, pkix in before.items():
            if self.plugin.public_key(slot_id).pkix_data != pkix:
                with self.stats.lock:
                    self.stats.slot_mismatches.append("spire-%d %s" % (self.index, slot_id))

    def run(self, stop, tokens):
        try:
            self.start_plugin()
            x509 = self.plugin.generate("x509-CA-A", self.km.EC_P256).pkix_data
            with self.stats.lock:
                self.stats.x509["spire-%d" % self.index] = x509
            restarts = sorted(random.uniform(0.15, 0.9) * self.args.duration for _ in range(self.args.restarts))
            # A lost journal activates a slot at once: keep it clear of a taint's fresh key.
            early = [i for i, at in enumerate(restarts) if self.args.taint_at is None or at < 0.9 * self.args.taint_at * self.args.duration]
            lose_at = random.choice(early) if early else None
            started = time.time()
            while not stop.is_set():
                self.rotate()
                self.sign(tokens)
                if restarts and time.time() - started >= restarts[0]:
                    index = self.args.restarts - len(restarts)
                    restarts.pop(0)
                    self.restart(lose_journal=(index == lose_at))
                stop.wait(self.args.sign_interval)
        except Exception as error:  # a failed call is a finding, not a crash of the run
            with self.stats.lock:
                self.stats.errors.append("spire-%d: %s: %s" % (self.index, type(error).__name__, error))
        finally:
            if self.plugin is not None:
                try:
                    self.plugin.stop()
                except Exception as error:
                    with self.stats.lock:
                        self.stats.errors.append("spire-%d stop: %s" % (self.index, error))


def relying_party(sidecar, args, stop, tokens, stats):
    """Caches the JWKS for --rp-cache seconds and verifies every token against the cache."""
    cached, fetched = None, 0.0
    while not (stop.is_set() and tokens.empty()):
        try:
            _, token = tokens.get(timeout=0.2)
        except queue.Empty:
            continue
        if cached is None or time.time() - fetched >= args.rp_cache:
            cached, fetched = KeySet.import_key_set(sidecar.jwks()), time.time()
        try:
            header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
            jws.deserialize_compact(token, cached.get_by_kid(header["kid"]), algorithms=["ES256"])
            with stats.lock:
                stats.verified += 1
        except Exception as error:
            with stats.lock:
                stats.failures.append("%s: %s" % (type(error).__name__, error))


def monitor(sidecar, stop, stats):
    while not stop.is_set():
        try:
            keys = sidecar.jwks()["keys"]
            with stats.lock:
                stats.max_keys = max(stats.max_keys, len(keys))
                stats.kids_seen.update(k["kid"] for k in keys)
        except Exception as error:
            with stats.lock:
                stats.errors.append("monitor: %s" % error)
        stop.wait(0.2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--proto-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto"))
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--restarts", type=int, default=2)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--ca-ttl", type=float, default=6, help="SPIRE's ca_ttl, seconds")
    parser.add_argument("--key-ttl", default="1m", help="keycoord's key-ttl (≥ 5 × ca_ttl; at least 1m)")
    parser.add_argument("--publish-lead", default="2s", help="keycoord's publish-lead (≤ ca_ttl/3)")
    parser.add_argument("--grace", default="4s")
    parser.add_argument("--svid-ttl", type=float, default=2)
    parser.add_argument("--rp-cache", type=float, default=1)
    parser.add_argument("--clock-offset", type=float, default=0.5, help="largest server clock offset, seconds")
    parser.add_argument("--sign-interval", type=float, default=0.2)
    parser.add_argument("--taint-at", type=float, default=None, help="taint keycoord's current key at this fraction of the run")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="plugin-fleet-")
    # The name SPIRE's plugin_cmd uses: keycoord runs as the plugin under it.
    args.plugin = os.path.join(work, "keycoord-spire-plugin")
    os.symlink(os.path.abspath(args.binary), args.plugin)
    stats = Stats()
    sidecar = Sidecar(args.binary, os.path.join(work, "state"),
                      ["--key-type", "ec-p256", "--key-ttl", args.key_ttl, "--publish-lead", args.publish_lead,
                       "--grace", args.grace, "--log-level", "notice"])
    try:
        # The trust domain's first key is minted at once (nothing to wait for); let it
        # reach the relying party's cache before anyone signs, as a deployment would.
        status, _ = sidecar.control("POST", "/v1/jwt-keys/ec-p256/ensure", {"server_id": "bootstrap"})
        if status != 200:
            raise RuntimeError("bootstrap ensure: %s" % status)
        time.sleep(args.rp_cache)
        protos = load_protos(args.proto_dir)
        stop = threading.Event()
        tokens = queue.Queue()
        servers = [SpireServer(i, args, sidecar, protos, work, stats) for i in range(args.servers)]
        threads = [threading.Thread(target=s.run, args=(stop, tokens)) for s in servers]
        # The relying party drains the queue after the last server has stopped signing.
        servers_done = threading.Event()
        rp = threading.Thread(target=relying_party, args=(sidecar, args, servers_done, tokens, stats))
        watcher = threading.Thread(target=monitor, args=(sidecar, stop, stats))
        for thread in threads + [rp, watcher]:
            thread.start()
        if args.taint_at is not None:
            time.sleep(args.taint_at * args.duration)
            status, answer = sidecar.control("POST", "/v1/jwt-keys/ec-p256/ensure", {"server_id": "operator"})
            with stats.lock:
                stats.tainted.add(answer["kid"])
            status, _ = sidecar.control("POST", "/v1/keys/%s/taint" % answer["kid"], {"reason": "fleet simulation"})
            if status != 200:
                stats.errors.append("taint: %s" % status)
            time.sleep((1 - args.taint_at) * args.duration)
        else:
            time.sleep(args.duration)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        servers_done.set()
        for thread in (rp, watcher):
            thread.join(timeout=60)
    finally:
        sidecar.stop()
        shutil.rmtree(work, ignore_errors=True)

    x509 = list(stats.x509.values())
    summary = {
        "servers": args.servers, "duration": args.duration, "signed": stats.signed, "verified": stats.verified,
        "failed_verifications": len(stats.failures), "failures": stats.failures[:5], "errors": stats.errors[:5],
        "max_keys_in_jwks": stats.max_keys, "kids_seen": len(stats.kids_seen), "restarts": stats.restarts,
        "journal_losses": stats.journal_losses, "slot_mismatches": stats.slot_mismatches,
        "tainted": len(stats.tainted), "tainted_handed_out": stats.tainted_handed_out,
        "x509_ca_keys_distinct": len(set(x509)) == len(x509) == args.servers,
    }
    print(json.dumps(summary))
    ok = (stats.max_keys <= 3 and not stats.failures and not stats.errors and not stats.slot_mismatches
          and not stats.tainted_handed_out
          and summary["x509_ca_keys_distinct"] and stats.signed > 0 and stats.verified == stats.signed
          and len(stats.kids_seen) >= 2)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
