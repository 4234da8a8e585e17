import Core
import Crypto
import FileSupport
import Foundation
import Logging
import Synchronization

/// Shared JWT keys held in GCP Cloud KMS: every SPIRE server signs through Cloud KMS with
/// the same key version, so no private key ever leaves Google.
///
/// Each mint is a CryptoKey of its own (purpose `ASYMMETRIC_SIGN`, the key type's
/// algorithm) in one key ring, labelled with the trust domain (hashed: labels allow no
/// dots), key type and `pending` in the create call itself, so a key whose creator
/// crashed is always found by `list` and reconciled. The reference is the key's version 1
/// (`…/cryptoKeys/K/cryptoKeyVersions/1`). Publishing relabels the key; destroying
/// destroys the version (Cloud KMS keeps the CryptoKey as a shell forever) and labels the
/// key `destroyed` so later listings skip it without a call. Every payload is checked with
/// CRC32C both ways.
public final class GCPKMSBackend: KeyBackend, CloudFailureMapping {
    public let name = "gcp-kms"
    /// `projects/P/locations/L/keyRings/R`.
    public let keyRingName: String
    public let endpoint: URL
    let config: GCPKMSConfig
    let client: any GCPKMSOperations
    let logger: Logger
    let usable: CloudUsabilityCache
    private let keyRingReady = Mutex(false)
    private let marks = GCPLabels.marks

    /// Reads the configuration and picks the credential source (a named credentials file
    /// is read and checked here); no network call is made.
    public convenience init(config: GCPKMSConfig, environment: [String: String] = ProcessInfo.processInfo.environment,
                            logger: Logger = Logger(label: "keycoord.backend.gcp-kms")) throws {
        let endpointText = config.endpoint.flatMap { $0.isEmpty ? nil : $0 } ?? GCPKMSConfig.defaultEndpoint
        guard let endpoint = URL(string: endpointText), endpoint.scheme == "https" || endpoint.scheme == "http",
              endpoint.host != nil else {
            throw CoordinationError.invalid("GCP Cloud KMS endpoint \(endpointText) is not an http(s) URL")
        }
        let http = HTTPClient(defaultTimeout: config.requestTimeout)
        let chain: GCPCredentialChain
        do {
            chain = try GCPCredentialChain.standard(explicitFile: config.credentialsFile, environment: environment, http: http,
                                                    logger: logger)
        } catch let error as GCPCredentialError {
            throw CoordinationError.invalid("GCP Cloud KMS backend: \(error.description)")
        }
        let retry = RetryPolicy(maxAttempts: config.maxAttempts, baseDelay: config.retryBaseDelay, maxDelay: config.retryMaxDelay,
                                deadline: config.callDeadline, attemptTimeout: config.requestTimeout)
        let client = GCPKMSClient(endpoint: endpoint, credentials: chain, http: http, retry: retry, logger: logger)
        try self.init(config: config, client: client, endpoint: endpoint, logger: logger)
        logger.info("GCP Cloud KMS credentials", metadata: ["source": "\(chain.sourceName)"])
    }

    /// A backend over any implementation of the Cloud KMS operations (the tests' in-memory Cloud KMS).
    init(config: GCPKMSConfig, client: any GCPKMSOperations, endpoint: URL,
         logger: Logger = Logger(label: "keycoord.backend.gcp-kms")) throws {
        try Self.validate(config)
        self.config = config
        self.client = client
        self.endpoint = endpoint
        self.logger = logger
        self.keyRingName = "projects/\(config.project)/locations/\(config.location)/keyRings/\(config.keyRing)"
        self.usable = CloudUsabilityCache(ttl: config.usableCacheSeconds)
    }

    static func validate(_ config: GCPKMSConfig) throws {
        guard isProjectID(config.project) else {
            throw CoordinationError.invalid("GCP project \"\(config.project)\" is not a project id (6–30 lowercase letters, digits and -)")
        }
        guard isResourceID(config.location), isResourceID(config.keyRing) else {
            throw CoordinationError.invalid("GCP location \"\(config.location)\" and key ring \"\(config.keyRing)\" must be "
                + "1–63 letters, digits, _ and -")
        }
        guard ["SOFTWARE", "HSM"].contains(config.protectionLevel) else {
            throw CoordinationError.invalid("GCP protection level must be SOFTWARE or HSM, not \(config.protectionLevel)")
        }
        let sample = config.keyIDTemplate.replacingOccurrences(of: "{trust_domain}", with: "x")
            .replacingOccurrences(of: "{key_type}", with: "ec-p256")
        guard isResourceID(sample), sample.utf8.count + 13 <= 63 else {
            throw CoordinationError.invalid("GCP crypto key id template \"\(config.keyIDTemplate)\" must use letters, digits, "
                + "_, - and {trust_domain}/{key_type}, and leave room for the 13-character suffix within 63")
        }
        guard config.pendingTimeout > 0, config.callDeadline > 0, config.requestTimeout > 0, config.maxAttempts >= 1 else {
            throw CoordinationError.invalid("GCP Cloud KMS timeouts must be positive and attempts at least 1")
        }
    }

