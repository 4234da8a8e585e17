#!/usr/bin/env bash
# Checks of the files no Swift test reads: Kubernetes manifests against the schemas,
# misconfiguration scans of the manifests and the Dockerfile, and that the Dockerfile's
# build and runtime stages match what this repository builds.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/children.sh
source scripts/lib/children.sh
SCAN="$(mktemp -d)"
# checkov (a long scan) if a signal cut the run short, and its output files.
trap 'stop_children; rm -rf "$SCAN"' EXIT

echo "check-static: Kubernetes manifests against the Kubernetes schemas"
kubernetes-validate --strict --quiet deploy/kubernetes/*.yaml

echo "check-static: checkov on deploy/ and the Dockerfile"
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
checkov -d deploy --framework kubernetes --compact --quiet --skip-download >"$SCAN/k8s" 2>&1 \
    || { cat "$SCAN/k8s"; exit 1; }
checkov -f Dockerfile --framework dockerfile --compact --quiet --skip-download >"$SCAN/docker" 2>&1 \
    || { cat "$SCAN/docker"; exit 1; }
grep -h "Passed checks" "$SCAN/k8s" "$SCAN/docker" || true

echo "check-static: the Dockerfile builds with the Makefile's release target"
grep -q '^RUN make release' Dockerfile || { echo "Dockerfile must build with 'make release'" >&2; exit 1; }
grep -q '^release:' Makefile || { echo "Makefile lacks the release target" >&2; exit 1; }

echo "check-static: the runtime stage installs every shared library keycoord links"
# The release binary `make release` builds (what the Dockerfile ships); else the debug one.
BIN="$(swift build -c release --show-bin-path)/keycoord"
[ -x "$BIN" ] || BIN="$(swift build --show-bin-path)/keycoord"
[ -x "$BIN" ] || { echo "build keycoord first ($BIN missing)" >&2; exit 1; }
RUNTIME_PACKAGES="$(awk '/^FROM debian/{runtime=1} runtime && !/^[[:space:]]*#/' Dockerfile | tr ' \\' '\n\n' | grep -E '^lib[a-z0-9.+-]+$' | sort -u)"
# The libraries keycoord itself names (DT_NEEDED); theirs come with their packages.
# A debug build links the Swift runtime as shared libraries; the release build links it in
# (--static-swift-stdlib), and static FoundationNetworking then links libcurl itself.
needed() { readelf -d "$1" | awk '/NEEDED/ {gsub(/[\[\]]/, "", $5); print $5}'; }
NEEDED="$(needed "$BIN")"
grep -qx 'libFoundationNetworking.so' <<<"$NEEDED" && NEEDED="$NEEDED libcurl.so.4"
NEEDED="$(tr ' ' '\n' <<<"$NEEDED" | sort -u)"
missing=0
for lib in $NEEDED; do
    path="$(ldd "$BIN" | awk -v lib="$lib" '$1 == lib {print $3}')"
    [ -z "$path" ] && path="$(ldconfig -p | awk -v lib="$lib" '$1 == lib {print $NF; exit}')"
    case "$path" in
        ""|*/swift/*) continue ;;   # the Swift runtime is linked statically in release
    esac
    pkg="$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1 || true)"
    [ -z "$pkg" ] && pkg="$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1 || true)"
    case "$pkg" in
        libc6|libgcc-s1|libstdc++6) continue ;;    # in every Debian base image
    esac
    if ! grep -qx "$pkg" <<<"$RUNTIME_PACKAGES"; then
        echo "  $lib ($path) comes from ${pkg:-an unknown package}, which the Dockerfile's runtime stage does not install" >&2
        missing=1
    fi
done
[ "$missing" -eq 0 ] || exit 1
echo "check-static: ok"
