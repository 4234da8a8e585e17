import Backends
import Core
import Foundation
import HTTP2

/// Every setting of `keycoord serve`, with the defaults of the embedded mode.
///
/// Each field has one name used alike as a flag (`--trust-domain`), an environment
/// variable (`KEYCOORD_TRUST_DOMAIN`) and a config-file key (`"trust-domain"`); see
/// `ServiceSettings` for the table and docs/configuration.md for the reference.
public struct ServiceConfig: Sendable, Equatable {
    public enum StoreKind: String, Sendable, CaseIterable { case file, postgres }
    public typealias BackendKind = BackendSettings.Kind
    public enum LogFormat: String, Sendable, CaseIterable { case json, text }

    public var trustDomain = "example.org"
    public var stateDir = "./keycoord-data"
    public var publicListen = "127.0.0.1:8080"
    public var controlListen = "127.0.0.1:8081"
    /// Bearer token file of the control API; empty means `<state-dir>/control-token`,
    /// generated on first start.
    public var controlTokenFile = ""
    /// Tokens that may also taint and revoke. Empty: with the generated control token,
    /// that token is an admin token (one operator on one host); with an explicit
    /// `controlTokenFile`, no token is an admin token.
    public var adminTokenFile = ""
    /// TLS on the public listener (PEM chain and key, reloaded when they change); both
    /// empty means plaintext.
    public var publicTLSCert = ""
    public var publicTLSKey = ""
    /// TLS on the control listener; both empty means plaintext.
    public var controlTLSCert = ""
    public var controlTLSKey = ""
    /// CA bundle client certificates of the control API must chain to (mutual TLS);
    /// empty means no client certificates are requested.
    public var controlClientCA = ""
    /// SPIFFE IDs (patterns, `*` = one path segment) whose client certificates are members.
    public var controlAllowSPIFFEIDs: [String] = []
    /// SPIFFE IDs (patterns) whose client certificates may also taint and revoke.
    public var adminSPIFFEIDs: [String] = []
    /// Permission bits of a unix-socket control listener.
    public var controlSocketMode: Int = 0o660
    public var store = StoreKind.file
    public var postgresURL = ""
    /// Sessions for registry statements, per sidecar.
    public var postgresPoolSize = 4
    /// Sessions freed by released leases kept open for the next acquire.
    public var postgresLeaseSpares = 64
    /// Idle pool and spare lease sessions are closed after this long unused.
    public var postgresIdleTimeout: Duration = .seconds(60)
    public var backend = BackendKind.disk
    /// Disk backend key directory; empty means `<state-dir>/keys`.
    public var keysDir = ""
    public var kidFormat = KidFormat.spire
    public var keyTypes: [KeyType] = [.ecP256]
    public var keyTTL: Duration = .seconds(24 * 3600)
    public var publishLead: Duration = .seconds(15 * 60)
    public var grace: Duration = .seconds(5 * 60)
    /// OIDC issuer; empty means `http://<public-listen>`.
    public var issuer = ""
    /// JWKS `Cache-Control: max-age`; zero means half of `publishLead`, capped at 5 min.
    public var jwksMaxAge: Duration = .zero
    public var maxKeysPerFamily = 100
    public var maxJWKSBytes = 51_200
    /// This instance's id in locks and records; empty means `<hostname>-<pid>`.
    public var instanceID = ""
    public var pendingGrace: Duration = .seconds(3600)
    public var logLevel = "info"
    public var logFormat = LogFormat.json

    public var maxHeaderBytes = 16 * 1024
    public var maxBodyBytes = 64 * 1024
    public var headerTimeout: Duration = .seconds(10)
    public var idleTimeout: Duration = .seconds(60)
    public var writeTimeout: Duration = .seconds(30)
    public var maxConnections = 10_000
    public var shutdownGrace: Duration = .seconds(10)
    /// HTTP/2 on the public listener (ALPN h2 under TLS, h2c with prior knowledge).
    public var publicHTTP2 = true
    public var http2MaxConcurrentStreams = 100
    public var http2MaxFrameBytes = 16 * 1024
    public var http2StreamWindowBytes = 65_535
    public var http2MaxResetBurst = 200
    public var http2ResetsPerSecond = 33

    /// The cloud backends' settings (AWS KMS, GCP Cloud KMS, Azure Key Vault), under the
    /// names the SPIRE plugin shares; `backend` and `keysDir` decide the kind and directory.
    public var cloud = BackendSettings(kind: .disk)

