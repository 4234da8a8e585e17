#!/usr/bin/env bash
# HTTP server benchmark (issue 2): keycoord's HTTPBenchServer against nginx, same bytes.
#   bench/http/run.sh            (needs wrk, nginx, python3; run as root for ulimit -n 65536)
# For each of 16, 64 and 256 connections: `wrk -t2 -d10s --latency` three rounds, servers
# interleaved per round; prints medians of req/s, p50 and p99, idle and peak RSS, the ratio
# to nginx, and then holds 10,000 idle keep-alive connections against each server while a
# fresh request is timed. Output is Markdown, ready for bench/RESULTS.md.
# A third server, DispatchProbe.swift (a trivial responder on Dispatch read sources), is
# measured alongside: it is the design HTTPServer did not take.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16 64 256}"
IDLE="${IDLE:-10000}"
# Below the ephemeral port range (32768+), where wrk's own client sockets could hold them.
OURS_PORT="${OURS_PORT:-28080}"
NGINX_PORT="${NGINX_PORT:-28081}"
PROBE_PORT="${PROBE_PORT:-28082}"

for port in "$OURS_PORT" "$NGINX_PORT" "$PROBE_PORT"; do
    if ss -ltn "sport = :$port" | grep -q LISTEN; then
        echo "port $port is in use; set OURS_PORT, NGINX_PORT, PROBE_PORT" >&2
        exit 1
    fi
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
swift build -c release --product HTTPBenchServer >&2
BIN="$(swift build -c release --show-bin-path)/HTTPBenchServer"

WORK="$(mktemp -d /tmp/keycoord-bench.XXXXXX)"
chmod 755 "$WORK"
# shellcheck source=scripts/lib/children.sh
source scripts/lib/children.sh
# Every server, nginx's workers and the idle-connection holders: all started from this shell.
cleanup() { stop_children; rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN" "127.0.0.1:$OURS_PORT" > "$WORK/ours.log" 2>&1 &
OURS_PID=$!
for _ in $(seq 50); do grep -q listening "$WORK/ours.log" 2>/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$OURS_PORT/keys" > "$WORK/keys.json" || { cat "$WORK/ours.log" >&2; exit 1; }
chmod 644 "$WORK/keys.json"

cat > "$WORK/nginx.conf" <<NGINX
worker_processes $(nproc);
pid $WORK/nginx.pid;
error_log $WORK/error.log;
events { worker_connections 20000; }
http {
    access_log off;
    server_tokens off;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    etag off;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location = /keys {
            default_type application/json;
            add_header Cache-Control "public, max-age=300";
            alias $WORK/keys.json;
        }
    }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK" -g "daemon off; worker_rlimit_nofile 65536;" &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$NGINX_PORT/keys" >/dev/null 2>&1 && break; sleep 0.1; done
cmp -s "$WORK/keys.json" <(curl -sf "http://127.0.0.1:$NGINX_PORT/keys") || { echo "nginx serves different bytes" >&2; exit 1; }

swiftc -O -swift-version 5 bench/http/DispatchProbe.swift -o "$WORK/probe" 2>/dev/null
"$WORK/probe" "$PROBE_PORT" "$WORK/keys.json" > "$WORK/probe.log" 2>&1 &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PROBE_PORT/keys" >/dev/null 2>&1 && break; sleep 0.1; done

# Resident memory in KiB of a process and its children (nginx workers): current and peak.
rss() { # field: VmRSS or VmHWM
    local total=0 pid
    for pid in $1 $(pgrep -P "$1" || true); do
        total=$((total + $(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)))
    done
    echo "$total"
}
nginx_master() { cat "$WORK/nginx.pid"; }
to_ms() { # wrk latency "123.45us" / "1.23ms" / "1.02s" → ms
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

IDLE_OURS=$(rss "$OURS_PID" VmRSS)
IDLE_NGINX=$(rss "$(nginx_master)" VmRSS)

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| conns | server | req/s (median) | p50 ms | p99 ms | ratio req/s vs nginx |"
echo "|---|---|---|---|---|---|"
for conns in $CONNECTIONS; do
    for server in ours nginx probe; do : > "$WORK/$server-$conns"; done
    for round in $(seq "$ROUNDS"); do
        for server in ours nginx probe; do
            port=$OURS_PORT; [ "$server" = nginx ] && port=$NGINX_PORT; [ "$server" = probe ] && port=$PROBE_PORT
            out=$(wrk -t2 -c"$conns" -d"$DURATION" --latency "http://127.0.0.1:$port/keys")
            rps=$(awk '/^Requests\/sec:/ { print $2 }' <<< "$out")
            p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<< "$out")")
            p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<< "$out")")
            errors=$(awk '/Non-2xx|Socket errors/ { print }' <<< "$out")
            [ -n "$errors" ] && echo "  ($server, $conns conns, round $round: $errors)" >&2
            echo "$rps $p50 $p99" >> "$WORK/$server-$conns"
        done
    done
    nginx_rps=$(cut -d' ' -f1 "$WORK/nginx-$conns" | median)
    for server in ours nginx probe; do
        rps=$(cut -d' ' -f1 "$WORK/$server-$conns" | median)
        p50=$(cut -d' ' -f2 "$WORK/$server-$conns" | median)
        p99=$(cut -d' ' -f3 "$WORK/$server-$conns" | median)
        ratio=$(awk -v a="$rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }')
        name=keycoord; [ "$server" = nginx ] && name=nginx; [ "$server" = probe ] && name="Dispatch-source probe"
        echo "| $conns | $name | $rps | $p50 | $p99 | $ratio |"
    done
done
echo
echo "RSS (KiB): keycoord idle $IDLE_OURS, peak $(rss "$OURS_PID" VmHWM); nginx (master + workers) idle $IDLE_NGINX, peak $(rss "$(nginx_master)" VmHWM)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

for server in ours nginx; do
    port=$OURS_PORT; pid=$OURS_PID
    [ "$server" = nginx ] && port=$NGINX_PORT && pid=$(nginx_master)
    python3 bench/http/idle_connections.py 127.0.0.1 "$port" "$IDLE" > "$WORK/idle-$server.out" 2>&1 &
    holder=$!
    for _ in $(seq 600); do grep -q ready "$WORK/idle-$server.out" && break; sleep 0.1; done
    held=$(awk '/ready/ { print $2 }' "$WORK/idle-$server.out")
    sleep 1
    seconds=$(curl -sf -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/keys" || echo failed)
    name=keycoord; [ "$server" = nginx ] && name=nginx
    echo "$name with ${held:-0} idle keep-alive connections: RSS $(rss "$pid" VmRSS) KiB; a fresh GET /keys took ${seconds}s"
    kill "$holder"
    wait "$holder" 2>/dev/null || true
done
