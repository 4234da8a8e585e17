import Foundation

/// The AWS SDK credential chain: the first source that is configured supplies the
/// credentials, and keeps supplying them. Temporary credentials are cached and
/// refreshed `refreshMargin` before they expire; if a refresh fails while the cached
/// credentials are still valid, those are used.
public actor AWSCredentialChain {
    private let sources: [any AWSCredentialSource]
    private let refreshMargin: TimeInterval
    private let now: @Sendable () -> Date
    private var cached: AWSCredentials?
    private var chosen: (any AWSCredentialSource)?
    private var inflight: Task<AWSCredentials, Error>?

    public init(sources: [any AWSCredentialSource], refreshMargin: TimeInterval = 300,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.sources = sources
        self.refreshMargin = refreshMargin
        self.now = now
    }

    /// The standard order: explicit credentials, environment, shared profile, web
    /// identity, container endpoint, instance metadata.
    public static func standard(explicit: AWSCredentials?, profile: AWSSharedConfig, region: String?,
                                environment: [String: String], http: HTTPClient) throws -> AWSCredentialChain {
        var sources: [any AWSCredentialSource] = []
        if let explicit { sources.append(AWSStaticCredentialSource(explicit)) }
        sources.append(AWSEnvironmentCredentialSource(environment: environment))
        sources.append(AWSProfileCredentialSource(config: profile))
        if let web = try AWSWebIdentityCredentialSource(environment: environment, profile: profile, region: region, http: http) {
            sources.append(web)
        }
        if let container = try AWSContainerCredentialSource(environment: environment, http: http) { sources.append(container) }
        if let imds = try AWSInstanceMetadataCredentialSource(environment: environment, http: http) { sources.append(imds) }
        return AWSCredentialChain(sources: sources)
    }

    /// The names of the sources in order, for diagnostics.
    public var sourceNames: [String] { sources.map(\.name) }

    /// The name of the source that supplied the current credentials, if any did yet.
    public var activeSource: String? { chosen?.name }

    /// Valid credentials, from the cache when they are not about to expire.
    public func credentials() async throws -> AWSCredentials {
        let current = now()
        if let cached, !cached.expires(within: refreshMargin, of: current) { return cached }
        if let inflight { return try await inflight.value }
        let task = Task { try await self.resolve() }
        inflight = task
        defer { inflight = nil }
        do {
            let fresh = try await task.value
            cached = fresh
            return fresh
        } catch {
            if let cached, !cached.expires(within: 0, of: now()) { return cached }
            throw error
        }
    }

    /// Forgets the cached credentials (after the service rejected them).
    public func invalidate() { cached = nil }

    private func resolve() async throws -> AWSCredentials {
        if let chosen {
            guard let credentials = try await chosen.load() else {
                throw AWSError("AWS credentials from \(chosen.name) are no longer available")
            }
            return credentials
        }
        var tried: [String] = []
        for source in sources {
            do {
                if let credentials = try await source.load() {
                    chosen = source
                    return credentials
                }
                tried.append("\(source.name): not configured")
            } catch {
                // A configured source that fails stops the chain, as in the SDKs: falling
                // through to another identity would be surprising. Instance metadata is
                // the exception: it is probed, and failing means "not on EC2".
                if source is AWSInstanceMetadataCredentialSource {
                    tried.append("\(source.name): \(error)")
                    continue
                }
                throw AWSError("AWS credentials from \(source.name) failed: \(error)")
            }
        }
        throw AWSError("no AWS credentials found; tried \(tried.joined(separator: "; "))")
    }
}
