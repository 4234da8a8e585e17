#!/usr/bin/env bash
# Control API over HTTP with the postgres store (issue 4), against the same lock cycle in raw
# SQL by pgbench, in one run against one throwaway PostgreSQL:
#   - lock acquire+release through POST/DELETE /v1/locks/{name} at 1, 16, 64 clients;
#   - the same two statements by pgbench (bench/postgres/lock-cycle.sql), prepared as keycoord
#     sends them (-M prepared): the floor; and unprepared (-M extended), parsed and planned at
#     every call, as keycoord sent them before its statements were prepared;
#   - ensure on the fast path;
#   - time from a publish on sidecar A to the key in sidecar B's JWKS (LISTEN/NOTIFY).
# The lock cycle runs ROUNDS times (default 3), each level of keycoord followed at once by
# the same level of pgbench, so both see the same machine; the table gives medians and the
# ratio of cycle times (pgbench cycles/s over keycoord cycles/s).
# Usage: [BENCH_BIN_DIR=dir] bench/service/run.sh [seconds-per-level] [rounds]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -z "${KEYCOORD_TEST_POSTGRES_URL:-}" ]; then
    exec "$ROOT/scripts/with-test-services.sh" "$0" "$@"
fi
DURATION="${1:-10}"
ROUNDS="${2:-3}"
cd "$ROOT"
# BENCH_BIN_DIR: run keycoord and ServiceBench binaries built elsewhere (another commit, to
# compare two builds on the same machine) instead of building this tree's.
if [ -n "${BENCH_BIN_DIR:-}" ]; then
    BIN_DIR="$BENCH_BIN_DIR"
else
    swift build -c release --product keycoord >&2
    swift build -c release --product ServiceBench >&2
    BIN_DIR="$(swift build -c release --show-bin-path)"
fi

DB="keycoord_service_bench"
psql -X -q "$KEYCOORD_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
URL="${KEYCOORD_TEST_POSTGRES_URL%/*}/$DB"
WORK="$(mktemp -d)"
# shellcheck source=scripts/lib/children.sh
source "$ROOT/scripts/lib/children.sh"
cleanup() { stop_children; rm -rf "$WORK"; }
trap cleanup EXIT
TOKEN="bench-$(openssl rand -hex 16)"
echo "$TOKEN" > "$WORK/token"

# Started in this shell (not inside a substitution), so the EXIT trap stops it.
start_sidecar() {  # name
    mkdir -p "$WORK/$1"
    "$BIN_DIR/keycoord" serve --store postgres --postgres-url "$URL" --state-dir "$WORK/$1" --keys-dir "$WORK/keys" \
        --control-token-file "$WORK/token" --admin-token-file "$WORK/token" --instance-id "$1" \
        --public-listen 127.0.0.1:0 --control-listen 127.0.0.1:0 --log-level notice 2> "$WORK/$1.log" > /dev/null &
}
sidecar_ports() {  # name pid → prints "public control" once it serves; fails if it died or never did
    local line
    for _ in $(seq 1 200); do
        line="$(grep -m1 '"keycoord serving"' "$WORK/$1.log" || true)"
        if [ -n "$line" ]; then
            python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["public"].rsplit(":",1)[1], r["control"].rsplit(":",1)[1])' "$line"
            return 0
        fi
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    echo "sidecar $1 did not start:" >&2; cat "$WORK/$1.log" >&2; return 1
}
start_sidecar a; A_PID=$!
start_sidecar b; B_PID=$!
A_PORTS="$(sidecar_ports a "$A_PID")"
B_PORTS="$(sidecar_ports b "$B_PID")"
read -r A_PUBLIC A_CONTROL <<< "$A_PORTS"
read -r B_PUBLIC B_CONTROL <<< "$B_PORTS"

for _ in $(seq 1 50); do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl pkey -pubout
done > "$WORK/keys.pem"

