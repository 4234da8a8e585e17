#!/usr/bin/env bash
# Runs a command with the real services the tests need, started for this run only:
#   - a throwaway PostgreSQL (initdb + pg_ctl, private port and socket directory)
#   - moto's server mode as the AWS KMS API, through Tests/python/moto_server.py (Sign
#     honours MessageType DIGEST as real KMS does)
# and removes them afterwards, also when the command fails or the run is interrupted (the
# command itself is stopped then too). Exports:
#   KEYCOORD_TEST_POSTGRES_URL  libpq URL of a superuser connection to database "postgres"
#   KEYCOORD_TEST_MOTO_URL      http://127.0.0.1:PORT
set -euo pipefail

source "$(dirname "$0")/lib/children.sh"
PGBIN="${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
RUN_DIR="$(mktemp -d /tmp/keycoord-test.XXXXXX)"
chmod 755 "$RUN_DIR"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
    set +e
    stop_children  # moto, and the command if a signal cut it short
    # PostgreSQL detaches from this shell (pg_ctl daemonizes it): stopped by its data dir.
    [ -f "$RUN_DIR/pg/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$RUN_DIR/pg" -m immediate stop >/dev/null 2>&1
    # PgBouncers the pooler tests start (-d) under the run dir: a test cut short by a
    # timeout or a crash never reaches its own stop, so they are killed by their pid files
    # (SIGKILL: PgBouncer 1.18 takes SIGTERM as a wait for every client to leave).
    for pidfile in "$RUN_DIR"/pgbouncer-*/pgbouncer.pid; do
        [ -f "$pidfile" ] && kill -KILL "$(cat "$pidfile")" 2>/dev/null
    done
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT

PG_PORT="$(free_port)"
mkdir -p "$RUN_DIR/pg" "$RUN_DIR/pgsock"
[ "$(id -u)" -eq 0 ] && chown postgres "$RUN_DIR/pg" "$RUN_DIR/pgsock"
as_pg "$PGBIN/initdb" -D "$RUN_DIR/pg" -U postgres -A trust --no-sync >"$RUN_DIR/initdb.log" 2>&1 \
    || { cat "$RUN_DIR/initdb.log" >&2; exit 1; }
as_pg "$PGBIN/pg_ctl" -D "$RUN_DIR/pg" -l "$RUN_DIR/pgsock/pg.log" -w -o "-p $PG_PORT -k $RUN_DIR/pgsock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null \
    || { cat "$RUN_DIR/pgsock/pg.log" >&2; exit 1; }
export KEYCOORD_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
export KEYCOORD_TEST_PGBIN="$PGBIN"
export KEYCOORD_TEST_PGDATA="$RUN_DIR/pg"
export KEYCOORD_TEST_PG_PORT="$PG_PORT"
export KEYCOORD_TEST_PG_SOCKET_DIR="$RUN_DIR/pgsock"

MOTO_PORT="$(free_port)"
python3 "$(dirname "$0")/../Tests/python/moto_server.py" -H 127.0.0.1 -p "$MOTO_PORT" >"$RUN_DIR/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$MOTO_PORT/moto-api/" >/dev/null 2>&1 && break
    kill -0 "$MOTO_PID" 2>/dev/null || { cat "$RUN_DIR/moto.log" >&2; exit 1; }
    sleep 0.1
done
export KEYCOORD_TEST_MOTO_URL="http://127.0.0.1:$MOTO_PORT"
export KEYCOORD_TEST_RUN_DIR="$RUN_DIR"

echo "test services: postgres on :$PG_PORT, moto on :$MOTO_PORT" >&2
"$@"
