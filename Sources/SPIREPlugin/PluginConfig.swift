import Backends
import Foundation

/// The plugin's settings, from SPIRE's core configuration and the `plugin_data` block. The
/// field names are the contract with operators' server.conf (docs/spire.md).
struct PluginConfig: Equatable, Sendable {
    /// How the plugin reaches the sidecar's control API.
    enum ControlURL: Equatable, Sendable {
        case http(host: String, port: Int, secure: Bool)
        case unix(path: String)
    }

    /// How the plugin proves itself to the control API.
    enum Credentials: Equatable, Sendable {
        case tokenFile(String)
        case clientCertificate(certificateFile: String, keyFile: String)
    }

    var trustDomain: String
    var controlURL: ControlURL
    var credentials: Credentials
    /// Trusted CAs for an https control URL; the system's when nil.
    var caFile: String?
    var serverID: String
    /// The per-server key file; nil keeps local keys in memory only.
    var keysPath: String?
    /// How to reach the backends shared keys live in, under the sidecar's own setting
    /// names; credentials come from the environment as the sidecar finds them.
    var backend = BackendSettings(kind: .disk)
    /// SPIRE's JWT key lifetime (`ca_ttl`, or `jwt_key_ttl` where SPIRE has it), seconds,
    /// when the operator states it: GenerateKey then warns when a handed key leaves
    /// keycoord's schedule before this server would stop signing with it.
    var spireJWTKeyTTL: TimeInterval?

    /// A setting that cannot be used; `field` is its plugin_data name.
    struct Invalid: Error, Equatable, CustomStringConvertible {
        let field: String
        let reason: String
        var description: String { "\(field): \(reason)" }
    }

    /// Backend settings: plugin_data name → the `BackendSettings` field it sets.
    static let backendFields: [String: WritableKeyPath<BackendSettings, String> & Sendable] = [
        "keys_dir": \.keysDir, "aws_region": \.awsRegion, "aws_endpoint": \.awsEndpoint, "aws_profile": \.awsProfile,
        "gcp_project": \.gcpProject, "gcp_location": \.gcpLocation, "gcp_key_ring": \.gcpKeyRing,
        "gcp_endpoint": \.gcpEndpoint, "gcp_credentials_file": \.gcpCredentialsFile, "azure_vault_url": \.azureVaultURL,
        "azure_endpoint": \.azureEndpoint, "azure_authority_host": \.azureAuthorityHost,
        "azure_managed_identity_endpoint": \.azureManagedIdentityEndpoint, "azure_ca_file": \.azureCAFile,
    ]

    static let fields: Set<String> = Set(["control_url", "token_file", "client_cert_file", "client_key_file", "ca_file",
                                          "server_id", "keys_path", "jwt_key_ttl"]).union(backendFields.keys)

    static func parse(trustDomain: String, hcl: String) throws(Invalid) -> PluginConfig {
        guard !trustDomain.isEmpty else { throw Invalid(field: "trust_domain", reason: "SPIRE sent no trust domain") }
        let values: [String: PluginDataParser.Value]
        do {
            values = try PluginDataParser.parse(hcl)
        } catch {
            throw Invalid(field: "plugin_data", reason: error.description)
        }
        if let unknown = values.keys.sorted().first(where: { !fields.contains($0) }) {
            throw Invalid(field: unknown, reason: "unknown setting (known: \(fields.sorted().joined(separator: ", ")))")
        }
        func string(_ name: String) throws(Invalid) -> String? {
            guard let value = values[name] else { return nil }
            guard case .string(let text) = value, !text.isEmpty else {
                throw Invalid(field: name, reason: "must be a non-empty quoted string")
            }
            return text
        }
        guard let url = try string("control_url") else {
            throw Invalid(field: "control_url", reason: "required: http://HOST:PORT, https://HOST:PORT or unix:///path")
        }
        let controlURL = try parseURL(url)
        guard let serverID = try string("server_id") else {
            throw Invalid(field: "server_id", reason: "required: this SPIRE server's id")
        }
        let token = try string("token_file")
        let certificate = try string("client_cert_file")
        let key = try string("client_key_file")
        let credentials: Credentials
        switch (token, certificate, key) {
        case (let token?, nil, nil):
            credentials = .tokenFile(token)
        case (nil, let certificate?, let key?):
            guard case .http(_, _, true) = controlURL else {
                throw Invalid(field: "client_cert_file", reason: "a client certificate needs an https control_url")
            }
            credentials = .clientCertificate(certificateFile: certificate, keyFile: key)
        case (nil, .some, nil), (nil, nil, .some):
            throw Invalid(field: certificate == nil ? "client_cert_file" : "client_key_file",
                          reason: "client_cert_file and client_key_file go together")
        case (nil, nil, nil):
            throw Invalid(field: "token_file", reason: "required unless client_cert_file and client_key_file are set")
        default:
            throw Invalid(field: "token_file", reason: "set token_file or a client certificate, not both")
        }
        let caFile = try string("ca_file")
        if caFile != nil, case .http(_, _, false) = controlURL {
            throw Invalid(field: "ca_file", reason: "only an https control_url uses a CA file")
        }
        var config = PluginConfig(trustDomain: trustDomain, controlURL: controlURL, credentials: credentials, caFile: caFile,
                                  serverID: serverID, keysPath: try string("keys_path"))
        for (name, field) in backendFields {
            if let value = try string(name) { config.backend[keyPath: field] = value }
        }
        if let text = try string("jwt_key_ttl") {
            guard let seconds = parseDuration(text), seconds > 0 else {
                throw Invalid(field: "jwt_key_ttl", reason: "a duration like \"24h\", \"90m\" or \"3600s\" (SPIRE's ca_ttl)")
            }
            config.spireJWTKeyTTL = seconds
        }
        return config
    }

    /// `NUMBER` followed by s, m, h or d.
    private static func parseDuration(_ text: String) -> TimeInterval? {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let unit = text.last.flatMap({ units[$0] }), let value = Double(text.dropLast()), value.isFinite else { return nil }
        return value * unit
    }

    private static func parseURL(_ text: String) throws(Invalid) -> ControlURL {
        if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            guard path.hasPrefix("/") else { throw Invalid(field: "control_url", reason: "unix:// needs an absolute path") }
            return .unix(path: path)
        }
        let secure: Bool
        let rest: Substring
        if text.hasPrefix("https://") {
            secure = true
            rest = text.dropFirst("https://".count)
        } else if text.hasPrefix("http://") {
            secure = false
            rest = text.dropFirst("http://".count)
        } else {
            throw Invalid(field: "control_url", reason: "must start with http://, https:// or unix://")
        }
        let authority = rest.hasSuffix("/") ? rest.dropLast() : rest
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]),
              (1...65535).contains(port) else {
            throw Invalid(field: "control_url", reason: "needs HOST:PORT, e.g. http://127.0.0.1:8081")
        }
        var host = String(authority[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains("/") else { throw Invalid(field: "control_url", reason: "needs a host") }
        return .http(host: host, port: port, secure: secure)
    }
}