    public init() {}

    public var resolvedControlTokenFile: String {
        controlTokenFile.isEmpty ? (stateDir as NSString).appendingPathComponent("control-token") : controlTokenFile
    }

    /// Whether the control token is the generated one (no `controlTokenFile` given).
    public var usesGeneratedControlToken: Bool { controlTokenFile.isEmpty }

    public var resolvedKeysDir: String {
        keysDir.isEmpty ? (stateDir as NSString).appendingPathComponent("keys") : keysDir
    }

    /// The backend settings, under the names the SPIRE plugin shares (`BackendSettings`).
    public var backendSettings: BackendSettings {
        var settings = cloud
        settings.kind = backend
        settings.keysDir = resolvedKeysDir
        return settings
    }

    public var resolvedIssuer: String {
        issuer.isEmpty ? "\(publicTLSCert.isEmpty ? "http" : "https")://\(publicListen)" : issuer
    }

    /// The public listener's HTTP/2 limits; nil when HTTP/2 is off. The header list, idle
    /// and write bounds are HTTP/1.1's settings, so one setting bounds both protocols; a
    /// stream's whole request gets what HTTP/1.1 allows a head and its body (header timeout
    /// plus the 30 s body timeout).
    public var publicHTTP2Limits: HTTP2Limits? {
        guard publicHTTP2 else { return nil }
        return HTTP2Limits(maxConcurrentStreams: http2MaxConcurrentStreams, maxHeaderListBytes: maxHeaderBytes,
                           maxFrameBytes: http2MaxFrameBytes, streamWindowBytes: http2StreamWindowBytes,
                           maxResetBurst: http2MaxResetBurst, resetsPerSecond: http2ResetsPerSecond,
                           idleTimeout: idleTimeout, requestTimeout: headerTimeout + .seconds(30), writeTimeout: writeTimeout)
    }

    /// Whether control API callers may authenticate with client certificates.
    public var usesControlMTLS: Bool { !controlClientCA.isEmpty }

    public var resolvedInstanceID: String {
        instanceID.isEmpty ? "\(ProcessInfo.processInfo.hostName)-\(getpid())" : instanceID
    }

    /// The JWKS cache lifetime: never longer than half of `publishLead`, so no relying
    /// party can cache a JWKS that lacks a key past the moment servers start signing with it.
    public var effectiveJWKSMaxAge: Duration {
        let ceiling = publishLead / 2
        if jwksMaxAge == .zero { return min(ceiling, .seconds(300)) }
        return min(jwksMaxAge, ceiling)
    }

    /// How often the rotation loop runs: often enough to act within 1/48 of a key's life.
    public var rotationInterval: Duration {
        max(.seconds(1), min(.seconds(30), keyTTL / 48))
    }

