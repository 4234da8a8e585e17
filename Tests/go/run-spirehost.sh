#!/usr/bin/env bash
# Builds Tests/go/spirehost (build-host.sh: Debian's Go packages, GOPATH mode), then runs it
# against a plugin executable.
# Usage: run-spirehost.sh PLUGIN KEYS_PATH [CONTROL_URL TOKEN_FILE KEYS_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$here/build-host.sh" "$here/spirehost" "$work/spirehost" "$work"
"$work/spirehost" "$@"