    // MARK: KeyBackend

    public func create(keyType: KeyType, trustDomain: String) async throws -> BackendKey {
        guard SafeName.isTrustDomain(trustDomain) else {
            throw CoordinationError.invalid("trust domain must be a DNS-like name of lowercase letters, digits, '-', '_' and '.'")
        }
        guard let algorithm = GCPKMSAPI.algorithm(keyType.rawValue) else {
            throw CoordinationError.invalid("Cloud KMS has no signing algorithm for \(keyType.rawValue)")
        }
        try await prepareKeyRing()
        let id = cryptoKeyID(trustDomain: trustDomain, keyType: keyType)
        var labels = marks.pending(trustDomain: trustDomain, keyType: keyType)
        labels[GCPLabels.trustDomainName] = GCPLabels.readableTrustDomain(trustDomain)
        let request = GCPKMSAPI.CryptoKey(purpose: "ASYMMETRIC_SIGN",
                                          versionTemplate: .init(algorithm: algorithm, protectionLevel: config.protectionLevel),
                                          labels: labels)
        let keyName = "\(keyRingName)/cryptoKeys/\(id)"
        try await perform("cryptoKeys.create", permission: "cloudkms.cryptoKeys.create") {
            do {
                _ = try await client.createCryptoKey(keyRing: keyRingName, id: id, request)
            } catch let error as GCPServiceError where error.status == "ALREADY_EXISTS" {
                // The id is this call's own (random suffix): an earlier attempt created it and
                // its answer was lost. Adopt that key rather than leak it or mint another.
                let existing = try await client.getCryptoKey(name: keyName)
                guard let existingLabels = existing.labels, marks.belongs(existingLabels, to: trustDomain),
                      existingLabels[GCPLabels.keyType] == keyType.rawValue,
                      existing.versionTemplate?.algorithm == algorithm else {
                    throw CoordinationError.backendFailure(BackendError(
                        .failed, "GCP Cloud KMS: crypto key \(keyName) already exists and is not the key keycoord just created"))
                }
                logger.info("adopted a crypto key whose create answer was lost", metadata: ["key": "\(keyName)"])
            }
        }
        let ref = "\(keyName)/cryptoKeyVersions/1"
        let version = try await waitUntilEnabled(ref)
        let der = try await publicKey(ref: ref)
        let parsed = try CloudKeyListing.mintedPublicKey(der, ref: ref, keyType: keyType, service: "GCP Cloud KMS")
        logger.info("created Cloud KMS key", metadata: ["ref": "\(ref)", "key_type": "\(keyType.rawValue)",
                                                         "trust_domain": "\(trustDomain)"])
        return BackendKey(ref: ref, publicKey: parsed.der, createdAt: GCPTime.parse(version.createTime) ?? Date())
    }

    public func markPublished(ref: String, kid: String) async throws {
        let key = try Self.cryptoKeyName(of: ref)
        guard !kid.isEmpty, kid.utf8.count <= 256 else { throw CoordinationError.invalid("kid must be 1–256 characters") }
        let current = try await perform("cryptoKeys.get", permission: "cloudkms.cryptoKeys.get") {
            try await client.getCryptoKey(name: key)
        }
        guard var labels = current.labels, labels[GCPLabels.trustDomain] != nil, labels[GCPLabels.keyType] != nil else {
            throw CoordinationError.backendFailure(BackendError(
                .invalid, "GCP Cloud KMS key \(key) lacks the \(GCPLabels.trustDomain)/\(GCPLabels.keyType) labels: keycoord did not create it"))
        }
        labels.merge(marks.published(kid: kid)) { $1 }
        _ = try await perform("cryptoKeys.patch", permission: "cloudkms.cryptoKeys.update") {
            try await client.updateLabels(cryptoKey: key, labels: labels)
        }
    }

