import Synchronization

/// A reference that is set at most once and then read with one atomic load. The series
/// lists of the request path are built from these. Synchronization's `AtomicLazyReference`
/// does the same but is not inlinable: every read of it looked up generic metadata, which
/// cost more than the rest of the metrics on the request path.
struct OnceReference<Instance: AnyObject & Sendable>: ~Copyable, @unchecked Sendable {
    // @unchecked: the stored reference is retained once, set once, and released in deinit.
    private let storage = Atomic<Unmanaged<Instance>?>(nil)

    init() {}

    func load() -> Instance? {
        storage.load(ordering: .acquiring)?.takeUnretainedValue()
    }

    /// Stores `instance` unless a reference is already stored; returns the stored one.
    func storeIfNil(_ instance: Instance) -> Instance {
        let candidate = Unmanaged.passRetained(instance)
        let (exchanged, current) = storage.compareExchange(expected: nil, desired: candidate, ordering: .acquiringAndReleasing)
        if exchanged { return instance }
        candidate.release()
        return current!.takeUnretainedValue()
    }

    deinit {
        storage.load(ordering: .acquiring)?.release()
    }
}
