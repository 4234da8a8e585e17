import HTTPTypes
import Synchronization

/// The requests one event loop answered for one (method, route) on one listener: a count
/// per status and the duration histogram's buckets, all relaxed atomics that only this
/// loop's thread adds to (the `/metrics` scrape only reads them). Nodes of a list that only
/// grows (`RequestSeriesShard`), so the request path takes no lock and allocates nothing
/// once its route and status have been seen.
final class RouteSeries: @unchecked Sendable {
    // @unchecked: `buckets` is allocated in init, freed in deinit, and only touched through
    // its atomics in between.
    let method: HTTPRequest.Method
    /// The router's template, or "unmatched".
    let route: String
    let next = OnceReference<RouteSeries>()
    private let statuses = OnceReference<StatusCount>()
    /// Requests by the first bucket their duration fits (not cumulative), the last one +Inf.
    private let buckets: UnsafeMutablePointer<Atomic<Int>>
    private let bucketCount: Int
    private let bounds: [UInt64]
    private let sumNanoseconds = Atomic<Int>(0)

    /// One status's count, in the list of the statuses this route answered.
    final class StatusCount: Sendable {
        let status: Int
        let count = Atomic<Int>(0)
        let next = OnceReference<StatusCount>()

        init(status: Int) { self.status = status }
    }

    /// `bounds`: the histogram's upper bounds in nanoseconds, ascending.
    init(method: HTTPRequest.Method, route: String, bounds: [UInt64]) {
        self.method = method
        self.route = route
        self.bounds = bounds
        bucketCount = bounds.count + 1
        buckets = .allocate(capacity: bucketCount)
        for index in 0..<bucketCount { (buckets + index).initialize(to: Atomic(0)) }
    }

    deinit {
        buckets.deinitialize(count: bucketCount)
        buckets.deallocate()
    }

    func matches(method: HTTPRequest.Method, route: String) -> Bool {
        self.route == route && self.method == method
    }

    func record(status: Int, nanoseconds: UInt64) {
        statusCount(status).count.add(1, ordering: .relaxed)
        var bucket = 0
        while bucket < bounds.count, nanoseconds > bounds[bucket] { bucket += 1 }
        buckets[bucket].add(1, ordering: .relaxed)
        sumNanoseconds.add(Int(truncatingIfNeeded: nanoseconds), ordering: .relaxed)
    }

    /// The counts as they are now, for the scrape.
    func read() -> (statuses: [(status: Int, count: Int)], buckets: [Int], sumNanoseconds: Int) {
        var counts: [(status: Int, count: Int)] = []
        var node = statuses.load()
        while let current = node {
            counts.append((current.status, current.count.load(ordering: .relaxed)))
            node = current.next.load()
        }
        let perBucket = (0..<bucketCount).map { buckets[$0].load(ordering: .relaxed) }
        return (counts, perBucket, sumNanoseconds.load(ordering: .relaxed))
    }

    /// The count of `status`, made on the route's first answer with it. Threads appending
    /// at once (`ServiceMetrics`' shared recorders have several writers) all continue from
    /// the node that won the link, so a status has one node.
    private func statusCount(_ status: Int) -> StatusCount {
        var node = statuses.load()
        if node == nil { node = statuses.storeIfNil(StatusCount(status: status)) }
        while let current = node {
            if current.status == status { return current }
            node = current.next.load() ?? current.next.storeIfNil(StatusCount(status: status))
        }
        preconditionFailure("a status list ends only after a node is appended")
    }
}