    /// Signs `digest` with `asymmetricSign`, sending its CRC32C and checking that Cloud KMS
    /// verified it and that the signature's CRC32C matches: a corrupted byte either way is
    /// an error, never a signature.
    public func sign(ref: String, keyType: KeyType, digest: [UInt8], scheme: SignatureScheme,
                     encoding: SignatureEncoding) async throws -> [UInt8] {
        _ = try Self.cryptoKeyName(of: ref)
        try keyType.check(scheme, digest: digest)
        // A Cloud KMS key version has one algorithm for life; keycoord mints RSA keys as
        // RSA_SIGN_PKCS1_*_SHA256, which can sign nothing else.
        guard scheme.pss == nil, scheme.hash == keyType.hash else {
            throw CoordinationError.invalid(
                "GCP Cloud KMS key \(ref) signs only \(keyType.alg) (its algorithm is fixed at creation), not \(scheme)")
        }
        let encoded = PEM.base64(digest)
        let digestField = keyType.hash.size == 48 ? GCPKMSAPI.Digest(sha384: encoded) : GCPKMSAPI.Digest(sha256: encoded)
        let request = GCPKMSAPI.AsymmetricSignRequest(digest: digestField, digestCrc32c: CRC32C.wire(digest))
        let response = try await perform("asymmetricSign", permission: "cloudkms.cryptoKeyVersions.useToSign") {
            try await client.asymmetricSign(version: ref, request)
        }
        guard response.verifiedDigestCrc32c == true else {
            throw CoordinationError.backendFailure(BackendError(
                .failed, "GCP Cloud KMS asymmetricSign with \(ref) did not confirm the digest's CRC32C; the request may have been corrupted"))
        }
        if let name = response.name, name != ref {
            throw CoordinationError.backendFailure(BackendError(.failed, "GCP Cloud KMS asymmetricSign answered for \(name), not \(ref)"))
        }
        guard let signature = PEM.decodeBase64(response.signature), !signature.isEmpty else {
            throw CoordinationError.backendFailure(BackendError(.failed, "GCP Cloud KMS asymmetricSign returned a signature that is not base64"))
        }
        guard response.signatureCrc32c == CRC32C.wire(signature) else {
            throw CoordinationError.backendFailure(BackendError(
                .failed, "GCP Cloud KMS asymmetricSign signature for \(ref) fails its CRC32C (\(response.signatureCrc32c ?? "none")); it was corrupted on the way"))
        }
        let converted = try BackendSignature.convert(signature, from: .der, to: encoding, keyType: keyType, source: "GCP Cloud KMS asymmetricSign with \(ref)")
        usable.markUsable(ref)
        return converted
    }

    public func publicKey(ref: String) async throws -> [UInt8] {
        _ = try Self.cryptoKeyName(of: ref)
        let response = try await perform("getPublicKey", permission: "cloudkms.cryptoKeyVersions.viewPublicKey") {
            try await client.getPublicKey(version: ref)
        }
        guard response.pemCrc32c == CRC32C.wire(Array(response.pem.utf8)) else {
            throw CoordinationError.backendFailure(BackendError(
                .failed, "GCP Cloud KMS public key of \(ref) fails its CRC32C (\(response.pemCrc32c ?? "none")); it was corrupted on the way"))
        }
        do {
            return try PublicKey(pem: response.pem).der
        } catch {
            throw CoordinationError.backendFailure(BackendError(.failed, "GCP Cloud KMS returned a public key for \(ref) that is not PEM: \(error)"))
        }
    }

    /// The trust domain's keys, found by their label (one filtered list call per page);
    /// keys labelled destroyed are skipped without another call, the others' versions read
    /// a few at a time for their state and creation time.
    public func list(trustDomain: String) async throws -> [BackendKeyInfo] {
        guard SafeName.isTrustDomain(trustDomain) else {
            throw CoordinationError.invalid("trust domain must be a DNS-like name of lowercase letters, digits, '-', '_' and '.'")
        }
        let filter = "labels.\(GCPLabels.trustDomain)=\"\(GCPLabels.encodeTrustDomain(trustDomain))\""
        var keys: [GCPKMSAPI.CryptoKey] = []
        var pageToken: String?
        repeat {
            let page = try await perform("cryptoKeys.list", permission: "cloudkms.cryptoKeys.list") {
                try await client.listCryptoKeys(keyRing: keyRingName, filter: filter, pageToken: pageToken)
            }
            keys += (page.cryptoKeys ?? []).filter { key in
                guard let labels = key.labels else { return false }
                return marks.belongs(labels, to: trustDomain) && !marks.isDestroyed(labels) && key.name != nil
            }
            pageToken = page.nextPageToken.flatMap { $0.isEmpty ? nil : $0 }
        } while pageToken != nil

        return try await CloudKeyListing.inspect(keys) { try await self.inspect($0) }
    }

