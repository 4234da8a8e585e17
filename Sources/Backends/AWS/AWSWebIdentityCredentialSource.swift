import Foundation

/// IRSA / workload identity: exchanges the OIDC token in `AWS_WEB_IDENTITY_TOKEN_FILE` for
/// temporary credentials of `AWS_ROLE_ARN` through STS `AssumeRoleWithWebIdentity` (an
/// unsigned query-protocol call with an XML answer). The file is re-read on every
/// refresh because the platform rotates it.
public struct AWSWebIdentityCredentialSource: AWSCredentialSource {
    public let name = "web identity (STS AssumeRoleWithWebIdentity)"
    let tokenFile: String
    let roleARN: String
    let sessionName: String
    let stsEndpoint: URL
    let http: HTTPClient
    let retry: RetryPolicy

    /// Nil when neither the environment nor the profile configure web identity.
    public init?(environment: [String: String], profile: AWSSharedConfig?, region: String?, http: HTTPClient,
                 retry: RetryPolicy = RetryPolicy(maxAttempts: 4, deadline: 20, attemptTimeout: 5)) throws {
        func value(_ env: String, _ key: String) -> String? {
            (environment[env] ?? profile?.settings[key]).flatMap { $0.isEmpty ? nil : $0 }
        }
        let tokenFile = value("AWS_WEB_IDENTITY_TOKEN_FILE", "web_identity_token_file")
        let roleARN = value("AWS_ROLE_ARN", "role_arn")
        guard let tokenFile else { return nil }
        guard let roleARN else {
            throw AWSError("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")
        }
        self.tokenFile = tokenFile
        self.roleARN = roleARN
        self.sessionName = value("AWS_ROLE_SESSION_NAME", "role_session_name")
            ?? "keycoord-\(Int(Date().timeIntervalSince1970))"
        self.stsEndpoint = try AWSEndpoints.sts(environment: environment, region: region)
        self.http = http
        self.retry = retry
    }

    public func load() async throws -> AWSCredentials? {
        guard let data = FileManager.default.contents(atPath: tokenFile) else {
            throw AWSError("cannot read the web identity token file \(tokenFile)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw AWSError("the web identity token file \(tokenFile) is empty") }
        let form = [("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", roleARN),
                    ("RoleSessionName", sessionName), ("WebIdentityToken", token)]
            .map { "\(SigV4Signer.percentEncode($0.0))=\(SigV4Signer.percentEncode($0.1))" }
            .joined(separator: "&")
        let request = HTTPClientRequest(method: "POST", url: stsEndpoint,
                                        headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                                                  ("Accept", "text/xml")],
                                        body: Array(form.utf8))
        let response = try await retry.run(isRetryable: CloudRetry.isRetryable) { _, timeout in
            let response = try await http.send(request, timeout: timeout)
            guard response.isSuccess else { throw Self.serviceError(response) }
            return response
        }
        return try Self.parse(response.body)
    }

    static func serviceError(_ response: HTTPClientResponse) -> AWSServiceError {
        let xml = AWSXML(response.body)
        return AWSServiceError(service: "STS", operation: "AssumeRoleWithWebIdentity", status: response.status,
                               code: xml.first("Code") ?? "HTTP\(response.status)",
                               message: xml.first("Message") ?? response.bodySnippet, requestID: xml.first("RequestId"))
    }

    static func parse(_ body: [UInt8]) throws -> AWSCredentials {
        let xml = AWSXML(body)
        guard let id = xml.first("AccessKeyId"), let secret = xml.first("SecretAccessKey"),
              let token = xml.first("SessionToken") else {
            throw AWSError("STS AssumeRoleWithWebIdentity returned no credentials")
        }
        var expiration: Date?
        if let text = xml.first("Expiration") {
            guard let date = AWSCredentials.parseTimestamp(text) else {
                throw AWSError("STS AssumeRoleWithWebIdentity returned an unreadable Expiration")
            }
            expiration = date
        }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token, expiration: expiration)
    }
}
