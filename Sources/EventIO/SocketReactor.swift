/// Something that can wake a task when a socket becomes readable: the HTTP server's event
/// loops. Drivers that talk to a socket of their own (libpq) use it to wait for an answer
/// on the loop that runs the request, instead of blocking a thread and hopping back.
///
/// The contract is deliberately small so drivers do not depend on the HTTP module:
/// `readable` may be called from any thread; it returns false at once when the reactor
/// cannot watch the socket (it has stopped), and the caller then waits some other way.
public protocol SocketReactor: AnyObject, Sendable {
    /// Suspends until `fileDescriptor` is readable, has an error or was hung up; false if
    /// this reactor cannot watch it. One waiter per descriptor at a time.
    func readable(_ fileDescriptor: Int32) async -> Bool
}

/// The reactor of the task that is running, if it runs on one (set by the HTTP server for
/// handlers it runs on their connection's event loop).
public enum CurrentReactor {
    @TaskLocal public static var value: (any SocketReactor)?
}
