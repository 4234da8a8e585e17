#!/usr/bin/env bash
# Builds and runs a libFuzzer target for a bounded time.
#   scripts/fuzz.sh http-parser SECONDS
# The target is compiled with swiftc -sanitize=fuzzer,address outside SwiftPM (the fuzzer
# brings its own main). New inputs go to .build/fuzz/<target>/corpus; the committed seeds
# in Fuzz/<Name>/corpus are read, never written. A crash leaves its input under
# .build/fuzz/<target>/ and makes this script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:-}"
seconds="${2:-60}"
case "$target" in
    http-parser)
        name=HTTPParser
        sources=(Sources/HTTP/Parsing/*.swift Fuzz/HTTPParser/main.swift)
        ;;
    *)
        echo "usage: $0 http-parser SECONDS" >&2
        exit 2
        ;;
esac

work=".build/fuzz/$target"
mkdir -p "$work/corpus"
echo "fuzz: building $target"
swiftc -sanitize=fuzzer,address -parse-as-library -O -g "${sources[@]}" -o "$work/fuzzer" 2> "$work/build.log" || {
    cat "$work/build.log" >&2
    exit 1
}
echo "fuzz: running $target for ${seconds}s"
"$work/fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" "Fuzz/$name/corpus"
