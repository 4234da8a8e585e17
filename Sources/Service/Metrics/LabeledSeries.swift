import Synchronization

/// The series of one labeled metric family, made on first use of a label set, for events
/// that are not per request (connections, reloads, ensure outcomes): a lock around a
/// dictionary is cheap at their rate. The request path uses `RequestSeries` instead.
final class LabeledSeries<Metric: AnyObject & Sendable>: Sendable {
    private let names: [String]
    private let make: @Sendable ([(String, String)]) -> Metric
    private let series = Mutex<[[String]: Metric]>([:])

    init(_ names: [String], make: @escaping @Sendable ([(String, String)]) -> Metric) {
        self.names = names
        self.make = make
    }

    subscript(_ values: String...) -> Metric {
        precondition(values.count == names.count, "label values must match the label names \(names)")
        return series.withLock { series in
            if let existing = series[values] { return existing }
            let made = make(Array(zip(names, values)))
            series[values] = made
            return made
        }
    }
}
