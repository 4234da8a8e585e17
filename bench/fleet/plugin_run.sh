#!/usr/bin/env bash
# Fleet simulation with SPIRE in the loop (issue 14): builds keycoord in release and runs
# bench/fleet/plugin_fleet.py, by default 12 servers for 5 minutes with SPIRE's ca_ttl at 30 s.
# Usage: bench/fleet/plugin_run.sh [plugin_fleet.py options]
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/children.sh
source scripts/lib/children.sh
trap stop_children EXIT
make release >/dev/null
BIN="$(swift build -c release --show-bin-path)/keycoord"
python3 bench/fleet/plugin_fleet.py --binary "$BIN" --servers 12 --restarts 4 --duration 300 \
    --ca-ttl 30 --key-ttl 150s --publish-lead 10s --grace 10s --svid-ttl 5 --rp-cache 5 --clock-offset 3 "$@"
