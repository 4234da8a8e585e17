/// One place credentials can come from (environment, shared files, STS web identity,
/// ECS, EC2 instance metadata). `load` returns nil when the source is not configured
/// here, so the chain moves on; it throws when it is configured but fails.
public protocol AWSCredentialSource: Sendable {
    /// A short name for messages ("environment", "instance metadata", …).
    var name: String { get }
    func load() async throws -> AWSCredentials?
}
