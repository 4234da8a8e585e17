import Crypto
import FileSupport
import Foundation
import PluginProtos
import Synchronization

/// The keys that stay with one SPIRE server (X.509 CA and WIT keys), kept like SPIRE's disk
/// key manager: every key PKCS#8 in one JSON file, replaced atomically (temporary file,
/// fsync, rename) with mode 0600 on every change, so a crash leaves the old or the new set,
/// never half of one. Without a path the keys live in memory and end with the process.
///
/// The same file records which shared keycoord key each `JWT-Signer-*` slot was handed
/// (`SharedSlot`: no private material, only what signing through the backend needs), so a
/// restarted plugin answers GetPublicKey and SignData for its slots without the sidecar.
final class LocalKeyStore: Sendable {
    struct StoredKey: Sendable {
        let type: Spire_Plugin_Server_Keymanager_V1_KeyType
        let privateKey: PrivateKey
        let fingerprint: String
    }

    private struct Contents: Sendable {
        var keys: [String: StoredKey] = [:]
        var slots: [String: SharedSlot] = [:]
    }

    private let path: String?
    private let contents = Mutex(Contents())

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
        /// Absent in files written before JWT slots existed.
        var jwtSlots: [String: SharedSlot]?
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
        let slots = file.jwtSlots ?? [:]
        contents.withLock { $0 = Contents(keys: loaded, slots: slots) }
    }

    var isPersistent: Bool { path != nil }

    func key(_ id: String) -> StoredKey? {
        contents.withLock { $0.keys[id] }
    }

    var all: [(id: String, key: StoredKey)] {
        contents.withLock { $0.keys.sorted { $0.key < $1.key }.map { (id: $0.key, key: $0.value) } }
    }

    func slot(_ id: String) -> SharedSlot? {
        contents.withLock { $0.slots[id] }
    }

    var slots: [(id: String, slot: SharedSlot)] {
        contents.withLock { $0.slots.sorted { $0.key < $1.key }.map { (id: $0.key, slot: $0.value) } }
    }

    /// Records that slot `id` signs with `slot`'s shared key, once the file holds it.
    /// `choose` sees the other slots under the lock, so two GenerateKey calls for the two
    /// slots decide one after the other.
    func assignSlot(_ id: String, choose: ([String: SharedSlot]) throws -> SharedSlot) throws -> SharedSlot {
        try replace { contents in
            let slot = try choose(contents.slots.filter { $0.key != id })
            contents.slots[id] = slot
            return slot
        }
    }

    /// Mints a key under `id`, replacing what was there once the file holds the new set.
    func generate(id: String, type: Spire_Plugin_Server_Keymanager_V1_KeyType) throws -> StoredKey {
        guard let algorithm = Self.algorithm(type) else { throw Failure(description: "unsupported key type \(type)") }
        let privateKey = try PrivateKey.generate(algorithm)
        let stored = StoredKey(type: type, privateKey: privateKey, fingerprint: Self.fingerprint(privateKey.publicKey))
        return try replace { contents in
            contents.keys[id] = stored
            return stored
        }
    }

    /// Applies `change` to a copy, writes the copy, then keeps it. The whole replace runs
    /// under the lock: two changes never write over each other.
    private func replace<Outcome>(_ change: (inout Contents) throws -> Outcome) throws -> Outcome {
        let path = self.path
        return try contents.withLock { (contents: inout Contents) throws -> Outcome in
            var next = contents
            let result = try change(&next)
            if let path {
                var file = FileFormat(keys: [:], jwtSlots: next.slots)
                for (keyID, key) in next.keys {
                    file.keys[keyID] = FileFormat.Entry(type: key.type.rawValue, pkcs8PEM: try key.privateKey.pkcs8PEM())
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                try AtomicFile.write(Array(try encoder.encode(file)), to: path, mode: 0o600)
            }
            contents = next
            return result
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
