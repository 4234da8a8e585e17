#!/usr/bin/env bash
# Fleet simulation (issue 3): builds keycoord in release and runs bench/fleet/fleet_sim.py.
# Usage: bench/fleet/run.sh [fleet_sim.py options], e.g. --servers 30 --restarts 4 --duration 300
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/children.sh
source scripts/lib/children.sh
# fleet_sim.py stops its sidecars itself; this also covers a run cut short by a signal.
trap stop_children EXIT
make release >/dev/null
BIN="$(swift build -c release --show-bin-path)/keycoord"
python3 bench/fleet/fleet_sim.py --binary "$BIN" "$@"
