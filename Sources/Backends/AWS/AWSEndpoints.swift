import Foundation

/// Where the AWS services and the region come from, in the SDKs' order of precedence.
public enum AWSEndpoints {
    /// Configuration, then `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's `region`.
    public static func region(configured: String?, environment: [String: String], profile: AWSSharedConfig?) -> String? {
        [configured, environment["AWS_REGION"], environment["AWS_DEFAULT_REGION"], profile?.settings["region"]]
            .compactMap { $0?.trimmingCharacters(in: .whitespaces) }
            .first { !$0.isEmpty }
    }

    /// Configuration, then `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`, then the regional endpoint.
    public static func kms(configured: String?, environment: [String: String], region: String) throws -> URL {
        try service("kms", configured: configured, environment: environment, region: region)
    }

    /// `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, then the regional (or, with no region, global) endpoint.
    public static func sts(environment: [String: String], region: String?) throws -> URL {
        try service("sts", configured: nil, environment: environment, region: region)
    }

    static func service(_ id: String, configured: String?, environment: [String: String], region: String?) throws -> URL {
        let candidates: [(String, String?)] = [
            ("configured \(id) endpoint", configured),
            ("AWS_ENDPOINT_URL_\(id.uppercased())", environment["AWS_ENDPOINT_URL_\(id.uppercased())"]),
            ("AWS_ENDPOINT_URL", environment["AWS_ENDPOINT_URL"]),
        ]
        for (origin, value) in candidates {
            if let value, !value.isEmpty { return try parse(value, origin: origin) }
        }
        guard let region else { return try parse("https://\(id).amazonaws.com/", origin: "default \(id) endpoint") }
        guard isValidRegion(region) else { throw AWSError("invalid AWS region \"\(region)\"") }
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return try parse("https://\(id).\(region).\(suffix)/", origin: "default \(id) endpoint")
    }

    /// An endpoint URL: http or https, a host, no query; the path is kept.
    static func parse(_ text: String, origin: String) throws -> URL {
        guard let components = URLComponents(string: text),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = components.host, !host.isEmpty, components.query == nil,
              components.user == nil, components.password == nil, let url = components.url else {
            throw AWSError("\(origin) \"\(text)\" is not an http(s) URL with a host and no query")
        }
        if components.path.isEmpty, let withSlash = URL(string: "/", relativeTo: url)?.absoluteURL { return withSlash }
        return url
    }

    /// Regions are lowercase letters, digits and dashes (`us-east-1`, `us-gov-west-1`).
    static func isValidRegion(_ region: String) -> Bool {
        !region.isEmpty && region.count <= 64
            && region.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}
