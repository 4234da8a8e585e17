#!/usr/bin/env bash
# Builds one of keycoord's Go plugin hosts (Tests/go/spirehost, bench/plugin/signbench) from
# Debian's Go packages in GOPATH mode (no module proxy), with Go stubs protoc-gen-go
# generates from proto/ and the shared Tests/go/pluginhost package.
# Usage: build-host.sh SOURCE_DIR OUTPUT WORK_DIR      (WORK_DIR: a scratch directory)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
proto="$here/../../proto"
source_dir="$1" output="$2" work="$3"
name="$(basename "$source_dir")"
mkdir -p "$work/src/keycoord.test/pluginhost" "$work/src/$name"
maps=""
for file in spire/plugin/server/keymanager/v1/keymanager.proto spire/service/common/config/v1/config.proto \
            spire/service/private/init/v1/init.proto; do
    maps="$maps,M$file=keycoord.test/$(dirname "$file")"
done
protoc -I"$proto" --go_out="$work/src" --go_opt="paths=import${maps}" \
    spire/plugin/server/keymanager/v1/keymanager.proto spire/service/common/config/v1/config.proto \
    spire/service/private/init/v1/init.proto
cp "$here/pluginhost/pluginhost.go" "$work/src/keycoord.test/pluginhost/"
cp "$source_dir"/*.go "$work/src/$name/"
export GOPATH="$work:/usr/share/gocode" GO111MODULE=off GOCACHE="${GOCACHE:-$HOME/.cache/keycoord/go-build}"
(cd "$work/src/$name" && nice -n 19 go build -o "$output" .)
