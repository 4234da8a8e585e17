import Foundation

/// The request and response shapes of the KMS operations keycoord calls (JSON protocol
/// 1.1; blobs are base64 strings, timestamps epoch seconds). Only the members keycoord
/// reads are declared; KMS adds others freely.
enum AWSKMSAPI {
    struct Tag: Codable, Equatable {
        var TagKey: String
        var TagValue: String
    }

    struct KeyMetadata: Decodable {
        var KeyId: String
        var Arn: String?
        var CreationDate: Double?
        var Enabled: Bool?
        var KeyState: String?
        var KeySpec: String?
        var KeyUsage: String?
        var DeletionDate: Double?
    }

    struct Empty: Codable {}

    struct CreateKeyRequest: Encodable {
        var KeySpec: String
        var KeyUsage: String
        var Description: String
        var Tags: [Tag]
    }

    struct KeyMetadataResponse: Decodable {
        var KeyMetadata: KeyMetadata
    }

    struct KeyIDRequest: Encodable {
        var KeyId: String
    }

    struct GetPublicKeyResponse: Decodable {
        var KeyId: String?
        var PublicKey: String
        var KeySpec: String?
    }

    struct SignRequest: Encodable {
        var KeyId: String
        var Message: String
        var MessageType: String
        var SigningAlgorithm: String
    }

    struct SignResponse: Decodable {
        var Signature: String
    }

    struct TagResourceRequest: Encodable {
        var KeyId: String
        var Tags: [Tag]
    }

    struct AliasRequest: Encodable {
        var AliasName: String
        var TargetKeyId: String
    }

    struct ListRequest: Encodable {
        var KeyId: String?
        var Limit: Int?
        var Marker: String?
    }

    struct ListKeysResponse: Decodable {
        struct Entry: Decodable {
            var KeyId: String
            var KeyArn: String?
        }
        var Keys: [Entry]?
        var NextMarker: String?
        var Truncated: Bool?
    }

    struct ListResourceTagsResponse: Decodable {
        var Tags: [Tag]?
        var NextMarker: String?
        var Truncated: Bool?
    }

    struct ScheduleKeyDeletionRequest: Encodable {
        var KeyId: String
        var PendingWindowInDays: Int
    }
}
