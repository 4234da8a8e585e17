// swift-tools-version:6.1
import PackageDescription

// Layers (see docs/architecture.md): keycoord (CLI) → Service → HTTP → Transport, Core, Stores, Backends;
// Core → Crypto → COpenSSL. Core performs no I/O; Stores and Backends implement its protocols.
let package = Package(
    name: "keycoord",
    // Linux only: the event loops are built on epoll (README, "Platforms").
    products: [
        .executable(name: "keycoord", targets: ["keycoord"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // Metrics: swift-metrics is the facade libraries report through; swift-prometheus
        // keeps the series and renders /metrics (docs/architecture.md, "Metrics").
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CNghttp2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),

        .target(name: "Crypto", dependencies: ["COpenSSL"]),
        // JSON text: the one string escaper, and a deterministic writer for Encodable values.
        .target(name: "JSON"),
        .target(name: "CTransportShims"),
        .target(name: "EventIO"),
        // Event loops, sockets and TLS, below every protocol (HTTP/1.1 today, HTTP/2 next).
        .target(name: "Transport", dependencies: ["CTransportShims", "COpenSSL", "Crypto", "EventIO"]),
        // HTTP/2 on libnghttp2 over Transport's loops and sockets: streams, not a router.
        .target(name: "HTTP2", dependencies: ["Transport", "CTransportShims", "CNghttp2"]),
        // gRPC on HTTP/2: message framing, status trailers, deadlines, cancellation.
        .target(name: "GRPC", dependencies: ["HTTP2"]),
        .target(name: "HTTP", dependencies: [
            "Transport", "HTTP2", "CTransportShims", "EventIO", "JSON",
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ]),
        .target(name: "Core", dependencies: ["Crypto", "JSON"]),
        // Generated from proto/ by `make protos` (committed): SPIRE's plugin services,
        // go-plugin's and gRPC health, as the SPIRE plugin speaks them.
        .target(name: "PluginProtos", dependencies: [
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        // Durable POSIX file operations (atomic replace, flock, 0700/0600) shared by the
        // file store and the disk backend, which may not import each other.
        .target(name: "FileSupport"),
        .target(name: "Stores", dependencies: ["Core", "Crypto", "CLibPQ", "EventIO", "FileSupport",
                                               .product(name: "Logging", package: "swift-log")]),
        .target(name: "Backends", dependencies: ["COpenSSL", "Core", "Crypto", "FileSupport",
                                                 .product(name: "Logging", package: "swift-log")]),
        .target(name: "Service", dependencies: [
            "HTTP", "HTTP2", "Transport", "Core", "Crypto", "JSON", "Stores", "Backends", "FileSupport",
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // The HTTP benchmark's server (bench/http/run.sh); not shipped.
        .executableTarget(name: "HTTPBenchServer", dependencies: [
            "HTTP", "HTTP2", "Transport",
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ]),
        // keycoord as SPIRE's KeyManager plugin (go-plugin over gRPC on a unix socket).
        .target(name: "SPIREPlugin", dependencies: [
            "GRPC", "HTTP", "Transport", "PluginProtos", "Crypto", "Core", "Backends", "FileSupport", "JSON",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ]),
        .executableTarget(name: "keycoord", dependencies: [
            "Service", "Core", "SPIREPlugin",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "PGBench", dependencies: ["Stores", "Core"], path: "bench/postgres/PGBench"),
        // The control-API load client of bench/service/run.sh; not shipped.
        .executableTarget(name: "ServiceBench", path: "bench/service/ServiceBench"),

        .target(name: "TestSupport", dependencies: ["Crypto", "Core"], path: "Tests/TestSupport"),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto", "TestSupport"]),
        .testTarget(name: "FileSupportTests", dependencies: ["FileSupport", "TestSupport"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "EventIO", "TestSupport"]),
        .testTarget(name: "HTTP2Tests", dependencies: ["HTTP2", "HTTP", "Transport", "EventIO", "TestSupport",
                                                     .product(name: "HTTPTypes", package: "swift-http-types")]),
        .testTarget(name: "GRPCTests", dependencies: ["GRPC", "HTTP", "HTTP2", "Transport", "TestSupport"]),
        .testTarget(name: "SPIREPluginTests", dependencies: ["SPIREPlugin", "PluginProtos", "TestSupport", "keycoord"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "Transport", "EventIO", "TestSupport"]),
        .testTarget(name: "CoreTests", dependencies: ["Core", "Crypto", "TestSupport"]),
        // A child process for the file store's crash tests (killed with SIGKILL mid-operation).
        .executableTarget(name: "FileStoreTestHelper", dependencies: ["Stores", "Core"], path: "Tests/FileStoreTestHelper"),
        .testTarget(name: "StoresTests", dependencies: ["Stores", "Core", "EventIO", "TestSupport", "FileStoreTestHelper"]),
        .testTarget(name: "BackendsTests", dependencies: ["Backends", "Core", "Crypto", "TestSupport"]),
        .testTarget(name: "ServiceTests", dependencies: [
            "Service", "HTTP", "Transport", "Core", "Crypto", "TestSupport",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
    ]
)
