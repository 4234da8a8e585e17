/// The Key Vault keys REST resources keycoord reads and writes (api-version 7.4). Only
/// the members keycoord uses are declared. Bytes travel as base64url without padding,
/// times as Unix seconds.
enum AzureKeyVaultAPI {
    static let apiVersion = "7.4"

    struct Attributes: Codable {
        var enabled: Bool?
        var created: Double?
        var updated: Double?
        var exp: Double?
        var nbf: Double?
        var recoveryLevel: String?
    }

    struct JWK: Codable {
        var kid: String?
        var kty: String?
        var key_ops: [String]?
        var crv: String?
        var x: String?
        var y: String?
        var n: String?
        var e: String?
    }

    struct CreateKeyRequest: Encodable {
        var kty: String
        var crv: String?
        var key_size: Int?
        var key_ops: [String]
        var attributes: Attributes
        var tags: [String: String]
    }

    struct KeyBundle: Decodable {
        var key: JWK
        var attributes: Attributes?
        var tags: [String: String]?
    }

    struct UpdateKeyRequest: Encodable {
        var tags: [String: String]
    }

    /// A key in `GET /keys`: its kid has no version.
    struct KeyItem: Decodable {
        var kid: String
        var attributes: Attributes?
        var tags: [String: String]?
    }

    struct KeyListResult: Decodable {
        var value: [KeyItem]?
        var nextLink: String?
    }

    struct SignRequest: Encodable {
        var alg: String
        var value: String
    }

    struct SignResult: Decodable {
        var kid: String?
        var value: String
    }

    struct Empty: Codable {}

    struct DeletedKeyBundle: Decodable {
        var recoveryId: String?
        var attributes: Attributes?
    }

    /// Key Vault's key type, curve or size, and JWS algorithm of keycoord's key types.
    static func shape(_ keyType: String) -> (kty: String, crv: String?, size: Int?, alg: String)? {
        switch keyType {
        case "ec-p256": return ("EC", "P-256", nil, "ES256")
        case "ec-p384": return ("EC", "P-384", nil, "ES384")
        case "rsa-2048": return ("RSA", nil, 2048, "RS256")
        case "rsa-4096": return ("RSA", nil, 4096, "RS256")
        default: return nil
        }
    }
}
