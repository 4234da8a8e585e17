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

    /// A Cloud KMS key version signs with the one algorithm it was created for
    /// (RSA_SIGN_PKCS1_*_SHA256, EC_SIGN_P256_SHA256…): PSS or another hash is refused
    /// before any call, naming what the key can sign.
    @Test func schemesTheKeysAlgorithmCannotSignAreRefused() async throws {
        let backend = try backend(InMemoryGCPKMS())
        let ref = "projects/memory-project/locations/europe-west1/keyRings/ring/cryptoKeys/k/cryptoKeyVersions/1"
        for (keyType, scheme) in [(KeyType.rsa2048, SignatureScheme(hash: .sha256, pss: .digestLength)),
                                  (.rsa2048, SignatureScheme(hash: .sha512))] {
            await #expect { _ = try await backend.sign(ref: ref, keyType: keyType, digest: Digest.hash(scheme.hash, [1]), scheme: scheme) } throws: { error in
                guard case CoordinationError.invalid(let message) = error else { return false }
                return message.contains("signs only RS256")
            }
        }
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

/// Where the GCP backend's tokens come from, against the fake's token endpoints.
@Suite struct GCPCredentialTests {
    @Test func aLostCreateAnswerAdoptsTheKeyInsteadOfMintingAnother() async throws {
        let fake = try await GCPTestSupport.fake()
        defer { fake.stop() }
        let backend = try GCPTestSupport.backend(fake)
        try await fake.fault([["match": "createCryptoKey", "drop": true]])
        let key = try await backend.create(keyType: .ecP256, trustDomain: "adopt.example.org")
        // The retry meets ALREADY_EXISTS (FoundationNetworking may first stall one attempt on the dropped connection).
        #expect(try await fake.requests("createCryptoKey") >= 2)
        #expect(try await backend.list(trustDomain: "adopt.example.org").map(\.ref) == [key.ref], "one key, not two")
    }

    @Test func workloadIdentityFederationAndTheMetadataServerGiveTokens() async throws {
        let fake = try await GCPTestSupport.fake()
        defer { fake.stop() }
        let federated = try GCPTestSupport.backend(fake, environment: [:]) {
            $0.credentialsFile = "\(fake.stateDirectory)/external-account.json"
        }
        _ = try await federated.create(keyType: .ecP256, trustDomain: "wif.example.org")
        // GOOGLE_APPLICATION_CREDENTIALS, then the metadata server (GCE_METADATA_HOST), as Google's libraries look.
        let fromEnvironment = try GCPTestSupport.backend(fake, environment: [
            "GOOGLE_APPLICATION_CREDENTIALS": "\(fake.stateDirectory)/service-account.json",
        ]) { $0.credentialsFile = nil }
        #expect(try await fromEnvironment.list(trustDomain: "wif.example.org").count == 1)
        let metadata = try GCPTestSupport.backend(fake, environment: ["GCE_METADATA_HOST": "127.0.0.1:\(fake.port)"]) {
            $0.credentialsFile = nil
        }
        #expect(try await metadata.list(trustDomain: "wif.example.org").count == 1)
        #expect(try await fake.requests("token") >= 1)
    }

    @Test func aRevokedTokenIsReplacedOnceAndTokensAreCached() async throws {
        let fake = try await GCPTestSupport.fake()
        defer { fake.stop() }
        let backend = try GCPTestSupport.backend(fake)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "tokens.example.org")
        let issued = try await fake.requests("token")
        _ = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: Digest.sha256([1]))
        #expect(try await fake.requests("token") == issued, "the cached token is reused")
        try await fake.reset(["tokens": true])
        _ = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: Digest.sha256([2]))
        #expect(try await fake.requests("token") == issued + 1, "a refused token is replaced once")
    }

    @Test func withoutCredentialsTheErrorNamesEverySourceTried() async throws {
        // Nothing configured and no metadata server (a closed port): the error lists each source.
        let backend = try GCPKMSBackend(config: GCPKMSConfig(project: "some-project", endpoint: "http://127.0.0.1:1",
                                                             requestTimeout: 1, callDeadline: 2, maxAttempts: 2),
                                        environment: ["GCE_METADATA_HOST": "127.0.0.1:1"])
        await #expect { _ = try await backend.create(keyType: .ecP256, trustDomain: "none.example.org") } throws: { error in
            guard case CoordinationError.backendFailure(let failure) = error else { return false }
            return failure.kind == .unavailable && failure.message.contains("no explicit credentials file")
                && failure.message.contains("GOOGLE_APPLICATION_CREDENTIALS not set") && failure.message.contains("metadata server 127.0.0.1:1")
        }
        // A named file that cannot be used stops the start; it never falls through to another identity.
        #expect(throws: CoordinationError.self) {
            try GCPKMSBackend(config: GCPKMSConfig(project: "some-project"), environment: ["GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent.json"])
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let impersonating = directory.file("impersonating.json")
        try Data(#"{"type":"external_account","audience":"a","subject_token_type":"t","credential_source":{"file":"/x"},"service_account_impersonation_url":"https://iamcredentials.googleapis.com/x"}"#.utf8)
            .write(to: URL(fileURLWithPath: impersonating))
        #expect { try GCPKMSBackend(config: GCPKMSConfig(project: "some-project", credentialsFile: impersonating), environment: [:]) }
            throws: { "\($0)".contains("impersonation") }
    }
}
