#!/usr/bin/env bash
# Builds Tests/go/spirehost from Debian's Go packages in GOPATH mode (no module proxy) with
# Go stubs protoc-gen-go generates from proto/, then runs it against a plugin executable.
# Usage: run-spirehost.sh PLUGIN KEYS_PATH [CONTROL_URL TOKEN_FILE KEYS_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
proto="$here/../../proto"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gen="$work/src/keycoord.test"
mkdir -p "$gen" "$work/src/spirehost"
maps=""
for file in spire/plugin/server/keymanager/v1/keymanager.proto spire/service/common/config/v1/config.proto \
            spire/service/private/init/v1/init.proto; do
    maps="$maps,M$file=keycoord.test/$(dirname "$file")"
done
protoc -I"$proto" --go_out="$work/src" --go_opt="paths=import${maps}" \
    spire/plugin/server/keymanager/v1/keymanager.proto spire/service/common/config/v1/config.proto \
    spire/service/private/init/v1/init.proto
cp "$here/spirehost/main.go" "$work/src/spirehost/"
export GOPATH="$work:/usr/share/gocode" GO111MODULE=off GOCACHE="${GOCACHE:-$HOME/.cache/keycoord/go-build}"
(cd "$work/src/spirehost" && nice -n 19 go build -o "$work/spirehost" .)
"$work/spirehost" "$@"
