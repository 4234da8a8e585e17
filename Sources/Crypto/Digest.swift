import COpenSSL

/// Hash functions used for key ids, JOSE signatures and SigV4.
public enum HashAlgorithm: Sendable {
    case sha1, sha256, sha384, sha512

    /// The implementation fetched once from the default provider. OpenSSL 3 looks a legacy
    /// `EVP_sha256()` up again on every digest (a locked provider query); a fetched one
    /// skips that. Falls back to the legacy handle if the fetch fails.
    var evp: OpaquePointer {
        switch self {
        case .sha1: return Self.fetchedSHA1
        case .sha256: return Self.fetchedSHA256
        case .sha384: return Self.fetchedSHA384
        case .sha512: return Self.fetchedSHA512
        }
    }

    // nonisolated(unsafe): fetched once, never freed, and EVP_MD objects are immutable and
    // safe to share between threads.
    nonisolated(unsafe) private static let fetchedSHA1 = EVP_MD_fetch(nil, "SHA1", nil) ?? EVP_sha1()!
    nonisolated(unsafe) private static let fetchedSHA256 = EVP_MD_fetch(nil, "SHA256", nil) ?? EVP_sha256()!
    nonisolated(unsafe) private static let fetchedSHA384 = EVP_MD_fetch(nil, "SHA384", nil) ?? EVP_sha384()!
    nonisolated(unsafe) private static let fetchedSHA512 = EVP_MD_fetch(nil, "SHA512", nil) ?? EVP_sha512()!

    /// Output length in bytes.
    public var size: Int {
        switch self {
        case .sha1: return 20
        case .sha256: return 32
        case .sha384: return 48
        case .sha512: return 64
        }
    }
}

/// One-shot message digests.
public enum Digest {
    public static func hash<Bytes: Collection>(_ algorithm: HashAlgorithm, _ data: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var out = [UInt8](repeating: 0, count: algorithm.size)
        var length: UInt32 = 0
        let ok = withContiguousBytes(data) { raw in
            EVP_Digest(raw.baseAddress, raw.count, &out, &length, algorithm.evp, nil)
        }
        precondition(ok == 1 && Int(length) == algorithm.size, "EVP_Digest failed")
        return out
    }

    public static func sha1<B: Collection>(_ data: B) -> [UInt8] where B.Element == UInt8 { hash(.sha1, data) }
    public static func sha256<B: Collection>(_ data: B) -> [UInt8] where B.Element == UInt8 { hash(.sha256, data) }
    public static func sha384<B: Collection>(_ data: B) -> [UInt8] where B.Element == UInt8 { hash(.sha384, data) }
    public static func sha512<B: Collection>(_ data: B) -> [UInt8] where B.Element == UInt8 { hash(.sha512, data) }
}

/// HMAC (RFC 2104), as SigV4 needs it.
public enum HMAC {
    public static func authenticate<K: Collection, D: Collection>(_ algorithm: HashAlgorithm, key: K, data: D) -> [UInt8]
    where K.Element == UInt8, D.Element == UInt8 {
        var out = [UInt8](repeating: 0, count: algorithm.size)
        var length: UInt32 = 0
        let result = withContiguousBytes(key) { k in
            withContiguousBytes(data) { d in
                COpenSSL.HMAC(algorithm.evp, k.baseAddress, Int32(k.count),
                              d.baseAddress?.assumingMemoryBound(to: UInt8.self), d.count, &out, &length)
            }
        }
        precondition(result != nil && Int(length) == algorithm.size, "HMAC failed")
        return out
    }

    public static func sha256<K: Collection, D: Collection>(key: K, data: D) -> [UInt8]
    where K.Element == UInt8, D.Element == UInt8 {
        authenticate(.sha256, key: key, data: data)
    }
}

/// Constant-time comparison, for secrets such as bearer tokens.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    if a.count != b.count { return false }
    if a.isEmpty { return true }
    return a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 } }
}

/// Runs `body` over the bytes of any collection, copying only when it is not contiguous.
@inline(__always)
func withContiguousBytes<B: Collection, R>(_ data: B, _ body: (UnsafeRawBufferPointer) -> R) -> R where B.Element == UInt8 {
    if let r = data.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) { return r }
    return Array(data).withUnsafeBytes(body)
}
