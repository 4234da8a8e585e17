#!/usr/bin/env bash
# Installs what building and testing keycoord needs on a fresh Debian machine.
# Idempotent and quiet when everything is already there.
set -euo pipefail

APT_PACKAGES=(pkg-config libssl-dev libpq-dev libnghttp2-dev libcurl4-openssl-dev libxml2-dev postgresql pgbouncer curl nghttp2-client)
# `make protos` alone needs protoc; the generated Swift code is committed.
[ "${1:-}" = "--with-proto-tools" ] && APT_PACKAGES+=(protobuf-compiler)
# The SPIRE plugin's Go host test: go-plugin's real client from Debian's packages (GOPATH mode).
[ "${1:-}" = "--with-test-tools" ] && APT_PACKAGES+=(protobuf-compiler golang-go golang-github-hashicorp-go-plugin-dev
    golang-google-grpc-dev golang-google-protobuf-dev protoc-gen-go)
PIP_PACKAGES=(joserfc cryptography "moto[server]" botocore h11 openapi-spec-validator kubernetes-validate checkov
              pytest requests google-cloud-kms google-auth google-crc32c azure-keyvault-keys azure-identity
              grpcio grpcio-tools hpack h2)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "bootstrap: installing ${missing[*]}" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--with-test-tools" ]; then
    python3 - "${PIP_PACKAGES[@]}" <<'PY' || python3 -m pip install -q "${PIP_PACKAGES[@]}"
import importlib, sys
modules = {"joserfc": "joserfc", "cryptography": "cryptography", "moto[server]": "moto.server",
           "botocore": "botocore", "h11": "h11", "openapi-spec-validator": "openapi_spec_validator",
           "kubernetes-validate": "kubernetes_validate", "checkov": "checkov",
           "pytest": "pytest", "requests": "requests", "google-cloud-kms": "google.cloud.kms_v1",
           "google-auth": "google.auth", "google-crc32c": "google_crc32c",
           "azure-keyvault-keys": "azure.keyvault.keys", "azure-identity": "azure.identity",
           "grpcio": "grpc", "grpcio-tools": "grpc_tools", "hpack": "hpack", "h2": "h2"}
missing = []
for name in sys.argv[1:]:
    try:
        importlib.import_module(modules[name])
    except Exception:
        missing.append(name)
if missing:
    print("bootstrap: pip installing " + " ".join(missing), file=sys.stderr)
    sys.exit(1)
PY
fi
