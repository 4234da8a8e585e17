import GRPC
import SwiftProtobuf

/// gRPC methods on protobuf messages: the request is decoded before the body runs (a body
/// that does not parse ends the call with INVALID_ARGUMENT), the response encoded after.
enum ProtobufMethod {
    static func unary<Request: Message, Response: Message>(
        _ body: @escaping @Sendable (Request) async throws -> Response
    ) -> GRPCMethod {
        .unary { bytes in
            let request: Request
            do {
                request = try Request(serializedBytes: bytes)
            } catch {
                throw GRPCStatus(.invalidArgument, "the request is not a valid \(Request.protoMessageName): \(error)")
            }
            return try await body(request).serializedBytes()
        }
    }

    /// Decodes one request message of a streaming call.
    static func decode<Request: Message>(_ bytes: [UInt8], as type: Request.Type) throws -> Request {
        do {
            return try Request(serializedBytes: bytes)
        } catch {
            throw GRPCStatus(.invalidArgument, "the request is not a valid \(Request.protoMessageName): \(error)")
        }
    }
}
