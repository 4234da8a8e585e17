import Core
import Crypto
import Foundation
import Logging

/// Shared JWT keys held in AWS KMS: every SPIRE server signs through KMS with the same
/// key, so no private key ever leaves AWS.
///
/// Keys are created with their trust-domain, key-type and `pending` state tags in the
/// same `CreateKey` call, so a key whose creation is retried, or whose creator crashed,
/// is always visible to the reconciler (through `list`) and deleted after its grace
/// period. Publishing retags the key and points the alias from `aliasTemplate` at it.
public final class AWSKMSBackend: KeyBackend {
    public let name = "aws-kms"
    public let region: String
    public let endpoint: URL
    let config: AWSKMSConfig
    let client: AWSKMSClient
    let logger: Logger

    /// Reads region, endpoint and credentials from `config`, then `environment`, in the
    /// AWS SDK order. Throws `CoordinationError.invalid` for unusable settings; no
    /// network call is made here (credentials are resolved at the first request).
    public init(config: AWSKMSConfig, environment: [String: String] = ProcessInfo.processInfo.environment,
                logger: Logger = Logger(label: "keycoord.backend.aws-kms")) throws {
        guard (7...30).contains(config.deletionWindowDays) else {
            throw CoordinationError.invalid("AWS KMS deletion window must be 7 to 30 days, not \(config.deletionWindowDays)")
        }
        try Self.validateAliasTemplate(config.aliasTemplate)
        for key in [config.trustDomainTagKey, config.keyTypeTagKey, config.pendingTagKey, config.kidTagKey] {
            guard !key.isEmpty, key.utf8.count <= 128, !key.lowercased().hasPrefix("aws:") else {
                throw CoordinationError.invalid("AWS KMS tag key \"\(key)\" must be 1–128 characters and not start with aws:")
            }
        }
        do {
            let profile = try AWSSharedConfig(profile: config.profile, environment: environment)
            if profile.profileExplicit, !profile.found, config.credentials == nil {
                throw AWSError("AWS profile \(profile.profileName) is not defined in the shared credentials or config file")
            }
            guard let region = AWSEndpoints.region(configured: config.region, environment: environment, profile: profile) else {
                throw AWSError("no AWS region: set --aws-region, AWS_REGION or AWS_DEFAULT_REGION, or region in the profile")
            }
            guard AWSEndpoints.isValidRegion(region) else { throw AWSError("invalid AWS region \"\(region)\"") }
            let endpoint = try AWSEndpoints.kms(configured: config.endpoint, environment: environment, region: region)
            let http = HTTPClient(defaultTimeout: config.requestTimeout)
            let chain = try AWSCredentialChain.standard(explicit: config.credentials, profile: profile, region: region,
                                                        environment: environment, http: http)
            let retry = RetryPolicy(maxAttempts: config.maxAttempts, baseDelay: config.retryBaseDelay,
                                    maxDelay: config.retryMaxDelay, deadline: config.callDeadline,
                                    attemptTimeout: config.requestTimeout)
            self.region = region
            self.endpoint = endpoint
            self.client = AWSKMSClient(endpoint: endpoint, region: region, credentials: chain, http: http, retry: retry,
                                       logger: logger)
        } catch let error as AWSError {
            throw CoordinationError.invalid("AWS KMS backend: \(error.message)")
        }
        self.config = config
        self.logger = logger
    }

    // MARK: KeyBackend

