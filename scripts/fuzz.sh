#!/usr/bin/env bash
# Builds and runs a libFuzzer target for a bounded time.
#   scripts/fuzz.sh TARGET SECONDS
# TARGET is one of: http-parser, public-key-input, jwk, config, json-reader.
# Targets are compiled with swiftc -sanitize=fuzzer,address outside SwiftPM (the fuzzer
# brings its own main). A target that needs other modules gets them built first, from
# the minimal set of source files, as instrumented static libraries under
# .build/fuzz/<target>/modules. New inputs go to .build/fuzz/<target>/corpus; the
# committed seeds in Fuzz/<Name>/corpus are read, never written. A crash leaves its input
# under .build/fuzz/<target>/ and makes this script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/children.sh
source scripts/lib/children.sh
# The compiler or the fuzzer, if a signal cut the run short.
trap stop_children EXIT

target="${1:-}"
seconds="${2:-60}"
flags=(-sanitize=fuzzer,address -parse-as-library -O -g)
crypto_sources=(Sources/Crypto/*.swift)
core_key_sources=(Sources/Core/Keys/*.swift Sources/Core/Model/CoordinationError.swift Sources/Core/Model/KeyType.swift
                  Sources/Core/Model/TrustDomainName.swift)
modules=()
case "$target" in
    http-parser)
        name=HTTPParser
        sources=(Sources/HTTP/Parsing/*.swift)
        ;;
    public-key-input)
        name=PublicKeyInput
        modules=(Crypto Core)
        sources=()
        ;;
    jwk)
        name=JWK
        modules=(Crypto Core)
        sources=()
        ;;
    config)
        name=Config
        modules=(Crypto Core Service)
        sources=()
        ;;
    json-reader)
        name=JSONReader
        sources=(Sources/Service/Support/JSONReader.swift)
        ;;
    *)
        echo "usage: $0 http-parser|public-key-input|jwk|config|json-reader SECONDS" >&2
        exit 2
        ;;
esac

work=".build/fuzz/$target"
mkdir -p "$work/corpus" "$work/modules"
: > "$work/build.log"
link=()
# Builds one module as an instrumented static library the target imports.
build_module() {
    local module="$1"; shift
    echo "fuzz: building module $module"
    swiftc "${flags[@]}" -I Sources/COpenSSL -I "$work/modules" -module-name "$module" -emit-library -static \
        -emit-module -emit-module-path "$work/modules/$module.swiftmodule" -o "$work/modules/lib$module.a" "$@" \
        >> "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
}
for module in "${modules[@]}"; do
    case "$module" in
        Crypto) build_module Crypto "${crypto_sources[@]}" ;;
        Core) build_module Core "${core_key_sources[@]}" ;;
        Service) build_module Service Sources/Service/Config/*.swift ;;
    esac
    link=(-l"$module" "${link[@]}")
done
if [ "${#modules[@]}" -gt 0 ]; then
    link=(-I Sources/COpenSSL -I "$work/modules" -L "$work/modules" "${link[@]}" -lssl -lcrypto)
fi
echo "fuzz: building $target"
swiftc "${flags[@]}" "${sources[@]}" "Fuzz/$name/main.swift" "${link[@]}" -o "$work/fuzzer" >> "$work/build.log" 2>&1 || {
    cat "$work/build.log" >&2
    exit 1
}
echo "fuzz: running $target for ${seconds}s"
SWIFT_BACKTRACE=enable=no "$work/fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" "Fuzz/$name/corpus"
