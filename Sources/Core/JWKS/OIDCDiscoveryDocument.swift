import JSON
/// The OpenID Connect discovery document (`/.well-known/openid-configuration`) as SPIRE's
/// oidc-discovery-provider serves it, so keycoord can stand in for that provider.
public enum OIDCDiscoveryDocument {
    /// Renders the document. `keyTypes` are the key types in the JWKS (and those
    /// configured for rotation); their JOSE algorithms are listed once each, in
    /// `KeyType` order. With no key type at all, `ES256` (SPIRE's default) is listed.
    public static func render(issuer: String, jwksURI: String, keyTypes: [KeyType]) -> [UInt8] {
        var algs: [String] = []
        for type in Set(keyTypes).sorted() where !algs.contains(type.alg) {
            algs.append(type.alg)
        }
        if algs.isEmpty { algs = [KeyType.ecP256.alg] }
        let body = JSONText.object([
            ("issuer", JSONText.quoted(issuer)),
            ("jwks_uri", JSONText.quoted(jwksURI)),
            ("response_types_supported", JSONText.stringArray(["id_token"])),
            ("subject_types_supported", JSONText.stringArray(["public"])),
            ("id_token_signing_alg_values_supported", JSONText.stringArray(algs)),
        ])
        return Array(body.utf8)
    }
}
