import Crypto

extension KeyType {
    /// Refuses what no backend can sign for this key type: a digest of the wrong size, an
    /// EC key asked for another hash than its curve's (KMS and Key Vault bind ECDSA keys to
    /// one), PSS for an EC key, or an RSA hash other than SHA-256/384/512.
    public func check(_ scheme: SignatureScheme, digest: [UInt8]) throws {
        guard digest.count == scheme.hash.size else {
            throw CoordinationError.invalid("a \(scheme.hash) digest has \(scheme.hash.size) bytes, got \(digest.count)")
        }
        switch family {
        case .ec:
            guard scheme.pss == nil else { throw CoordinationError.invalid("RSA-PSS needs an RSA key; \(rawValue) is EC") }
            guard scheme.hash == hash else {
                throw CoordinationError.invalid("an \(rawValue) key signs \(hash) digests (\(alg)), not \(scheme.hash)")
            }
        case .rsa:
            guard scheme.hash != .sha1 else { throw CoordinationError.invalid("RSA keys do not sign SHA-1 digests here") }
        }
    }
}
