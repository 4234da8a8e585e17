import Foundation

/// Key Vault's 401 challenge: `WWW-Authenticate: Bearer authorization="https://login…/TENANT",
/// resource="https://vault.azure.net"` (or `scope=`). The resource tells which token
/// audience the vault wants (sovereign clouds, Managed HSM); keycoord takes it only when it
/// is the vault's own domain, so a forged challenge cannot send the token elsewhere.
struct AzureChallenge: Sendable, Equatable {
    var authorization: String?
    var scope: String?

    init?(header: String?) {
        guard let header, header.lowercased().hasPrefix("bearer") else { return nil }
        var fields: [String: String] = [:]
        let text = header.dropFirst("bearer".count)
        let pattern = try! NSRegularExpression(pattern: #"([A-Za-z_]+)\s*=\s*"([^"]*)""#)
        let range = NSRange(text.startIndex..., in: text)
        for match in pattern.matches(in: String(text), range: NSRange(location: 0, length: range.length)) {
            let string = String(text) as NSString
            fields[string.substring(with: match.range(at: 1)).lowercased()] = string.substring(with: match.range(at: 2))
        }
        authorization = fields["authorization"] ?? fields["authorization_uri"]
        if let scope = fields["scope"], !scope.isEmpty {
            self.scope = scope
        } else if let resource = fields["resource"], !resource.isEmpty {
            self.scope = resource.hasSuffix("/") ? resource + ".default" : resource + "/.default"
        }
    }

    /// The challenge's scope when its host is `vaultHost`'s parent domain (`vault.azure.net`
    /// for `NAME.vault.azure.net`), else nil.
    func scope(forVault vaultHost: String) -> String? {
        guard let scope, let host = URL(string: scope)?.host?.lowercased(), !host.isEmpty else { return nil }
        let vault = vaultHost.lowercased()
        return vault == host || vault.hasSuffix("." + host) ? scope : nil
    }

    /// The default scope of a vault: `https://` and the host without its first label, `/.default`.
    static func defaultScope(forVault vaultHost: String) -> String {
        let labels = vaultHost.lowercased().split(separator: ".")
        let parent = labels.count > 2 ? labels.dropFirst().joined(separator: ".") : "vault.azure.net"
        return "https://\(parent)/.default"
    }
}