    /// Checks the settings together; the message says which setting to change.
    public func validate() throws {
        func fail(_ message: String) throws -> Never { throw ConfigError(message) }
        if !TrustDomainName.isValid(trustDomain) {
            try fail("trust-domain \"\(trustDomain)\" is not a valid trust domain name (lowercase letters, digits, '.', '-', '_')")
        }
        if keyTypes.isEmpty { try fail("key-type: name at least one key type") }
        if keyTTL < .seconds(60) { try fail("key-ttl must be at least 1m") }
        // The schedule's rules live with the schedule (Core's RotationPolicy).
        do {
            try RotationPolicy(ttl: keyTTL, publishLead: publishLead, grace: grace).validate()
        } catch CoordinationError.invalid(let message) {
            try fail(message)
        }
        let managedPerFamily = Dictionary(grouping: keyTypes, by: \.family).values.map { 3 * $0.count }.max() ?? 3
        if maxKeysPerFamily < managedPerFamily {
            try fail("max-keys must be at least \(managedPerFamily): three keys (previous, current, next) per configured key type of one family")
        }
        if maxJWKSBytes < 2048 { try fail("max-jwks-bytes must be at least 2048") }
        if store == .postgres && postgresURL.isEmpty && ProcessInfo.processInfo.environment["PGHOST"] == nil {
            try fail("store postgres needs postgres-url (or the PG* environment variables)")
        }
        if !(1...256).contains(postgresPoolSize) { try fail("postgres-pool-size must be between 1 and 256") }
        if !(0...4096).contains(postgresLeaseSpares) { try fail("postgres-lease-spares must be between 0 and 4096") }
        if postgresIdleTimeout < .seconds(1) { try fail("postgres-idle-timeout must be at least 1s") }
        if !(7...30).contains(cloud.awsDeletionWindowDays) { try fail("aws-deletion-window-days must be between 7 and 30") }
        if backend == .gcpKMS && cloud.gcpProject.isEmpty { try fail("backend gcp-kms needs gcp-project (the Google Cloud project id)") }
        if backend == .azureKeyVault && cloud.azureVaultURL.isEmpty {
            try fail("backend azure-key-vault needs azure-vault-url (https://NAME.vault.azure.net or a Managed HSM URL)")
        }
        if !["SOFTWARE", "HSM"].contains(cloud.gcpProtectionLevel) { try fail("gcp-protection-level must be SOFTWARE or HSM") }
        if publicTLSCert.isEmpty != publicTLSKey.isEmpty {
            try fail("public-tls-cert and public-tls-key must be set together (got only \(publicTLSCert.isEmpty ? "public-tls-key" : "public-tls-cert"))")
        }
        if controlTLSCert.isEmpty != controlTLSKey.isEmpty {
            try fail("control-tls-cert and control-tls-key must be set together (got only \(controlTLSCert.isEmpty ? "control-tls-key" : "control-tls-cert"))")
        }
        if !controlClientCA.isEmpty && controlTLSCert.isEmpty {
            try fail("control-client-ca needs TLS on the control listener: set control-tls-cert and control-tls-key")
        }
        for (setting, patterns) in [("control-allow-spiffe-id", controlAllowSPIFFEIDs), ("admin-spiffe-id", adminSPIFFEIDs)] {
            if !patterns.isEmpty && controlClientCA.isEmpty {
                try fail("\(setting) needs control-client-ca (the CA bundle client certificates must chain to)")
            }
            for pattern in patterns where SPIFFEIDPattern(pattern) == nil {
                try fail("\(setting): \"\(pattern)\" is not a SPIFFE ID pattern (spiffe://trust-domain/path, '*' for one whole path segment)")
            }
        }
        if usesControlMTLS && controlAllowSPIFFEIDs.isEmpty && adminSPIFFEIDs.isEmpty {
            try fail("control-client-ca is set but no SPIFFE ID is allowed: add control-allow-spiffe-id or admin-spiffe-id")
        }
        if !(0...0o777).contains(controlSocketMode) { try fail("control-socket-mode must be octal permission bits, e.g. 0660") }
        if usesGeneratedControlToken, !usesControlMTLS, let host = Self.tcpHost(controlListen), !Self.isLoopback(host) {
            try fail("control-listen \(controlListen) is not a loopback address: set control-token-file (and admin-token-file) explicitly, or require client certificates with control-client-ca, instead of relying on the generated token")
        }
        if maxHeaderBytes < 1024 { try fail("max-header-bytes must be at least 1024") }
        if maxBodyBytes < 1024 { try fail("max-body-bytes must be at least 1024") }
        if maxConnections < 1 { try fail("max-connections must be at least 1") }
        if !(1...10_000).contains(http2MaxConcurrentStreams) { try fail("http2-max-concurrent-streams must be 1 to 10000") }
        if !HTTP2Limits.frameBytesRange.contains(http2MaxFrameBytes) {
            try fail("http2-max-frame-bytes must be 16384 to 16777215 (RFC 9113 SETTINGS_MAX_FRAME_SIZE)")
        }
        if !HTTP2Limits.windowBytesRange.contains(http2StreamWindowBytes) { try fail("http2-stream-window-bytes must be 1 to 2147483647") }
        if http2MaxResetBurst < 1 { try fail("http2-max-reset-burst must be at least 1") }
        if http2ResetsPerSecond < 0 { try fail("http2-resets-per-second must not be negative") }
        if !["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) {
            try fail("log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }
}

extension ServiceConfig {
    /// The host of a `HOST:PORT` listen address; nil for `unix:` addresses.
    static func tcpHost(_ listen: String) -> String? {
        if listen.hasPrefix("unix:") { return nil }
        if listen.hasPrefix("["), let close = listen.firstIndex(of: "]") {
            return String(listen[listen.index(after: listen.startIndex)..<close])
        }
        guard let colon = listen.lastIndex(of: ":") else { return listen }
        return String(listen[..<colon])
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// A configuration problem, reported before anything starts.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
