import Foundation

/// ECS task roles and EKS Pod Identity: credentials from the container agent at
/// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (under 169.254.170.2) or
/// `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with the token of
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
public struct AWSContainerCredentialSource: AWSCredentialSource {
    public let name = "container credentials endpoint"
    let url: URL
    let environment: [String: String]
    let http: HTTPClient
    let retry: RetryPolicy

    /// The ECS agent's fixed address for relative URIs.
    public static let ecsBase = "http://169.254.170.2"

    /// Nil when neither URI variable is set. A full URI must be https, or http to a
    /// loopback or the ECS/EKS agent addresses, as the SDKs require.
    public init?(environment: [String: String], http: HTTPClient, relativeBase: String = ecsBase,
                 retry: RetryPolicy = RetryPolicy(maxAttempts: 3, deadline: 5, attemptTimeout: 2)) throws {
        let text: String
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            text = relativeBase + (relative.hasPrefix("/") ? relative : "/" + relative)
        } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty {
            text = full
            guard let components = URLComponents(string: full), let host = components.host?.lowercased(),
                  components.scheme?.lowercased() == "https" || Self.allowedHTTPHosts.contains(host) || host.hasPrefix("127.")
            else {
                throw AWSError("AWS_CONTAINER_CREDENTIALS_FULL_URI must use https or a loopback/ECS/EKS agent address")
            }
        } else {
            return nil
        }
        guard let url = URL(string: text), url.host != nil else {
            throw AWSError("the container credentials URI \"\(text)\" is not a valid URL")
        }
        self.url = url
        self.environment = environment
        self.http = http
        self.retry = retry
    }

    static let allowedHTTPHosts: Set<String> = ["localhost", "::1", "[::1]", "169.254.170.2", "169.254.170.23",
                                                "fd00:ec2::23", "[fd00:ec2::23]"]

    public func load() async throws -> AWSCredentials? {
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if let token = try authorizationToken() { headers.append(("Authorization", token)) }
        let request = HTTPClientRequest(method: "GET", url: url, headers: headers)
        let response = try await retry.run(isRetryable: CloudRetry.isRetryable) { _, timeout in
            let response = try await http.send(request, timeout: timeout)
            if response.status >= 500 || response.status == 429 {
                throw AWSServiceError(service: "ECS", operation: "container credentials", status: response.status,
                                      code: "HTTP\(response.status)", message: response.bodySnippet)
            }
            return response
        }
        guard response.isSuccess else {
            throw AWSError("the container credentials endpoint answered HTTP \(response.status)")
        }
        return try AWSCredentials.fromMetadataJSON(response.body, source: "the container credentials endpoint")
    }

    /// The token file wins over the variable; the file is re-read every time (it rotates).
    func authorizationToken() throws -> String? {
        if let path = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw AWSError("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(path)")
            }
            return try Self.checked(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"], !token.isEmpty { return try Self.checked(token) }
        return nil
    }

    /// A token with CR or LF would split the header; refuse it.
    static func checked(_ token: String) throws -> String {
        guard !token.contains("\r"), !token.contains("\n") else {
            throw AWSError("the container authorization token contains a line break")
        }
        return token
    }
}
