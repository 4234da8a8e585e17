import Core
import Foundation

/// The single table of `serve` settings: name, help and how a string value applies to
/// `ServiceConfig`. Flags, `KEYCOORD_*` environment variables and the config file all go
/// through it, so the three can never disagree on a name or a parser.
public struct ServiceSetting: Sendable {
    public let name: String
    public let help: String
    /// Repeatable settings (`key-type`) take every value; others take the last one.
    public let repeatable: Bool
    let apply: @Sendable (inout ServiceConfig, [String]) throws -> Void

    /// `KEYCOORD_` + the name upper-cased with `-` as `_`.
    public var environmentName: String {
        "KEYCOORD_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }
}

public enum ServiceSettings {
    private static func flag(_ name: String, _ help: String, _ path: WritableKeyPath<ServiceConfig, Bool> & Sendable) -> ServiceSetting {
        ServiceSetting(name: name, help: help, repeatable: false) { config, values in
            switch values.last ?? "" {
            case "true": config[keyPath: path] = true
            case "false": config[keyPath: path] = false
            case let text: throw ConfigError("\(name): \"\(text)\" is not true or false")
            }
        }
    }

    private static func string(_ name: String, _ help: String, _ path: WritableKeyPath<ServiceConfig, String> & Sendable) -> ServiceSetting {
        ServiceSetting(name: name, help: help, repeatable: false) { config, values in
            config[keyPath: path] = values.last ?? ""
        }
    }

    private static func integer(_ name: String, _ help: String, _ path: WritableKeyPath<ServiceConfig, Int> & Sendable) -> ServiceSetting {
        ServiceSetting(name: name, help: help, repeatable: false) { config, values in
            let text = values.last ?? ""
            guard let value = Int(text) else { throw ConfigError("\(name): \"\(text)\" is not a whole number") }
            config[keyPath: path] = value
        }
    }

    private static func duration(_ name: String, _ help: String, _ path: WritableKeyPath<ServiceConfig, Duration> & Sendable) -> ServiceSetting {
        ServiceSetting(name: name, help: help, repeatable: false) { config, values in
            let text = values.last ?? ""
            guard let value = DurationFormat.parse(text) else {
                throw ConfigError("\(name): \"\(text)\" is not a duration (examples: 90s, 15m, 24h, 1h30m)")
            }
            config[keyPath: path] = value
        }
    }

