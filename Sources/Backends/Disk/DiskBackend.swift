import Core
import Crypto
import FileSupport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shared private keys as files, the way SPIRE's disk key manager keeps them, so a SPIRE
/// server can mount the directory and read a key by the reference keycoord hands out.
///
/// Layout (directories 0700, files 0600):
/// ```
/// <directory>/<trust-domain>/<key-type>-<32 hex>.pem    PKCS #8 PEM private key; its absolute path is the reference
/// <directory>/<trust-domain>/<key-type>-<32 hex>.json   DiskKeyMetadata: mark (pending/published), kid, key type, created
/// <directory>/<trust-domain>/.registry                   identity of the one registry whose keys these are
/// ```
/// Every file is written atomically (temporary file, fsync, rename, directory fsync). The
/// metadata is written before the key and removed after it, so a crash never leaves a key
/// the reconciler cannot see. Keycoord instances on several hosts must share the directory
/// on one volume; `checkUsable` says so when a key file cannot be read here.
public final class DiskBackend: KeyBackend {
    public let name = "disk"
    /// The canonical (absolute, symlink-free) key directory.
    public let directory: String

    /// Parsed keys by reference: signing must not re-read and re-parse a PEM file each time.
    /// Per instance: a key another instance destroyed stays cached here until `destroy` or
    /// `checkUsable` runs on this instance (Core never signs with a key it retired).
    private let keys = Mutex([String: PrivateKey]())
    /// The file identity each key had when `checkUsable` last read it.
    private let verified = Mutex([String: FileIdentity]())
    /// The registry identity this instance claimed each trust domain's folder for.
    private let claimed = Mutex([String: String]())

    public init(directory: String) throws {
        let canonical: String
        do {
            try PrivateDirectory.create(directory)
            canonical = try PrivateDirectory.canonical(directory)
        } catch {
            throw CoordinationError.backendFailure("disk backend: cannot prepare key directory \(directory): \(error)")
        }
        guard canonical != "/" else { throw CoordinationError.invalid("disk backend: the key directory must not be the file-system root") }
        self.directory = canonical
    }

    public func create(keyType: KeyType, trustDomain: String) async throws -> BackendKey {
        guard SafeName.isTrustDomain(trustDomain) else {
            throw CoordinationError.invalid("trust domain must be a DNS-like name of lowercase letters, digits, '-', '_' and '.'")
        }
        let location = DiskKeyLocation(root: directory, trustDomain: trustDomain, keyType: keyType, id: SecureRandom.hexToken(bytes: 16))
        // Key generation (seconds for RSA 4096) and fsyncs run on a thread of their own.
        let (key, createdAt) = try await BlockingCalls.run { () throws -> (PrivateKey, Date) in
            do {
                let key = try PrivateKey.generate(keyType.algorithm)
                let created = DiskKeyMetadata.timestamp(Date())
                let metadata = DiskKeyMetadata(trustDomain: trustDomain, keyType: keyType, mark: .pending, kid: nil, createdAt: created.text)
                try PrivateDirectory.create(location.folder)
                try AtomicFile.write(try metadata.encoded(), to: location.metadataPath)
                try AtomicFile.write(Array(try key.pkcs8PEM().utf8), to: location.keyPath)
                return (key, created.date)
            } catch {
                throw CoordinationError.backendFailure("disk backend: creating a \(keyType.rawValue) key in \(location.folder) failed: \(error)")
            }
        }
        keys.withLock { $0[location.keyPath] = key }
        return BackendKey(ref: location.keyPath, publicKey: key.publicKey.der, createdAt: createdAt)
    }

