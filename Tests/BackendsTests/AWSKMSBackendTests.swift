import Core
import Crypto
import Foundation
import Testing
@testable import Backends

/// Every backend operation against moto's KMS server. Each test uses its own trust
/// domain, so tests sharing the one moto process never see each other's keys.
@Suite struct AWSKMSBackendTests {
    struct Alias: Decodable {
        var AliasName: String
        var TargetKeyId: String?
    }

    struct AliasList: Decodable {
        var Aliases: [Alias]
    }

    func alias(_ name: String, on backend: AWSKMSBackend) async throws -> Alias? {
        try await AWSTestSupport.wire(backend).call("ListAliases", AWSKMSAPI.ListRequest(Limit: 100), as: AliasList.self)
            .Aliases.first { $0.AliasName == name }
    }

    /// A compact JWS signed through KMS with the production setting (MessageType DIGEST):
    /// keycoord hashes the signing input, KMS signs the digest.
    func jws(backend: AWSKMSBackend, ref: String, keyType: KeyType, kid: String) async throws -> String {
        let header = Base64URL.encode(Array(#"{"alg":"\#(keyType.alg)","kid":"\#(kid)","typ":"JWT"}"#.utf8))
        let payload = Base64URL.encode(Array(#"{"sub":"spiffe://example.org/workload","aud":["sts.amazonaws.com"],"exp":1999999999}"#.utf8))
        let input = "\(header).\(payload)"
        let signature = try await backend.sign(ref: ref, keyType: keyType, digest: Digest.hash(keyType.hash, Array(input.utf8)))
        return "\(input).\(Base64URL.encode(signature))"
    }

    func verifyWithPython(_ jws: String, publicKey: [UInt8]) async throws -> Bool {
        struct Verdict: Decodable { var valid: Bool }
        let input = try JSONSerialization.data(withJSONObject: ["jws": jws, "spki_der_b64": PEM.base64(publicKey)])
        return try JSONDecoder().decode(Verdict.self, from: await AWSTestSupport.runPython("verify_jws.py", input: input)).valid
    }

    @Test func createPublishListSignDestroy() async throws {
        let backend = try AWSTestSupport.motoBackend(endpoint: try AWSTestSupport.motoURL())
        let trustDomain = AWSTestSupport.uniqueTrustDomain("lifecycle")
        #expect(backend.name == "aws-kms")

        let first = try await backend.create(keyType: .ecP256, trustDomain: trustDomain)
        #expect(first.ref.hasPrefix("arn:aws:kms:us-east-1:"))
        let parsed = try PublicKey(der: first.publicKey)
        #expect(parsed.algorithm == .ecP256)
        #expect(try await backend.publicKey(ref: first.ref) == first.publicKey)
        #expect(abs(first.createdAt.timeIntervalSinceNow) < 300)

        var listed = try await backend.list(trustDomain: trustDomain)
        #expect(listed == [BackendKeyInfo(ref: first.ref, keyType: .ecP256, mark: .pending, kid: nil, createdAt: first.createdAt)])
        #expect(try await backend.list(trustDomain: AWSTestSupport.uniqueTrustDomain("other")).isEmpty)

        try await backend.markPublished(ref: first.ref, kid: "kid-one")
        listed = try await backend.list(trustDomain: trustDomain)
        #expect(listed.map(\.mark) == [.published])
        #expect(listed.map(\.kid) == ["kid-one"])
        let aliasName = try backend.aliasName(trustDomain: trustDomain, keyType: .ecP256)
        #expect(aliasName == "alias/keycoord/\(trustDomain.replacingOccurrences(of: ".", with: "_"))/ec-p256")
        let firstID = try #require(first.ref.split(separator: "/").last.map(String.init))
        #expect(try await alias(aliasName, on: backend)?.TargetKeyId == firstID)

        // The next key takes over the alias.
        let second = try await backend.create(keyType: .ecP256, trustDomain: trustDomain)
        try await backend.markPublished(ref: second.ref, kid: "kid-two")
        let secondID = try #require(second.ref.split(separator: "/").last.map(String.init))
        #expect(try await alias(aliasName, on: backend)?.TargetKeyId == secondID)
        #expect(try await backend.list(trustDomain: trustDomain).count == 2)

        #expect(await backend.checkUsable(ref: first.ref) == nil)
        try await backend.destroy(ref: first.ref)
        try await backend.destroy(ref: first.ref) // already pending deletion: still success
        try await backend.destroy(ref: "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000")
        let usable = await backend.checkUsable(ref: first.ref)
        #expect(usable?.contains("PendingDeletion") == true)
        #expect(try await backend.list(trustDomain: trustDomain).map(\.ref) == [second.ref])
        try await backend.destroy(ref: second.ref)
        #expect(try await backend.list(trustDomain: trustDomain).isEmpty)
    }

    @Test(arguments: [KeyType.ecP256, .rsa2048])
    func jwtSignatureVerifiesWithPythonCryptography(keyType: KeyType) async throws {
        let backend = try AWSTestSupport.motoBackend(endpoint: try AWSTestSupport.motoURL())
        let trustDomain = AWSTestSupport.uniqueTrustDomain("jws")
        let key = try await backend.create(keyType: keyType, trustDomain: trustDomain)
        let token = try await jws(backend: backend, ref: key.ref, keyType: keyType, kid: "k1")
        #expect(try await verifyWithPython(token, publicKey: key.publicKey))
        // The verifier must be able to say no: flip one payload character.
        var parts = token.split(separator: ".").map(String.init)
        parts[1] = String(parts[1].dropLast()) + (parts[1].hasSuffix("A") ? "B" : "A")
        #expect(try await !verifyWithPython(parts.joined(separator: "."), publicKey: key.publicKey))
        try await backend.destroy(ref: key.ref)
    }

    @Test(arguments: [KeyType.ecP384, .rsa4096])
    func everyKeyTypeSignsVerifiably(keyType: KeyType) async throws {
        let backend = try AWSTestSupport.motoBackend(endpoint: try AWSTestSupport.motoURL())
        let key = try await backend.create(keyType: keyType, trustDomain: AWSTestSupport.uniqueTrustDomain("types"))
        let publicKey = try PublicKey(der: key.publicKey)
        #expect(KeyType(publicKey.algorithm) == keyType)
        let digest = Digest.hash(keyType.hash, Array("header.payload".utf8))
        let signature = try await backend.sign(ref: key.ref, keyType: keyType, digest: digest)
        if keyType.family == .ec {
            #expect(signature.count == 2 * (keyType.algorithm.coordinateSize ?? 0))
            #expect(publicKey.verify(signature: try ECDSASignature.der(fromRaw: signature), digest: digest, hash: keyType.hash))
        } else {
            #expect(publicKey.verify(signature: signature, digest: digest, hash: keyType.hash))
        }
        try await backend.destroy(ref: key.ref)
    }

    @Test func digestSigningIsWhatKMSDoes() async throws {
        // MessageType DIGEST, as in production; the test moto (Tests/python/moto_server.py)
        // signs the digest as prehashed and refuses a wrong length, as real KMS does.
        let backend = try AWSTestSupport.motoBackend(endpoint: try AWSTestSupport.motoURL())
        let key = try await backend.create(keyType: .ecP256, trustDomain: AWSTestSupport.uniqueTrustDomain("digest"))
        let digest = Digest.sha256(Array("header.payload".utf8))
        let signature = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: digest)
        #expect(signature.count == 64)
        let publicKey = try PublicKey(der: key.publicKey)
        let der = try ECDSASignature.der(fromRaw: signature)
        #expect(publicKey.verify(signature: der, digest: digest, hash: .sha256))
        #expect(!publicKey.verify(signature: der, digest: Digest.sha256(digest), hash: .sha256))
        // KMS itself refuses a digest of the wrong length (the backend refuses it before sending).
        let short = AWSKMSAPI.SignRequest(KeyId: key.ref, Message: PEM.base64(Array(digest.prefix(31))), MessageType: "DIGEST",
                                          SigningAlgorithm: "ECDSA_SHA_256")
        await #expect { _ = try await AWSTestSupport.wire(backend).sign(short) } throws: { error in
            (error as? AWSServiceError)?.code == "ValidationException"
        }
        try await backend.destroy(ref: key.ref)
    }

    @Test func errorsAreTypedAndActionable() async throws {
        let url = try AWSTestSupport.motoURL()
        let backend = try AWSTestSupport.motoBackend(endpoint: url)
        let missing = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
        await #expect { try await backend.publicKey(ref: missing) } throws: { error in
            guard case CoordinationError.backendFailure(let failure) = error else { return false }
            return failure.kind == .notFound && failure.message.contains("GetPublicKey")
        }
        #expect(await backend.checkUsable(ref: missing)?.contains("DescribeKey found no such resource: NotFoundException") == true)
        await #expect(throws: CoordinationError.self) { try await backend.sign(ref: "", keyType: .ecP256, digest: [1]) }

        // A digest of the wrong length is refused before any call.
        await #expect(throws: CoordinationError.invalid("a sha256 digest has 32 bytes, got 3")) {
            try await backend.sign(ref: missing, keyType: .ecP256, digest: [1, 2, 3])
        }

        // A key keycoord did not create (no tags) cannot be published: no alias is moved onto it.
        let foreign = try await AWSTestSupport.wire(backend).createKey(AWSKMSAPI.CreateKeyRequest(
            KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", Description: "not keycoord's", Tags: []))
        await #expect { try await backend.markPublished(ref: foreign.KeyId, kid: "x") } throws: { error in
            guard case CoordinationError.backendFailure(let failure) = error else { return false }
            return failure.message.contains("did not create")
        }
        // A signature of the wrong key type is caught, not passed on as a JOSE signature.
        let ec = try await backend.create(keyType: .ecP256, trustDomain: AWSTestSupport.uniqueTrustDomain("mismatch"))
        await #expect(throws: CoordinationError.self) {
            try await backend.sign(ref: ec.ref, keyType: .rsa2048, digest: Digest.sha256(Array("x".utf8)))
        }
        try await backend.destroy(ref: ec.ref)
        try await backend.destroy(ref: foreign.KeyId)
    }

