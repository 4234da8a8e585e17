import Transport

/// What HTTP keeps per event loop (`EventLoop.local`): route table snapshots, so a request
/// takes no router lock unless the routes changed; the `Date` line, rendered once a
/// second instead of once per response; and the observer's request recorder for each
/// listener, so requests are counted in this loop's own shard. Touched only on its loop's
/// thread.
final class HTTPLoopState {
    private var date = DateHeaderCache()
    /// Route table snapshots by router, refreshed when a router's version changes.
    private var routeTables: [ObjectIdentifier: (version: Int, table: Router.Table)] = [:]
    private var recorders: [RecorderKey: any HTTPRequestRecorder] = [:]

    private struct RecorderKey: Hashable {
        let server: ObjectIdentifier
        let listener: String
    }

    /// The last recorder asked for: an HTTP/2 stream asks for one per request, nearly
    /// always the same, and this answers it without hashing the key.
    private var lastRecorder: (key: RecorderKey, recorder: any HTTPRequestRecorder)?

    /// This loop's recorder for requests on `listener`, nil when the server has no observer.
    func recorder(of context: ServerContext, listener: String) -> (any HTTPRequestRecorder)? {
        guard let observer = context.observer else { return nil }
        let key = RecorderKey(server: ObjectIdentifier(context), listener: listener)
        if let last = lastRecorder, last.key == key { return last.recorder }
        let recorder = recorders[key] ?? observer.requestRecorder(listener: listener)
        recorders[key] = recorder
        lastRecorder = (key, recorder)
        return recorder
    }

    /// The routes of `router` as of now.
    func routes(of router: Router) -> Router.Table {
        let key = ObjectIdentifier(router)
        let current = router.version.load(ordering: .acquiring)
        if let cached = routeTables[key], cached.version == current { return cached.table }
        let snapshot = router.snapshot()
        routeTables[key] = snapshot
        return snapshot.table
    }

    /// The `Date` field line for a response written now.
    func currentDateLine() -> [UInt8] {
        date.refresh()
        return date.line
    }

    /// The `date` field's value for an HTTP/2 response written now.
    func currentDateValue() -> String {
        date.refresh()
        return date.value
    }
}