    /// Destroys the key's version (Cloud KMS keeps it `DESTROY_SCHEDULED` for the key's
    /// destroy period, 30 days by default, then destroys the material) and labels the key
    /// destroyed. Idempotent: an absent or already destroyed version is success.
    public func destroy(ref: String) async throws {
        let key = try Self.cryptoKeyName(of: ref)
        usable.forget(ref)
        try await perform("cryptoKeyVersions.destroy", permission: "cloudkms.cryptoKeyVersions.destroy") {
            do {
                _ = try await client.destroyVersion(name: ref)
            } catch let error as GCPServiceError where error.status == "NOT_FOUND" {
                return
            } catch let error as GCPServiceError where error.status == "FAILED_PRECONDITION" {
                let state = try await client.getVersion(name: ref).state
                guard state == "DESTROY_SCHEDULED" || state == "DESTROYED" else { throw error }
            }
        }
        try await perform("cryptoKeys.patch", permission: "cloudkms.cryptoKeys.update") {
            do {
                var labels = try await client.getCryptoKey(name: key).labels ?? [:]
                guard !marks.isDestroyed(labels) else { return }
                labels.merge(marks.destroyed) { $1 }
                _ = try await client.updateLabels(cryptoKey: key, labels: labels)
            } catch let error as GCPServiceError where error.status == "NOT_FOUND" {
                return
            }
        }
    }

    /// Asks Cloud KMS only when this instance has not found the key usable within
    /// `usableCacheSeconds` (ensure's fast path makes no Cloud KMS call).
    public func checkUsable(ref: String) async -> String? {
        if usable.isFresh(ref) { return nil }
        do {
            _ = try Self.cryptoKeyName(of: ref)
            let version = try await perform("cryptoKeyVersions.get", permission: "cloudkms.cryptoKeyVersions.get") {
                try await client.getVersion(name: ref)
            }
            guard version.state == "ENABLED" else {
                return "GCP Cloud KMS key version \(ref) is \(version.state ?? "in an unknown state"), so it cannot sign"
            }
            usable.markUsable(ref)
            return nil
        } catch {
            return "\(error)"
        }
    }

    // MARK: Helpers

    /// The key ring exists (or is created) before the first mint; remembered afterwards.
    private func prepareKeyRing() async throws {
        if keyRingReady.withLock({ $0 }) { return }
        do {
            _ = try await client.getKeyRing(name: keyRingName)
        } catch let error as GCPServiceError where error.status == "NOT_FOUND" {
            guard config.createKeyRing else {
                throw CoordinationError.backendFailure(BackendError(
                    .notFound, "GCP Cloud KMS key ring \(keyRingName) does not exist; create it, or let keycoord create it "
                        + "(gcp-create-key-ring true, which needs cloudkms.keyRings.create)"))
            }
            try await perform("keyRings.create", permission: "cloudkms.keyRings.create") {
                do {
                    _ = try await client.createKeyRing(parent: "projects/\(config.project)/locations/\(config.location)",
                                                       id: config.keyRing)
                    logger.info("created Cloud KMS key ring", metadata: ["key_ring": "\(keyRingName)"])
                } catch let error as GCPServiceError where error.status == "ALREADY_EXISTS" {
                    return
                }
            }
        } catch {
            throw failure("keyRings.get", error, permission: "cloudkms.keyRings.get")
        }
        keyRingReady.withLock { $0 = true }
    }

