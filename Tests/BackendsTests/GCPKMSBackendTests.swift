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

/// The GCP backend's decisions over the in-memory Cloud KMS: checksums, PENDING_GENERATION,
/// the key ring, and the conformance checks without a server.
@Suite struct GCPKMSBackendLogicTests {
    func backend(_ kms: InMemoryGCPKMS, configure: (inout GCPKMSConfig) -> Void = { _ in }) throws -> GCPKMSBackend {
        var config = GCPKMSConfig(project: "memory-project", location: "europe-west1", keyRing: "ring", pendingTimeout: 5)
        configure(&config)
        return try GCPKMSBackend(config: config, client: kms, endpoint: URL(string: "http://memory")!)
    }

    @Test(arguments: BackendConformanceTests.withoutFaults)
    func conformance(_ check: BackendConformance.Check) async throws {
        let kms = InMemoryGCPKMS()
        try await BackendConformance { try backend(kms) }.run(check)
    }

    @Test func crc32cIsCastagnoli() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(CRC32C.wire(Array(repeating: 0, count: 32)) == String(0x8A91_36AA as UInt32))
    }

    @Test func corruptedAnswersAreRefusedByTheirChecksums() async throws {
        let kms = InMemoryGCPKMS()
        let backend = try backend(kms)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "example.org")
        kms.inject("asymmetricSign", .corruptSignature)
        await #expect { _ = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: Digest.sha256([1])) } throws: { error in
            guard case CoordinationError.backendFailure(let failure) = error else { return false }
            return failure.kind == .failed && failure.message.contains("CRC32C")
        }
        kms.inject("getPublicKey", .corruptPEM)
        await #expect { _ = try await backend.publicKey(ref: key.ref) } throws: { error in
            guard case CoordinationError.backendFailure(let failure) = error else { return false }
            return failure.message.contains("CRC32C")
        }
    }

    @Test func aNewVersionIsAwaitedThenTheWaitIsBounded() async throws {
        let kms = InMemoryGCPKMS()
        kms.pendingReads = 3
        let key = try await backend(kms).create(keyType: .ecP384, trustDomain: "example.org")
        #expect(kms.calls["getCryptoKeyVersion"] == 4, "three PENDING_GENERATION reads, then ENABLED")
        #expect(try PublicKey(der: key.publicKey).algorithm == .ecP384)

        kms.pendingReads = 1_000_000
        let impatient = try backend(kms) { $0.pendingTimeout = 0.3 }
        await #expect { _ = try await impatient.create(keyType: .ecP256, trustDomain: "example.org") } throws: { error in
            guard case CoordinationError.backendFailure(let failure) = error else { return false }
            return failure.kind == .unavailable && failure.message.contains("PENDING_GENERATION")
        }
    }

    @Test func aKeyRingThatMustExistIsNamedWhenMissing() async throws {
        let kms = InMemoryGCPKMS()
        let strict = try backend(kms) { $0.createKeyRing = false }
        await #expect { _ = try await strict.create(keyType: .ecP256, trustDomain: "example.org") } throws: { error in
            guard case CoordinationError.backendFailure(let failure) = error else { return false }
            return failure.kind == .notFound && failure.message.contains("projects/memory-project/locations/europe-west1/keyRings/ring")
        }
        #expect(kms.calls["createKeyRing"] == nil)
        _ = try await backend(kms).create(keyType: .ecP256, trustDomain: "example.org")
        #expect(kms.calls["createKeyRing"] == 1)
    }

    @Test func labelsEncodeTheTrustDomainAndKidsWithinLabelRules() {
        #expect(GCPLabels.encodeTrustDomain("prod.example.org") == String(Hex.encode(Digest.sha256(Array("prod.example.org".utf8))).prefix(32)))
        #expect(GCPLabels.isValue(GCPLabels.encodeTrustDomain("prod.example.org")))
        #expect(GCPLabels.readableTrustDomain("prod.example.org") == "prod_example_org")
        #expect(GCPLabels.encodeKid("0123456789abcdef0123456789abcdef01234567") == "0123456789abcdef0123456789abcdef01234567")
        #expect(GCPLabels.encodeKid("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs") == nil)
    }

    @Test func configurationAndReferencesAreValidated() throws {
        let kms = InMemoryGCPKMS()
        for bad in [GCPKMSConfig(project: "Bad Project"), GCPKMSConfig(project: "memory-project", keyRing: "a/b"),
                    GCPKMSConfig(project: "memory-project", keyIDTemplate: "has space {key_type}"),
                    GCPKMSConfig(project: "memory-project", protectionLevel: "EXTERNAL")] {
            #expect(throws: CoordinationError.self, "\(bad)") {
                try GCPKMSBackend(config: bad, client: kms, endpoint: URL(string: "http://memory")!)
            }
        }
        #expect(throws: CoordinationError.self) { try GCPKMSBackend.cryptoKeyName(of: "projects/p/locations/l/keyRings/r/cryptoKeys/k") }
        #expect(try GCPKMSBackend.cryptoKeyName(of: "projects/p1/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1")
            == "projects/p1/locations/l/keyRings/r/cryptoKeys/k")
        let long = try backend(kms).cryptoKeyID(trustDomain: String(repeating: "a", count: 200) + ".org", keyType: .rsa4096)
        #expect(long.utf8.count <= 63 && GCPKMSBackend.isResourceID(long))
        #expect(GCPKMSBackend.permissionNamed(in: "Permission 'cloudkms.cryptoKeyVersions.useToSign' denied on resource")
            == "cloudkms.cryptoKeyVersions.useToSign")
    }
}
