import Foundation
import Logging

/// A minimal AWS KMS client: JSON protocol 1.1 (`POST /` with
/// `X-Amz-Target: TrentService.<Operation>`), SigV4-signed, retried with backoff and
/// full jitter on throttling, server faults and transport failures within a deadline.
final class AWSKMSClient: Sendable {
    let endpoint: URL
    let region: String
    let credentials: AWSCredentialChain
    let http: HTTPClient
    let retry: RetryPolicy
    let logger: Logger
    private let signer: SigV4Signer

    init(endpoint: URL, region: String, credentials: AWSCredentialChain, http: HTTPClient, retry: RetryPolicy, logger: Logger) {
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.http = http
        self.retry = retry
        self.logger = logger
        self.signer = SigV4Signer(region: region, service: "kms")
    }

    /// Calls `operation`; throws `AWSServiceError` for an error response,
    /// `RetryExhaustedError` when retries ran out, `HTTPClientError`/`AWSError` otherwise.
    func call<Request: Encodable, Response: Decodable>(_ operation: String, _ request: Request,
                                                        as _: Response.Type = Response.self) async throws -> Response {
        let body = try JSONEncoder().encode(request)
        let template = HTTPClientRequest(method: "POST", url: endpoint, headers: [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "TrentService.\(operation)"),
            ("Accept", "application/json"),
        ], body: [UInt8](body))
        let response = try await retry.run(isRetryable: CloudRetry.isRetryable, onRetry: { [logger] attempt, error, wait in
            logger.warning("retrying KMS call", metadata: [
                "operation": "\(operation)", "attempt": "\(attempt)", "error": "\(error)",
                "wait_seconds": "\(String(format: "%.2f", wait))",
            ])
        }) { _, timeout in
            // Sign every attempt anew: the timestamp must be fresh and credentials may have rotated.
            let creds = try await credentials.credentials()
            let signed = signer.sign(template, credentials: creds, date: Date()).request
            let response = try await http.send(signed, timeout: timeout)
            guard response.isSuccess else {
                let error = Self.serviceError(operation: operation, response)
                if error.code == "ExpiredTokenException" { await credentials.invalidate() }
                throw error
            }
            return response
        }
        let payload = response.body.isEmpty ? Data("{}".utf8) : Data(response.body)
        do {
            return try JSONDecoder().decode(Response.self, from: payload)
        } catch {
            throw AWSError("KMS \(operation) returned an unexpected response: \(response.bodySnippet)")
        }
    }

    /// Reads `__type` (or `x-amzn-ErrorType`) and `message` of an error response.
    static func serviceError(operation: String, _ response: HTTPClientResponse) -> AWSServiceError {
        struct Body: Decodable {
            var __type: String?
            var message: String?
            var Message: String?
        }
        let body = try? JSONDecoder().decode(Body.self, from: Data(response.body))
        // Gateways in front of KMS (and moto's signature check) answer in the XML of the query protocols.
        let xml = body == nil ? AWSXML(response.body) : nil
        let code = body?.__type ?? response.header("x-amzn-errortype") ?? xml?.first("Code") ?? "HTTP\(response.status)"
        let message = body?.message ?? body?.Message ?? xml?.first("Message")
            ?? (response.body.isEmpty ? "(no message)" : response.bodySnippet)
        return AWSServiceError(service: "KMS", operation: operation, status: response.status, code: code, message: message,
                               requestID: response.header("x-amzn-requestid"))
    }
}

extension AWSKMSClient: AWSKMSOperations {
    func createKey(_ request: AWSKMSAPI.CreateKeyRequest) async throws -> AWSKMSAPI.KeyMetadata {
        try await call("CreateKey", request, as: AWSKMSAPI.KeyMetadataResponse.self).KeyMetadata
    }

    func describeKey(keyID: String) async throws -> AWSKMSAPI.KeyMetadata {
        try await call("DescribeKey", AWSKMSAPI.KeyIDRequest(KeyId: keyID), as: AWSKMSAPI.KeyMetadataResponse.self).KeyMetadata
    }

    func getPublicKey(keyID: String) async throws -> AWSKMSAPI.GetPublicKeyResponse {
        try await call("GetPublicKey", AWSKMSAPI.KeyIDRequest(KeyId: keyID), as: AWSKMSAPI.GetPublicKeyResponse.self)
    }

    func sign(_ request: AWSKMSAPI.SignRequest) async throws -> AWSKMSAPI.SignResponse {
        try await call("Sign", request, as: AWSKMSAPI.SignResponse.self)
    }

    func tagResource(keyID: String, tags: [AWSKMSAPI.Tag]) async throws {
        _ = try await call("TagResource", AWSKMSAPI.TagResourceRequest(KeyId: keyID, Tags: tags), as: AWSKMSAPI.Empty.self)
    }

    func listResourceTags(keyID: String, marker: String?) async throws -> AWSKMSAPI.ListResourceTagsResponse {
        try await call("ListResourceTags", AWSKMSAPI.ListRequest(KeyId: keyID, Limit: 50, Marker: marker),
                       as: AWSKMSAPI.ListResourceTagsResponse.self)
    }

    func createAlias(name: String, targetKeyID: String) async throws {
        _ = try await call("CreateAlias", AWSKMSAPI.AliasRequest(AliasName: name, TargetKeyId: targetKeyID), as: AWSKMSAPI.Empty.self)
    }

    func updateAlias(name: String, targetKeyID: String) async throws {
        _ = try await call("UpdateAlias", AWSKMSAPI.AliasRequest(AliasName: name, TargetKeyId: targetKeyID), as: AWSKMSAPI.Empty.self)
    }

    func listKeys(marker: String?) async throws -> AWSKMSAPI.ListKeysResponse {
        try await call("ListKeys", AWSKMSAPI.ListRequest(Limit: 1000, Marker: marker), as: AWSKMSAPI.ListKeysResponse.self)
    }

    func scheduleKeyDeletion(keyID: String, pendingWindowInDays: Int) async throws {
        _ = try await call("ScheduleKeyDeletion",
                           AWSKMSAPI.ScheduleKeyDeletionRequest(KeyId: keyID, PendingWindowInDays: pendingWindowInDays),
                           as: AWSKMSAPI.Empty.self)
    }
}
