import Foundation
import HTTP
import HTTPTypes
@testable import Service
import TestSupport
import Testing
import Transport

/// Who the control API says a caller is: certificate first, then the bearer token.
@Suite struct ControlAuthenticatorTests {
    let member = "member-token-0123456789abcdef"
    let admin = "admin-token-0123456789abcdef"

    func authenticator(_ directory: TemporaryDirectory) throws -> ControlAuthenticator {
        try "\(member)\n".write(toFile: directory.file("members"), atomically: true, encoding: .utf8)
        try "\(admin)\n".write(toFile: directory.file("admins"), atomically: true, encoding: .utf8)
        return ControlAuthenticator(memberTokens: try TokenFile(path: directory.file("members")),
                                    adminTokens: try TokenFile(path: directory.file("admins")),
                                    memberSPIFFEIDs: [try #require(SPIFFEIDPattern("spiffe://example.org/spire/server/*"))],
                                    adminSPIFFEIDs: [try #require(SPIFFEIDPattern("spiffe://example.org/ops/admin"))])
    }

    func request(bearer: String? = nil, peer: [String]? = nil) -> HTTPServerRequest {
        var fields = HTTPFields()
        if let bearer { fields[.authorization] = bearer }
        return HTTPServerRequest(method: .get, target: "/v1/keys", path: "/v1/keys", headerFields: fields,
                                 tlsPeer: peer.map { TLSPeer(uriSANs: $0, subject: "/CN=test") })
    }

    func refusal(_ auth: ControlAuthenticator, _ request: HTTPServerRequest) throws -> APIError {
        try #require(throws: APIError.self) { try auth.authenticate(request) }
    }

    @Test func tokensMakeMembersAndAdmins() throws {
        let directory = try TemporaryDirectory("control-auth")
        defer { directory.remove() }
        let auth = try authenticator(directory)
        let asMember = try auth.authenticate(request(bearer: "Bearer \(member)"))
        #expect(!asMember.isAdmin && asMember.id.hasPrefix("token:") && !asMember.id.contains(member))
        #expect(try auth.authenticate(request(bearer: "Bearer \(admin)")).isAdmin)
        #expect(try refusal(auth, request()).status == .unauthorized)
        #expect(try refusal(auth, request(bearer: "Basic \(member)")).status == .unauthorized)
        #expect(try refusal(auth, request(bearer: "Bearer wrong-token-0123456789")).detail.contains("not valid"))
        #expect(throws: APIError.self) { try ControlAuthenticator.requireAdmin(asMember, for: "taint") }
    }

    @Test func aCertificateDecidesAloneEvenWithAToken() throws {
        let directory = try TemporaryDirectory("control-auth")
        defer { directory.remove() }
        let auth = try authenticator(directory)
        let server = try auth.authenticate(request(peer: ["spiffe://example.org/spire/server/node-1"]))
        #expect(server.id == "spiffe://example.org/spire/server/node-1" && !server.isAdmin)
        #expect(try auth.authenticate(request(peer: ["spiffe://example.org/ops/admin"])).isAdmin)
        let stranger = try refusal(auth, request(bearer: "Bearer \(admin)", peer: ["spiffe://example.org/workload"]))
        #expect(stranger.status == .forbidden, "a proven identity that is not allowed is refused, whatever token it sends")
        let two = try refusal(auth, request(peer: ["spiffe://example.org/ops/admin", "spiffe://example.org/spire/server/x"]))
        #expect(two.status == .forbidden && two.detail.contains("2 SPIFFE IDs"))
        let noSPIFFE = try auth.authenticate(request(bearer: "Bearer \(member)", peer: ["https://example.org/not-spiffe"]))
        #expect(!noSPIFFE.isAdmin, "a certificate without a SPIFFE ID leaves the decision to the token")
    }

    @Test func tokenFilesForReadiness() throws {
        let directory = try TemporaryDirectory("control-auth")
        defer { directory.remove() }
        let auth = try authenticator(directory)
        #expect(auth.tokenFiles.map(\.role) == ["control", "admin"])
        let shared = try TokenFile(path: directory.file("members"))
        #expect(ControlAuthenticator(memberTokens: shared, adminTokens: shared).tokenFiles.map(\.role) == ["control"],
                "the generated token serves both roles and is checked once")
    }
}
