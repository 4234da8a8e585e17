#!/usr/bin/env bash
# SignData through the SPIRE plugin and the sidecar's shared disk key (EC P-256), against
# OpenSSL signing the same kind of digest in-process, in one run.
# Usage: bench/plugin/run.sh [SECONDS] [CONCURRENCY]    (defaults 20 s, 4 callers)
# Needs a built keycoord (swift build -c release) and Debian's Go packages (see Tests/go).
# Run it on a quiet machine; prints the load average before and after.
set -euo pipefail
seconds="${1:-20}"
concurrency="${2:-4}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
binary="${KEYCOORD_BINARY:-$root/.build/release/keycoord}"
[ -x "$binary" ] || { echo "no keycoord at $binary (swift build -c release, or set KEYCOORD_BINARY)" >&2; exit 1; }
work="$(mktemp -d)"
sidecar=""
cleanup() { [ -n "$sidecar" ] && kill "$sidecar" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The bench host, built like Tests/go/spirehost (Debian's Go packages, GOPATH mode).
"$root/Tests/go/build-host.sh" "$root/bench/plugin/signbench" "$work/signbench" "$work/go"

state="$work/state"
mkdir -p "$state"
"$binary" serve --state-dir "$state" --public-listen 127.0.0.1:0 --control-listen "unix:$state/control.sock" \
    --trust-domain example.org --instance-id bench --log-format json 2>"$work/sidecar.log" &
sidecar=$!
for _ in $(seq 1 300); do
    grep -q '"keycoord serving"' "$work/sidecar.log" 2>/dev/null && break
    sleep 0.1
done
grep -q '"keycoord serving"' "$work/sidecar.log" || { cat "$work/sidecar.log" >&2; exit 1; }
ln -s "$binary" "$work/keycoord-spire-plugin"

echo "load before: $(uptime)"
plugin="$("$work/signbench" "$work/keycoord-spire-plugin" "unix://$state/control.sock" "$state/control-token" \
    "$state/keys" "$work/keys.json" "$seconds" "$concurrency")"
# OpenSSL's own ECDSA P-256 signing, in-process, one process per core.
cores="$(nproc)"
reference="$(openssl speed -seconds "$seconds" -multi "$cores" ecdsap256 2>/dev/null | awk '/256 bits ecdsa/ {print $(NF-1)}' | tail -1)"
echo "load after:  $(uptime)"
echo "plugin SignData: $plugin"
echo "openssl in-process ECDSA P-256 sign/s on $cores processes: $reference"
