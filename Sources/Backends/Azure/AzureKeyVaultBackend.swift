import Core
import Crypto
import FileSupport
import Foundation
import Logging

/// Shared JWT keys held in Azure Key Vault or Managed HSM: every SPIRE server signs
/// through Key Vault with the same key version, so no private key ever leaves Azure.
///
/// Each mint is a key of its own name (the template, then a random suffix), created with
/// `key_ops` sign and verify and tagged with the trust domain, key type and `pending` in
/// the create call itself, so a key whose creator crashed is always found by `list` and
/// reconciled. The reference is the key identifier `VAULT/keys/NAME/VERSION`. Publishing
/// retags the version; destroying soft-deletes the name (and purges it when configured
/// and the vault allows it).
public final class AzureKeyVaultBackend: KeyBackend, CloudFailureMapping {
    public let name = "azure-key-vault"
    /// The vault as references name it (`https://NAME.vault.azure.net`).
    public let vaultURL: URL
    let config: AzureKeyVaultConfig
    let client: any AzureKeyVaultOperations
    let logger: Logger
    let usable: CloudUsabilityCache
    let managedHSM: Bool
    private let marks = AzureTags.marks

    /// Reads the configuration and picks the credential source; no network call is made.
    public convenience init(config: AzureKeyVaultConfig, environment: [String: String] = ProcessInfo.processInfo.environment,
                            logger: Logger = Logger(label: "keycoord.backend.azure-key-vault")) throws {
        let vault = try Self.vaultURL(config.vaultURL)
        let endpointText = config.endpoint.flatMap { $0.isEmpty ? nil : $0 } ?? config.vaultURL
        guard let endpoint = URL(string: endpointText), endpoint.scheme == "https", endpoint.host != nil else {
            throw CoordinationError.invalid("Azure Key Vault endpoint \(endpointText) is not an https URL (Key Vault takes tokens over HTTPS only)")
        }
        let http: HTTPClient
        do {
            http = try HTTPClient(defaultTimeout: config.requestTimeout, caFile: config.caFile)
        } catch {
            throw CoordinationError.invalid("Azure Key Vault CA file: \(error)")
        }
        let chain: AzureCredentialChain
        do {
            chain = try AzureCredentialChain.standard(environment: environment, authorityHost: config.authorityHost,
                                                      managedIdentityEndpoint: config.managedIdentityEndpoint, http: http, logger: logger)
        } catch let error as AzureCredentialError {
            throw CoordinationError.invalid("Azure Key Vault backend: \(error.description)")
        }
        let retry = RetryPolicy(maxAttempts: config.maxAttempts, baseDelay: config.retryBaseDelay, maxDelay: config.retryMaxDelay,
                                deadline: config.callDeadline, attemptTimeout: config.requestTimeout)
        let client = AzureKeyVaultClient(endpoint: endpoint, vaultHost: vault.host ?? "", credentials: chain, http: http,
                                         retry: retry, logger: logger)
        try self.init(config: config, client: client, logger: logger)
        logger.info("Azure Key Vault credentials", metadata: ["source": "\(chain.sourceName)"])
    }

    /// A backend over any implementation of the Key Vault operations (the tests' in-memory Key Vault).
    init(config: AzureKeyVaultConfig, client: any AzureKeyVaultOperations,
         logger: Logger = Logger(label: "keycoord.backend.azure-key-vault")) throws {
        vaultURL = try Self.vaultURL(config.vaultURL)
        let sample = config.keyNameTemplate.replacingOccurrences(of: "{trust_domain}", with: "x")
            .replacingOccurrences(of: "{key_type}", with: "ec-p256")
        guard Self.isName(sample), sample.utf8.count + 13 <= 127 else {
            throw CoordinationError.invalid("Azure key name template \"\(config.keyNameTemplate)\" must use letters, digits, - and "
                + "{trust_domain}/{key_type}, and leave room for the 13-character suffix within 127")
        }
        guard config.callDeadline > 0, config.requestTimeout > 0, config.maxAttempts >= 1 else {
            throw CoordinationError.invalid("Azure Key Vault timeouts must be positive and attempts at least 1")
        }
        self.config = config
        self.client = client
        self.logger = logger
        self.usable = CloudUsabilityCache(ttl: config.usableCacheSeconds)
        self.managedHSM = vaultURL.host?.lowercased().contains(".managedhsm.") ?? false
    }

