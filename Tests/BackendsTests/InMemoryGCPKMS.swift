import Crypto
import Foundation
import TestSupport
@testable import Backends

/// Cloud KMS in memory, behind the GCP backend's operations protocol: real OpenSSL keys,
/// DER signatures, CRC32C on every payload, google.rpc.Status errors, versions that stay
/// `PENDING_GENERATION` for a number of reads. Faults: lost answers (the operation is
/// performed, then a transport error), error statuses, corrupted answers. It has no retry
/// loop (that is the wire client's), so the backend's own reaction to each is what shows.
final class InMemoryGCPKMS: GCPKMSOperations, @unchecked Sendable {
    private struct Key {
        var resource: GCPKMSAPI.CryptoKey
        var privateKey: PrivateKey
        var state: String
        var pendingReads: Int
    }

    private let lock = NSLock()
    private var rings: Set<String> = []
    private var keys: [String: Key] = [:]
    private var faults: [String: [Fault]] = [:]
    /// How many `getVersion` reads a new version stays PENDING_GENERATION.
    var pendingReads = 2
    private(set) var calls: [String: Int] = [:]

    enum Fault {
        case lose, status(Int, String), corruptSignature, corruptPEM
    }

    func inject(_ operation: String, _ fault: Fault, times: Int = 1) {
        locked { faults[operation, default: []] += Array(repeating: fault, count: times) }
    }

    // MARK: GCPKMSOperations

    func getKeyRing(name: String) async throws -> GCPKMSAPI.KeyRing {
        try perform("getKeyRing") { _ in
            guard rings.contains(name) else { throw Self.error("getKeyRing", 404, "NOT_FOUND", "KeyRing \(name) not found.") }
            return GCPKMSAPI.KeyRing(name: name, createTime: Self.now())
        }
    }

    func createKeyRing(parent: String, id: String) async throws -> GCPKMSAPI.KeyRing {
        try perform("createKeyRing") { _ in
            let name = "\(parent)/keyRings/\(id)"
            guard rings.insert(name).inserted else { throw Self.error("createKeyRing", 409, "ALREADY_EXISTS", "KeyRing \(name) already exists.") }
            return GCPKMSAPI.KeyRing(name: name, createTime: Self.now())
        }
    }

    func createCryptoKey(keyRing: String, id: String, _ key: GCPKMSAPI.CryptoKey) async throws -> GCPKMSAPI.CryptoKey {
        let algorithm = key.versionTemplate?.algorithm ?? ""
        let generated: PrivateKey
        switch algorithm {
        case "EC_SIGN_P256_SHA256": generated = try PrivateKey.generate(.ecP256)
        case "EC_SIGN_P384_SHA384": generated = try PrivateKey.generate(.ecP384)
        case "RSA_SIGN_PKCS1_2048_SHA256": generated = try PrivateKey.generate(.rsa(bits: 2048))
        case "RSA_SIGN_PKCS1_4096_SHA256": generated = try PrivateKey.generate(.rsa(bits: 4096))
        default: throw Self.error("createCryptoKey", 400, "INVALID_ARGUMENT", "unsupported algorithm \(algorithm)")
        }
        return try perform("createCryptoKey") { _ in
            guard rings.contains(keyRing) else { throw Self.error("createCryptoKey", 404, "NOT_FOUND", "KeyRing \(keyRing) not found.") }
            let name = "\(keyRing)/cryptoKeys/\(id)"
            guard keys[name] == nil else { throw Self.error("createCryptoKey", 409, "ALREADY_EXISTS", "CryptoKey \(name) already exists.") }
            var resource = key
            resource.name = name
            resource.createTime = Self.now()
            keys[name] = Key(resource: resource, privateKey: generated, state: "PENDING_GENERATION", pendingReads: pendingReads)
            return resource
        }
    }

    func getCryptoKey(name: String) async throws -> GCPKMSAPI.CryptoKey {
        try perform("getCryptoKey") { _ in try key(name, "getCryptoKey").resource }
    }

    func listCryptoKeys(keyRing: String, filter: String?, pageToken: String?) async throws -> GCPKMSAPI.ListCryptoKeysResponse {
        try perform("listCryptoKeys") { _ in
            // The one filter shape the backend sends: labels.K="V".
            var wanted: (String, String)?
            if let filter, filter.hasPrefix("labels."), let equals = filter.firstIndex(of: "=") {
                let label = String(filter[filter.index(filter.startIndex, offsetBy: 7)..<equals])
                wanted = (label, String(filter[filter.index(after: equals)...]).replacingOccurrences(of: "\"", with: ""))
            }
            let matching = keys.values.map(\.resource).filter { key in
                guard key.name?.hasPrefix(keyRing + "/") == true else { return false }
                guard let (label, value) = wanted else { return true }
                return key.labels?[label] == value
            }.sorted { ($0.name ?? "") < ($1.name ?? "") }
            // Pages of two, so the backend's paging is exercised.
            let start = pageToken.flatMap(Int.init) ?? 0
            let page = Array(matching.dropFirst(start).prefix(2))
            let next = start + page.count < matching.count ? String(start + page.count) : nil
            return GCPKMSAPI.ListCryptoKeysResponse(cryptoKeys: page.isEmpty ? nil : page, nextPageToken: next)
        }
    }

