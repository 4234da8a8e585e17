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

    /// A setting that cannot be used; `field` is its plugin_data name.
    struct Invalid: Error, Equatable, CustomStringConvertible {
        let field: String
        let reason: String
        var description: String { "\(field): \(reason)" }
    }

    static let fields: Set<String> = ["control_url", "token_file", "client_cert_file", "client_key_file", "ca_file",
                                      "server_id", "keys_path"]

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
        return PluginConfig(trustDomain: trustDomain, controlURL: controlURL, credentials: credentials, caFile: caFile,
                            serverID: serverID, keysPath: try string("keys_path"))
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
