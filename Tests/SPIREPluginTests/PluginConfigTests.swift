import Testing
@testable import SPIREPlugin

struct PluginConfigTests {
    @Test func readsEverySetting() throws {
        let config = try PluginConfig.parse(trustDomain: "example.org", hcl: """
            # keycoord sidecar on loopback
            control_url = "https://127.0.0.1:8081"
            client_cert_file = "/run/svid.pem"   // the server's SVID
            client_key_file = "/run/svid.key"
            /* a CA bundle
               for the sidecar */
            ca_file = "/run/bundle.pem"
            server_id = "spire-\\"1\\""
            keys_path = "/var/lib/spire/keycoord-keys.json"
            """)
        #expect(config.controlURL == .http(host: "127.0.0.1", port: 8081, secure: true))
        #expect(config.credentials == .clientCertificate(certificateFile: "/run/svid.pem", keyFile: "/run/svid.key"))
        #expect(config.caFile == "/run/bundle.pem")
        #expect(config.serverID == "spire-\"1\"")
        #expect(config.keysPath == "/var/lib/spire/keycoord-keys.json")
        let unix = try PluginConfig.parse(trustDomain: "example.org",
                                          hcl: "control_url = \"unix:///run/k.sock\"\ntoken_file = \"/t\"\nserver_id = \"a\"")
        #expect(unix.controlURL == .unix(path: "/run/k.sock"))
        #expect(unix.credentials == .tokenFile("/t"))
        #expect(unix.keysPath == nil)
    }

    /// Backend settings under the sidecar's names, and SPIRE's JWT key lifetime.
    @Test func readsBackendSettingsAndJWTKeyTTL() throws {
        let config = try PluginConfig.parse(trustDomain: "example.org", hcl: """
            control_url = "unix:///run/k.sock"
            token_file = "/t"
            server_id = "a"
            keys_dir = "/mnt/keycoord-keys"
            aws_region = "eu-west-1"
            aws_endpoint = "https://kms.internal"
            gcp_project = "p"
            azure_vault_url = "https://v.vault.azure.net"
            jwt_key_ttl = "24h"
            """)
        #expect(config.backend.keysDir == "/mnt/keycoord-keys")
        #expect(config.backend.awsRegion == "eu-west-1")
        #expect(config.backend.awsEndpoint == "https://kms.internal")
        #expect(config.backend.gcpProject == "p")
        #expect(config.backend.azureVaultURL == "https://v.vault.azure.net")
        #expect(config.spireJWTKeyTTL == 86400)
        #expect(throws: PluginConfig.Invalid(field: "jwt_key_ttl", reason: "a duration like \"24h\", \"90m\" or \"3600s\" (SPIRE's ca_ttl)")) {
            try PluginConfig.parse(trustDomain: "example.org",
                                   hcl: "control_url = \"unix:///k\"\ntoken_file = \"/t\"\nserver_id = \"a\"\njwt_key_ttl = \"soon\"")
        }
    }

    @Test(arguments: [
        ("token_file = \"/t\"\nserver_id = \"a\"", "control_url"),
        ("control_url = \"ftp://h:1\"\ntoken_file = \"/t\"\nserver_id = \"a\"", "control_url"),
        ("control_url = \"http://h\"\ntoken_file = \"/t\"\nserver_id = \"a\"", "control_url"),
        ("control_url = \"http://h:1\"\ntoken_file = \"/t\"", "server_id"),
        ("control_url = \"http://h:1\"\nserver_id = \"a\"", "token_file"),
        ("control_url = \"http://h:1\"\nclient_cert_file = \"/c\"\nclient_key_file = \"/k\"\nserver_id = \"a\"", "client_cert_file"),
        ("control_url = \"https://h:1\"\nclient_cert_file = \"/c\"\nserver_id = \"a\"", "client_key_file"),
        ("control_url = \"http://h:1\"\ntoken_file = \"/t\"\nserver_id = \"a\"\nca_file = \"/ca\"", "ca_file"),
        ("control_url = \"http://h:1\"\ntoken_file = \"/t\"\nserver_id = \"a\"\nkeys-path = \"/k\"", "keys-path"),
        ("control_url = \"http://h:1\"\ntoken_file = \"/t\"\nserver_id = 7", "server_id"),
        ("control_url = \"http://h:1\"\ntoken_file = \"/t\"\nserver_id = \"a\"\nserver_id = \"b\"", "plugin_data"),
        ("control_url = \"http://${host}:1\"", "plugin_data"),
        ("keys { path = \"/k\" }", "plugin_data"),
    ])
    func refusalsNameTheField(hcl: String, field: String) {
        #expect { try PluginConfig.parse(trustDomain: "example.org", hcl: hcl) } throws: { error in
            (error as? PluginConfig.Invalid)?.field == field
        }
    }

    @Test func needsTheTrustDomain() {
        #expect(throws: PluginConfig.Invalid.self) {
            try PluginConfig.parse(trustDomain: "", hcl: "control_url = \"http://h:1\"\ntoken_file = \"/t\"\nserver_id = \"a\"")
        }
    }
}
