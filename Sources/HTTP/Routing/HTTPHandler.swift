/// What runs for a matched route.
public enum HTTPHandler: Sendable {
    /// Runs on the connection's I/O thread, inline with parsing: the fast path for answers
    /// already in memory. It must not block.
    case sync(@Sendable (HTTPServerRequest) -> HTTPServerResponse)
    /// Runs in a Task, for work that waits (store, backends). Responses still go out in
    /// request order on the connection.
    case async(@Sendable (HTTPServerRequest) async -> HTTPServerResponse)
}