    /// Polls a new version until it is `ENABLED`, with backoff from 50 ms doubling to 2 s,
    /// for at most `pendingTimeout`.
    private func waitUntilEnabled(_ ref: String) async throws -> GCPKMSAPI.CryptoKeyVersion {
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: .seconds(config.pendingTimeout))
        var wait = 0.05
        while true {
            let version = try await perform("cryptoKeyVersions.get", permission: "cloudkms.cryptoKeyVersions.get") {
                try await client.getVersion(name: ref)
            }
            switch version.state {
            case "ENABLED":
                return version
            case "PENDING_GENERATION", nil:
                guard clock.now.advanced(by: .seconds(wait)) < end else {
                    throw CoordinationError.backendFailure(BackendError(
                        .unavailable, "GCP Cloud KMS key version \(ref) is still PENDING_GENERATION after \(config.pendingTimeout)s"))
                }
                try await Task.sleep(for: .seconds(wait))
                wait = min(wait * 2, 2)
            case let state?:
                throw CoordinationError.backendFailure(BackendError(.failed, "GCP Cloud KMS key version \(ref) is \(state), not ENABLED"))
            }
        }
    }

    /// The key as the reconciler sees it, or nil when its version is gone or destroyed.
    private func inspect(_ key: GCPKMSAPI.CryptoKey) async throws -> BackendKeyInfo? {
        guard let name = key.name, let labels = key.labels else { return nil }
        let ref = "\(name)/cryptoKeyVersions/1"
        let version: GCPKMSAPI.CryptoKeyVersion
        do {
            version = try await client.getVersion(name: ref)
        } catch let error as GCPServiceError where error.status == "NOT_FOUND" {
            return nil
        } catch {
            throw failure("cryptoKeyVersions.get", error, permission: "cloudkms.cryptoKeyVersions.get")
        }
        if version.state == "DESTROY_SCHEDULED" || version.state == "DESTROYED" { return nil }
        // No creation time: the age is unknown, and an unknown age never makes a key destroyable.
        return marks.info(ref: ref, marks: labels, createdAt: GCPTime.parse(version.createTime) ?? GCPTime.parse(key.createTime))
    }

    /// The crypto key id of a new mint: the template, then `-` and 12 random hex digits.
    func cryptoKeyID(trustDomain: String, keyType: KeyType) -> String {
        let withType = config.keyIDTemplate.replacingOccurrences(of: "{key_type}", with: keyType.rawValue)
        let room = 63 - 13 - withType.replacingOccurrences(of: "{trust_domain}", with: "").utf8.count
        let domain = String(trustDomain.replacingOccurrences(of: ".", with: "-").prefix(max(0, room)))
        return withType.replacingOccurrences(of: "{trust_domain}", with: domain) + "-" + SecureRandom.hexToken(bytes: 6)
    }

    /// `…/cryptoKeys/K/cryptoKeyVersions/N` → `…/cryptoKeys/K`; `.invalid` for anything else.
    static func cryptoKeyName(of ref: String) throws -> String {
        let parts = ref.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 10, parts[0] == "projects", parts[2] == "locations", parts[4] == "keyRings",
              parts[6] == "cryptoKeys", parts[8] == "cryptoKeyVersions", parts[9].allSatisfy(\.isNumber),
              parts.allSatisfy({ isResourceID($0) }) else {
            throw CoordinationError.invalid("\"\(ref)\" is not a Cloud KMS key version name "
                + "(projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N)")
        }
        return parts[0..<8].joined(separator: "/")
    }

    static func isResourceID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 63 && id.utf8.allSatisfy {
            (0x61...0x7A).contains($0) || (0x41...0x5A).contains($0) || (0x30...0x39).contains($0)
                || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    static func isProjectID(_ id: String) -> Bool {
        (6...30).contains(id.utf8.count) && id.utf8.allSatisfy {
            (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-")
        }
    }

    /// The shared cloud wording, with the permission Cloud KMS names (or the one the
    /// operation needs) and where to grant it.
    func failure(_ operation: String, _ error: Error, permission: String) -> CoordinationError {
        let service = ((error as? RetryExhaustedError)?.last ?? error) as? GCPServiceError
        let named = service.flatMap { Self.permissionNamed(in: $0.message) } ?? permission
        let ring = keyRingName
        return CloudFailure.map(error, service: "GCP Cloud KMS", operation: operation, permission: named) { kind in
            switch kind {
            case .denied where service?.status == "UNAUTHENTICATED" || service?.httpStatus == 401:
                return "Cloud KMS refused keycoord's access token (expired, revoked or for another audience); check the credentials (see docs/gcp.md)"
            case .denied where error is GCPCredentialError || (error as? RetryExhaustedError)?.last is GCPCredentialError:
                return "see docs/gcp.md for the credential sources"
            case .denied:
                return "grant \(named) on key ring \(ring) to keycoord's identity (see docs/gcp.md)"
            case .throttled:
                return "Cloud KMS quotas are per project and minute; keycoord retried with backoff"
            default:
                return nil
            }
        }
    }

    /// `Permission 'cloudkms.cryptoKeyVersions.useToSign' denied on resource …` → the permission.
    static func permissionNamed(in message: String) -> String? {
        guard let start = message.range(of: "Permission '")?.upperBound,
              let end = message[start...].firstIndex(of: "'") else { return nil }
        let permission = String(message[start..<end])
        return permission.isEmpty ? nil : permission
    }
}
