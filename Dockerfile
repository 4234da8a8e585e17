# syntax=docker/dockerfile:1
# Build with the Swift toolchain through the Makefile's release target (the same step CI
# runs), then ship the binary on a slim Debian with only the shared libraries it links.

FROM swift:6.3-bookworm AS build
WORKDIR /src
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        make pkg-config libssl-dev libpq-dev libnghttp2-dev libcurl4-openssl-dev libxml2-dev \
    && rm -rf /var/lib/apt/lists/*
COPY Package.swift Makefile ./
COPY scripts ./scripts
COPY Sources ./Sources
COPY Tests ./Tests
RUN make release \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/keycoord" /out/keycoord

FROM debian:bookworm-slim
# libssl3, libpq5 and libnghttp2-14 (HTTP/2 for the SPIRE plugin's gRPC) are linked
# directly; libcurl4 serves Foundation's networking (outbound calls to cloud KMS APIs); ca-certificates for their TLS.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libssl3 libpq5 libnghttp2-14 libcurl4 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/keycoord --create-home --shell /usr/sbin/nologin keycoord
COPY --from=build /out/keycoord /usr/local/bin/keycoord
# The SPIRE KeyManager plugin under the name a plugin_cmd without arguments uses.
RUN ln -s keycoord /usr/local/bin/keycoord-spire-plugin
USER 10001:10001
WORKDIR /var/lib/keycoord
ENV KEYCOORD_STATE_DIR=/var/lib/keycoord \
    KEYCOORD_PUBLIC_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/keycoord", "healthcheck", "--public-url", "http://127.0.0.1:8080"]
ENTRYPOINT ["/usr/local/bin/keycoord"]
CMD ["serve"]
