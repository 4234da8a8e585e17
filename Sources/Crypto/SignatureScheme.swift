/// How a digest is signed: the hash it was made with and, for RSA keys, the padding.
/// ECDSA keys ignore the padding; an RSA key signs PKCS #1 v1.5 unless PSS is asked for.
public struct SignatureScheme: Sendable, Equatable, CustomStringConvertible {
    /// PSS salt lengths, as Go's crypto/rsa names them (SPIRE passes Go's values through).
    public enum SaltLength: Sendable, Equatable {
        /// As long as the key allows (Go's `PSSSaltLengthAuto`, 0): what Go signs with.
        case maximum
        /// The digest's length (Go's `PSSSaltLengthEqualsHash`, -1; JOSE PS256/384/512, KMS).
        case digestLength
        /// Exactly this many bytes.
        case bytes(Int)

        /// Go's encoding: 0 auto, -1 equals hash, a positive count; nil for anything else.
        public init?(goValue: Int) {
            switch goValue {
            case 0: self = .maximum
            case -1: self = .digestLength
            case 1...: self = .bytes(goValue)
            default: return nil
            }
        }

        /// Whether a signature with this salt is what a signer with a fixed digest-length
        /// salt (KMS, Key Vault) produces and a verifier holding `self` accepts. Go's
        /// verifier with `PSSSaltLengthAuto` accepts any salt length.
        public func admitsDigestLength(_ hash: HashAlgorithm) -> Bool {
            switch self {
            case .maximum, .digestLength: return true
            case .bytes(let count): return count == hash.size
            }
        }
    }

    public let hash: HashAlgorithm
    /// nil: PKCS #1 v1.5 for RSA keys.
    public let pss: SaltLength?

    public init(hash: HashAlgorithm, pss: SaltLength? = nil) {
        self.hash = hash
        self.pss = pss
    }

    public static func pkcs1(_ hash: HashAlgorithm) -> SignatureScheme { SignatureScheme(hash: hash) }

    public var description: String {
        guard let pss else { return "\(hash)" }
        return "RSA-PSS \(hash) salt \(pss)"
    }
}
