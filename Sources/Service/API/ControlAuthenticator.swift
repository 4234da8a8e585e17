import Crypto
import Foundation
import HTTP
import HTTPTypes

/// Who is calling the control API, and whether they may taint and revoke.
struct Caller: Sendable {
    /// For logs: the SPIFFE ID of a client certificate, or `token:<8 hex of its SHA-256>`
    /// — never the token itself.
    let id: String
    let isAdmin: Bool
}

/// Authenticates control API requests by client certificate or bearer token: members may
/// lock, publish and ensure; admins may also taint and revoke.
///
/// A verified client certificate carrying a SPIFFE ID decides alone: an ID matching
/// `adminSPIFFEIDs` is an admin, one matching `memberSPIFFEIDs` a member, any other is
/// refused with 403 (the caller proved who it is, and that identity is not allowed), even
/// if it also sends a token. Without such a certificate the bearer token decides.
final class ControlAuthenticator: Sendable {
    private let memberTokens: TokenFile
    private let adminTokens: TokenFile?
    private let memberSPIFFEIDs: [SPIFFEIDPattern]
    private let adminSPIFFEIDs: [SPIFFEIDPattern]

    init(memberTokens: TokenFile, adminTokens: TokenFile?, memberSPIFFEIDs: [SPIFFEIDPattern] = [],
         adminSPIFFEIDs: [SPIFFEIDPattern] = []) {
        self.memberTokens = memberTokens
        self.adminTokens = adminTokens
        self.memberSPIFFEIDs = memberSPIFFEIDs
        self.adminSPIFFEIDs = adminSPIFFEIDs
    }

    /// The token files in force, for `/readyz`: a refused file means its callers get 401.
    var tokenFiles: [(role: String, file: TokenFile)] {
        var files = [("control", memberTokens)]
        if let adminTokens, adminTokens !== memberTokens { files.append(("admin", adminTokens)) }
        return files
    }

    func authenticate(_ request: HTTPServerRequest) throws -> Caller {
        if let peer = request.tlsPeer, let id = peer.spiffeIDs.first {
            guard peer.spiffeIDs.count == 1 else {
                throw APIError(.forbidden, "forbidden", "Not allowed",
                               "the client certificate carries \(peer.spiffeIDs.count) SPIFFE IDs; an X.509-SVID has exactly one")
            }
            if adminSPIFFEIDs.contains(where: { $0.matches(id) }) { return Caller(id: id, isAdmin: true) }
            if memberSPIFFEIDs.contains(where: { $0.matches(id) }) { return Caller(id: id, isAdmin: false) }
            throw APIError(.forbidden, "forbidden", "Not allowed",
                           "the client certificate's SPIFFE ID \(id) is not in control-allow-spiffe-id or admin-spiffe-id")
        }
        guard let header = request.headerFields[.authorization] else {
            throw APIError(.unauthorized, "unauthenticated", "Authentication required",
                           "send Authorization: Bearer <token> (the token is in the control token file)")
        }
        guard let presented = Self.bearerToken(header) else {
            throw APIError(.unauthorized, "unauthenticated", "Authentication required", "the Authorization header must use the Bearer scheme")
        }
        if let adminTokens, let id = adminTokens.callerID(presented) { return Caller(id: id, isAdmin: true) }
        if let id = memberTokens.callerID(presented) { return Caller(id: id, isAdmin: false) }
        throw APIError(.unauthorized, "unauthenticated", "Authentication required", "the bearer token is not valid")
    }

    /// Refuses a non-admin caller.
    /// The credentials of `Bearer <token>` (scheme case-insensitive, blanks around the token
    /// ignored), nil for another scheme. Byte-wise: this runs for every control request.
    static func bearerToken(_ header: String) -> [UInt8]? {
        let bytes = Array(header.utf8)
        let scheme = Array("bearer".utf8)
        guard bytes.count > scheme.count, bytes[scheme.count] == UInt8(ascii: " "),
              zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var start = scheme.count + 1
        var end = bytes.count
        while start < end, isBlank(bytes[start]) { start += 1 }
        while end > start, isBlank(bytes[end - 1]) { end -= 1 }
        return Array(bytes[start..<end])
    }

    static func requireAdmin(_ caller: Caller, for action: String) throws {
        guard caller.isAdmin else {
            throw APIError(.forbidden, "forbidden", "Not allowed",
                           "\(action) needs an admin identity (a token from admin-token-file or an admin-spiffe-id certificate); \(caller.id) is not one")
        }
    }
}
