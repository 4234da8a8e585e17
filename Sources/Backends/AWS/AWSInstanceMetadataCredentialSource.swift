import Foundation

/// EC2 instance profile credentials through IMDSv2: a session token from
/// `PUT /latest/api/token`, then the role name and its credentials under
/// `/latest/meta-data/iam/security-credentials/`. IMDSv1 (no token) is not used: it is
/// the variant SSRF attacks exploit. Disabled by `AWS_EC2_METADATA_DISABLED=true`;
/// the endpoint is `AWS_EC2_METADATA_SERVICE_ENDPOINT` or 169.254.169.254.
public struct AWSInstanceMetadataCredentialSource: AWSCredentialSource {
    public let name = "EC2 instance metadata (IMDSv2)"
    let endpoint: URL
    let http: HTTPClient
    let retry: RetryPolicy

    /// Nil when disabled through the environment.
    public init?(environment: [String: String], http: HTTPClient,
                 retry: RetryPolicy = RetryPolicy(maxAttempts: 2, deadline: 3, attemptTimeout: 1)) throws {
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" { return nil }
        let text = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "http://169.254.169.254"
        endpoint = try AWSEndpoints.parse(text, origin: "AWS_EC2_METADATA_SERVICE_ENDPOINT")
        self.http = http
        self.retry = retry
    }

    public func load() async throws -> AWSCredentials? {
        let token = try await fetch("PUT", "latest/api/token", headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")])
        let tokenText = String(decoding: token, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !tokenText.isEmpty, !tokenText.contains("\n"), !tokenText.contains("\r") else {
            throw AWSError("instance metadata returned an unusable session token")
        }
        let auth = [(name: "X-aws-ec2-metadata-token", value: tokenText)]
        let roles = String(decoding: try await fetch("GET", "latest/meta-data/iam/security-credentials/", headers: auth),
                           as: UTF8.self)
        guard let role = roles.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespaces) })
            .first(where: { !$0.isEmpty }) else {
            throw AWSError("this instance has no IAM role attached (instance metadata lists none)")
        }
        let body = try await fetch("GET", "latest/meta-data/iam/security-credentials/\(SigV4Signer.percentEncode(role))",
                                   headers: auth)
        return try AWSCredentials.fromMetadataJSON(body, source: "instance metadata")
    }

    private func fetch(_ method: String, _ path: String, headers: [(name: String, value: String)]) async throws -> [UInt8] {
        guard let url = URL(string: path, relativeTo: endpoint)?.absoluteURL else {
            throw AWSError("cannot build an instance metadata URL for \(path)")
        }
        let request = HTTPClientRequest(method: method, url: url, headers: headers)
        let response = try await retry.run(isRetryable: CloudRetry.isRetryable) { _, timeout in
            let response = try await http.send(request, timeout: timeout)
            if response.status >= 500 || response.status == 429 {
                throw AWSServiceError(service: "IMDS", operation: path, status: response.status,
                                      code: "HTTP\(response.status)", message: response.bodySnippet)
            }
            return response
        }
        guard response.isSuccess else {
            throw AWSError("instance metadata \(method) /\(path) answered HTTP \(response.status)")
        }
        return response.body
    }
}
