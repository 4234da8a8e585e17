import Core
import Crypto
import Foundation
import Testing
import TestSupport
@testable import Backends

/// The GCP backend against the Cloud KMS protocol fake: the wire, labels, CRC32C checks,
/// PENDING_GENERATION, the credential chain and error kinds.
@Suite struct GCPKMSBackendTests {
    @Test func createPublishSignListDestroy() async throws {
        let fake = try await GCPTestSupport.fake()
        defer { fake.stop() }
        let backend = try GCPTestSupport.backend(fake)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "prod.example.org")
        #expect(key.ref.hasPrefix("projects/fake-project/locations/global/keyRings/keycoord-test/cryptoKeys/keycoord-prod-example-org-ec-p256-"))
        #expect(key.ref.hasSuffix("/cryptoKeyVersions/1"))
        let digest = Digest.sha256(Array("header.payload".utf8))
        let signature = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: digest)
        #expect(try PublicKey(der: key.publicKey).verify(signature: try ECDSASignature.der(fromRaw: signature), digest: digest, hash: .sha256))
        try await backend.markPublished(ref: key.ref, kid: "0123456789abcdef0123456789abcdef01234567")
        let listed = try await backend.list(trustDomain: "prod.example.org")
        #expect(listed.map(\.ref) == [key.ref] && listed.first?.mark == .published)
        try await backend.destroy(ref: key.ref)
        #expect(try await backend.list(trustDomain: "prod.example.org").isEmpty)
    }
}
