import Core
import Foundation
import Testing
@testable import Backends

/// The backend against a moto that verifies SigV4 and IAM (Tests/python/aws_moto_auth.py
/// starts it with INITIAL_NO_AUTH_ACTION_COUNT and creates an IAM user and key).
@Suite struct AWSKMSAuthTests {
    struct Setup: Decodable {
        var url: String
        var access_key: String
        var secret_key: String
    }

    @Test func signedRequestsAreAcceptedAndAWrongSecretIsRefused() async throws {
        let helper = try AWSTestHelperProcess("aws_moto_auth.py")
        defer { helper.stop() }
        let setup = try JSONDecoder().decode(Setup.self, from: Data(helper.firstLine.utf8))

        let good = try AWSTestSupport.motoBackend(
            endpoint: setup.url, credentials: AWSCredentials(accessKeyID: setup.access_key, secretAccessKey: setup.secret_key))
        let trustDomain = AWSTestSupport.uniqueTrustDomain("auth")
        let key = try await good.create(keyType: .ecP256, trustDomain: trustDomain)
        _ = try await good.sign(ref: key.ref, keyType: .ecP256, digest: Array("x.y".utf8))
        try await good.markPublished(ref: key.ref, kid: "auth-kid")
        #expect(try await good.list(trustDomain: trustDomain).map(\.kid) == ["auth-kid"])
        #expect(await good.checkUsable(ref: key.ref) == nil)

        let wrong = try AWSTestSupport.motoBackend(
            endpoint: setup.url,
            credentials: AWSCredentials(accessKeyID: setup.access_key, secretAccessKey: setup.secret_key + "x"))
        await #expect { try await wrong.create(keyType: .ecP256, trustDomain: trustDomain) } throws: { error in
            guard case CoordinationError.backendFailure(let message) = error else { return false }
            return message.contains("rejected keycoord's credentials")
        }
        let unknown = try AWSTestSupport.motoBackend(
            endpoint: setup.url, credentials: AWSCredentials(accessKeyID: "AKIANOTAKEY", secretAccessKey: "nope"))
        #expect(await unknown.checkUsable(ref: key.ref)?.contains("rejected") == true)
        try await good.destroy(ref: key.ref)
    }
}
