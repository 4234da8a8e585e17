import Core
import Crypto
import Foundation
import Testing
import TestSupport
@testable import Backends

/// What the conformance suite does not cover: Azure's credential order, token caching and
/// the 401 challenge, Retry-After, key names and tags, HSM key types, soft delete and purge,
/// and the CA file — against the Key Vault fake over HTTPS.
@Suite struct AzureKeyVaultBackendTests {
    private func tokens(_ fake: CloudFakeServer, _ kind: String) async throws -> Int {
        ((try await fake.state()["tokensIssued"] as? [String: Any])?[kind] as? Int) ?? 0
    }

    private func keyState(_ fake: CloudFakeServer, _ name: String) async throws -> [String: Any]? {
        ((try await fake.state()["keys"] as? [String: Any])?[name] as? [[String: Any]])?.last
    }

    @Test func mintsWithTagsKeyOpsAndAMappedName() async throws {
        let fake = try await AzureTestSupport.fake()
        defer { fake.stop() }
        let backend = try AzureTestSupport.backend(fake)
        let key = try await backend.create(keyType: .rsa2048, trustDomain: "prod.example_org.com")
        let (name, version) = try backend.parse(key.ref)
        #expect(name.hasPrefix("keycoord-prod-example-org-com-rsa-2048-"))
        #expect(key.ref == "\(AzureTestSupport.vaultURL)/keys/\(name)/\(version)")
        let stored = try #require(try await keyState(fake, name))
        #expect(stored["kty"] as? String == "RSA")
        #expect(stored["key_size"] as? Int == 2048)
        #expect(Set(stored["key_ops"] as? [String] ?? []) == ["sign", "verify"])
        let tags = try #require(stored["tags"] as? [String: String])
        #expect(tags == ["keycoord-trust-domain": "prod.example_org.com", "keycoord-key-type": "rsa-2048", "keycoord-state": "pending"])
        try await backend.markPublished(ref: key.ref, kid: "0123456789abcdef0123456789abcdef01234567")
        let published = try #require(try await keyState(fake, name)?["tags"] as? [String: String])
        #expect(published["keycoord-state"] == "published")
        #expect(published["keycoord-kid"] == "0123456789abcdef0123456789abcdef01234567")
        try await backend.destroy(ref: key.ref)
    }

    @Test func hsmKeyTypesWhenConfigured() async throws {
        let fake = try await AzureTestSupport.fake()
        defer { fake.stop() }
        let backend = try AzureTestSupport.backend(fake) { $0.hsm = true }
        let key = try await backend.create(keyType: .ecP384, trustDomain: "hsm.example.org")
        let stored = try #require(try await keyState(fake, try backend.parse(key.ref).0))
        #expect(stored["kty"] as? String == "EC-HSM")
        #expect(stored["crv"] as? String == "P-384")
        try await backend.destroy(ref: key.ref)
    }

    @Test func destroySoftDeletesAndPurgesOnlyWhenAsked() async throws {
        let fake = try await AzureTestSupport.fake()
        defer { fake.stop() }
        let keep = try AzureTestSupport.backend(fake)
        let kept = try await keep.create(keyType: .ecP256, trustDomain: "soft.example.org")
        try await keep.destroy(ref: kept.ref)
        try await keep.destroy(ref: kept.ref)
        let keptName = try keep.parse(kept.ref).0
        #expect((try await fake.state()["deletedKeys"] as? [String: Any])?[keptName] != nil)

        let purge = try AzureTestSupport.backend(fake) { $0.purgeDeleted = true }
        let purged = try await purge.create(keyType: .ecP256, trustDomain: "soft.example.org")
        try await purge.destroy(ref: purged.ref)
        try await purge.destroy(ref: purged.ref)
        let purgedName = try purge.parse(purged.ref).0
        let deleted = try await fake.state()["deletedKeys"] as? [String: Any] ?? [:]
        #expect(deleted[purgedName] == nil)
        #expect(try await keyState(fake, purgedName) == nil)
        #expect(try await fake.requests("purgeDeletedKey") >= 1)
    }