    private static func choice<T: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ help: String, _ path: WritableKeyPath<ServiceConfig, T> & Sendable
    ) -> ServiceSetting where T.RawValue == String {
        ServiceSetting(name: name, help: help, repeatable: false) { config, values in
            let text = values.last ?? ""
            guard let value = T(rawValue: text) else {
                throw ConfigError("\(name): \"\(text)\" is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            config[keyPath: path] = value
        }
    }

    private static func strings(_ name: String, _ help: String, _ path: WritableKeyPath<ServiceConfig, [String]> & Sendable) -> ServiceSetting {
        ServiceSetting(name: name, help: help, repeatable: true) { config, values in
            config[keyPath: path] = values.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
                .filter { !$0.isEmpty }
        }
    }

    /// Every setting, in the order the reference documents them.
    public static let all: [ServiceSetting] = [
        string("trust-domain", "SPIFFE trust domain whose JWT keys this instance coordinates", \.trustDomain),
        string("state-dir", "Directory for the file store, disk keys and the generated control token", \.stateDir),
        string("public-listen", "Public listener (JWKS, discovery, health, metrics): HOST:PORT or unix:PATH", \.publicListen),
        string("control-listen", "Control API listener: HOST:PORT or unix:PATH", \.controlListen),
        string("control-token-file", "Bearer token file for the control API (default <state-dir>/control-token, generated)", \.controlTokenFile),
        string("admin-token-file", "Bearer tokens that may also taint and revoke (default: the generated control token, when it is used)", \.adminTokenFile),
        string("public-tls-cert", "PEM certificate chain for TLS on the public listener (reloaded when it changes)", \.publicTLSCert),
        string("public-tls-key", "PEM private key for TLS on the public listener", \.publicTLSKey),
        string("control-tls-cert", "PEM certificate chain for TLS on the control listener (reloaded when it changes)", \.controlTLSCert),
        string("control-tls-key", "PEM private key for TLS on the control listener", \.controlTLSKey),
        string("control-client-ca", "PEM CA bundle for client certificates on the control listener (mutual TLS)", \.controlClientCA),
        strings("control-allow-spiffe-id", "SPIFFE ID whose client certificate is a member caller (repeatable; '*' matches one path segment)", \.controlAllowSPIFFEIDs),
        strings("admin-spiffe-id", "SPIFFE ID whose client certificate may also taint and revoke (repeatable)", \.adminSPIFFEIDs),
        ServiceSetting(name: "control-socket-mode", help: "Permission bits (octal) of a unix:PATH control socket", repeatable: false) { config, values in
            let text = values.last ?? ""
            guard let mode = Int(text, radix: 8), (0...0o777).contains(mode) else {
                throw ConfigError("control-socket-mode: \"\(text)\" is not octal permission bits (e.g. 0660)")
            }
            config.controlSocketMode = mode
        },
        choice("store", "Coordination store: file (one host) or postgres (many hosts)", \.store),
        string("postgres-url", "libpq connection URL of the postgres store (PG* variables also apply)", \.postgresURL),
        integer("postgres-pool-size", "PostgreSQL sessions for registry statements, per sidecar", \.postgresPoolSize),
        integer("postgres-lease-spares", "Sessions freed by released locks kept open for the next acquire (each held lock pins one session)", \.postgresLeaseSpares),
        duration("postgres-idle-timeout", "Idle PostgreSQL sessions (pool and lock spares) are closed after this long", \.postgresIdleTimeout),
        choice("backend", "Where shared private keys live: disk, aws-kms, gcp-kms, azure-key-vault", \.backend),
        string("keys-dir", "Disk backend key directory, shared with the SPIRE servers (default <state-dir>/keys)", \.keysDir),
        ServiceSetting(name: "kid-format", help: "Key id rule: spire (default), spire-fips or rfc7638", repeatable: false) { config, values in
            let text = values.last ?? ""
            guard let format = KidFormat(rawValue: text) else {
                throw ConfigError("kid-format: \"\(text)\" is not one of spire, spire-fips, rfc7638")
            }
            config.kidFormat = format
        },
        ServiceSetting(name: "key-type", help: "Key type the rotation loop keeps (repeatable): ec-p256, ec-p384, rsa-2048, rsa-4096", repeatable: true) { config, values in
            var types: [KeyType] = []
            for value in values.flatMap({ $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }) {
                guard let type = KeyType(rawValue: value) else {
                    throw ConfigError("key-type: \"\(value)\" is not one of \(KeyType.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                if !types.contains(type) { types.append(type) }
            }
            config.keyTypes = types
        },
        duration("key-ttl", "Lifetime of a shared key (SPIRE's ca_ttl)", \.keyTTL),
        duration("publish-lead", "Minimum time a key is in the JWKS before servers sign with it", \.publishLead),
        duration("grace", "How long a key stays in the JWKS after its not_after (clock skew)", \.grace),
        string("issuer", "OIDC issuer in the discovery document (default http://<public-listen>, https:// with public TLS)", \.issuer),
        duration("jwks-max-age", "JWKS Cache-Control max-age (default and ceiling: half of publish-lead, at most 5m by default)", \.jwksMaxAge),
        integer("max-keys", "Most keys per family (EC, RSA) the JWKS may hold; AWS IAM accepts 100", \.maxKeysPerFamily),
        integer("max-jwks-bytes", "Largest JWKS document in bytes; nimbus-jose-jwt refuses over 51200", \.maxJWKSBytes),
        string("instance-id", "This instance's name in locks and records (default <hostname>-<pid>)", \.instanceID),
        duration("pending-grace", "Age after which a minted but never published backend key is deleted", \.pendingGrace),
        string("log-level", "trace, debug, info, notice, warning, error or critical", \.logLevel),
        choice("log-format", "json (one object per line) or text", \.logFormat),
        integer("max-header-bytes", "Largest request header block (431 beyond)", \.maxHeaderBytes),
        integer("max-body-bytes", "Largest request body (413 beyond)", \.maxBodyBytes),
        duration("header-timeout", "Time allowed to receive a request's header block (408 beyond)", \.headerTimeout),
        duration("idle-timeout", "Keep-alive connections idle longer are closed", \.idleTimeout),
        duration("write-timeout", "Time allowed to write a response", \.writeTimeout),
        integer("max-connections", "Open connections per listener; more are refused at once", \.maxConnections),
        duration("shutdown-grace", "On SIGTERM, time allowed for in-flight requests", \.shutdownGrace),
        flag("public-http2", "Serve HTTP/2 on the public listener too (ALPN h2 with TLS, h2c prior knowledge without): true or false", \.publicHTTP2),
        integer("http2-max-concurrent-streams", "HTTP/2 streams one client may have open at once (RST_STREAM REFUSED_STREAM beyond)", \.http2MaxConcurrentStreams),
        integer("http2-max-frame-bytes", "Largest HTTP/2 frame payload accepted (GOAWAY FRAME_SIZE_ERROR beyond)", \.http2MaxFrameBytes),
        integer("http2-stream-window-bytes", "HTTP/2 receive window per stream (flow control)", \.http2StreamWindowBytes),
        integer("http2-max-reset-burst", "RST_STREAM frames a client may send in a burst before GOAWAY (rapid reset)", \.http2MaxResetBurst),
        integer("http2-resets-per-second", "Refill rate of the RST_STREAM allowance", \.http2ResetsPerSecond),
        string("aws-region", "AWS region of the KMS backend (else AWS_REGION, AWS_DEFAULT_REGION, profile)", \.cloud.awsRegion),
        string("aws-endpoint", "KMS endpoint override (else AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL)", \.cloud.awsEndpoint),
        string("aws-profile", "Shared config/credentials profile (else AWS_PROFILE)", \.cloud.awsProfile),
        string("aws-alias-template", "Alias of the current key per trust domain and key type", \.cloud.awsAliasTemplate),
        integer("aws-deletion-window-days", "ScheduleKeyDeletion window, 7 to 30 days", \.cloud.awsDeletionWindowDays),
        string("gcp-project", "Google Cloud project of the Cloud KMS backend (required with gcp-kms)", \.cloud.gcpProject),
        string("gcp-location", "Cloud KMS location of the key ring (global, us-east1, europe…)", \.cloud.gcpLocation),
        string("gcp-key-ring", "Cloud KMS key ring id", \.cloud.gcpKeyRing),
        flag("gcp-create-key-ring", "Create the key ring when absent (true) or require it to exist (false)", \.cloud.gcpCreateKeyRing),
        string("gcp-key-id-template", "Crypto key id per mint: {trust_domain}, {key_type}; a random suffix is appended", \.cloud.gcpKeyIDTemplate),
        string("gcp-endpoint", "Cloud KMS endpoint override (default https://cloudkms.googleapis.com)", \.cloud.gcpEndpoint),
        string("gcp-credentials-file", "Google credentials file (service_account or external_account) used instead of the standard chain", \.cloud.gcpCredentialsFile),
        string("gcp-protection-level", "Protection level of new keys: SOFTWARE or HSM", \.cloud.gcpProtectionLevel),
        string("azure-vault-url", "Key Vault (https://NAME.vault.azure.net) or Managed HSM URL (required with azure-key-vault)", \.cloud.azureVaultURL),
        string("azure-key-name-template", "Key name per mint: {trust_domain} (. and _ become -), {key_type}; a random suffix is appended", \.cloud.azureKeyNameTemplate),
        string("azure-endpoint", "Where Key Vault requests go instead of the vault URL (private endpoint)", \.cloud.azureEndpoint),
        flag("azure-hsm", "Mint EC-HSM/RSA-HSM keys (Premium vault); Managed HSM always does", \.cloud.azureHSM),
        flag("azure-purge-deleted", "Purge a destroyed key after its soft delete when the vault allows it", \.cloud.azurePurgeDeleted),
        string("azure-authority-host", "Entra ID authority (else AZURE_AUTHORITY_HOST, else https://login.microsoftonline.com)", \.cloud.azureAuthorityHost),
        string("azure-managed-identity-endpoint", "Managed identity endpoint (default IMDS http://169.254.169.254)", \.cloud.azureManagedIdentityEndpoint),
        string("azure-ca-file", "PEM CA certificates trusted besides the system's for Key Vault and Entra ID HTTPS", \.cloud.azureCAFile),
    ]

    public static func named(_ name: String) -> ServiceSetting? { all.first { $0.name == name } }
}
