import Synchronization

/// A small Prometheus registry: counters, gauges and histograms with labels, rendered in
/// the text exposition format (version 0.0.4). Small enough to own, and it keeps
/// swift-metrics' global bootstrap out of a process that embeds several services in tests.
public final class MetricsRegistry: Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    struct Series: Sendable {
        var value: Double = 0
        var bucketCounts: [UInt64] = []
        var sum: Double = 0
        var count: UInt64 = 0
    }

    struct Family: Sendable {
        let name: String
        let help: String
        let kind: Kind
        let labelNames: [String]
        let buckets: [Double]
        var series: [[String]: Series] = [:]
    }

    private let families = Mutex<[String: Family]>([:])
    private let order = Mutex<[String]>([])

    public init() {}

    public func register(_ name: String, help: String, kind: Kind, labels: [String] = [], buckets: [Double] = []) {
        families.withLock { families in
            guard families[name] == nil else { return }
            families[name] = Family(name: name, help: help, kind: kind, labelNames: labels, buckets: buckets.sorted())
            order.withLock { $0.append(name) }
        }
    }

    /// Adds to a counter (or a gauge).
    public func add(_ name: String, _ labels: [String] = [], _ amount: Double = 1) {
        families.withLock { families in
            families[name]?.series[labels, default: Series()].value += amount
        }
    }

    public func set(_ name: String, _ labels: [String] = [], _ value: Double) {
        families.withLock { families in
            families[name]?.series[labels, default: Series()].value = value
        }
    }

    /// Replaces every series of a gauge family at once (e.g. keys by state).
    public func replaceAll(_ name: String, _ values: [[String]: Double]) {
        families.withLock { families in
            guard var family = families[name] else { return }
            family.series = values.mapValues { Series(value: $0) }
            families[name] = family
        }
    }

    public func observe(_ name: String, _ labels: [String] = [], _ value: Double) {
        families.withLock { families in
            guard var family = families[name] else { return }
            var series = family.series[labels] ?? Series(bucketCounts: Array(repeating: 0, count: family.buckets.count))
            for (i, bound) in family.buckets.enumerated() where value <= bound { series.bucketCounts[i] += 1 }
            series.sum += value
            series.count += 1
            family.series[labels] = series
            families[name] = family
        }
    }

    /// The value of one series, for tests and health logic.
    public func value(_ name: String, _ labels: [String] = []) -> Double {
        families.withLock { families in
            guard let family = families[name] else { return 0 }
            if family.kind == .histogram { return Double(family.series[labels]?.count ?? 0) }
            return family.series[labels]?.value ?? 0
        }
    }

    /// The text exposition format.
    public func render() -> String {
        let names = order.withLock { $0 }
        let snapshot = families.withLock { $0 }
        var out = ""
        for name in names {
            guard let family = snapshot[name] else { continue }
            out += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.kind.rawValue)\n"
            for (labels, series) in family.series.sorted(by: { $0.key.joined(separator: "\u{0}") < $1.key.joined(separator: "\u{0}") }) {
                let pairs = zip(family.labelNames, labels).map { "\($0)=\(Self.quote($1))" }
                switch family.kind {
                case .counter, .gauge:
                    out += "\(name)\(Self.braces(pairs)) \(Self.number(series.value))\n"
                case .histogram:
                    for (i, bound) in family.buckets.enumerated() {
                        out += "\(name)_bucket\(Self.braces(pairs + ["le=\"\(Self.number(bound))\""])) \(series.bucketCounts[i])\n"
                    }
                    out += "\(name)_bucket\(Self.braces(pairs + ["le=\"+Inf\""])) \(series.count)\n"
                    out += "\(name)_sum\(Self.braces(pairs)) \(Self.number(series.sum))\n"
                    out += "\(name)_count\(Self.braces(pairs)) \(series.count)\n"
                }
            }
        }
        return out
    }

    private static func braces(_ pairs: [String]) -> String {
        pairs.isEmpty ? "" : "{" + pairs.joined(separator: ",") + "}"
    }

    private static func quote(_ value: String) -> String {
        var out = "\""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out + "\""
    }

    private static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