    static func vaultURL(_ text: String) throws -> URL {
        guard let url = URL(string: text.hasSuffix("/") ? String(text.dropLast()) : text), url.scheme == "https",
              let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil else {
            throw CoordinationError.invalid("Azure vault URL \"\(text)\" is not https://NAME.vault.azure.net (or a Managed HSM URL)")
        }
        return url
    }

    // MARK: KeyBackend

    public func create(keyType: KeyType, trustDomain: String) async throws -> BackendKey {
        guard SafeName.isTrustDomain(trustDomain) else {
            throw CoordinationError.invalid("trust domain must be a DNS-like name of lowercase letters, digits, '-', '_' and '.'")
        }
        guard let shape = AzureKeyVaultAPI.shape(keyType.rawValue) else {
            throw CoordinationError.invalid("Key Vault has no key type for \(keyType.rawValue)")
        }
        let name = keyName(trustDomain: trustDomain, keyType: keyType)
        let kty = config.hsm || managedHSM ? shape.kty + "-HSM" : shape.kty
        let request = AzureKeyVaultAPI.CreateKeyRequest(kty: kty, crv: shape.crv, key_size: shape.size, key_ops: ["sign", "verify"],
                                                        attributes: .init(enabled: true),
                                                        tags: marks.pending(trustDomain: trustDomain, keyType: keyType))
        let bundle = try await perform("createKey", permission: Self.permission("create")) {
            try await createOrAdopt(name: name, request, trustDomain: trustDomain, keyType: keyType)
        }
        let (ref, parsed) = try readKey(bundle, name: name, expected: keyType)
        usable.markUsable(ref)
        logger.info("created Key Vault key", metadata: ["ref": "\(ref)", "key_type": "\(keyType.rawValue)", "kty": "\(kty)",
                                                        "trust_domain": "\(trustDomain)"])
        let created = bundle.attributes?.created.map { Date(timeIntervalSince1970: $0) } ?? Date()
        return BackendKey(ref: ref, publicKey: parsed.der, createdAt: created)
    }

