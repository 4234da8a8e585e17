/// The Cloud KMS REST v1 resources and messages keycoord reads and writes. Only the
/// members keycoord uses are declared; Cloud KMS adds others freely. int64 fields
/// (checksums) travel as decimal strings, bytes as base64.
enum GCPKMSAPI {
    struct KeyRing: Codable {
        var name: String?
        var createTime: String?
    }

    struct VersionTemplate: Codable {
        var algorithm: String
        var protectionLevel: String?
    }

    struct CryptoKey: Codable {
        var name: String?
        var purpose: String?
        var createTime: String?
        var versionTemplate: VersionTemplate?
        var labels: [String: String]?
    }

    struct CryptoKeyVersion: Codable {
        var name: String
        var state: String?
        var algorithm: String?
        var createTime: String?
        var generateTime: String?
    }

    struct ListCryptoKeysResponse: Decodable {
        var cryptoKeys: [CryptoKey]?
        var nextPageToken: String?
    }

    struct PublicKey: Decodable {
        var pem: String
        var pemCrc32c: String?
        var algorithm: String?
        var name: String?
    }

    struct Digest: Encodable {
        var sha256: String?
        var sha384: String?
    }

    struct AsymmetricSignRequest: Encodable {
        var digest: Digest
        var digestCrc32c: String
    }

    struct AsymmetricSignResponse: Decodable {
        var signature: String
        var signatureCrc32c: String?
        var verifiedDigestCrc32c: Bool?
        var name: String?
    }

    struct Empty: Codable {}

    /// Cloud KMS's names of keycoord's key types.
    static func algorithm(_ keyType: String) -> String? {
        switch keyType {
        case "ec-p256": return "EC_SIGN_P256_SHA256"
        case "ec-p384": return "EC_SIGN_P384_SHA384"
        case "rsa-2048": return "RSA_SIGN_PKCS1_2048_SHA256"
        case "rsa-4096": return "RSA_SIGN_PKCS1_4096_SHA256"
        default: return nil
        }
    }
}
