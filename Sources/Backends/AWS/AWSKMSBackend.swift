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
public final class AWSKMSBackend: KeyBackend, CloudFailureMapping {
    public let name = "aws-kms"
    public let region: String
    public let endpoint: URL
    let config: AWSKMSConfig
    let client: any AWSKMSOperations
    let logger: Logger
    let marks: CloudKeyMarks
    let usable: CloudUsabilityCache

    /// Reads region, endpoint and credentials from `config`, then `environment`, in the
    /// AWS SDK order. Throws `CoordinationError.invalid` for unusable settings; no
    /// network call is made here (credentials are resolved at the first request).
    public convenience init(config: AWSKMSConfig, environment: [String: String] = ProcessInfo.processInfo.environment,
                            logger: Logger = Logger(label: "keycoord.backend.aws-kms")) throws {
        try Self.validate(config)
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
                                                        environment: environment, http: http, logger: logger)
            let retry = RetryPolicy(maxAttempts: config.maxAttempts, baseDelay: config.retryBaseDelay,
                                    maxDelay: config.retryMaxDelay, deadline: config.callDeadline,
                                    attemptTimeout: config.requestTimeout)
            let client = AWSKMSClient(endpoint: endpoint, region: region, credentials: chain, http: http, retry: retry,
                                      logger: logger)
            try self.init(config: config, client: client, region: region, endpoint: endpoint, logger: logger)
        } catch let error as AWSError {
            throw CoordinationError.invalid("AWS KMS backend: \(error.message)")
        }
    }

    /// A backend over any implementation of the KMS operations (the tests' in-memory KMS).
    init(config: AWSKMSConfig, client: any AWSKMSOperations, region: String, endpoint: URL,
         logger: Logger = Logger(label: "keycoord.backend.aws-kms")) throws {
        try Self.validate(config)
        self.config = config
        self.client = client
        self.region = region
        self.endpoint = endpoint
        self.logger = logger
        self.marks = CloudKeyMarks(trustDomainKey: config.trustDomainTagKey, keyTypeKey: config.keyTypeTagKey,
                                   stateKey: config.pendingTagKey, kidKey: config.kidTagKey)
        self.usable = CloudUsabilityCache(ttl: config.usableCacheSeconds)
    }

    static func validate(_ config: AWSKMSConfig) throws {
        guard (7...30).contains(config.deletionWindowDays) else {
            throw CoordinationError.invalid("AWS KMS deletion window must be 7 to 30 days, not \(config.deletionWindowDays)")
        }
        try validateAliasTemplate(config.aliasTemplate)
        for key in [config.trustDomainTagKey, config.keyTypeTagKey, config.pendingTagKey, config.kidTagKey] {
            guard !key.isEmpty, key.utf8.count <= 128, !key.lowercased().hasPrefix("aws:") else {
                throw CoordinationError.invalid("AWS KMS tag key \"\(key)\" must be 1–128 characters and not start with aws:")
            }
        }
    }

    // MARK: KeyBackend

    public func create(keyType: KeyType, trustDomain: String) async throws -> BackendKey {
        guard !trustDomain.isEmpty, trustDomain.utf8.count <= 255 else {
            throw CoordinationError.invalid("trust domain must be 1–255 characters")
        }
        let request = AWSKMSAPI.CreateKeyRequest(
            KeySpec: Self.keySpec(keyType), KeyUsage: "SIGN_VERIFY",
            Description: "keycoord shared JWT signing key (\(keyType.rawValue)) for trust domain \(trustDomain)",
            Tags: marks.pending(trustDomain: trustDomain, keyType: keyType).sorted { $0.key < $1.key }
                .map { AWSKMSAPI.Tag(TagKey: $0.key, TagValue: $0.value) })
        let created = try await perform("CreateKey", permission: "kms:CreateKey") { try await client.createKey(request) }
        let ref = created.Arn ?? created.KeyId
        let der = try await publicKey(ref: ref)
        let parsed = try CloudKeyListing.mintedPublicKey(der, ref: ref, keyType: keyType, service: "AWS KMS")
        let createdAt = created.CreationDate.map { Date(timeIntervalSince1970: $0) } ?? Date()
        logger.info("created KMS key", metadata: ["ref": "\(ref)", "key_type": "\(keyType.rawValue)",
                                                   "trust_domain": "\(trustDomain)"])
        return BackendKey(ref: ref, publicKey: parsed.der, createdAt: createdAt)
    }

    public func markPublished(ref: String, kid: String) async throws {
        try Self.checkRef(ref)
        guard !kid.isEmpty, kid.utf8.count <= 256 else { throw CoordinationError.invalid("kid must be 1–256 characters") }
        let tags = try await perform("ListResourceTags", permission: "kms:ListResourceTags") { try await self.tags(of: ref) }
        guard let trustDomain = tags[config.trustDomainTagKey], let keyType = tags[config.keyTypeTagKey].flatMap(KeyType.init)
        else {
            throw CoordinationError.backendFailure(BackendError(
                .invalid, "AWS KMS key \(ref) lacks the \(config.trustDomainTagKey)/\(config.keyTypeTagKey) tags: keycoord did not create it"))
        }
        let published = marks.published(kid: kid).sorted { $0.key < $1.key }.map { AWSKMSAPI.Tag(TagKey: $0.key, TagValue: $0.value) }
        try await perform("TagResource", permission: "kms:TagResource") { try await client.tagResource(keyID: ref, tags: published) }
        let alias = try aliasName(trustDomain: trustDomain, keyType: keyType)
        try await perform("CreateAlias", permission: "kms:CreateAlias") {
            do {
                try await client.createAlias(name: alias, targetKeyID: ref)
            } catch let error as AWSServiceError where error.code == "AlreadyExistsException" {
                try await client.updateAlias(name: alias, targetKeyID: ref)
            }
        }
    }

    /// Signs with `MessageType` `DIGEST`: KMS signs the digest as given (prehashed), so the
    /// signing input never leaves keycoord and any length of it can be signed.
    public func sign(ref: String, keyType: KeyType, digest: [UInt8], scheme: SignatureScheme,
                     encoding: SignatureEncoding) async throws -> [UInt8] {
        try Self.checkRef(ref)
        try keyType.check(scheme, digest: digest)
        let request = AWSKMSAPI.SignRequest(KeyId: ref, Message: PEM.base64(digest), MessageType: "DIGEST",
                                            SigningAlgorithm: try Self.signingAlgorithm(keyType, scheme))
        let response = try await perform("Sign", permission: "kms:Sign") { try await client.sign(request) }
        guard let signature = PEM.decodeBase64(response.Signature), !signature.isEmpty else {
            throw CoordinationError.backendFailure(BackendError(.failed, "AWS KMS Sign returned a signature that is not base64"))
        }
        let converted = try BackendSignature.convert(signature, from: .der, to: encoding, keyType: keyType, source: "AWS KMS Sign with key \(ref)")
        usable.markUsable(ref)
        return converted
    }

    public func publicKey(ref: String) async throws -> [UInt8] {
        try Self.checkRef(ref)
        let response = try await perform("GetPublicKey", permission: "kms:GetPublicKey") { try await client.getPublicKey(keyID: ref) }
        guard let der = PEM.decodeBase64(response.PublicKey), !der.isEmpty else {
            throw CoordinationError.backendFailure(BackendError(.failed, "AWS KMS GetPublicKey returned a public key that is not base64 for \(ref)"))
        }
        return der
    }

    public func list(trustDomain: String) async throws -> [BackendKeyInfo] {
        var keys: [AWSKMSAPI.ListKeysResponse.Entry] = []
        var marker: String?
        repeat {
            let page = try await perform("ListKeys", permission: "kms:ListKeys") { try await client.listKeys(marker: marker) }
            keys += page.Keys ?? []
            marker = page.Truncated == true ? page.NextMarker : nil
        } while marker != nil

        return try await CloudKeyListing.inspect(keys) { try await self.inspect($0, trustDomain: trustDomain) }
    }

    public func destroy(ref: String) async throws {
        try Self.checkRef(ref)
        // ScheduleKeyDeletion only works in the key's own account, where the bare key id
        // and the ARN are equivalent; the id also sidesteps moto, which fails on an ARN here.
        usable.forget(ref)
        let keyID = Self.keyID(ref)
        try await perform("ScheduleKeyDeletion", permission: "kms:ScheduleKeyDeletion") {
            do {
                try await client.scheduleKeyDeletion(keyID: keyID, pendingWindowInDays: config.deletionWindowDays)
            } catch let error as AWSServiceError where error.code == "NotFoundException" {
                return
            } catch let error as AWSServiceError where error.code == "KMSInvalidStateException" {
                // Already scheduled is success; any other state (e.g. an imported key) is not.
                let state = try? await client.describeKey(keyID: ref).KeyState
                guard state == "PendingDeletion" || state == "PendingReplicaDeletion" else { throw error }
            }
        }
    }

    /// Asks KMS only when this instance has not found the key usable within
    /// `usableCacheSeconds` (ensure's fast path makes no KMS call).
    public func checkUsable(ref: String) async -> String? {
        if usable.isFresh(ref) { return nil }
        do {
            try Self.checkRef(ref)
            let metadata = try await perform("DescribeKey", permission: "kms:DescribeKey") { try await client.describeKey(keyID: ref) }
            guard metadata.KeyState == "Enabled", metadata.Enabled != false else {
                return "AWS KMS key \(ref) is \(metadata.KeyState ?? "not enabled"), so it cannot sign"
            }
            guard metadata.KeyUsage == nil || metadata.KeyUsage == "SIGN_VERIFY" else {
                return "AWS KMS key \(ref) has key usage \(metadata.KeyUsage ?? "?"), not SIGN_VERIFY"
            }
            usable.markUsable(ref)
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

    /// KMS names a signing algorithm per hash and padding; its PSS salt is the digest's length.
    static func signingAlgorithm(_ keyType: KeyType, _ scheme: SignatureScheme) throws -> String {
        let bits: Int
        switch scheme.hash {
        case .sha256: bits = 256
        case .sha384: bits = 384
        case .sha512: bits = 512
        case .sha1: throw CoordinationError.invalid("AWS KMS does not sign SHA-1 digests")
        }
        switch keyType.family {
        case .ec: return "ECDSA_SHA_\(bits)"
        case .rsa:
            guard let salt = scheme.pss else { return "RSASSA_PKCS1_V1_5_SHA_\(bits)" }
            guard salt.admitsDigestLength(scheme.hash) else {
                throw CoordinationError.invalid("AWS KMS signs RSA-PSS with a \(scheme.hash.size)-byte salt only, not \(salt)")
            }
            return "RSASSA_PSS_SHA_\(bits)"
        }
    }

    private func tags(of ref: String) async throws -> [String: String] {
        var tags: [String: String] = [:]
        var marker: String?
        repeat {
            let page = try await client.listResourceTags(keyID: ref, marker: marker)
            for tag in page.Tags ?? [] { tags[tag.TagKey] = tag.TagValue }
            marker = page.Truncated == true ? page.NextMarker : nil
        } while marker != nil
        return tags
    }

    /// The key as the reconciler sees it, or nil when it is not a live key of `trustDomain`.
    private func inspect(_ entry: AWSKMSAPI.ListKeysResponse.Entry, trustDomain: String) async throws -> BackendKeyInfo? {
        do {
            let tags = try await tags(of: entry.KeyId)
            guard marks.belongs(tags, to: trustDomain) else { return nil }
            let metadata = try await client.describeKey(keyID: entry.KeyId)
            if metadata.KeyState == "PendingDeletion" || metadata.KeyState == "PendingReplicaDeletion" { return nil }
            // No CreationDate: the age is unknown, and an unknown age never makes a key destroyable.
            return marks.info(ref: entry.KeyArn ?? metadata.Arn ?? entry.KeyId, marks: tags,
                              createdAt: metadata.CreationDate.map { Date(timeIntervalSince1970: $0) })
        } catch let error as AWSServiceError where error.code == "NotFoundException" {
            return nil
        } catch let error as AWSServiceError where error.code == "AccessDeniedException" {
            // Policies scoped by tag deny foreign keys; keycoord's own keys carry the tags.
            logger.debug("skipping KMS key this identity may not read", metadata: ["key": "\(entry.KeyId)"])
            return nil
        } catch {
            throw Self.failure("ListResourceTags/DescribeKey", error, permission: "kms:ListResourceTags and kms:DescribeKey")
        }
    }

    func failure(_ operation: String, _ error: Error, permission: String) -> CoordinationError {
        Self.failure(operation, error, permission: Optional(permission))
    }

    /// The shared cloud wording, with what an operator can do about each KMS refusal.
    static func failure(_ operation: String, _ error: Error, permission: String? = nil) -> CoordinationError {
        let code = ((error as? RetryExhaustedError)?.last ?? error) as? AWSServiceError
        return CloudFailure.map(error, service: "AWS KMS", operation: operation, permission: permission) { kind in
            switch (kind, code?.code) {
            case (.denied, _) where code?.isAuthenticationFailure == true:
                return "AWS rejected keycoord's credentials (wrong or expired keys, or a clock off by more than 5 minutes)"
            case (.denied, _):
                return "grant it to keycoord's IAM identity (see docs/aws.md)"
            case (.invalid, "LimitExceededException"):
                return "an account quota (keys or aliases) is reached; delete unused keys or raise the quota"
            case (.invalid, "DisabledException"), (.invalid, "KMSInvalidStateException"):
                return "the key is disabled or pending deletion"
            default:
                return nil
            }
        }
    }
}