    /// Creates `name`; when an attempt's answer was lost (no answer, a fault on Azure's
    /// side), the name is looked up before trying again: a key there is this call's own
    /// (the name is random) and is adopted, so a lost answer never mints a second version.
    private func createOrAdopt(name: String, _ request: AzureKeyVaultAPI.CreateKeyRequest, trustDomain: String,
                               keyType: KeyType) async throws -> AzureKeyVaultAPI.KeyBundle {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await client.createKey(name: name, request)
            } catch {
                guard attempt < config.maxAttempts, CloudRetry.isRetryable(error) else { throw error }
                do {
                    let existing = try await client.getKey(name: name, version: nil)
                    guard let tags = existing.tags, marks.belongs(tags, to: trustDomain), tags[AzureTags.keyType] == keyType.rawValue else {
                        throw CoordinationError.backendFailure(BackendError(
                            .failed, "Azure Key Vault: key \(name) already exists and is not the key keycoord just created"))
                    }
                    logger.info("adopted a Key Vault key whose create answer was lost", metadata: ["key": "\(name)"])
                    return existing
                } catch let lookup as AzureServiceError where lookup.kind == .notFound {
                    try await Task.sleep(for: .seconds(RetryPolicy(baseDelay: config.retryBaseDelay, maxDelay: config.retryMaxDelay)
                        .backoff(beforeRetry: attempt)))
                }
            }
        }
    }

    public func markPublished(ref: String, kid: String) async throws {
        let (name, version) = try parse(ref)
        guard !kid.isEmpty, kid.utf8.count <= 256 else { throw CoordinationError.invalid("kid must be 1–256 characters") }
        let current = try await perform("getKey", permission: Self.permission("get")) {
            try await client.getKey(name: name, version: version)
        }
        guard var tags = current.tags, tags[AzureTags.trustDomain] != nil, tags[AzureTags.keyType] != nil else {
            throw CoordinationError.backendFailure(BackendError(
                .invalid, "Azure Key Vault key \(name) lacks the \(AzureTags.trustDomain)/\(AzureTags.keyType) tags: keycoord did not create it"))
        }
        tags.merge(marks.published(kid: kid)) { $1 }
        _ = try await perform("updateKey", permission: Self.permission("update")) {
            try await client.updateTags(name: name, version: version, tags: tags)
        }
    }

    /// Signs `digest` with Key Vault's `sign` (the base64url digest); an EC answer is r‖s
    /// already, checked for its size by the shared conversion.
    public func sign(ref: String, keyType: KeyType, digest: [UInt8], scheme: SignatureScheme,
                     encoding: SignatureEncoding) async throws -> [UInt8] {
        let (name, version) = try parse(ref)
        guard let shape = AzureKeyVaultAPI.shape(keyType.rawValue) else {
            throw CoordinationError.invalid("Key Vault has no key type for \(keyType.rawValue)")
        }
        try keyType.check(scheme, digest: digest)
        let alg = try Self.signingAlgorithm(keyType, shape: shape, scheme)
        let result = try await perform("sign", permission: Self.permission("sign")) {
            try await client.sign(name: name, version: version, .init(alg: alg, value: Base64URL.encode(digest)))
        }
        guard let signature = Base64URL.decode(result.value), !signature.isEmpty else {
            throw CoordinationError.backendFailure(BackendError(.failed, "Azure Key Vault sign returned a signature that is not base64url"))
        }
        let converted = try BackendSignature.convert(signature, from: .jose, to: encoding, keyType: keyType, source: "Azure Key Vault sign with \(ref)")
        usable.markUsable(ref)
        return converted
    }

    public func publicKey(ref: String) async throws -> [UInt8] {
        let (name, version) = try parse(ref)
        let bundle = try await perform("getKey", permission: Self.permission("get")) {
            try await client.getKey(name: name, version: version)
        }
        return try Self.publicKey(of: bundle.key, name: name).der
    }

    /// The trust domain's keys: every page of the vault's keys, those tagged with the
    /// trust domain read a few at a time for their current version.
    public func list(trustDomain: String) async throws -> [BackendKeyInfo] {
        guard SafeName.isTrustDomain(trustDomain) else {
            throw CoordinationError.invalid("trust domain must be a DNS-like name of lowercase letters, digits, '-', '_' and '.'")
        }
        var names: [String] = []
        var next: String?
        repeat {
            let page = try await perform("listKeys", permission: Self.permission("list")) { try await client.listKeys(nextLink: next) }
            for item in page.value ?? [] {
                guard let tags = item.tags, marks.belongs(tags, to: trustDomain), !marks.isDestroyed(tags),
                      let name = URL(string: item.kid)?.lastPathComponent, Self.isName(name) else { continue }
                names.append(name)
            }
            next = page.nextLink.flatMap { $0.isEmpty ? nil : $0 }
        } while next != nil

        return try await CloudKeyListing.inspect(names) { try await self.inspect($0) }
    }

    /// Soft-deletes the key's name (every version: each mint has a name of its own), then
    /// purges it when `purgeDeleted` asks and the vault's recovery level allows it.
    /// Idempotent: a key already deleted or purged is success.
    public func destroy(ref: String) async throws {
        let (name, _) = try parse(ref)
        usable.forget(ref)
        var deleted: AzureKeyVaultAPI.DeletedKeyBundle?
        try await perform("deleteKey", permission: Self.permission("delete")) {
            do {
                deleted = try await client.deleteKey(name: name)
            } catch let error as AzureServiceError where error.kind == .notFound {
                return
            }
        }
        guard config.purgeDeleted else { return }
        try await perform("purgeDeletedKey", permission: Self.permission("purge")) {
            do {
                let bundle: AzureKeyVaultAPI.DeletedKeyBundle
                if let deleted { bundle = deleted } else { bundle = try await client.getDeletedKey(name: name) }
                if let level = bundle.attributes?.recoveryLevel, !level.contains("Purgeable") {
                    logger.info("vault does not allow purging; the deleted key stays until its retention ends",
                                metadata: ["key": "\(name)", "recovery_level": "\(level)"])
                    return
                }
                try await client.purgeDeletedKey(name: name)
            } catch let error as AzureServiceError where error.kind == .notFound {
                return
            }
        }
    }

    public func checkUsable(ref: String) async -> String? {
        if usable.isFresh(ref) { return nil }
        do {
            let (name, version) = try parse(ref)
            let bundle = try await perform("getKey", permission: Self.permission("get")) {
                try await client.getKey(name: name, version: version)
            }
            guard bundle.attributes?.enabled != false else { return "Azure Key Vault key \(ref) is disabled, so it cannot sign" }
            if let exp = bundle.attributes?.exp, Date(timeIntervalSince1970: exp) <= Date() {
                return "Azure Key Vault key \(ref) expired, so it cannot sign"
            }
            guard bundle.key.key_ops?.contains("sign") ?? true else {
                return "Azure Key Vault key \(ref) does not allow the sign operation"
            }
            usable.markUsable(ref)
            return nil
        } catch {
            return "\(error)"
        }
    }

    // MARK: Helpers

    private func inspect(_ name: String) async throws -> BackendKeyInfo? {
        let bundle: AzureKeyVaultAPI.KeyBundle
        do {
            bundle = try await client.getKey(name: name, version: nil)
        } catch let error as AzureServiceError where error.kind == .notFound {
            return nil
        } catch {
            throw failure("getKey", error, permission: Self.permission("get"))
        }
        guard let tags = bundle.tags, let version = bundle.key.kid.flatMap({ URL(string: $0)?.lastPathComponent }) else { return nil }
        return marks.info(ref: reference(name: name, version: version), marks: tags,
                          createdAt: bundle.attributes?.created.map { Date(timeIntervalSince1970: $0) })
    }

    /// The reference and public key of a created key, checked against the key type asked for.
    private func readKey(_ bundle: AzureKeyVaultAPI.KeyBundle, name: String, expected: KeyType) throws -> (String, PublicKey) {
        guard let kid = bundle.key.kid, let kidURL = URL(string: kid), kidURL.pathComponents.count == 4,
              kidURL.pathComponents[1] == "keys", kidURL.pathComponents[2] == name else {
            throw CoordinationError.backendFailure(BackendError(.failed, "Azure Key Vault answered a key without its identifier for \(name)"))
        }
        let ref = reference(name: name, version: kidURL.pathComponents[3])
        let parsed = try CloudKeyListing.mintedPublicKey(try Self.publicKey(of: bundle.key, name: name).der, ref: ref,
                                                         keyType: expected, service: "Azure Key Vault")
        return (ref, parsed)
    }

    /// The SubjectPublicKeyInfo of a Key Vault JWK (EC `crv`/`x`/`y`, RSA `n`/`e`).
    static func publicKey(of jwk: AzureKeyVaultAPI.JWK, name: String) throws -> PublicKey {
        do {
            switch jwk.kty {
            case "EC", "EC-HSM":
                let curve: KeyAlgorithm
                switch jwk.crv {
                case "P-256": curve = .ecP256
                case "P-384": curve = .ecP384
                default: throw CoordinationError.backendFailure(BackendError(.failed, "curve \(jwk.crv ?? "(none)") is not P-256 or P-384"))
                }
                guard let x = jwk.x.flatMap(Base64URL.decode), let y = jwk.y.flatMap(Base64URL.decode) else {
                    throw CoordinationError.backendFailure(BackendError(.failed, "the EC key lacks x or y"))
                }
                return try PublicKey.ec(curve: curve, x: x, y: y)
            case "RSA", "RSA-HSM":
                guard let n = jwk.n.flatMap(Base64URL.decode), let e = jwk.e.flatMap(Base64URL.decode) else {
                    throw CoordinationError.backendFailure(BackendError(.failed, "the RSA key lacks n or e"))
                }
                return try PublicKey.rsa(n: n, e: e)
            default:
                throw CoordinationError.backendFailure(BackendError(.failed, "key type \(jwk.kty ?? "(none)") is not EC or RSA"))
            }
        } catch let CoordinationError.backendFailure(inner) {
            throw CoordinationError.backendFailure(BackendError(.failed, "Azure Key Vault key \(name): \(inner.message)"))
        } catch {
            throw CoordinationError.backendFailure(BackendError(.failed, "Azure Key Vault key \(name) has an unreadable public key: \(error)"))
        }
    }

    func reference(name: String, version: String) -> String { "\(vaultURL.absoluteString)/keys/\(name)/\(version)" }

    /// `VAULT/keys/NAME/VERSION` → (NAME, VERSION); `.invalid` for anything else.
    func parse(_ ref: String) throws -> (String, String) {
        let prefix = vaultURL.absoluteString + "/keys/"
        let parts = ref.hasPrefix(prefix) ? ref.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false) : []
        guard parts.count == 2, Self.isName(String(parts[0])), !parts[1].isEmpty, parts[1].utf8.count <= 64,
              parts[1].allSatisfy({ $0.isHexDigit }) else {
            throw CoordinationError.invalid("\"\(ref)\" is not a key of vault \(vaultURL.absoluteString) (\(prefix)NAME/VERSION)")
        }
        return (String(parts[0]), String(parts[1]))
    }

    /// The key name of a new mint: the template with `.` and `_` of the trust domain as
    /// `-`, then `-` and 12 random hex digits. Names need not be unique per trust domain:
    /// the trust-domain tag, not the name, says where a key belongs.
    func keyName(trustDomain: String, keyType: KeyType) -> String {
        let withType = config.keyNameTemplate.replacingOccurrences(of: "{key_type}", with: keyType.rawValue)
        let room = 127 - 13 - withType.replacingOccurrences(of: "{trust_domain}", with: "").utf8.count
        let mapped = trustDomain.replacingOccurrences(of: ".", with: "-").replacingOccurrences(of: "_", with: "-")
        let domain = String(mapped.prefix(max(0, room)))
        return withType.replacingOccurrences(of: "{trust_domain}", with: domain) + "-" + SecureRandom.hexToken(bytes: 6)
    }

    static func isName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 127 && name.utf8.allSatisfy {
            (0x61...0x7A).contains($0) || (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-")
        }
    }

    /// The key permission an operation needs, as access policies and RBAC name it.
    /// Key Vault's JWA name for the scheme: ES256/ES384 by curve, RS*/PS* by hash (PS* with
    /// a salt of the digest's length).
    static func signingAlgorithm(_ keyType: KeyType, shape: (kty: String, crv: String?, size: Int?, alg: String),
                                 _ scheme: SignatureScheme) throws -> String {
        guard keyType.family == .rsa else { return shape.alg }
        let bits: String
        switch scheme.hash {
        case .sha256: bits = "256"
        case .sha384: bits = "384"
        case .sha512: bits = "512"
        case .sha1: throw CoordinationError.invalid("Azure Key Vault does not sign SHA-1 digests")
        }
        guard let salt = scheme.pss else { return "RS" + bits }
        guard salt.admitsDigestLength(scheme.hash) else {
            throw CoordinationError.invalid("Azure Key Vault signs PS\(bits) with a \(scheme.hash.size)-byte salt only, not \(salt)")
        }
        return "PS" + bits
    }

    static func permission(_ operation: String) -> String {
        let action: String
        switch operation {
        case "create": action = "keys/create/action"
        case "sign": action = "keys/sign/action"
        case "get", "list": action = "keys/read"
        case "update": action = "keys/update/action"
        case "delete": action = "keys/delete"
        case "purge": action = "deletedKeys/delete"
        default: action = operation
        }
        return "keys \(operation) (Microsoft.KeyVault/vaults/\(action))"
    }

    func failure(_ operation: String, _ error: Error, permission: String) -> CoordinationError {
        let last = (error as? RetryExhaustedError)?.last ?? error
        let service = last as? AzureServiceError
        let vault = vaultURL.absoluteString
        return CloudFailure.map(error, service: "Azure Key Vault", operation: operation, permission: permission) { kind in
            switch kind {
            case .denied where last is AzureCredentialError:
                return "check the credentials keycoord found (see docs/azure.md)"
            case .denied where service?.httpStatus == 401:
                return "Key Vault refused keycoord's token (expired, revoked, or for another tenant or audience); see docs/azure.md"
            case .denied:
                return "grant \(permission) on \(vault) to keycoord's identity (role Key Vault Crypto Officer, or an access policy; see docs/azure.md)"
            case .throttled:
                return "Key Vault limits requests per vault and 10 seconds; keycoord retried, honouring Retry-After"
            default:
                return nil
            }
        }
    }
}
