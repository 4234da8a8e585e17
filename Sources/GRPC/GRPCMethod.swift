/// One method a `GRPCServer` serves, on serialized messages (the protobuf layer above turns
/// them into typed values). Every shape is a body that reads the request messages and writes
/// the response messages; ending normally is status OK, throwing a `GRPCStatus` is that status.
public struct GRPCMethod: Sendable {
    let body: @Sendable (GRPCRequestMessages, GRPCResponseWriter) async throws -> Void

    /// Any streaming shape: client, server or bidirectional.
    public static func streaming(
        _ body: @escaping @Sendable (GRPCRequestMessages, GRPCResponseWriter) async throws -> Void
    ) -> GRPCMethod {
        GRPCMethod(body: body)
    }

    /// One request message, one response message.
    public static func unary(_ body: @escaping @Sendable ([UInt8]) async throws -> [UInt8]) -> GRPCMethod {
        GRPCMethod { requests, writer in
            var iterator = requests.makeAsyncIterator()
            guard let request = try await iterator.next() else {
                throw GRPCStatus(.internal, "the request carried no message")
            }
            guard try await iterator.next() == nil else {
                throw GRPCStatus(.internal, "a unary request carried more than one message")
            }
            writer.send(try await body(request))
        }
    }
}

/// The request messages of a call, as they arrive. Ends when the client ends its side;
/// throws the call's status when the body is malformed or a message is too large.
public typealias GRPCRequestMessages = AsyncThrowingStream<[UInt8], any Error>
