import Core
import Crypto
import Foundation
import Testing
@testable import Backends

/// The backend against a moto that verifies SigV4 and IAM (Tests/python/aws_moto_auth.py
/// starts it with INITIAL_NO_AUTH_ACTION_COUNT and creates an IAM user and key).
@Suite struct AWSKMSAuthTests {
    struct Setup: Decodable {
        struct Session: Decodable {
            var access_key: String
            var secret_key: String
            var token: String
        }
        var url: String
        var access_key: String
        var secret_key: String
        var session: Session
    }

    @Test func signedRequestsAreAcceptedAndAWrongSecretIsRefused() async throws {
        let helper = try await AWSTestHelperProcess.start("aws_moto_auth.py")
        defer { helper.stop() }
        let setup = try JSONDecoder().decode(Setup.self, from: Data(helper.firstLine.utf8))

        let good = try AWSTestSupport.motoBackend(
            endpoint: setup.url, credentials: AWSCredentials(accessKeyID: setup.access_key, secretAccessKey: setup.secret_key))
        let trustDomain = AWSTestSupport.uniqueTrustDomain("auth")
        let key = try await good.create(keyType: .ecP256, trustDomain: trustDomain)
        _ = try await good.sign(ref: key.ref, keyType: .ecP256, digest: Digest.sha256(Array("x.y".utf8)))
        try await good.markPublished(ref: key.ref, kid: "auth-kid")
        #expect(try await good.list(trustDomain: trustDomain).map(\.kid) == ["auth-kid"])
        #expect(await good.checkUsable(ref: key.ref) == nil)

        let wrong = try AWSTestSupport.motoBackend(
            endpoint: setup.url,
            credentials: AWSCredentials(accessKeyID: setup.access_key, secretAccessKey: setup.secret_key + "x"))
        await #expect { try await wrong.create(keyType: .ecP256, trustDomain: trustDomain) } throws: { error in
            guard case CoordinationError.backendFailure(let failure) = error else { return false }
            return failure.kind == .denied && failure.message.contains("rejected keycoord's credentials")
        }
        // Temporary credentials of an assumed role: the session token is sent and signed.
        let session = AWSCredentials(accessKeyID: setup.session.access_key, secretAccessKey: setup.session.secret_key,
                                     sessionToken: setup.session.token)
        let temporary = try AWSTestSupport.motoBackend(endpoint: setup.url, credentials: session)
        #expect(try await temporary.list(trustDomain: trustDomain).map(\.ref) == [key.ref])
        _ = try await temporary.sign(ref: key.ref, keyType: .ecP256, digest: Digest.sha256(Array("x.y".utf8)))
        let forgedToken = AWSCredentials(accessKeyID: session.accessKeyID, secretAccessKey: session.secretAccessKey,
                                         sessionToken: "forged")
        #expect(await (try AWSTestSupport.motoBackend(endpoint: setup.url, credentials: forgedToken))
            .checkUsable(ref: key.ref) != nil)

        let unknown = try AWSTestSupport.motoBackend(
            endpoint: setup.url, credentials: AWSCredentials(accessKeyID: "AKIANOTAKEY", secretAccessKey: "nope"))
        #expect(await unknown.checkUsable(ref: key.ref)?.contains("rejected") == true)
        try await good.destroy(ref: key.ref)
    }
}
