import Crypto
import FileSupport
import Foundation
import PluginProtos
import Synchronization

/// The keys that stay with one SPIRE server (X.509 CA and WIT keys), kept like SPIRE's disk
/// key manager: every key PKCS#8 in one JSON file, replaced atomically (temporary file,
/// fsync, rename) with mode 0600 on every change, so a crash leaves the old or the new set,
/// never half of one. Without a path the keys live in memory and end with the process.
final class LocalKeyStore: Sendable {
    struct StoredKey: Sendable {
        let type: Spire_Plugin_Server_Keymanager_V1_KeyType
        let privateKey: PrivateKey
        let fingerprint: String
    }

    private let path: String?
    private let keys = Mutex<[String: StoredKey]>([:])

    /// Why the key file cannot be used.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private struct FileFormat: Codable {
        struct Entry: Codable {
            var type: Int
            var pkcs8PEM: String
        }
        var keys: [String: Entry]
    }

    /// Loads the keys at `path` (none yet when the file does not exist).
    init(path: String?) throws {
        self.path = path
        guard let path, let bytes = try AtomicFile.read(path) else { return }
        let file: FileFormat
        do {
            file = try JSONDecoder().decode(FileFormat.self, from: Data(bytes))
        } catch {
            throw Failure(description: "the key file \(path) is not keycoord's: \(error)")
        }
        var loaded: [String: StoredKey] = [:]
        for (id, entry) in file.keys {
            guard let type = Spire_Plugin_Server_Keymanager_V1_KeyType(rawValue: entry.type), Self.algorithm(type) != nil else {
                throw Failure(description: "the key file \(path) holds key \(id) of unknown type \(entry.type)")
            }
            let key = try PrivateKey(pem: entry.pkcs8PEM)
            loaded[id] = StoredKey(type: type, privateKey: key, fingerprint: Self.fingerprint(key.publicKey))
        }
        keys.withLock { $0 = loaded }
    }

    var isPersistent: Bool { path != nil }

    func key(_ id: String) -> StoredKey? {
        keys.withLock { $0[id] }
    }

    var all: [(id: String, key: StoredKey)] {
        keys.withLock { $0.sorted { $0.key < $1.key }.map { (id: $0.key, key: $0.value) } }
    }

    /// Mints a key under `id`, replacing what was there once the file holds the new set.
    func generate(id: String, type: Spire_Plugin_Server_Keymanager_V1_KeyType) throws -> StoredKey {
        guard let algorithm = Self.algorithm(type) else { throw Failure(description: "unsupported key type \(type)") }
        let privateKey = try PrivateKey.generate(algorithm)
        let stored = StoredKey(type: type, privateKey: privateKey, fingerprint: Self.fingerprint(privateKey.publicKey))
        // The whole replace runs under the lock: two generates never write over each other.
        let path = self.path
        return try keys.withLock { (keys: inout [String: StoredKey]) throws -> StoredKey in
            var next = keys
            next[id] = stored
            if let path {
                var file = FileFormat(keys: [:])
                for (keyID, key) in next {
                    file.keys[keyID] = FileFormat.Entry(type: key.type.rawValue, pkcs8PEM: try key.privateKey.pkcs8PEM())
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                try AtomicFile.write(Array(try encoder.encode(file)), to: path, mode: 0o600)
            }
            keys = next
            return stored
        }
    }

    static func algorithm(_ type: Spire_Plugin_Server_Keymanager_V1_KeyType) -> KeyAlgorithm? {
        switch type {
        case .ecP256: return .ecP256
        case .ecP384: return .ecP384
        case .rsa2048: return .rsa(bits: 2048)
        case .rsa4096: return .rsa(bits: 4096)
        default: return nil
        }
    }

    /// Hex SHA-256 of the DER SubjectPublicKeyInfo: names this instance of the key.
    static func fingerprint(_ key: PublicKey) -> String {
        Hex.encode(Digest.sha256(key.der))
    }
}
