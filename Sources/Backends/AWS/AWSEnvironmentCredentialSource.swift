/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optional `AWS_SESSION_TOKEN`.
public struct AWSEnvironmentCredentialSource: AWSCredentialSource {
    public let name = "environment"
    let environment: [String: String]

    public init(environment: [String: String]) { self.environment = environment }

    public func load() async throws -> AWSCredentials? {
        let id = environment["AWS_ACCESS_KEY_ID"] ?? ""
        let secret = environment["AWS_SECRET_ACCESS_KEY"] ?? ""
        if id.isEmpty && secret.isEmpty { return nil }
        guard !id.isEmpty, !secret.isEmpty else {
            throw AWSError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
        }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"])
    }
}
