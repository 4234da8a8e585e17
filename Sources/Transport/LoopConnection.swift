/// The protocol state machine an event loop drives for one accepted socket (HTTP/1.1 today,
/// HTTP/2 next), above its `ConnectionTransport`. The loop knows no protocol: it hands each
/// readiness event, the sweep's deadlines and shutdown to the connection the listener's
/// `ConnectionFactory` made. Every call happens on the loop's thread.
public protocol LoopConnection: AnyObject {
    var fileDescriptor: Int32 { get }
    var listener: ListenerSocket { get }
    /// When the connection next needs the sweep (monotonic nanoseconds), `UInt64.max` for never.
    var deadline: UInt64 { get }
    func handle(events: UInt32)
    /// The sweep found `deadline` passed.
    func deadlineReached()
    /// The server stops: close when idle, otherwise finish what was received.
    func shutdownRequested()
    /// Closes at once and leaves the loop (`EventLoop.remove`).
    func close()
}

/// Makes the connection for a socket a listener accepted: the listener's protocol.
public typealias ConnectionFactory = @Sendable (_ loop: EventLoop, _ transport: any ConnectionTransport,
                                         _ listener: ListenerSocket, _ remoteAddress: String,
                                         _ acceptedAt: UInt64) -> any LoopConnection
