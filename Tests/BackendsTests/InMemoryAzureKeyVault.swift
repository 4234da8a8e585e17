import Crypto
import Foundation
@testable import Backends

/// Azure Key Vault in memory, behind the Azure backend's operations protocol: real OpenSSL
/// keys answered as JWKs, raw R‖S EC signatures over a base64url digest, versions, tags,
/// soft delete and purge, and Key Vault's error codes.
final class InMemoryAzureKeyVault: AzureKeyVaultOperations, @unchecked Sendable {
    private struct Version {
        var id: String
        var kty: String
        var privateKey: PrivateKey
        var tags: [String: String]
        var created: Double
    }

    private let lock = NSLock()
    private var keys: [String: [Version]] = [:]
    private var deleted: [String: [Version]] = [:]
    let vault = "https://memory.vault.azure.net"

    func createKey(name: String, _ request: AzureKeyVaultAPI.CreateKeyRequest) async throws -> AzureKeyVaultAPI.KeyBundle {
        let algorithm: KeyAlgorithm
        switch (request.kty.replacingOccurrences(of: "-HSM", with: ""), request.crv, request.key_size) {
        case ("EC", "P-256", _): algorithm = .ecP256
        case ("EC", "P-384", _): algorithm = .ecP384
        case ("RSA", _, let size?) where size == 2048 || size == 4096: algorithm = .rsa(bits: size)
        default: throw Self.error(400, "BadParameter", "unsupported key \(request.kty) \(request.crv ?? "") \(request.key_size ?? 0)")
        }
        let privateKey = try PrivateKey.generate(algorithm)
        return try locked {
            if deleted[name] != nil { throw Self.error(409, "Conflict", "Key \(name) is currently in a deleted but recoverable state") }
            let version = Version(id: UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(), kty: request.kty,
                                  privateKey: privateKey, tags: request.tags, created: Date().timeIntervalSince1970.rounded(.down))
            keys[name, default: []].append(version)
            return try bundle(name, version)
        }
    }

    func getKey(name: String, version: String?) async throws -> AzureKeyVaultAPI.KeyBundle {
        try locked { try bundle(name, try find(name, version)) }
    }

    func updateTags(name: String, version: String, tags: [String: String]) async throws -> AzureKeyVaultAPI.KeyBundle {
        try locked {
            let found = try find(name, version)
            guard let index = keys[name]?.firstIndex(where: { $0.id == found.id }) else { throw Self.notFound(name) }
            keys[name]?[index].tags = tags
            return try bundle(name, keys[name]![index])
        }
    }

    /// Pages of two, so the backend follows `nextLink`.
    func listKeys(nextLink: String?) async throws -> AzureKeyVaultAPI.KeyListResult {
        try locked {
            let names = keys.keys.sorted()
            let start = nextLink.flatMap { URLComponents(string: $0)?.queryItems?.first { $0.name == "$skiptoken" }?.value }
                .flatMap(Int.init) ?? 0
            let page = names.dropFirst(start).prefix(2)
            let items = page.map { name in
                AzureKeyVaultAPI.KeyItem(kid: "\(vault)/keys/\(name)", attributes: .init(enabled: true, created: keys[name]?.last?.created),
                                         tags: keys[name]?.last?.tags)
            }
            let next = start + 2 < names.count ? "\(vault)/keys?api-version=7.4&$skiptoken=\(start + 2)&maxresults=2" : nil
            return AzureKeyVaultAPI.KeyListResult(value: items, nextLink: next)
        }
    }

    func sign(name: String, version: String, _ request: AzureKeyVaultAPI.SignRequest) async throws -> AzureKeyVaultAPI.SignResult {
        let found = try locked { try find(name, version) }
        let hash: HashAlgorithm
        switch request.alg {
        case "ES256", "RS256": hash = .sha256
        case "ES384": hash = .sha384
        default: throw Self.error(400, "BadParameter", "unsupported alg \(request.alg)")
        }
        guard let digest = Base64URL.decode(request.value), digest.count == (hash == .sha384 ? 48 : 32) else {
            throw Self.error(400, "BadParameter", "Invalid digest length")
        }
        var signature = try found.privateKey.sign(digest: digest, hash: hash)
        if let size = found.privateKey.publicKey.algorithm.coordinateSize {
            signature = try ECDSASignature.raw(fromDER: signature, coordinateSize: size)
        }
        return AzureKeyVaultAPI.SignResult(kid: "\(vault)/keys/\(name)/\(version)", value: Base64URL.encode(signature))
    }

    func deleteKey(name: String) async throws -> AzureKeyVaultAPI.DeletedKeyBundle {
        try locked {
            guard let versions = keys.removeValue(forKey: name) else { throw Self.notFound(name) }
            deleted[name] = versions
            return AzureKeyVaultAPI.DeletedKeyBundle(recoveryId: "\(vault)/deletedkeys/\(name)",
                                                    attributes: .init(recoveryLevel: "Recoverable+Purgeable"))
        }
    }

    func getDeletedKey(name: String) async throws -> AzureKeyVaultAPI.DeletedKeyBundle {
        try locked {
            guard deleted[name] != nil else { throw Self.error(404, "KeyNotFound", "Deleted Key not found: \(name)") }
            return AzureKeyVaultAPI.DeletedKeyBundle(recoveryId: "\(vault)/deletedkeys/\(name)",
                                                    attributes: .init(recoveryLevel: "Recoverable+Purgeable"))
        }
    }

    func purgeDeletedKey(name: String) async throws {
        try locked {
            guard deleted.removeValue(forKey: name) != nil else { throw Self.error(404, "KeyNotFound", "Deleted Key not found: \(name)") }
        }
    }

    var deletedNames: Set<String> { locked { Set(deleted.keys) } }

    private func find(_ name: String, _ version: String?) throws -> Version {
        guard let versions = keys[name], let found = version.map({ id in versions.first { $0.id == id } }) ?? versions.last else {
            throw Self.notFound(name)
        }
        return found
    }

    private func bundle(_ name: String, _ version: Version) throws -> AzureKeyVaultAPI.KeyBundle {
        var jwk = AzureKeyVaultAPI.JWK(kid: "\(vault)/keys/\(name)/\(version.id)", kty: version.kty, key_ops: ["sign", "verify"])
        switch try version.privateKey.publicKey.components() {
        case .ec(let curve, let x, let y):
            jwk.crv = curve == .ecP256 ? "P-256" : "P-384"
            jwk.x = Base64URL.encode(x)
            jwk.y = Base64URL.encode(y)
        case .rsa(let n, let e):
            jwk.n = Base64URL.encode(n)
            jwk.e = Base64URL.encode(e)
        }
        return AzureKeyVaultAPI.KeyBundle(key: jwk, attributes: .init(enabled: true, created: version.created, updated: version.created),
                                          tags: version.tags)
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    static func notFound(_ name: String) -> AzureServiceError {
        error(404, "KeyNotFound", "A key with (name/id) \(name) was not found in this key vault.")
    }

    static func error(_ status: Int, _ code: String, _ message: String) -> AzureServiceError {
        AzureServiceError(operation: "memory", httpStatus: status, code: code, innerCode: nil, message: message, retryAfter: nil)
    }
}
