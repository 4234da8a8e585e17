import Backends
import Core
import Crypto
import Foundation
import Testing
import TestSupport

@Suite struct DiskBackendTests {
    let scratch: ScratchDirectory
    let keysDirectory: String

    init() throws {
        scratch = try ScratchDirectory("disk-backend")
        keysDirectory = scratch.appending("keys")
    }

    @Test func aClaimedFolderRefusesAnotherRegistryAndReportsDeletedKeysLost() async throws {
        let backend = try DiskBackend(directory: keysDirectory)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "example.org")
        try FileManager.default.removeItem(atPath: key.ref)
        // Not claimed: a missing file may just be a volume this instance does not see.
        #expect(await backend.lostReason(ref: key.ref) == nil)
        try await backend.claim(trustDomain: "example.org", registry: "registry-a")
        try await backend.claim(trustDomain: "example.org", registry: "registry-a")
        let lost = try #require(await backend.lostReason(ref: key.ref))
        #expect(lost.contains("was deleted"))
        let kept = try await backend.create(keyType: .ecP256, trustDomain: "example.org")
        #expect(await backend.lostReason(ref: kept.ref) == nil)

        let other = try DiskBackend(directory: keysDirectory)
        await #expect(throws: CoordinationError.self) { try await other.claim(trustDomain: "example.org", registry: "registry-b") }
        try await other.claim(trustDomain: "other.org", registry: "registry-b")
        #expect(try String(contentsOfFile: "\(backend.directory)/example.org/.registry", encoding: .utf8) == "registry-a")
        #expect(Set(try await backend.list(trustDomain: "example.org").map(\.ref)) == [key.ref, kept.ref], "the marker is not a key")
    }

    @Test(arguments: KeyType.allCases)
    func createdKeySignsVerifiably(_ keyType: KeyType) async throws {
        let backend = try DiskBackend(directory: keysDirectory)
        let key = try await backend.create(keyType: keyType, trustDomain: "example.org")
        #expect(key.ref.hasPrefix("\(backend.directory)/example.org/\(keyType.rawValue)-") && key.ref.hasSuffix(".pem"))
        #expect(key.ref.hasPrefix("/"), "the reference is an absolute path a SPIRE server can open")
        let pem = try String(contentsOfFile: key.ref, encoding: .utf8)
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(try ScratchDirectory.permissions(of: key.ref) == 0o600)
        #expect(try ScratchDirectory.permissions(of: "\(backend.directory)/example.org") == 0o700)

        let publicKey = try PublicKey(der: key.publicKey)
        #expect(publicKey.algorithm == keyType.algorithm)
        #expect(try await backend.publicKey(ref: key.ref) == key.publicKey)

        let digest = Digest.hash(keyType.hash, Array("header.payload-\(keyType)".utf8))
        let signature = try await backend.sign(ref: key.ref, keyType: keyType, digest: digest)
        switch keyType.family {
        case .ec:
            let size = try #require(keyType.algorithm.coordinateSize)
            #expect(signature.count == 2 * size, "JOSE r||s has fixed width")
            #expect(publicKey.verify(signature: try ECDSASignature.der(fromRaw: signature), digest: digest, hash: keyType.hash))
        case .rsa:
            guard case .rsa(let bits) = keyType.algorithm else { Issue.record("not RSA"); return }
            #expect(signature.count == bits / 8)
            #expect(publicKey.verify(signature: signature, digest: digest, hash: keyType.hash))
        }
        var tampered = digest
        tampered[0] ^= 1
        let verifiesTampered = keyType.family == .ec
            ? publicKey.verify(signature: try ECDSASignature.der(fromRaw: signature), digest: tampered, hash: keyType.hash)
            : publicKey.verify(signature: signature, digest: tampered, hash: keyType.hash)
        #expect(!verifiesTampered)

        // Another instance on the same (shared) directory signs with the same file.
        let other = try DiskBackend(directory: keysDirectory)
        #expect(await other.checkUsable(ref: key.ref) == nil)
        let otherSignature = try await other.sign(ref: key.ref, keyType: keyType, digest: digest)
        #expect(keyType.family == .rsa ? otherSignature == signature : otherSignature.count == signature.count)
    }

    @Test(arguments: [KeyType.ecP256, .rsa2048])
    func pythonCryptographyAcceptsKeyAndSignature(_ keyType: KeyType) async throws {
        let backend = try DiskBackend(directory: keysDirectory)
        let key = try await backend.create(keyType: keyType, trustDomain: "example.org")
        let digest = Digest.hash(keyType.hash, Array("eyJhbGciOi.eyJzdWIiOi".utf8))
        let signature = try await backend.sign(ref: key.ref, keyType: keyType, digest: digest)
        let output = try await PythonCheck.outcome("disk_verify.py", arguments: [key.ref, keyType.rawValue, Hex.encode(key.publicKey), Hex.encode(digest), Hex.encode(signature)])
        #expect(output.status == 0 && output.text == "ok\n", "\(output.text)")
        var forged = signature
        forged[forged.count - 1] ^= 0x55
        let refused = try await PythonCheck.outcome("disk_verify.py", arguments: [key.ref, keyType.rawValue, Hex.encode(key.publicKey), Hex.encode(digest), Hex.encode(forged)])
        #expect(refused.status == 1, "the verifier accepted a forged signature: \(refused.text)")
    }

    @Test func listShowsMarksPerTrustDomain() async throws {
        let backend = try DiskBackend(directory: keysDirectory)
        let first = try await backend.create(keyType: .ecP256, trustDomain: "example.org")
        let second = try await backend.create(keyType: .ecP384, trustDomain: "example.org")
        let elsewhere = try await backend.create(keyType: .ecP256, trustDomain: "other.example")

        var listed = try await backend.list(trustDomain: "example.org")
        #expect(Set(listed.map(\.ref)) == [first.ref, second.ref])
        #expect(listed.allSatisfy { $0.mark == .pending && $0.kid == nil })
        #expect(listed.first { $0.ref == first.ref }?.createdAt == first.createdAt)
        #expect(listed.first { $0.ref == second.ref }?.keyType == .ecP384)

        try await backend.markPublished(ref: first.ref, kid: "kid-one")
        listed = try await backend.list(trustDomain: "example.org")
        let published = try #require(listed.first { $0.ref == first.ref })
        #expect(published.mark == .published && published.kid == "kid-one" && published.createdAt == first.createdAt)
        #expect(listed.first { $0.ref == second.ref }?.mark == .pending)

        let metadataPath = first.ref.replacingOccurrences(of: ".pem", with: ".json")
        #expect(try ScratchDirectory.permissions(of: metadataPath) == 0o600)
        let metadata = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: metadataPath))) as? [String: Any]
        #expect(metadata?["mark"] as? String == "published" && metadata?["keyType"] as? String == "ec-p256")

        #expect(try await backend.list(trustDomain: "other.example").map(\.ref) == [elsewhere.ref])
        #expect(try await backend.list(trustDomain: "unused.example").isEmpty)

        // A fresh instance reads the same state from the files alone.
        let reread = try await DiskBackend(directory: keysDirectory).list(trustDomain: "example.org")
        #expect(reread == listed)
    }

    @Test func keyWithoutMetadataIsListedAsPending() async throws {
        let backend = try DiskBackend(directory: keysDirectory)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "example.org")
        try FileManager.default.removeItem(atPath: key.ref.replacingOccurrences(of: ".pem", with: ".json"))
        let listed = try await backend.list(trustDomain: "example.org")
        #expect(listed.map(\.ref) == [key.ref] && listed.first?.mark == .pending)
        try await backend.markPublished(ref: key.ref, kid: "k")
        #expect(try await backend.list(trustDomain: "example.org").first?.mark == .published)
    }

    @Test func corruptMetadataIsNamed() async throws {
        let backend = try DiskBackend(directory: keysDirectory)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "example.org")
        let metadataPath = key.ref.replacingOccurrences(of: ".pem", with: ".json")
        try Data("{\"format\":1,".utf8).write(to: URL(fileURLWithPath: metadataPath))
        do {
            _ = try await backend.list(trustDomain: "example.org")
            Issue.record("listed a key with corrupt metadata")
        } catch CoordinationError.backendFailure(let failure) {
            #expect(failure.message.contains(metadataPath))
        }
    }

    @Test func destroyIsIdempotentAndForgetsTheKey() async throws {
        let backend = try DiskBackend(directory: keysDirectory)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "example.org")
        let digest = Digest.sha256(Array("x".utf8))
        _ = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: digest)
        try await backend.destroy(ref: key.ref)
        #expect(!FileManager.default.fileExists(atPath: key.ref))
        #expect(!FileManager.default.fileExists(atPath: key.ref.replacingOccurrences(of: ".pem", with: ".json")))
        #expect(try await backend.list(trustDomain: "example.org").isEmpty)
        try await backend.destroy(ref: key.ref)
        await #expect(throws: CoordinationError.self, "the parsed key must not outlive its file") {
            _ = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: digest)
        }
        let message = await backend.checkUsable(ref: key.ref)
        #expect(message?.contains(key.ref) == true)
    }

    @Test func checkUsableExplainsAMissingFile() async throws {
        let backend = try DiskBackend(directory: keysDirectory)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "example.org")
        #expect(await backend.checkUsable(ref: key.ref) == nil)
        // As seen from a host whose keys directory is not the shared volume.
        try FileManager.default.removeItem(atPath: key.ref)
        let message = try #require(await backend.checkUsable(ref: key.ref))
        #expect(message.contains(key.ref) && message.contains("shared volume"), "\(message)")
        try Data("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".utf8).write(to: URL(fileURLWithPath: key.ref))
        let unreadable = try #require(await backend.checkUsable(ref: key.ref))
        #expect(unreadable.contains("not a valid PEM private key"), "\(unreadable)")
    }

    @Test func referencesOutsideTheDirectoryAreRefused() async throws {
        let backend = try DiskBackend(directory: keysDirectory)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "example.org")
        let root = backend.directory
        let fileName = URL(fileURLWithPath: key.ref).lastPathComponent
        let victim = scratch.appending("victim.pem")
        try Data(try String(contentsOfFile: key.ref, encoding: .utf8).utf8).write(to: URL(fileURLWithPath: victim))
        try FileManager.default.createDirectory(atPath: "\(root)-evil/example.org", withIntermediateDirectories: true)
        try Data(try String(contentsOfFile: key.ref, encoding: .utf8).utf8).write(to: URL(fileURLWithPath: "\(root)-evil/example.org/\(fileName)"))

        let refs = [
            victim,
            "\(root)/../victim.pem",
            "\(root)/example.org/../../victim.pem",
            "\(root)/example.org/\(fileName)/../../../victim.pem",
            "\(root)/./example.org/\(fileName)",
            "\(root)//example.org/\(fileName)",
            "\(root)/..",
            "\(root)/example.org/sub/\(fileName)",
            "\(root)-evil/example.org/\(fileName)",
            "example.org/\(fileName)",
            "\(root)/Example.org/\(fileName)",
            "\(root)/example.org/\(fileName.replacingOccurrences(of: ".pem", with: ".json"))",
            "\(root)/example.org/ec-p521-\(String(repeating: "a", count: 32)).pem",
            "",
        ]
        let digest = Digest.sha256(Array("x".utf8))
        for ref in refs {
            for operation in ["sign", "publicKey", "destroy", "markPublished"] {
                do {
                    switch operation {
                    case "sign": _ = try await backend.sign(ref: ref, keyType: .ecP256, digest: digest)
                    case "publicKey": _ = try await backend.publicKey(ref: ref)
                    case "destroy": try await backend.destroy(ref: ref)
                    default: try await backend.markPublished(ref: ref, kid: "k")
                    }
                    Issue.record("\(operation) accepted \(ref.debugDescription)")
                } catch CoordinationError.invalid {}
            }
            #expect(await backend.checkUsable(ref: ref) != nil, "\(ref)")
        }
        #expect(FileManager.default.fileExists(atPath: victim), "destroy removed a file outside the directory")
        #expect(FileManager.default.fileExists(atPath: "\(root)-evil/example.org/\(fileName)"))

        // A symlink planted inside the directory is not followed.
        let planted = "\(root)/example.org/ec-p256-\(String(repeating: "b", count: 32)).pem"
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim)
        await #expect(throws: CoordinationError.self) { _ = try await backend.sign(ref: planted, keyType: .ecP256, digest: digest) }
        #expect(await backend.checkUsable(ref: planted) != nil)

        for domain in ["..", "../x", "a/b", "Upper", ""] {
            await #expect(throws: CoordinationError.self, "\(domain)") { _ = try await backend.create(keyType: .ecP256, trustDomain: domain) }
            await #expect(throws: CoordinationError.self, "\(domain)") { _ = try await backend.list(trustDomain: domain) }
        }
    }

    @Test func signRefusesAMismatchedTypeOrDigest() async throws {
        let backend = try DiskBackend(directory: keysDirectory)
        let key = try await backend.create(keyType: .ecP256, trustDomain: "example.org")
        await #expect(throws: CoordinationError.self) {
            _ = try await backend.sign(ref: key.ref, keyType: .ecP384, digest: Digest.sha384(Array("x".utf8)))
        }
        await #expect(throws: CoordinationError.self) {
            _ = try await backend.sign(ref: key.ref, keyType: .ecP256, digest: [1, 2, 3])
        }
    }
}
