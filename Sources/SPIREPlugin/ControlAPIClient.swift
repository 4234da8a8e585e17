import Backends
import Core
import Crypto
import Foundation
import GRPC

/// The sidecar's control API as the plugin calls it (openapi.yaml): `ensure` for a key
/// type and a key's record. Every failure is a `GRPCStatus` SPIRE can log and act on:
/// UNAVAILABLE when the sidecar cannot be reached or answers 5xx (with the reason),
/// UNAUTHENTICATED for 401, PERMISSION_DENIED for 403, NOT_FOUND for 404,
/// FAILED_PRECONDITION for other refusals.
final class ControlAPIClient: Sendable {
    /// One key as the control API describes it.
    struct Key: Sendable, Equatable {
        var kid: String
        var keyType: KeyType
        var state: String
        var tainted: Bool
        var backend: String
        var backendRef: String?
        /// DER SubjectPublicKeyInfo.
        var publicKey: [UInt8]
        var notAfter: Date
    }

    /// The answer to ensure: the key to sign with now, the published next one.
    struct Ensured: Sendable {
        var current: Key
        var next: Key?
        var refreshAfter: Date
    }

    private let http: HTTPClient
    private let base: String
    private let token: ControlToken?
    private let serverID: String
    /// Seconds one control call may take; SPIRE's own RPC deadline is longer.
    static let timeout: TimeInterval = 10

    init(config: PluginConfig) throws {
        var tls = HTTPClientTLS(caFile: config.caFile)
        switch config.credentials {
        case .tokenFile(let path):
            token = ControlToken(path: path)
        case .clientCertificate(let certificate, let key):
            token = nil
            tls.certificateFile = certificate
            tls.keyFile = key
        }
        switch config.controlURL {
        case .unix(let path):
            http = try HTTPClient(defaultTimeout: Self.timeout, maxResponseBytes: 1 << 20, unixSocket: path, tls: tls)
            base = "http://localhost"
        case .http(let host, let port, let secure):
            http = try HTTPClient(defaultTimeout: Self.timeout, maxResponseBytes: 1 << 20, unixSocket: nil, tls: tls)
            base = "\(secure ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        }
        serverID = config.serverID
    }

    func ensure(_ keyType: KeyType) async throws -> Ensured {
        let body = try JSONSerialization.data(withJSONObject: ["server_id": serverID])
        let object = try await call("POST", "/v1/jwt-keys/\(keyType.rawValue)/ensure", body: Array(body))
        return Ensured(current: try Self.key(object, tainted: false), next: try (object["next"] as? [String: Any]).map { try Self.key($0, tainted: false) },
                       refreshAfter: try Self.date(object["refresh_after"], "refresh_after"))
    }

    func key(kid: String) async throws -> Key {
        let object = try await call("GET", "/v1/keys/\(kid)", body: nil)
        return try Self.key(object, tainted: nil)
    }

    private func call(_ method: String, _ path: String, body: [UInt8]?) async throws -> [String: Any] {
        guard let url = URL(string: base + path) else { throw GRPCStatus(.internal, "bad control API path \(path)") }
        var headers: [(name: String, value: String)] = [("Accept", "application/json"), ("User-Agent", "keycoord-spire-plugin")]
        if let token {
            do {
                headers.append(("Authorization", "Bearer \(try token.current())"))
            } catch {
                throw GRPCStatus(.unauthenticated, "keycoord control API: \(error)")
            }
        }
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let response: HTTPClientResponse
        do {
            response = try await http.send(HTTPClientRequest(method: method, url: url, headers: headers, body: body ?? []))
        } catch {
            throw GRPCStatus(.unavailable, "the keycoord sidecar cannot be reached: \(error)")
        }
        let detail = Self.problemDetail(response)
        switch response.status {
        case 200..<300: break
        case 401: throw GRPCStatus(.unauthenticated, "keycoord control API refused the credentials (401): \(detail)")
        case 403: throw GRPCStatus(.permissionDenied, "keycoord control API denied \(method) \(path) (403): \(detail)")
        case 404: throw GRPCStatus(.notFound, "keycoord control API: \(detail)")
        case 500...: throw GRPCStatus(.unavailable, "the keycoord sidecar answered \(response.status): \(detail)")
        default: throw GRPCStatus(.failedPrecondition, "keycoord control API refused \(method) \(path) (\(response.status)): \(detail)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] else {
            throw GRPCStatus(.unavailable, "the keycoord sidecar answered \(method) \(path) with no JSON object")
        }
        return object
    }

    /// The problem+json `detail` (or the start of the body) for messages.
    private static func problemDetail(_ response: HTTPClientResponse) -> String {
        if let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any],
           let detail = object["detail"] as? String {
            return detail
        }
        return response.bodySnippet
    }

    private static func key(_ object: [String: Any], tainted: Bool?) throws -> Key {
        func string(_ name: String) throws -> String {
            guard let value = object[name] as? String, !value.isEmpty else {
                throw GRPCStatus(.unavailable, "the keycoord sidecar's key has no \(name)")
            }
            return value
        }
        guard let keyType = KeyType(rawValue: try string("key_type")) else {
            throw GRPCStatus(.unavailable, "the keycoord sidecar's key has an unknown key_type")
        }
        let publicKey: PublicKey
        do {
            publicKey = try PublicKey(pem: try string("public_key"))
        } catch {
            throw GRPCStatus(.unavailable, "the keycoord sidecar's key has no readable public key: \(error)")
        }
        return Key(kid: try string("kid"), keyType: keyType, state: try string("state"),
                   tainted: tainted ?? (object["tainted"] as? Bool ?? true), backend: try string("backend"),
                   backendRef: object["backend_ref"] as? String, publicKey: publicKey.der,
                   notAfter: try date(object["not_after"], "not_after"))
    }

    private static func date(_ value: Any?, _ name: String) throws -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        guard let text = value as? String, let date = formatter.date(from: text) ?? plain.date(from: text) else {
            throw GRPCStatus(.unavailable, "the keycoord sidecar's answer has no RFC 3339 \(name)")
        }
        return date
    }
}