    @Test func configurationIsValidatedAndResolvedFromTheEnvironment() throws {
        let environment = ["AWS_REGION": "eu-central-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:1/",
                           "AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:2", "HOME": "/nonexistent"]
        let backend = try AWSKMSBackend(config: AWSKMSConfig(), environment: environment)
        #expect(backend.region == "eu-central-1")
        #expect(backend.endpoint.absoluteString == "http://127.0.0.1:2/")
        let general = try AWSKMSBackend(config: AWSKMSConfig(), environment: environment.filter { $0.key != "AWS_ENDPOINT_URL_KMS" })
        #expect(general.endpoint.absoluteString == "http://127.0.0.1:1/")
        let flagged = try AWSKMSBackend(config: AWSKMSConfig(region: "us-west-2", endpoint: "https://kms.example.test"),
                                        environment: environment)
        #expect(flagged.region == "us-west-2")
        #expect(flagged.endpoint.absoluteString == "https://kms.example.test/")
        let regional = try AWSKMSBackend(config: AWSKMSConfig(region: "ap-south-1"), environment: ["HOME": "/nonexistent"])
        #expect(regional.endpoint.absoluteString == "https://kms.ap-south-1.amazonaws.com/")

        let invalid: [(AWSKMSConfig, [String: String])] = [
            (AWSKMSConfig(region: "us-east-1", deletionWindowDays: 6), [:]),
            (AWSKMSConfig(region: "us-east-1", deletionWindowDays: 31), [:]),
            (AWSKMSConfig(region: "us-east-1", aliasTemplate: "keycoord/{trust_domain}"), [:]),
            (AWSKMSConfig(region: "us-east-1", aliasTemplate: "alias/aws/{trust_domain}"), [:]),
            (AWSKMSConfig(region: "us-east-1", aliasTemplate: "alias/key coord/{key_type}"), [:]),
            (AWSKMSConfig(region: "us-east-1", endpoint: "ftp://kms.example"), [:]),
            (AWSKMSConfig(region: "US East 1"), [:]),
            (AWSKMSConfig(), ["HOME": "/nonexistent"]),
            (AWSKMSConfig(region: "us-east-1", profile: "nope"), ["HOME": "/nonexistent"]),
        ]
        for (config, environment) in invalid {
            #expect(throws: CoordinationError.self, "\(config)") { try AWSKMSBackend(config: config, environment: environment) }
        }
        let custom = try AWSKMSBackend(config: AWSKMSConfig(region: "us-east-1", aliasTemplate: "alias/spire/{key_type}/{trust_domain}"),
                                       environment: [:])
        #expect(try custom.aliasName(trustDomain: "prod.example.org", keyType: .rsa2048) == "alias/spire/rsa-2048/prod_example_org")
        #expect(throws: CoordinationError.self) { try custom.aliasName(trustDomain: "bad domain", keyType: .rsa2048) }
    }
}