    func updateLabels(cryptoKey: String, labels: [String: String]) async throws -> GCPKMSAPI.CryptoKey {
        try perform("updateCryptoKey") { _ in
            _ = try key(cryptoKey, "updateCryptoKey")
            keys[cryptoKey]?.resource.labels = labels
            return keys[cryptoKey]!.resource
        }
    }

    func getVersion(name: String) async throws -> GCPKMSAPI.CryptoKeyVersion {
        try perform("getCryptoKeyVersion") { _ in
            let keyName = try Self.keyName(name)
            var entry = try key(keyName, "getCryptoKeyVersion")
            if entry.state == "PENDING_GENERATION" {
                entry.pendingReads -= 1
                if entry.pendingReads < 0 { entry.state = "ENABLED" }
                keys[keyName] = entry
            }
            return GCPKMSAPI.CryptoKeyVersion(name: name, state: entry.state, algorithm: entry.resource.versionTemplate?.algorithm,
                                              createTime: entry.resource.createTime)
        }
    }

    func getPublicKey(version: String) async throws -> GCPKMSAPI.PublicKey {
        try perform("getPublicKey") { fault in
            let entry = try enabled(version, "getPublicKey")
            let pem = entry.privateKey.publicKey.pem
            var crc = CRC32C.wire(Array(pem.utf8))
            if case .corruptPEM = fault { crc = String((UInt32(crc) ?? 0) ^ 1) }
            return GCPKMSAPI.PublicKey(pem: pem, pemCrc32c: crc, algorithm: entry.resource.versionTemplate?.algorithm, name: version)
        }
    }

    func asymmetricSign(version: String, _ request: GCPKMSAPI.AsymmetricSignRequest) async throws -> GCPKMSAPI.AsymmetricSignResponse {
        try perform("asymmetricSign") { fault in
            let entry = try enabled(version, "asymmetricSign")
            guard let digest = PEM.decodeBase64(request.digest.sha256 ?? request.digest.sha384 ?? ""),
                  request.digestCrc32c == CRC32C.wire(digest) else {
                throw Self.error("asymmetricSign", 400, "INVALID_ARGUMENT", "digest or digestCrc32c is invalid")
            }
            let hash: HashAlgorithm = request.digest.sha384 != nil ? .sha384 : .sha256
            var signature = try entry.privateKey.sign(digest: digest, hash: hash)
            let crc = CRC32C.wire(signature)
            if case .corruptSignature = fault { signature[signature.count / 2] ^= 1 }
            return GCPKMSAPI.AsymmetricSignResponse(signature: PEM.base64(signature), signatureCrc32c: crc,
                                                    verifiedDigestCrc32c: true, name: version)
        }
    }

    func destroyVersion(name: String) async throws -> GCPKMSAPI.CryptoKeyVersion {
        try perform("destroyCryptoKeyVersion") { _ in
            let keyName = try Self.keyName(name)
            let entry = try key(keyName, "destroyCryptoKeyVersion")
            guard entry.state == "ENABLED" || entry.state == "DISABLED" else {
                throw Self.error("destroyCryptoKeyVersion", 400, "FAILED_PRECONDITION", "\(name) has value \(entry.state) in field crypto_key_version.state.")
            }
            keys[keyName]?.state = "DESTROY_SCHEDULED"
            return GCPKMSAPI.CryptoKeyVersion(name: name, state: "DESTROY_SCHEDULED")
        }
    }

    // MARK: Helpers

    private func key(_ name: String, _ operation: String) throws -> Key {
        guard let entry = keys[name] else { throw Self.error(operation, 404, "NOT_FOUND", "CryptoKey \(name) not found.") }
        return entry
    }

    private func enabled(_ version: String, _ operation: String) throws -> Key {
        let entry = try key(try Self.keyName(version), operation)
        guard entry.state == "ENABLED" else {
            throw Self.error(operation, 400, "FAILED_PRECONDITION", "\(version) has value \(entry.state) in field crypto_key_version.state.")
        }
        return entry
    }

    private static func keyName(_ version: String) throws -> String {
        guard let range = version.range(of: "/cryptoKeyVersions/") else { throw error("get", 404, "NOT_FOUND", "\(version) not found.") }
        return String(version[..<range.lowerBound])
    }

    private static func error(_ operation: String, _ status: Int, _ code: String, _ message: String) -> GCPServiceError {
        GCPServiceError(operation: operation, httpStatus: status, status: code, message: message, retryAfter: nil)
    }

    private static func now() -> String {
        let seconds = Int(Date().timeIntervalSince1970)
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.123456789Z", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    private func takeFault(_ operation: String) -> Fault? {
        locked {
            guard var queue = faults[operation], !queue.isEmpty else { return nil }
            let fault = queue.removeFirst()
            faults[operation] = queue
            return fault
        }
    }

    /// Counts the call, applies a status fault before and a lost answer after the operation.
    private func perform<T>(_ operation: String, _ body: (Fault?) throws -> T) throws -> T {
        let fault = takeFault(operation)
        return try locked {
            calls[operation, default: 0] += 1
            if case .status(let status, let code) = fault {
                throw Self.error(operation, status, code, "injected \(code)")
            }
            let result = try body(fault)
            if case .lose = fault { throw HTTPClientError.transport(url: "memory", reason: "connection reset after the operation") }
            return result
        }
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
