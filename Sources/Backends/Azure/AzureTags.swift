/// The tags keycoord puts on Key Vault keys. Tag values take any string of up to 256
/// characters, so the trust domain and kid are stored as they are.
enum AzureTags {
    static let trustDomain = "keycoord-trust-domain"
    static let keyType = "keycoord-key-type"
    static let state = "keycoord-state"
    static let kid = "keycoord-kid"

    static let marks = CloudKeyMarks(trustDomainKey: trustDomain, keyTypeKey: keyType, stateKey: state, kidKey: kid,
                                     encodeKid: { $0.utf8.count <= 256 ? $0 : nil })
}