    public func create(keyType: KeyType, trustDomain: String) async throws -> BackendKey {
        guard !trustDomain.isEmpty, trustDomain.utf8.count <= 255 else {
            throw CoordinationError.invalid("trust domain must be 1–255 characters")
        }
        let request = AWSKMSAPI.CreateKeyRequest(
            KeySpec: Self.keySpec(keyType), KeyUsage: "SIGN_VERIFY",
            Description: "keycoord shared JWT signing key (\(keyType.rawValue)) for trust domain \(trustDomain)",
            Tags: [
                .init(TagKey: config.trustDomainTagKey, TagValue: trustDomain),
                .init(TagKey: config.keyTypeTagKey, TagValue: keyType.rawValue),
                .init(TagKey: config.pendingTagKey, TagValue: BackendKeyMark.pending.rawValue),
            ])
        let created = try await perform("CreateKey") {
            try await client.call("CreateKey", request, as: AWSKMSAPI.KeyMetadataResponse.self).KeyMetadata
        }
        let ref = created.Arn ?? created.KeyId
        let der = try await publicKey(ref: ref)
        let parsed: PublicKey
        do {
            parsed = try PublicKey(der: der)
        } catch {
            throw CoordinationError.backendFailure("AWS KMS returned an unreadable public key for \(ref): \(error)")
        }
        guard KeyType(parsed.algorithm) == keyType else {
            throw CoordinationError.backendFailure(
                "AWS KMS key \(ref) is \(parsed.algorithm), not the \(keyType.rawValue) that was asked for")
        }
        let createdAt = created.CreationDate.map { Date(timeIntervalSince1970: $0) } ?? Date()
        logger.info("created KMS key", metadata: ["ref": "\(ref)", "key_type": "\(keyType.rawValue)",
                                                   "trust_domain": "\(trustDomain)"])
        return BackendKey(ref: ref, publicKey: parsed.der, createdAt: createdAt)
    }

    public func markPublished(ref: String, kid: String) async throws {
        try Self.checkRef(ref)
        guard !kid.isEmpty, kid.utf8.count <= 256 else { throw CoordinationError.invalid("kid must be 1–256 characters") }
        let tags = try await perform("ListResourceTags") { try await self.tags(of: ref) }
        guard let trustDomain = tags[config.trustDomainTagKey], let keyType = tags[config.keyTypeTagKey].flatMap(KeyType.init)
        else {
            throw CoordinationError.backendFailure(
                "AWS KMS key \(ref) lacks the \(config.trustDomainTagKey)/\(config.keyTypeTagKey) tags: keycoord did not create it")
        }
        let tagRequest = AWSKMSAPI.TagResourceRequest(KeyId: ref, Tags: [
            .init(TagKey: config.pendingTagKey, TagValue: BackendKeyMark.published.rawValue),
            .init(TagKey: config.kidTagKey, TagValue: kid),
        ])
        try await perform("TagResource") { _ = try await client.call("TagResource", tagRequest, as: AWSKMSAPI.Empty.self) }
        let alias = try aliasName(trustDomain: trustDomain, keyType: keyType)
        let aliasRequest = AWSKMSAPI.AliasRequest(AliasName: alias, TargetKeyId: ref)
        try await perform("CreateAlias") {
            do {
                _ = try await client.call("CreateAlias", aliasRequest, as: AWSKMSAPI.Empty.self)
            } catch let error as AWSServiceError where error.code == "AlreadyExistsException" {
                _ = try await client.call("UpdateAlias", aliasRequest, as: AWSKMSAPI.Empty.self)
            }
        }
    }

