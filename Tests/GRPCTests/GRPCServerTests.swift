import Foundation
import GRPC
import HTTP
import HTTP2
import Testing
import TestSupport
import Transport

/// The gRPC layer (HTTP/2 on libnghttp2, our framing, status, deadlines, cancellation)
/// checked by Python grpcio, a client that shares no code with ours, and by raw HTTP/2
/// bytes that no client library would send.
struct GRPCServerTests {
    static let echo = GRPCServer(methods: [
        "/keycoord.test.Echo/Unary": .unary { $0 },
        "/keycoord.test.Echo/Bidi": .streaming { requests, writer in
            for try await message in requests { writer.send(message) }
        },
        "/keycoord.test.Echo/Hang": .unary { _ in
            try await Task.sleep(for: .seconds(60))
            return []
        },
        "/keycoord.test.Echo/Fail": .unary { request in
            throw GRPCStatus(.notFound, "no key \"\(String(decoding: request, as: UTF8.self))\" 100%")
        },
    ])

    @Test func grpcioCallsEveryShapeAndMalformedInputGetsErrors() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kc-grpc-\(getpid()).sock").path
        let server = HTTPServer()
        try server.listen(.unix(path: path), name: "grpc", streams: Self.echo)
        server.start()
        let outcome = try await PythonCheck.outcome("grpc_client_checks.py", arguments: [path])
        await server.shutdown()
        #expect(outcome.status == 0, "\(String(decoding: outcome.stderr, as: UTF8.self))")
        #expect(outcome.text.hasPrefix("ok 16"), "\(outcome.text)")
    }
}
