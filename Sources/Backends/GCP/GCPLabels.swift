import Crypto

/// The labels keycoord puts on Cloud KMS crypto keys, and how values are encoded to fit
/// label rules (keys and values of lowercase letters, digits, `_` and `-`, at most 63
/// characters): a trust domain has dots, so its label is a hash (see docs/gcp.md). Keys
/// use `_`, not `-`: list filters (AIP-160) take `labels.keycoord_td=…` as one field path.
enum GCPLabels {
    static let trustDomain = "keycoord_td"
    /// The trust domain with dots as `_`, for people reading the console; never matched on.
    static let trustDomainName = "keycoord_td_name"
    static let keyType = "keycoord_key_type"
    static let state = "keycoord_state"
    static let kid = "keycoord_kid"

    /// The first 32 hex digits (128 bits) of SHA-256 over the trust domain.
    static func encodeTrustDomain(_ trustDomain: String) -> String {
        String(Hex.encode(Digest.sha256(Array(trustDomain.utf8))).prefix(32))
    }

    static func readableTrustDomain(_ trustDomain: String) -> String {
        String(trustDomain.replacingOccurrences(of: ".", with: "_").prefix(63))
    }

    /// The kid as a label value when it is one already (SPIRE's kid: 40 lowercase hex
    /// digits); nil otherwise (RFC 7638 thumbprints have capitals): the registry has it.
    static func encodeKid(_ kid: String) -> String? {
        isValue(kid) && !kid.isEmpty ? kid : nil
    }

    static func isValue(_ value: String) -> Bool {
        value.utf8.count <= 63 && value.utf8.allSatisfy {
            (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    static let marks = CloudKeyMarks(trustDomainKey: trustDomain, keyTypeKey: keyType, stateKey: state, kidKey: kid,
                                     encodeTrustDomain: encodeTrustDomain, encodeKid: encodeKid)
}