    public func sign(ref: String, keyType: KeyType, digest: [UInt8]) async throws -> [UInt8] {
        try Self.checkRef(ref)
        if config.signMessageType == .digest, digest.count != keyType.hash.size {
            throw CoordinationError.invalid("a \(keyType.alg) digest is \(keyType.hash.size) bytes, not \(digest.count)")
        }
        guard !digest.isEmpty, digest.count <= 4096 else {
            throw CoordinationError.invalid("KMS signs messages of 1–4096 bytes")
        }
        let request = AWSKMSAPI.SignRequest(KeyId: ref, Message: PEM.base64(digest),
                                            MessageType: config.signMessageType.rawValue,
                                            SigningAlgorithm: Self.signingAlgorithm(keyType))
        let response = try await perform("Sign") { try await client.call("Sign", request, as: AWSKMSAPI.SignResponse.self) }
        guard let signature = PEM.decodeBase64(response.Signature), !signature.isEmpty else {
            throw CoordinationError.backendFailure("AWS KMS Sign returned a signature that is not base64")
        }
        switch keyType.algorithm {
        case .rsa(let bits):
            guard signature.count == bits / 8 else {
                throw CoordinationError.backendFailure(
                    "AWS KMS Sign returned \(signature.count) bytes for an RSA-\(bits) key (key \(ref) is not \(keyType.rawValue)?)")
            }
            return signature
        default:
            guard let size = keyType.algorithm.coordinateSize else {
                throw CoordinationError.backendFailure("no coordinate size for \(keyType.rawValue)")
            }
            do {
                return try ECDSASignature.raw(fromDER: signature, coordinateSize: size)
            } catch {
                throw CoordinationError.backendFailure(
                    "AWS KMS Sign returned no \(keyType.alg) DER signature for key \(ref) (is it \(keyType.rawValue)?): \(error)")
            }
        }
    }

    public func publicKey(ref: String) async throws -> [UInt8] {
        try Self.checkRef(ref)
        let response = try await perform("GetPublicKey") {
            try await client.call("GetPublicKey", AWSKMSAPI.KeyIDRequest(KeyId: ref), as: AWSKMSAPI.GetPublicKeyResponse.self)
        }
        guard let der = PEM.decodeBase64(response.PublicKey), !der.isEmpty else {
            throw CoordinationError.backendFailure("AWS KMS GetPublicKey returned a public key that is not base64 for \(ref)")
        }
        return der
    }

    public func list(trustDomain: String) async throws -> [BackendKeyInfo] {
        var keys: [AWSKMSAPI.ListKeysResponse.Entry] = []
        var marker: String?
        repeat {
            let page = try await perform("ListKeys") {
                try await client.call("ListKeys", AWSKMSAPI.ListRequest(Limit: 1000, Marker: marker),
                                      as: AWSKMSAPI.ListKeysResponse.self)
            }
            keys += page.Keys ?? []
            marker = page.Truncated == true ? page.NextMarker : nil
        } while marker != nil

        var found: [BackendKeyInfo] = []
        // A few keys at a time: fast on accounts with many keys, gentle on KMS request quotas.
        for batch in stride(from: 0, to: keys.count, by: 8).map({ Array(keys[$0..<min($0 + 8, keys.count)]) }) {
            try await withThrowingTaskGroup(of: BackendKeyInfo?.self) { group in
                for entry in batch {
                    group.addTask { try await self.inspect(entry, trustDomain: trustDomain) }
                }
                for try await info in group { if let info { found.append(info) } }
            }
        }
        return found.sorted { ($0.createdAt, $0.ref) < ($1.createdAt, $1.ref) }
    }

    public func destroy(ref: String) async throws {
        try Self.checkRef(ref)
        // ScheduleKeyDeletion only works in the key's own account, where the bare key id
        // and the ARN are equivalent; the id also sidesteps moto, which fails on an ARN here.
        let request = AWSKMSAPI.ScheduleKeyDeletionRequest(KeyId: Self.keyID(ref), PendingWindowInDays: config.deletionWindowDays)
        try await perform("ScheduleKeyDeletion") {
            do {
                _ = try await client.call("ScheduleKeyDeletion", request, as: AWSKMSAPI.Empty.self)
            } catch let error as AWSServiceError where error.code == "NotFoundException" {
                return
            } catch let error as AWSServiceError where error.code == "KMSInvalidStateException" {
                // Already scheduled is success; any other state (e.g. an imported key) is not.
                let state = try? await describe(ref).KeyState
                guard state == "PendingDeletion" || state == "PendingReplicaDeletion" else { throw error }
            }
        }
    }

