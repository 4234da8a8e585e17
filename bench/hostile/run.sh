#!/usr/bin/env bash
# Hostile-client benchmark (issue 6): a release `keycoord serve` with its default limits,
# and for each attack a well-behaved client's JWKS latency (p50/p99 over REQUESTS
# requests on a keep-alive connection, then as many on fresh connections).
#   bench/hostile/run.sh            (python3; run as root so ulimit -n can reach 65536)
# ATTACKS is a list of NAME[:CONNECTIONS]: none (baseline), slowloris (connections
# trickling headers), header-flood (200-header and 20 KB-header requests in a loop, 2
# processes), idle (silent connections, reopened as the header timeout cuts them),
# smuggling (CL.TE/TE.CL/obfuscated-TE spam, 2 processes). idle is run just below and at
# the default max-connections (10,000), where new clients are refused by design.
# Everything targets 127.0.0.1 only; every loop is bounded by the measurement.
# Output: one JSON line per attack, then a Markdown table for bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

REQUESTS="${REQUESTS:-2000}"
PORT="${PORT:-18480}"
ATTACKS="${ATTACKS:-none slowloris:2000 header-flood idle:9000 idle:10000 smuggling}"
SETTLE="${SETTLE:-12}"

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ -z "${KEYCOORD_BIN:-}" ]; then
    swift build -c release --product keycoord >&2
    KEYCOORD_BIN="$(swift build -c release --show-bin-path)/keycoord"
fi

WORK="$(mktemp -d /tmp/keycoord-hostile.XXXXXX)"
# shellcheck source=scripts/lib/children.sh
source scripts/lib/children.sh
# The server, and the attack (with its worker processes) if a signal cut the run short.
cleanup() { stop_children; rm -rf "$WORK"; }
trap cleanup EXIT

# Default limits (max-connections 10000, header-timeout 10s, ...); only the ports differ.
cat > "$WORK/config.json" <<EOF
{"trust-domain": "bench.example", "state-dir": "$WORK/state", "public-listen": "127.0.0.1:$PORT",
 "control-listen": "127.0.0.1:$((PORT + 1))", "log-level": "error", "key-ttl": "24h"}
EOF
"$KEYCOORD_BIN" serve --config "$WORK/config.json" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/.well-known/jwks.json" > /dev/null 2>&1 && break
    sleep 0.1
done
TOKEN="$(grep -v '^#' "$WORK/state/control-token" | head -1)"
curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"server_id":"bench"}' "http://127.0.0.1:$((PORT + 1))/v1/jwt-keys/ec-p256/ensure" > /dev/null

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)" >&2
: > "$WORK/results.jsonl"
for spec in $ATTACKS; do
    attack="${spec%%:*}"
    connections=0
    [ "$spec" != "$attack" ] && connections="${spec#*:}"
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    line="$(python3 bench/hostile/attack.py --port "$PORT" --attack "$attack" --connections "$connections" --requests "$REQUESTS")"
    after="$(cut -d' ' -f1-3 /proc/loadavg)"
    rss="$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")"
    kill -0 "$SERVER_PID" || { echo "keycoord died during $attack" >&2; cat "$WORK/server.log" >&2; exit 1; }
    echo "$line" | python3 -c "import json,sys; d=json.load(sys.stdin); d.update(load_before='$load', load_after='$after', server_peak_rss_kb=$rss); print(json.dumps(d))" | tee -a "$WORK/results.jsonl"
    sleep "$SETTLE"  # let the header timeout reap what the attack left
done

python3 - "$WORK/results.jsonl" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| attack | attack size | keep-alive p50 / p99 / max (ms) | fresh connection p50 / p99 / max (ms) | errors (ka / fresh) | attacker counters | load avg before → after |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    def cell(m):
        return f"{m.get('p50_ms', '–')} / {m.get('p99_ms', '–')} / {m.get('max_ms', '–')}" if m.get("ok") else "no success"
    size = r["connections"] if r["connections"] else ("2 processes" if r["attack"] != "none" else "–")
    counters = ", ".join(f"{k} {v}" for k, v in r["attacker"].items()) or "–"
    print(f"| {r['attack']} | {size} | {cell(r['keep_alive'])} | {cell(r['fresh_connection'])} | "
          f"{r['keep_alive']['errors']} / {r['fresh_connection']['errors']} | {counters} | {r['load_before']} → {r['load_after']} |")
EOF
