import Foundation
import HTTPTypes
@testable import Service
import Testing

/// The request series kept per event loop: shards add up at the scrape into the text
/// swift-prometheus would have written, with cumulative buckets that agree with `_count`.
@Suite struct RequestSeriesTests {
    static let buckets: [Duration] = [.microseconds(500), .milliseconds(5), .seconds(1)]

    static func lines(_ series: RequestSeries) -> [String] {
        var text: [UInt8] = []
        series.render(into: &text)
        return String(decoding: text, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func nothingIsRenderedBeforeTheFirstRequest() {
        let series = RequestSeries(buckets: Self.buckets)
        _ = series.makeShard(listener: "public")
        #expect(Self.lines(series).isEmpty)
    }

    @Test func shardsOfTwoLoopsAddUpIntoOneSeriesPerLabelSet() {
        let series = RequestSeries(buckets: Self.buckets)
        let first = series.makeShard(listener: "public")
        let second = series.makeShard(listener: "public")
        first.requestCompleted(method: .get, routeTemplate: "/keys", status: 200, nanoseconds: 200_000)
        second.requestCompleted(method: .get, routeTemplate: "/keys", status: 200, nanoseconds: 3_000_000)
        second.requestCompleted(method: .get, routeTemplate: "/keys", status: 304, nanoseconds: 2_000_000_000)
        first.requestCompleted(method: .get, routeTemplate: nil, status: 404, nanoseconds: 500_000)
        let lines = Self.lines(series)
        let route = #"listener="public",route="/keys""#
        #expect(lines == [
            "# HELP keycoord_http_requests_total HTTP requests answered, by listener, route, method and status.",
            "# TYPE keycoord_http_requests_total counter",
            #"keycoord_http_requests_total{\#(route),method="GET",status="200"} 2"#,
            #"keycoord_http_requests_total{\#(route),method="GET",status="304"} 1"#,
            #"keycoord_http_requests_total{listener="public",route="unmatched",method="GET",status="404"} 1"#,
            "# HELP keycoord_http_request_duration_seconds Time from a complete request to its response, by listener and route.",
            "# TYPE keycoord_http_request_duration_seconds histogram",
            #"keycoord_http_request_duration_seconds_bucket{\#(route),le="0.0005"} 1"#,
            #"keycoord_http_request_duration_seconds_bucket{\#(route),le="0.005"} 2"#,
            #"keycoord_http_request_duration_seconds_bucket{\#(route),le="1.0"} 2"#,
            #"keycoord_http_request_duration_seconds_bucket{\#(route),le="+Inf"} 3"#,
            "keycoord_http_request_duration_seconds_sum{\(route)} 2.0032",
            "keycoord_http_request_duration_seconds_count{\(route)} 3",
            // A duration on a bucket's bound counts in that bucket (le is "less or equal").
            #"keycoord_http_request_duration_seconds_bucket{listener="public",route="unmatched",le="0.0005"} 1"#,
            #"keycoord_http_request_duration_seconds_bucket{listener="public",route="unmatched",le="0.005"} 1"#,
            #"keycoord_http_request_duration_seconds_bucket{listener="public",route="unmatched",le="1.0"} 1"#,
            #"keycoord_http_request_duration_seconds_bucket{listener="public",route="unmatched",le="+Inf"} 1"#,
            #"keycoord_http_request_duration_seconds_sum{listener="public",route="unmatched"} 0.0005"#,
            #"keycoord_http_request_duration_seconds_count{listener="public",route="unmatched"} 1"#,
        ])
    }

    @Test func durationsBecomeWholeNanosecondsAndNegativeOnesZero() {
        #expect(RequestSeries.nanoseconds(.milliseconds(3)) == 3_000_000)
        #expect(RequestSeries.nanoseconds(.seconds(2) + .nanoseconds(7)) == 2_000_000_007)
        #expect(RequestSeries.nanoseconds(.nanoseconds(-5)) == 0)
    }

    @Test func labelValuesAreEscapedAsTheTextFormatRequires() {
        #expect(RequestSeries.escaped(#"a"b\c"# + "\nd") == #"a\"b\\c\nd"#)
        #expect(RequestSeries.escaped("/.well-known/jwks.json") == "/.well-known/jwks.json")
    }

    /// Loops writing while the scrape reads: every scrape sees counts that only grow and a
    /// histogram whose `+Inf` bucket equals its `_count`; the last one sees every request.
    @Test func scrapesDuringWritesAreConsistentAndTheLastSeesEverything() async {
        let series = RequestSeries(buckets: Self.buckets)
        let shards = (0..<4).map { _ in series.makeShard(listener: "control") }
        let scrapes = await withTaskGroup(of: [String].self) { group in
            for shard in shards {
                group.addTask {
                    for i in 0..<2_000 {
                        shard.requestCompleted(method: .post, routeTemplate: "/v1/locks/{name}", status: i % 2 == 0 ? 200 : 409,
                                               nanoseconds: UInt64(i) * 1_000)
                    }
                    return []
                }
            }
            group.addTask {
                var seen: [String] = []
                for _ in 0..<50 { seen.append(Self.lines(series).joined(separator: "\n")) }
                return seen
            }
            var all: [String] = []
            for await result in group { all += result }
            return all
        }
        var lastCount = 0
        for scrape in scrapes {
            let lines = scrape.split(separator: "\n")
            let infinity = lines.first { $0.contains(#"le="+Inf""#) }.flatMap { Int($0.split(separator: " ").last ?? "") }
            let count = lines.first { $0.hasPrefix("keycoord_http_request_duration_seconds_count") }
                .flatMap { Int($0.split(separator: " ").last ?? "") }
            #expect(infinity == count)
            #expect((count ?? 0) >= lastCount)
            lastCount = count ?? lastCount
        }
        let final = Self.lines(series)
        #expect(final.contains(#"keycoord_http_requests_total{listener="control",route="/v1/locks/{name}",method="POST",status="200"} 4000"#))
        #expect(final.contains(#"keycoord_http_requests_total{listener="control",route="/v1/locks/{name}",method="POST",status="409"} 4000"#))
        #expect(final.contains(#"keycoord_http_request_duration_seconds_count{listener="control",route="/v1/locks/{name}"} 8000"#))
    }
}
