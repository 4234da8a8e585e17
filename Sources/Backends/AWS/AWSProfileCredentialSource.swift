/// Static keys (`aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`) of the
/// selected profile in the shared credentials and config files.
public struct AWSProfileCredentialSource: AWSCredentialSource {
    public var name: String { "shared profile \(config.profileName)" }
    let config: AWSSharedConfig

    public init(config: AWSSharedConfig) { self.config = config }

    public func load() async throws -> AWSCredentials? {
        let id = config.settings["aws_access_key_id"] ?? ""
        let secret = config.settings["aws_secret_access_key"] ?? ""
        if id.isEmpty && secret.isEmpty { return nil }
        guard !id.isEmpty, !secret.isEmpty else {
            throw AWSError("AWS profile \(config.profileName) sets only one of aws_access_key_id and aws_secret_access_key")
        }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: config.settings["aws_session_token"])
    }
}
