#!/usr/bin/env bash
# Regenerates the Swift code of proto/ into Sources/PluginProtos (committed, so an ordinary
# build needs neither protoc nor swift-protobuf's plugin). protoc comes from Debian's
# protobuf-compiler; protoc-gen-swift is built once from the swift-protobuf version
# Package.swift depends on, in a scratch folder outside the work tree (about ten minutes on
# two cores), and reused from there.
set -euo pipefail
cd "$(dirname "$0")/.."

SWIFT_PROTOBUF_VERSION=1.39.0
PLUGIN_DIR="${PROTOC_GEN_SWIFT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/keycoord/protoc-gen-swift-$SWIFT_PROTOBUF_VERSION}"
PLUGIN="$PLUGIN_DIR/.build/release/protoc-gen-swift"
OUT=Sources/PluginProtos

command -v protoc >/dev/null || { echo "protos: protoc missing (apt-get install protobuf-compiler)" >&2; exit 1; }
if [ ! -x "$PLUGIN" ]; then
    echo "protos: building protoc-gen-swift $SWIFT_PROTOBUF_VERSION in $PLUGIN_DIR" >&2
    mkdir -p "$(dirname "$PLUGIN_DIR")"
    [ -d "$PLUGIN_DIR" ] || git clone -q --branch "$SWIFT_PROTOBUF_VERSION" https://github.com/apple/swift-protobuf "$PLUGIN_DIR"
    (cd "$PLUGIN_DIR" && nice -n 19 swift build -c release --product protoc-gen-swift)
fi

# The include path of protoc's own well-known types (google/protobuf/empty.proto).
WKT_INCLUDE=/usr/include
mkdir -p "$OUT"
find "$OUT" -name '*.pb.swift' -delete
cd proto
protoc -I. -I"$WKT_INCLUDE" --plugin=protoc-gen-swift="$PLUGIN" \
    --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores \
    --swift_out="../$OUT" $(find . -name '*.proto' | sed 's|^\./||' | sort)
echo "protos: regenerated $(find "../$OUT" -name '*.pb.swift' | wc -l) files in $OUT" >&2
