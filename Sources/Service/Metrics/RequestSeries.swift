import HTTP
import Prometheus
import Synchronization

/// `keycoord_http_requests_total` and `keycoord_http_request_duration_seconds`, kept in a
/// shard per event loop and listener and added up when `/metrics` is scraped. They are the
/// only series on the request path, and the only ones not kept by swift-prometheus: its
/// histogram takes a lock per observation that both loops share, and its series are shared
/// cache lines that move between the cores on every request (docs/architecture.md,
/// "Metrics", has the figures). The text is what swift-prometheus would render: the same
/// names, labels, buckets and number format.
final class RequestSeries: Sendable {
    static let requestsTotal = "keycoord_http_requests_total"
    static let requestsHelp = "HTTP requests answered, by listener, route, method and status."
    static let requestDuration = "keycoord_http_request_duration_seconds"
    static let requestDurationHelp = "Time from a complete request to its response, by listener and route."

    private let buckets: [Duration]
    private let bounds: [UInt64]
    /// Every shard made, the scrape's list.
    private let shards = Mutex<[RequestSeriesShard]>([])
    /// A shard per listener for reports that come without a loop's recorder.
    private let shared = Mutex<[String: RequestSeriesShard]>([:])

    init(buckets: [Duration]) {
        self.buckets = buckets
        bounds = buckets.map(Self.nanoseconds)
    }

    /// `duration` in whole nanoseconds, 0 for a negative one.
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        return UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// A new shard for one event loop's requests on `listener`.
    func makeShard(listener: String) -> RequestSeriesShard {
        let shard = RequestSeriesShard(listener: listener, bounds: bounds)
        shards.withLock { $0.append(shard) }
        return shard
    }

    /// The shard for reports from any thread on `listener` (made once).
    func sharedShard(listener: String) -> RequestSeriesShard {
        if let shard = shared.withLock({ $0[listener] }) { return shard }
        let made = makeShard(listener: listener)
        return shared.withLock { shared in
            if let existing = shared[listener] { return existing }
            shared[listener] = made
            return made
        }
    }

    private struct CounterKey: Hashable, Comparable {
        let listener: String, route: String, method: String, status: Int
        static func < (a: Self, b: Self) -> Bool {
            (a.listener, a.route, a.method, a.status) < (b.listener, b.route, b.method, b.status)
        }
    }

    private struct HistogramKey: Hashable, Comparable {
        let listener: String, route: String
        static func < (a: Self, b: Self) -> Bool { (a.listener, a.route) < (b.listener, b.route) }
    }

    /// Appends both families in the text exposition format (0.0.4), nothing before the
    /// first request. Each shard's counts are read once, so a histogram's buckets, `+Inf`
    /// and `_count` agree with each other.
    func render(into out: inout [UInt8]) {
        var counters: [CounterKey: Int] = [:]
        var histograms: [HistogramKey: (buckets: [Int], sum: Int)] = [:]
        for shard in shards.withLock({ $0 }) {
            for route in shard.routes {
                let read = route.read()
                for (status, count) in read.statuses {
                    let key = CounterKey(listener: shard.listener, route: route.route, method: route.method.rawValue, status: status)
                    counters[key, default: 0] += count
                }
                let key = HistogramKey(listener: shard.listener, route: route.route)
                var histogram = histograms[key] ?? (Array(repeating: 0, count: read.buckets.count), 0)
                for index in read.buckets.indices { histogram.buckets[index] += read.buckets[index] }
                histogram.sum += read.sumNanoseconds
                histograms[key] = histogram
            }
        }
        guard !counters.isEmpty else { return }

        header(Self.requestsTotal, help: Self.requestsHelp, type: "counter", into: &out)
        for key in counters.keys.sorted() {
            let labels = "listener=\"\(Self.escaped(key.listener))\",route=\"\(Self.escaped(key.route))\",method=\"\(Self.escaped(key.method))\",status=\"\(key.status)\""
            out.append(contentsOf: "\(Self.requestsTotal){\(labels)} \(counters[key] ?? 0)\n".utf8)
        }
        header(Self.requestDuration, help: Self.requestDurationHelp, type: "histogram", into: &out)
        for key in histograms.keys.sorted() {
            guard let histogram = histograms[key] else { continue }
            let labels = "listener=\"\(Self.escaped(key.listener))\",route=\"\(Self.escaped(key.route))\""
            var cumulative = 0
            for (index, bound) in buckets.enumerated() {
                cumulative += histogram.buckets[index]
                out.append(contentsOf: "\(Self.requestDuration)_bucket{\(labels),le=\"\(bound.bucketRepresentation)\"} \(cumulative)\n".utf8)
            }
            cumulative += histogram.buckets[buckets.count]
            out.append(contentsOf: "\(Self.requestDuration)_bucket{\(labels),le=\"+Inf\"} \(cumulative)\n".utf8)
            out.append(contentsOf: "\(Self.requestDuration)_sum{\(labels)} \(Duration.nanoseconds(histogram.sum).bucketRepresentation)\n".utf8)
            out.append(contentsOf: "\(Self.requestDuration)_count{\(labels)} \(cumulative)\n".utf8)
        }
    }

    private func header(_ name: String, help: String, type: String, into out: inout [UInt8]) {
        out.append(contentsOf: "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n".utf8)
    }

    /// A label value as the text format writes it: backslash, double quote and line feed
    /// escaped.
    static func escaped(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else {
            return value
        }
        var result = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }
}
