#!/usr/bin/env bash
# Lock acquire+release cycles through PostgresStore (PGBench) and the same statements as a
# raw-SQL pgbench custom script, in one run against one throwaway PostgreSQL, at 1, 16 and
# 64 concurrent clients. Prints the results as Markdown for bench/RESULTS.md (also kept in
# .build/pgbench-last-run.md).
# Usage: bench/postgres/run.sh [seconds-per-level]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -z "${KEYCOORD_TEST_POSTGRES_URL:-}" ]; then
    exec "$ROOT/scripts/with-test-services.sh" "$0" "$@"
fi
DURATION="${1:-10}"
LEVELS="1 16 64"
cd "$ROOT"

swift build -c release --product PGBench >&2
BIN="$(swift build -c release --show-bin-path)/PGBench"

DB="keycoord_bench"
psql -X -q "$KEYCOORD_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
URL="${KEYCOORD_TEST_POSTGRES_URL%/*}/$DB"
WORK="$(mktemp -d)"
# shellcheck source=scripts/lib/children.sh
source "$ROOT/scripts/lib/children.sh"
# PGBench or pgbench, run in the pipeline's subshell, if a signal cut the run short.
cleanup() { stop_children; rm -rf "$WORK"; }
trap cleanup EXIT
OUT="$ROOT/.build/pgbench-last-run.md"

{
    echo "Run $(date -u +%Y-%m-%dT%H:%MZ), ${DURATION} s per level, PostgreSQL on the same host (fsync=off, TCP 127.0.0.1)."
    echo
    echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r);"
    echo "$(psql -X -At "$URL" -c 'SHOW server_version' | sed 's/^/PostgreSQL /'), $(swift --version 2>/dev/null | head -1)."
    echo
    echo '```'
    echo "bench/postgres/run.sh $DURATION"
    echo "  PGBench --url <db> --clients 1,16,64 --seconds $DURATION      # swift build -c release --product PGBench"
    echo "  pgbench -n -M prepared|extended -f bench/postgres/lock-cycle.sql -c <N> -j <min(N,2)> -T $DURATION -l <db>"
    echo '```'
    echo
    # PGBench first: its store applies the schema the pgbench script writes to.
    "$BIN" --url "$URL" --clients "$(echo $LEVELS | tr ' ' ',')" --seconds "$DURATION" > "$WORK/pgbench-swift.md"
    head -2 "$WORK/pgbench-swift.md"
    sed -n '3,5p' "$WORK/pgbench-swift.md"
    for clients in $LEVELS; do
        threads=$(( clients < 2 ? clients : 2 ))
        # Prepared, as the store sends its statements; unprepared, parsed at every call.
        for mode in prepared extended; do
            rm -rf "$WORK/log-$clients"; mkdir -p "$WORK/log-$clients"
            (cd "$WORK/log-$clients" && pgbench -n -M "$mode" -f "$ROOT/bench/postgres/lock-cycle.sql" \
                -c "$clients" -j "$threads" -T "$DURATION" -l "$URL" > "$WORK/pgbench-$clients.out" 2>&1)
            python3 "$ROOT/bench/postgres/pgbench_stats.py" "$clients" "$DURATION" "$WORK/log-$clients" "pgbench raw SQL, -M $mode"
        done
    done
    echo
    tail -1 "$WORK/pgbench-swift.md"
} | tee "$OUT"