echo "Run $(date -u +%Y-%m-%dT%H:%MZ), ${DURATION} s per level, ${ROUNDS} interleaved rounds; load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), Linux $(uname -r);"
echo "$(psql -X -At "$URL" -c 'SHOW server_version' | sed 's/^/PostgreSQL /') on the same host (fsync=off), keycoord release build, two sidecars."
echo
echo '```'
echo "bench/service/run.sh $DURATION $ROUNDS"
echo "  ServiceBench lock-cycle --port <sidecar A control> --clients <N> --seconds $DURATION"
echo "  pgbench -n -M prepared|extended -f bench/postgres/lock-cycle.sql -c <N> -j <min(N,2)> -T $DURATION -l <db>"
echo "  ServiceBench hot-lock --port <sidecar A control> --clients 16 --seconds $DURATION"
echo "  pgbench -n -M prepared|extended -f bench/postgres/hot-handoff.sql -c 16 -j 2 -T $DURATION -l <db>"
echo "  ServiceBench ensure --port <sidecar A control> --clients 16 --seconds $DURATION"
echo "  ServiceBench propagation --port <sidecar A control> --public-port <sidecar B public> --count 50"
echo '```'
echo
# Before every measured run: the dead rows the run before left vacuumed and a checkpoint
# taken, so autovacuum and the checkpointer do not land on whichever run comes next (the
# 1-client run after a 64-client one lost half its rate to them).
settle() { psql -X -q "$URL" -c "VACUUM keycoord_lock_epochs" -c "CHECKPOINT"; }
# The row label of each floor (summarize.py and summarize_hot.py read them).
floor_label() { if [ "$1" = prepared ]; then echo "pgbench prepared"; else echo "pgbench unprepared"; fi; }
: > "$WORK/rows"
for round in $(seq 1 "$ROUNDS"); do
    for clients in 1 16 64; do
        settle
        "$BIN_DIR/ServiceBench" lock-cycle --port "$A_CONTROL" --token "$TOKEN" --clients "$clients" --seconds "$DURATION" >> "$WORK/rows"
        threads=$(( clients < 2 ? clients : 2 ))
        for mode in prepared extended; do
            settle
            rm -rf "$WORK/log-$clients"; mkdir -p "$WORK/log-$clients"
            (cd "$WORK/log-$clients" && pgbench -n -M "$mode" -f "$ROOT/bench/postgres/lock-cycle.sql" \
                -c "$clients" -j "$threads" -T "$DURATION" -l "$URL" > /dev/null 2>&1)
            python3 "$ROOT/bench/postgres/pgbench_stats.py" "$clients" "$DURATION" "$WORK/log-$clients" \
                "$(floor_label "$mode")" >> "$WORK/rows"
        done
    done
done
python3 "$ROOT/bench/service/summarize.py" "$WORK/rows"
echo
# A hot lock: 16 clients on one name, each waiting its turn; the floor is the same hand-off
# (one advisory lock and the epoch bump per transaction) in raw SQL.
: > "$WORK/hot"
for round in $(seq 1 "$ROUNDS"); do
    settle
    "$BIN_DIR/ServiceBench" hot-lock --port "$A_CONTROL" --token "$TOKEN" --clients 16 --seconds "$DURATION" >> "$WORK/hot"
    for mode in prepared extended; do
        settle
        rm -rf "$WORK/log-hot"; mkdir -p "$WORK/log-hot"
        (cd "$WORK/log-hot" && pgbench -n -M "$mode" -f "$ROOT/bench/postgres/hot-handoff.sql" \
            -c 16 -j 2 -T "$DURATION" -l "$URL" > /dev/null 2>&1)
        python3 "$ROOT/bench/postgres/pgbench_stats.py" 16 "$DURATION" "$WORK/log-hot" "$(floor_label "$mode"), one lock" >> "$WORK/hot"
    done
done
python3 "$ROOT/bench/service/summarize_hot.py" "$WORK/hot"
echo
echo "| client | clients | requests | requests/s | p50 ms | p99 ms |"
echo "|---|---|---|---|---|---|"
curl -fs -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"server_id":"bench"}' "http://127.0.0.1:$A_CONTROL/v1/jwt-keys/ec-p256/ensure" > /dev/null
"$BIN_DIR/ServiceBench" ensure --port "$A_CONTROL" --token "$TOKEN" --clients 16 --seconds "$DURATION"
echo
echo "| propagation | publishes | p50 | p99 | max |"
echo "|---|---|---|---|---|"
"$BIN_DIR/ServiceBench" propagation --port "$A_CONTROL" --public-port "$B_PUBLIC" --token "$TOKEN" --count 50 --pem-file "$WORK/keys.pem"
echo
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)."