    public func markPublished(ref: String, kid: String) async throws {
        let location = try locate(ref)
        guard !kid.isEmpty, kid.utf8.count <= 256 else { throw CoordinationError.invalid("kid must be 1–256 bytes") }
        try backendCall("marking \(ref) published") {
            var metadata: DiskKeyMetadata
            if let existing = try readMetadata(location) {
                metadata = existing
            } else {
                // Metadata lost (removed by hand): rebuild it from the key file, which must exist.
                let info = try keyFileStatus(location)
                let created = DiskKeyMetadata.timestamp(Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec)))
                metadata = DiskKeyMetadata(trustDomain: location.trustDomain, keyType: location.keyType, mark: .pending,
                                           kid: nil, createdAt: created.text)
            }
            metadata.mark = .published
            metadata.kid = kid
            try AtomicFile.write(try metadata.encoded(), to: location.metadataPath)
        }
    }

    /// OpenSSL signs ECDSA in DER: asked for DER, the signature is handed over as it is.
    public func sign(ref: String, keyType: KeyType, digest: [UInt8], scheme: SignatureScheme,
                     encoding: SignatureEncoding) async throws -> [UInt8] {
        let key = try signingKey(ref, keyType: keyType)
        try keyType.check(scheme, digest: digest)
        let signature = try backendCall("signing with \(ref)") { try key.sign(digest: digest, scheme: scheme) }
        return try BackendSignature.convert(signature, from: .der, to: encoding, keyType: keyType, source: "disk backend key \(ref)")
    }

    public func publicKey(ref: String) async throws -> [UInt8] {
        try loadKey(try locate(ref), useCache: true).publicKey.der
    }

    /// Every key of `trustDomain`, from the metadata files. A key file whose metadata is
    /// missing is listed as pending (it was never marked published).
    public func list(trustDomain: String) async throws -> [BackendKeyInfo] {
        guard SafeName.isTrustDomain(trustDomain) else {
            throw CoordinationError.invalid("trust domain must be a DNS-like name of lowercase letters, digits, '-', '_' and '.'")
        }
        let folder = "\(directory)/\(trustDomain)"
        return try backendCall("listing \(folder)") {
            let names = Set(try PrivateDirectory.entries(folder).filter { !$0.hasPrefix(".") })
            var found: [BackendKeyInfo] = []
            for name in names {
                if let (keyType, id) = DiskKeyLocation.parseFileName(name, suffix: ".json") {
                    let location = DiskKeyLocation(root: directory, trustDomain: trustDomain, keyType: keyType, id: id)
                    guard let metadata = try readMetadata(location) else { continue }
                    guard let created = metadata.createdDate, metadata.keyType == keyType else {
                        throw CoordinationError.backendFailure("disk backend: metadata file \(location.metadataPath) does not match its key")
                    }
                    found.append(BackendKeyInfo(ref: location.keyPath, keyType: keyType, mark: metadata.mark, kid: metadata.kid, createdAt: created))
                } else if let (keyType, id) = DiskKeyLocation.parseFileName(name, suffix: ".pem"),
                          !names.contains("\(keyType.rawValue)-\(id).json") {
                    let location = DiskKeyLocation(root: directory, trustDomain: trustDomain, keyType: keyType, id: id)
                    let info = try keyFileStatus(location)
                    found.append(BackendKeyInfo(ref: location.keyPath, keyType: keyType, mark: .pending, kid: nil,
                                                createdAt: Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec))))
                }
            }
            return found.sorted { ($0.createdAt ?? .distantFuture, $0.ref) < ($1.createdAt ?? .distantFuture, $1.ref) }
        }
    }

    public func destroy(ref: String) async throws {
        let location = try locate(ref)
        keys.withLock { $0[location.keyPath] = nil }
        verified.withLock { $0[location.keyPath] = nil }
        try backendCall("destroying \(ref)") {
            try AtomicFile.remove(location.keyPath)
            try AtomicFile.remove(location.metadataPath)
        }
    }

    /// Re-reads the key file only when it changed since it was last found usable (inode,
    /// size, mtime), so the ensure fast path does not parse a PEM file on every call.
    public func checkUsable(ref: String) async -> String? {
        do {
            let location = try locate(ref)
            let identity = try FileIdentity.of(location.keyPath)
            if let identity, verified.withLock({ $0[location.keyPath] }) == identity,
               keys.withLock({ $0[location.keyPath] }) != nil {
                return nil
            }
            _ = try loadKey(location, useCache: false)
            verified.withLock { $0[location.keyPath] = identity }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Writes the trust domain's `.registry` marker on first use and refuses a folder whose
    /// marker names another registry: a second deployment sharing the keys directory would
    /// otherwise adopt or (its reconciler) delete this one's keys.
    public func claim(trustDomain: String, registry: String) async throws {
        guard SafeName.isTrustDomain(trustDomain) else {
            throw CoordinationError.invalid("trust domain must be a DNS-like name of lowercase letters, digits, '-', '_' and '.'")
        }
        let folder = "\(directory)/\(trustDomain)"
        let marker = "\(folder)/.registry"
        let owner = try backendCall("claiming \(folder)") { () throws -> String in
            try PrivateDirectory.create(folder)
            _ = try AtomicFile.createExclusive(Array(registry.utf8), at: marker)
            return try AtomicFile.read(marker, limit: 256).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        guard owner == registry else {
            throw CoordinationError.invalid(
                "disk backend: keys directory \(folder) belongs to another registry (\(marker) names \(owner), this "
                    + "deployment's registry is \(registry)); two deployments of one trust domain must not share a keys "
                    + "directory: give each its own keys-dir, or point both at the same store")
        }
        claimed.withLock { $0[trustDomain] = registry }
    }

    /// A key is lost when its file is gone from a folder this instance claimed and still
    /// sees as claimed: then the volume is the shared one, and nobody can sign with it.
    /// Without the marker (an unshared or unmounted volume) the key is only unusable here.
    public func lostReason(ref: String) async -> String? {
        do {
            let location = try locate(ref)
            guard let registry = claimed.withLock({ $0[location.trustDomain] }),
                  let marker = try AtomicFile.read("\(location.folder)/.registry", limit: 256),
                  String(decoding: marker, as: UTF8.self) == registry,
                  try FileIdentity.of(location.keyPath) == nil
            else { return nil }
            return "disk backend: key file \(location.keyPath) was deleted from the shared keys directory"
        } catch {
            return nil
        }
    }

    // MARK: Helpers

    /// Resolves a reference inside this backend's directory, refusing anything else.
    private func locate(_ ref: String) throws -> DiskKeyLocation {
        guard let location = DiskKeyLocation(ref: ref, root: directory) else {
            throw CoordinationError.invalid("\(ref) is not a key of the disk backend in \(directory) (expected \(directory)/<trust-domain>/<key-type>-<id>.pem)")
        }
        return location
    }

    /// The key `ref` names, refused unless it is a `keyType` key. A cached key answers
    /// without parsing the reference again: the cache holds only keys of references
    /// `locate` accepted, under that very reference (`keyPath` spells it back exactly), and
    /// a key's algorithm is its key type's (`loadKey` checks that against the name).
    private func signingKey(_ ref: String, keyType: KeyType) throws -> PrivateKey {
        if let cached = keys.withLock({ $0[ref] }) {
            guard cached.algorithm == keyType.algorithm else {
                throw CoordinationError.invalid("key \(ref) is \(cached.algorithm), not \(keyType.rawValue)")
            }
            return cached
        }
        let location = try locate(ref)
        guard location.keyType == keyType else {
            throw CoordinationError.invalid("key \(ref) is \(location.keyType.rawValue), not \(keyType.rawValue)")
        }
        return try loadKey(location, useCache: true)
    }

    /// The parsed private key; with `useCache` false the file is read again (and the cache
    /// refreshed), which is how `checkUsable` notices a file that vanished.
    private func loadKey(_ location: DiskKeyLocation, useCache: Bool) throws -> PrivateKey {
        if useCache, let cached = keys.withLock({ $0[location.keyPath] }) { return cached }
        let path = location.keyPath
        let pem: [UInt8]
        do {
            guard let bytes = try AtomicFile.read(path, limit: 64 << 10) else {
                keys.withLock { $0[path] = nil }
                throw CoordinationError.backendFailure(
                    "disk backend: key file \(path) does not exist on this instance; every keycoord instance and SPIRE server must mount the same keys directory (\(directory)) from a shared volume")
            }
            pem = bytes
        } catch let error as CoordinationError {
            throw error
        } catch {
            throw CoordinationError.backendFailure("disk backend: key file \(path) cannot be read on this instance: \(error)")
        }
        let key: PrivateKey
        do {
            key = try PrivateKey(pem: String(decoding: pem, as: UTF8.self))
        } catch {
            throw CoordinationError.backendFailure("disk backend: key file \(path) is not a valid PEM private key: \(error)")
        }
        guard key.algorithm == location.keyType.algorithm else {
            throw CoordinationError.backendFailure("disk backend: key file \(path) holds a \(key.algorithm) key, its name says \(location.keyType.rawValue)")
        }
        keys.withLock { $0[path] = key }
        return key
    }

    private func readMetadata(_ location: DiskKeyLocation) throws -> DiskKeyMetadata? {
        guard let bytes = try AtomicFile.read(location.metadataPath, limit: 64 << 10) else { return nil }
        do {
            return try DiskKeyMetadata.decode(bytes)
        } catch {
            throw CoordinationError.backendFailure("disk backend: metadata file \(location.metadataPath) is corrupt: \(error)")
        }
    }

    private func keyFileStatus(_ location: DiskKeyLocation) throws -> stat {
        var info = stat()
        guard lstat(location.keyPath, &info) == 0 else { throw FileError("stat", path: location.keyPath, code: errno) }
        return info
    }

    /// Runs file operations, reporting failures as `.backendFailure` naming what was attempted.
    private func backendCall<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CoordinationError {
            throw error
        } catch {
            throw CoordinationError.backendFailure("disk backend: \(what) failed: \(error)")
        }
    }
}