    @Test func tokenIsCachedAndA401ChallengeFetchesANewOne() async throws {
        let fake = try await AzureTestSupport.fake()
        defer { fake.stop() }
        let backend = try AzureTestSupport.backend(fake)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "tokens.example.org")
        for _ in 0..<3 { _ = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: Digest.sha256([1])) }
        #expect(try await tokens(fake, "client_secret") == 1)
        try await fake.reset(["tokens": true])
        _ = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: Digest.sha256([2]))
        #expect(try await tokens(fake, "client_secret") == 1)
        try await backend.destroy(ref: key.ref)
    }

    @Test func retryAfterIsHonoured() async throws {
        let fake = try await AzureTestSupport.fake()
        defer { fake.stop() }
        let backend = try AzureTestSupport.backend(fake)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "throttle.example.org")
        try await fake.fault([["match": "sign", "status": 429, "count": 2, "retry_after": 1]])
        let start = ContinuousClock.now
        let signature = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: Digest.sha256([3]))
        let elapsed = ContinuousClock.now - start
        #expect(signature.count == 64)
        #expect(elapsed >= .seconds(2), "two 429s with Retry-After: 1 were retried after \(elapsed)")
        try await backend.destroy(ref: key.ref)
    }

    @Test func workloadIdentityRereadsTheTokenFile() async throws {
        let fake = try await AzureTestSupport.fake()
        defer { fake.stop() }
        let client = try AzureTestSupport.client(fake)
        let file = "\(fake.stateDirectory)/projected-token"
        try "not-the-accepted-assertion".write(toFile: file, atomically: true, encoding: .utf8)
        let backend = try AzureTestSupport.backend(fake, environment: [
            "AZURE_TENANT_ID": client["tenant_id"] ?? "", "AZURE_CLIENT_ID": client["client_id"] ?? "",
            "AZURE_FEDERATED_TOKEN_FILE": file,
        ])
        do {
            _ = try await backend.create(keyType: .ecP256, trustDomain: "wi.example.org")
            Issue.record("a refused assertion minted a key")
        } catch CoordinationError.backendFailure(let failure) {
            #expect(failure.kind == .denied)
            #expect(failure.message.contains("AZURE_FEDERATED_TOKEN_FILE"))
            #expect(failure.message.contains("invalid_client"))
        }
        // The kubelet rotates the file: the next token request reads the new content.
        let accepted = try String(contentsOfFile: "\(fake.stateDirectory)/federated-token", encoding: .utf8)
        try accepted.write(toFile: file, atomically: true, encoding: .utf8)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "wi.example.org")
        #expect(try await tokens(fake, "client_assertion") == 1)
        try await backend.destroy(ref: key.ref)
    }

    @Test func managedIdentityThroughIMDS() async throws {
        let fake = try await AzureTestSupport.fake()
        defer { fake.stop() }
        let backend = try AzureTestSupport.backend(fake, environment: [:])
        let key = try await backend.create(keyType: .ecP256, trustDomain: "mi.example.org")
        #expect(try await tokens(fake, "imds") == 1)
        try await backend.destroy(ref: key.ref)
    }

    @Test func aWrongClientSecretIsAClearDenial() async throws {
        let fake = try await AzureTestSupport.fake()
        defer { fake.stop() }
        var environment = try AzureTestSupport.secretEnvironment(fake)
        environment["AZURE_CLIENT_SECRET"] = "wrong"
        let backend = try AzureTestSupport.backend(fake, environment: environment)
        do {
            _ = try await backend.create(keyType: .ecP256, trustDomain: "bad.example.org")
            Issue.record("a wrong secret minted a key")
        } catch CoordinationError.backendFailure(let failure) {
            #expect(failure.kind == .denied)
            #expect(failure.message.contains("AZURE_CLIENT_SECRET"))
            #expect(failure.message.contains("AADSTS7000215"))
        }
    }

    @Test func withoutTheCAFileTheFakeIsNotTrusted() async throws {
        let fake = try await AzureTestSupport.fake()
        defer { fake.stop() }
        let backend = try AzureTestSupport.backend(fake) { $0.caFile = nil; $0.maxAttempts = 1 }
        do {
            _ = try await backend.create(keyType: .ecP256, trustDomain: "ca.example.org")
            Issue.record("an untrusted certificate was accepted")
        } catch CoordinationError.backendFailure(let failure) {
            #expect(failure.kind == .unavailable)
        }
        #expect(throws: CoordinationError.self) {
            try AzureTestSupport.backend(fake) { $0.caFile = "\(fake.stateDirectory)/client.json" }
        }
    }

    @Test func configurationIsChecked() throws {
        let bad = [
            AzureKeyVaultConfig(vaultURL: "http://plain.vault.azure.net"),
            AzureKeyVaultConfig(vaultURL: "https://v.vault.azure.net/keys"),
            AzureKeyVaultConfig(vaultURL: "https://v.vault.azure.net", keyNameTemplate: "keycoord_{trust_domain}"),
        ]
        for config in bad {
            #expect(throws: CoordinationError.self) { try AzureKeyVaultBackend(config: config, environment: [:]) }
        }
        let backend = try AzureKeyVaultBackend(config: AzureKeyVaultConfig(vaultURL: "https://v.vault.azure.net"), environment: [:])
        #expect(throws: CoordinationError.self) { try backend.parse("https://other.vault.azure.net/keys/a/0123") }
        #expect(throws: CoordinationError.self) { try backend.parse("https://v.vault.azure.net/keys/a_b/0123") }
        #expect(try backend.parse("https://v.vault.azure.net/keys/a-b/0123abcd") == ("a-b", "0123abcd"))
        let long = String(repeating: "a", count: 200) + ".example.org"
        #expect(backend.keyName(trustDomain: long, keyType: .ecP256).utf8.count <= 127)
    }

    @Test func challengeScopeOnlyForTheVaultsDomain() {
        let challenge = AzureChallenge(header: #"Bearer authorization="https://login.microsoftonline.com/t", resource="https://vault.azure.net""#)
        #expect(challenge?.authorization == "https://login.microsoftonline.com/t")
        #expect(challenge?.scope(forVault: "k.vault.azure.net") == "https://vault.azure.net/.default")
        #expect(challenge?.scope(forVault: "k.vault.azure.cn") == nil)
        #expect(AzureChallenge.defaultScope(forVault: "k.managedhsm.azure.net") == "https://managedhsm.azure.net/.default")
        #expect(AzureChallenge(header: "Basic realm=x") == nil)
    }
}
