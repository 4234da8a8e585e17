/// Credentials given explicitly in the configuration.
public struct AWSStaticCredentialSource: AWSCredentialSource {
    public let name = "configuration"
    let credentials: AWSCredentials

    public init(_ credentials: AWSCredentials) { self.credentials = credentials }

    public func load() async throws -> AWSCredentials? { credentials }
}
