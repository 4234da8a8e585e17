/// What runs for a matched route.
public enum HTTPHandler: Sendable {
    /// Runs on the connection's I/O thread, inline with parsing: the fast path for answers
    /// already in memory. It must not block.
    case sync(@Sendable (HTTPServerRequest) -> HTTPServerResponse)
    /// Runs in a Task, for work that waits (store, backends). Responses still go out in
    /// request order on the connection.
    case async(@Sendable (HTTPServerRequest) async -> HTTPServerResponse)
    /// Runs in a Task on the connection's own event loop, with that loop as
    /// `CurrentReactor.value`: for handlers that only wait on sockets the loop can watch
    /// (PostgreSQL), so a request costs no thread hand-off. Between awaits the handler holds
    /// the loop: it must not block or compute for long (no key generation, no file locks).
    case asyncOnLoop(@Sendable (HTTPServerRequest) async -> HTTPServerResponse)
}
