/// One method a `GRPCServer` serves, on serialized messages (the protobuf layer above turns
/// them into typed values). Ending normally is status OK, throwing a `GRPCStatus` is that status.
public struct GRPCMethod: Sendable {
    enum Shape: Sendable {
        /// One request message in, one response message out: the call collects the request
        /// on the loop and answers header block, message and status in one hand-over.
        case unary(@Sendable ([UInt8]) async throws -> [UInt8])
        /// A body that reads the request messages and writes the response messages.
        case streaming(@Sendable (GRPCRequestMessages, GRPCResponseWriter) async throws -> Void)
    }

    let shape: Shape

    /// Any streaming shape: client, server or bidirectional.
    public static func streaming(
        _ body: @escaping @Sendable (GRPCRequestMessages, GRPCResponseWriter) async throws -> Void
    ) -> GRPCMethod {
        GRPCMethod(shape: .streaming(body))
    }

    /// One request message, one response message. A request without a message, or with
    /// more than one, ends the call with INTERNAL before the body runs.
    public static func unary(_ body: @escaping @Sendable ([UInt8]) async throws -> [UInt8]) -> GRPCMethod {
        GRPCMethod(shape: .unary(body))
    }
}

/// The request messages of a call, as they arrive. Ends when the client ends its side;
/// throws the call's status when the body is malformed or a message is too large.
public typealias GRPCRequestMessages = AsyncThrowingStream<[UInt8], any Error>
