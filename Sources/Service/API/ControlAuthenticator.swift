import Crypto
import Foundation
import HTTP
import HTTPTypes

/// Who is calling the control API, and whether they may taint and revoke.
struct Caller: Sendable {
    /// For logs: `token:<8 hex of its SHA-256>` — never the token itself.
    let id: String
    let isAdmin: Bool
}

/// Authenticates control API requests by bearer token: member tokens may lock, publish
/// and ensure; admin tokens may also taint and revoke.
final class ControlAuthenticator: Sendable {
    private let memberTokens: TokenFile
    private let adminTokens: TokenFile?

    init(memberTokens: TokenFile, adminTokens: TokenFile?) {
        self.memberTokens = memberTokens
        self.adminTokens = adminTokens
    }

    func authenticate(_ request: HTTPServerRequest) throws -> Caller {
        guard let header = request.headerFields[.authorization] else {
            throw APIError(.unauthorized, "unauthenticated", "Authentication required",
                           "send Authorization: Bearer <token> (the token is in the control token file)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError(.unauthorized, "unauthenticated", "Authentication required", "the Authorization header must use the Bearer scheme")
        }
        let presented = Array(parts[1].trimmingCharacters(in: .whitespaces).utf8)
        let id = "token:" + Hex.encode(Digest.sha256(presented).prefix(4))
        if let adminTokens, adminTokens.contains(presented) { return Caller(id: id, isAdmin: true) }
        if memberTokens.contains(presented) { return Caller(id: id, isAdmin: false) }
        throw APIError(.unauthorized, "unauthenticated", "Authentication required", "the bearer token is not valid")
    }

    /// Refuses a non-admin caller.
    static func requireAdmin(_ caller: Caller, for action: String) throws {
        guard caller.isAdmin else {
            throw APIError(.forbidden, "forbidden", "Not allowed",
                           "\(action) needs an admin identity (a token from admin-token-file); \(caller.id) is not one")
        }
    }
}
