import Crypto
import Foundation

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`) for requests sent with headers, as
/// botocore's `SigV4Auth` computes it: a pure function of the request, the credentials,
/// the scope and the time, so it can be checked byte for byte against botocore.
///
/// Non-S3 rules: the URI path is normalised (dot segments and repeated slashes removed)
/// and percent-encoded once more; the query is signed as it appears on the wire, pairs
/// sorted; the payload is always hashed.
public struct SigV4Signer: Sendable {
    public var region: String
    public var service: String

    /// What signing produced, for the request and for diagnostics.
    public struct Signature: Sendable, Equatable {
        /// The request with `X-Amz-Date`, `X-Amz-Security-Token` (if any) and `Authorization` set.
        public var request: HTTPClientRequest
        public var authorization: String
        public var amzDate: String
        public var canonicalRequest: String
        public var stringToSign: String
        public var signedHeaders: String
    }

    /// Headers never signed: proxies and clients may change them in flight.
    static let unsignedHeaders: Set<String> = ["expect", "user-agent", "x-amzn-trace-id", "authorization"]

    public init(region: String, service: String) {
        self.region = region
        self.service = service
    }

    public func sign(_ request: HTTPClientRequest, credentials: AWSCredentials, date: Date) -> Signature {
        let amzDate = Self.timestamp(date)
        let day = String(amzDate.prefix(8))
        var signed = request
        signed.headers.removeAll { ["authorization", "x-amz-date", "x-amz-security-token"].contains($0.name.lowercased()) }
        signed.headers.append((name: "X-Amz-Date", value: amzDate))
        if let token = credentials.sessionToken {
            signed.headers.append((name: "X-Amz-Security-Token", value: token))
        }

        var grouped: [String: [String]] = [:]
        for (name, value) in signed.headers {
            let lower = name.lowercased()
            guard !Self.unsignedHeaders.contains(lower) else { continue }
            grouped[lower, default: []].append(Self.trimAll(value))
        }
        if grouped["host"] == nil { grouped["host"] = [Self.hostHeader(signed.url)] }
        let names = grouped.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let canonicalHeaders = names.map { "\($0):\(grouped[$0, default: []].joined(separator: ","))" }.joined(separator: "\n")
        let signedHeaders = names.joined(separator: ";")

        let canonicalRequest = [
            signed.method.uppercased(),
            Self.canonicalPath(signed.url),
            Self.canonicalQuery(signed.url),
            canonicalHeaders + "\n",
            signedHeaders,
            Hex.encode(Digest.sha256(signed.body)),
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Hex.encode(Digest.sha256(Array(canonicalRequest.utf8)))]
            .joined(separator: "\n")

        var key = HMAC.sha256(key: Array("AWS4\(credentials.secretAccessKey)".utf8), data: Array(day.utf8))
        for part in [region, service, "aws4_request"] { key = HMAC.sha256(key: key, data: Array(part.utf8)) }
        let signature = Hex.encode(HMAC.sha256(key: key, data: Array(stringToSign.utf8)))

        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        signed.headers.append((name: "Authorization", value: authorization))
        return Signature(request: signed, authorization: authorization, amzDate: amzDate,
                         canonicalRequest: canonicalRequest, stringToSign: stringToSign, signedHeaders: signedHeaders)
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return pad(c.year, 4) + pad(c.month, 2) + pad(c.day, 2) + "T" + pad(c.hour, 2) + pad(c.minute, 2) + pad(c.second, 2) + "Z"
    }

    /// Trims a header value and collapses inner runs of whitespace to one space.
    static func trimAll(_ value: String) -> String {
        value.unicodeScalars
            .split { $0.properties.isWhitespace || (0x1C...0x1F).contains($0.value) }
            .map { String(String.UnicodeScalarView($0)) }
            .joined(separator: " ")
    }

    /// The `Host` value: lowercased, IPv6 in brackets, the port only when not the scheme's default.
    static func hostHeader(_ url: URL) -> String {
        var host = (url.host ?? "").lowercased()
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }
        if let port = url.port {
            let scheme = url.scheme?.lowercased()
            let isDefault = (scheme == "http" && port == 80) || (scheme == "https" && port == 443)
            if !isDefault { host += ":\(port)" }
        }
        return host
    }

    static func canonicalPath(_ url: URL) -> String {
        let raw = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath ?? ""
        return percentEncode(removeDotSegments(raw.isEmpty ? "/" : raw), keepSlash: true)
    }

    /// RFC 3986 §5.2.4 dot-segment removal; AWS also drops empty segments (repeated slashes).
    static func removeDotSegments(_ path: String) -> String {
        guard !path.isEmpty else { return "" }
        var output: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty || segment == "." { continue }
            if segment == ".." { if !output.isEmpty { output.removeLast() } } else { output.append(segment) }
        }
        let first = path.hasPrefix("/") ? "/" : ""
        let last = path.hasSuffix("/") && !output.isEmpty ? "/" : ""
        return first + output.joined(separator: "/") + last
    }

    static func canonicalQuery(_ url: URL) -> String {
        guard let query = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedQuery, !query.isEmpty else {
            return ""
        }
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> (String, String) in
            guard let eq = pair.firstIndex(of: "=") else { return (String(pair), "") }
            return (String(pair[..<eq]), String(pair[pair.index(after: eq)...]))
        }
        return pairs.sorted { a, b in
            a.0 == b.0 ? Array(a.1.unicodeScalars).lexicographicallyPrecedes(Array(b.1.unicodeScalars))
                : Array(a.0.unicodeScalars).lexicographicallyPrecedes(Array(b.0.unicodeScalars))
        }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// Percent-encodes every byte outside RFC 3986's unreserved set (and `/` when asked).
    public static func percentEncode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || c == "-" || c == "_" || c == "." || c == "~" || (keepSlash && c == "/") {
                out.append(c)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
