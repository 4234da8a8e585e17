import GRPC
import PluginProtos

/// The services go-plugin's host expects of every gRPC plugin: health for service "plugin"
/// (the host's ping), the broker stream (opened at once and kept; SPIRE's loader races a
/// plugin that does not serve it), the stdio mirror and the controller's Shutdown.
enum GoPluginServices {
    static func methods(shutdown: ShutdownLatch) -> [String: GRPCMethod] {
        [
            "/grpc.health.v1.Health/Check": ProtobufMethod.unary { (request: Grpc_Health_V1_HealthCheckRequest) in
                guard request.service.isEmpty || request.service == "plugin" else {
                    throw GRPCStatus(.notFound, "unknown service \"\(request.service)\"")
                }
                var response = Grpc_Health_V1_HealthCheckResponse()
                response.status = .serving
                return response
            },
            // The host announces its brokered services here; the plugin uses none of them,
            // so it reads and drops the announcements until the host or the plugin stops.
            "/plugin.GRPCBroker/StartStream": .streaming { requests, _ in
                try await untilShutdown(shutdown) {
                    for try await message in requests { _ = try ProtobufMethod.decode(message, as: Plugin_ConnInfo.self) }
                }
            },
            // Logs go to stderr, which the host reads itself; this stream stays open and quiet
            // so that a host which mirrors stdio has its call answered.
            "/plugin.GRPCStdio/StreamStdio": .streaming { requests, _ in
                for try await _ in requests {}
                await shutdown.wait()
            },
            "/plugin.GRPCController/Shutdown": ProtobufMethod.unary { (_: Plugin_Empty) in
                shutdown.open()
                return Plugin_Empty()
            },
        ]
    }

    /// Runs `body` until it ends or the plugin shuts down, whichever is first.
    private static func untilShutdown(_ shutdown: ShutdownLatch, _ body: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await body() }
            group.addTask { await shutdown.wait() }
            try await group.next()
            group.cancelAll()
        }
    }
}