    public func checkUsable(ref: String) async -> String? {
        do {
            try Self.checkRef(ref)
            let metadata = try await perform("DescribeKey") { try await describe(ref) }
            guard metadata.KeyState == "Enabled", metadata.Enabled != false else {
                return "AWS KMS key \(ref) is \(metadata.KeyState ?? "not enabled"), so it cannot sign"
            }
            guard metadata.KeyUsage == nil || metadata.KeyUsage == "SIGN_VERIFY" else {
                return "AWS KMS key \(ref) has key usage \(metadata.KeyUsage ?? "?"), not SIGN_VERIFY"
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    // MARK: Helpers

    /// The alias name for a trust domain and key type, from `aliasTemplate`.
    public func aliasName(trustDomain: String, keyType: KeyType) throws -> String {
        let name = config.aliasTemplate
            .replacingOccurrences(of: "{trust_domain}", with: trustDomain.replacingOccurrences(of: ".", with: "_"))
            .replacingOccurrences(of: "{key_type}", with: keyType.rawValue)
        guard Self.isValidAlias(name) else {
            throw CoordinationError.invalid(
                "KMS alias \"\(name)\" is invalid: aliases are alias/ followed by letters, digits, /, _ and - (at most 256)")
        }
        return name
    }

    static func validateAliasTemplate(_ template: String) throws {
        let sample = template.replacingOccurrences(of: "{trust_domain}", with: "example_org")
            .replacingOccurrences(of: "{key_type}", with: "ec-p256")
        guard isValidAlias(sample) else {
            throw CoordinationError.invalid("AWS KMS alias template \"\(template)\" must start with alias/ (not alias/aws/) "
                + "and use only letters, digits, /, _, - and the placeholders {trust_domain} and {key_type}")
        }
    }

    static func isValidAlias(_ name: String) -> Bool {
        guard name.hasPrefix("alias/"), !name.hasPrefix("alias/aws/"), name.utf8.count > 6, name.utf8.count <= 256 else {
            return false
        }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "/_-".unicodeScalars.contains($0)
        }
    }

    static func checkRef(_ ref: String) throws {
        guard !ref.isEmpty, ref.utf8.count <= 2048, !ref.contains(where: { $0.isWhitespace }) else {
            throw CoordinationError.invalid("AWS KMS key reference \"\(ref)\" is not a key ARN or id")
        }
    }

    /// `arn:aws:kms:region:account:key/ID` → `ID`; anything else unchanged.
    static func keyID(_ ref: String) -> String {
        guard ref.hasPrefix("arn:"), let range = ref.range(of: ":key/") else { return ref }
        return String(ref[range.upperBound...])
    }

    static func keySpec(_ keyType: KeyType) -> String {
        switch keyType {
        case .ecP256: return "ECC_NIST_P256"
        case .ecP384: return "ECC_NIST_P384"
        case .rsa2048: return "RSA_2048"
        case .rsa4096: return "RSA_4096"
        }
    }

    static func signingAlgorithm(_ keyType: KeyType) -> String {
        switch keyType {
        case .ecP256: return "ECDSA_SHA_256"
        case .ecP384: return "ECDSA_SHA_384"
        case .rsa2048, .rsa4096: return "RSASSA_PKCS1_V1_5_SHA_256"
        }
    }

    private func describe(_ ref: String) async throws -> AWSKMSAPI.KeyMetadata {
        try await client.call("DescribeKey", AWSKMSAPI.KeyIDRequest(KeyId: ref), as: AWSKMSAPI.KeyMetadataResponse.self)
            .KeyMetadata
    }

    private func tags(of ref: String) async throws -> [String: String] {
        var tags: [String: String] = [:]
        var marker: String?
        repeat {
            let page = try await client.call("ListResourceTags", AWSKMSAPI.ListRequest(KeyId: ref, Limit: 50, Marker: marker),
                                             as: AWSKMSAPI.ListResourceTagsResponse.self)
            for tag in page.Tags ?? [] { tags[tag.TagKey] = tag.TagValue }
            marker = page.Truncated == true ? page.NextMarker : nil
        } while marker != nil
        return tags
    }

    /// The key as the reconciler sees it, or nil when it is not a live key of `trustDomain`.
    private func inspect(_ entry: AWSKMSAPI.ListKeysResponse.Entry, trustDomain: String) async throws -> BackendKeyInfo? {
        do {
            let tags = try await tags(of: entry.KeyId)
            guard tags[config.trustDomainTagKey] == trustDomain else { return nil }
            let metadata = try await describe(entry.KeyId)
            if metadata.KeyState == "PendingDeletion" || metadata.KeyState == "PendingReplicaDeletion" { return nil }
            return BackendKeyInfo(
                ref: entry.KeyArn ?? metadata.Arn ?? entry.KeyId,
                keyType: tags[config.keyTypeTagKey].flatMap(KeyType.init(rawValue:)),
                mark: tags[config.pendingTagKey] == BackendKeyMark.published.rawValue ? .published : .pending,
                kid: tags[config.kidTagKey],
                createdAt: metadata.CreationDate.map { Date(timeIntervalSince1970: $0) } ?? Date(timeIntervalSince1970: 0))
        } catch let error as AWSServiceError where error.code == "NotFoundException" {
            return nil
        } catch let error as AWSServiceError where error.code == "AccessDeniedException" {
            // Policies scoped by tag deny foreign keys; keycoord's own keys carry the tags.
            logger.debug("skipping KMS key this identity may not read", metadata: ["key": "\(entry.KeyId)"])
            return nil
        } catch {
            throw Self.failure("ListResourceTags/DescribeKey", error)
        }
    }

    /// Runs one backend step, turning every failure into `CoordinationError.backendFailure`.
    private func perform<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as CoordinationError {
            throw error
        } catch {
            throw Self.failure(operation, error)
        }
    }

    /// A message an operator can act on, by KMS error code.
    static func failure(_ operation: String, _ error: Error) -> CoordinationError {
        switch error {
        case let error as CoordinationError:
            return error
        case let exhausted as RetryExhaustedError:
            let inner = failure(operation, exhausted.last)
            return .backendFailure("\(inner) (gave up after \(exhausted.attempts) attempts in "
                + "\(String(format: "%.1f", exhausted.elapsed))s)")
        case let error as AWSServiceError:
            let detail = "\(error.code): \(error.message)"
            switch error.code {
            case "AccessDeniedException":
                return .backendFailure("AWS KMS denied kms:\(error.operation); grant it to keycoord's IAM identity "
                    + "(see docs/aws.md): \(error.message)")
            case _ where error.isAuthenticationFailure:
                return .backendFailure("AWS rejected keycoord's credentials for KMS \(error.operation) "
                    + "(wrong or expired keys, or a clock off by more than 5 minutes): \(detail)")
            case "NotFoundException":
                return .backendFailure("AWS KMS \(error.operation): key or alias not found: \(error.message)")
            case "DisabledException", "KMSInvalidStateException":
                return .backendFailure("AWS KMS \(error.operation): the key is disabled or pending deletion: \(error.message)")
            case "LimitExceededException":
                return .backendFailure("AWS KMS \(error.operation): an account quota (keys or aliases) is reached; "
                    + "delete unused keys or raise the quota: \(error.message)")
            case "InvalidKeyUsageException", "UnsupportedOperationException":
                return .backendFailure("AWS KMS \(error.operation): the key cannot be used this way: \(error.message)")
            case _ where error.isThrottling:
                return .backendFailure("AWS KMS \(error.operation) is throttled (request quota exceeded): \(detail)")
            default:
                return .backendFailure("AWS KMS \(error.operation) failed (HTTP \(error.status)): \(detail)")
            }
        default:
            return .backendFailure("AWS KMS \(operation) failed: \(error)")
        }
    }
}
