import Core
import Foundation
import HTTP
import HTTPTypes

/// The unauthenticated listener relying parties and probes use: JWKS (two paths, as
/// SPIRE's discovery provider and the well-known path), OIDC discovery, health,
/// readiness and Prometheus metrics.
final class PublicAPI: Sendable {
    private let publisher: JWKSPublisher
    private let readiness: Readiness
    private let metrics: ServiceMetrics

    init(publisher: JWKSPublisher, readiness: Readiness, metrics: ServiceMetrics) {
        self.publisher = publisher
        self.readiness = readiness
        self.metrics = metrics
    }

    /// `/healthz`'s answer, the same bytes every time.
    private static let alive = HTTPServerResponse(
        status: .ok, headerFields: [.contentType: "application/json", .cacheControl: "no-store"], body: Array("{\"status\":\"ok\"}\n".utf8))

    func register(on router: Router) {
        // Each rendering becomes the handlers themselves, so a request reads no shared
        // state: the loops see a new rendering when their route table snapshot refreshes.
        publisher.install { rendered in
            let jwks = HTTPHandler.sync { JWKSPublisher.jwksResponse($0, from: rendered) }
            router.add(.get, "/.well-known/jwks.json", jwks)
            router.add(.get, "/keys", jwks)
            router.add(.get, "/.well-known/openid-configuration", .sync { _ in JWKSPublisher.discoveryResponse(from: rendered) })
        }
        router.add(.get, "/healthz", .sync { _ in Self.alive })
        router.add(.get, "/readyz", .async { [readiness] _ in
            let report = await readiness.check()
            do {
                return try JSONResponse.make(report.ready ? .ok : .serviceUnavailable, report.wire)
            } catch {
                return ProblemMapper.response(for: error)
            }
        })
        router.add(.get, "/metrics", .sync { [metrics] _ in
            var fields = HTTPFields()
            fields[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            fields[.cacheControl] = "no-store"
            return HTTPServerResponse(status: .ok, headerFields: fields, body: metrics.render())
        })
    }
}
