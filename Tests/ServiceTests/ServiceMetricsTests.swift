import Core
import CoreMetrics
import Foundation
import HTTPTypes
import Prometheus
@testable import Service
import Testing

extension ServiceMetrics {
    /// The value of one series as `/metrics` renders it (`name{labels}` exactly), nil when absent.
    func sample(_ series: String) -> Double? {
        let text = String(decoding: render(), as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}

/// keycoord's series on swift-prometheus: names, labels and help as operators know them,
/// request counts that lose nothing under concurrency, and swift-metrics reporting into
/// the same registry without any global bootstrap.
@Suite struct ServiceMetricsTests {
    @Test func requestSeriesKeepTheirNamesLabelOrderAndHelp() {
        let metrics = ServiceMetrics()
        metrics.requestCompleted(listener: "public", method: .get, routeTemplate: "/.well-known/jwks.json", status: 200,
                                 duration: .milliseconds(3))
        metrics.requestCompleted(listener: "public", method: .get, routeTemplate: "/.well-known/jwks.json", status: 304,
                                 duration: .microseconds(200))
        metrics.requestCompleted(listener: "public", method: .get, routeTemplate: nil, status: 404, duration: .zero)
        let route = #"listener="public",route="/.well-known/jwks.json""#
        #expect(metrics.sample(#"keycoord_http_requests_total{\#(route),method="GET",status="200"}"#) == 1)
        #expect(metrics.sample(#"keycoord_http_requests_total{\#(route),method="GET",status="304"}"#) == 1)
        #expect(metrics.sample(#"keycoord_http_requests_total{listener="public",route="unmatched",method="GET",status="404"}"#) == 1)
        #expect(metrics.sample(#"keycoord_http_request_duration_seconds_count{\#(route)}"#) == 2)
        #expect(metrics.sample(#"keycoord_http_request_duration_seconds_bucket{\#(route),le="0.0005"}"#) == 1)
        #expect(metrics.sample(#"keycoord_http_request_duration_seconds_bucket{\#(route),le="0.005"}"#) == 2)
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(text.contains("# HELP keycoord_http_requests_total HTTP requests answered, by listener, route, method and status.\n"))
        #expect(text.contains("# TYPE keycoord_http_requests_total counter\n"))
        #expect(text.contains("# TYPE keycoord_http_request_duration_seconds histogram\n"))
    }

    @Test func concurrentRequestsOnNewRoutesAndStatusesAreAllCounted() async {
        let metrics = ServiceMetrics()
        let statuses = [200, 304, 404, 503]
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for i in 0..<500 {
                        metrics.requestCompleted(listener: worker % 2 == 0 ? "public" : "control", method: .get,
                                                 routeTemplate: "/r\(i % 3)", status: statuses[(i + worker) % 4],
                                                 duration: .microseconds(i))
                    }
                }
            }
        }
        let text = String(decoding: metrics.render(), as: UTF8.self)
        let counted = text.split(separator: "\n").filter { $0.hasPrefix("keycoord_http_requests_total{") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
        #expect(counted.count == 2 * 3 * 4, "one series per listener, route and status: \(counted.count)")
        #expect(counted.reduce(0, +) == 8 * 500)
    }

    @Test func stateGaugesStartAtZeroAndEventCountersCount() {
        let metrics = ServiceMetrics()
        #expect(metrics.sample(#"keycoord_keys{key_type="ec-p256",state="active"}"#) == 0)
        #expect(metrics.sample(#"keycoord_keys{key_type="rsa-2048",state="tainted"}"#) == 0)
        #expect(metrics.sample("keycoord_rotation_errors_total") == 0)
        metrics.rotationFailed()
        metrics.storeAnswered(true)
        metrics.connectionOpened(listener: "public")
        metrics.connectionOpened(listener: "public")
        metrics.connectionClosed(listener: "public")
        metrics.tokenFileRefused(path: #"/etc/keycoord/"odd"\name"#)
        metrics.ensureCompleted(keyType: .ecP256, outcome: .fastPath)
        #expect(metrics.sample("keycoord_rotation_errors_total") == 1)
        #expect(metrics.sample("keycoord_store_up") == 1)
        #expect(metrics.sample(#"keycoord_http_connections_open{listener="public"}"#) == 1)
        #expect(metrics.sample(#"keycoord_token_file_refusals_total{file="/etc/keycoord/\"odd\"\\name"}"#) == 1,
                "label values are escaped")
        #expect(metrics.sample(#"keycoord_ensure_total{key_type="ec-p256",outcome="\#(EnsureOutcome.fastPath.rawValue)"}"#) == 1)
    }

    /// A library reporting through swift-metrics, given a factory on the service's registry
    /// (as `keycoord serve` bootstraps `MetricsSystem`), shows up in the same rendering.
    @Test func swiftMetricsReportsIntoTheServiceRegistry() {
        let registry = PrometheusCollectorRegistry()
        let metrics = ServiceMetrics(registry: registry)
        let factory = PrometheusMetricsFactory(registry: registry)
        let counter = CoreMetrics.Counter(label: "library_calls_total", dimensions: [("op", "read")], factory: factory)
        counter.increment(by: 3)
        #expect(metrics.sample(#"library_calls_total{op="read"}"#) == 3)
        #expect(metrics.sample("keycoord_store_up") == 0)
    }
}
