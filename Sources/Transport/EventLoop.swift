#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CTransportShims
import EventIO
import Synchronization

/// One thread blocked in `epoll_wait`, owning the connections it accepted; it knows sockets,
/// TLS and deadlines, not protocols (a listener's `ConnectionFactory` brings the protocol,
/// `LoopConnection` is what the loop drives). The server runs
/// one loop per core; all loops watch every listener with `EPOLLEXCLUSIVE`, so the kernel
/// wakes one loop per incoming connection. Level-triggered interest is changed only when a
/// connection switches between reading and writing, so the steady keep-alive path costs one
/// `recv` and one `sendmsg` per batch and no `epoll_ctl`.
///
/// A loop is also a `TaskExecutor` and a `SocketReactor`: a handler registered with
/// `.asyncOnLoop` runs as a task on its connection's loop, and a driver awaiting its own
/// socket (libpq) is woken by this loop's `epoll_wait`. A request that waits on PostgreSQL
/// then costs no thread hand-off: parse, send the statement, wait, answer, all on one thread.
public final class EventLoop: @unchecked Sendable {
    // @unchecked: everything except `inbox`, `closed`, `threadID` and `wakeFD` is touched only
    // on the loop's own thread; other threads reach the loop solely through `execute`, which
    // is locked.
    public let context: TransportContext
    private let epollFD: Int32
    private let wakeFD: Int32
    private struct Inbox {
        var tasks: [@Sendable () -> Void] = []
        var closed = false
    }
    private let inbox = Mutex(Inbox())
    /// Set once the loop has ended: work sent to it then runs on Dispatch's global queue.
    private let closed = Atomic<Bool>(false)
    /// The loop's thread (`pthread_self`), 0 before it runs.
    private let threadID = Atomic<UInt>(0)
    /// Task jobs enqueued from the loop's own thread; they run before the next `epoll_wait`
    /// without a wakeup.
    private var localJobs: [UnownedJob] = []
    /// Work to do once the jobs, tasks and events at hand are done, before the loop waits
    /// again (`beforeWaiting`).
    private var pendingFlushes: [() -> Void] = []
    /// Tasks waiting for a foreign socket (a PostgreSQL connection) to become readable.
    private var watchers: [Int32: UnsafeContinuation<Bool, Never>] = [:]
    /// Foreign sockets this loop's epoll may still hold, disarmed (`EPOLLONESHOT`): the next
    /// wait re-arms them with one `epoll_ctl` instead of an add and a delete per wait. The
    /// kernel drops a registration when its socket closes; a stale entry here only makes the
    /// next re-arm fall back to an add.
    private var registered: Set<Int32> = []
    private var connections: [(any LoopConnection)?] = []
    private var listeners: [Int32: ListenerSocket] = [:]
    /// Listeners taken out of the epoll set while the process is out of descriptors, with
    /// the time to put them back; a level-triggered listener would otherwise spin the loop.
    private var pausedListeners: [(listener: ListenerSocket, until: UInt64)] = []
    private var running = true
    /// All loops of the server (this one included), for dealing out accepted connections.
    /// Set by `HTTPServer.start()` before the threads run; cleared when the loop ends, which
    /// breaks the reference cycle between loops.
    public var peers: [EventLoop] = []
    private var nextSweep: UInt64 = 0
    public let finished = Atomic<Bool>(false)

    /// Scratch space shared by the loop's connections, valid during one event.
    public let readBuffer: UnsafeMutableRawBufferPointer
    public let vectors: UnsafeMutableBufferPointer<iovec>
    /// What protocol layers keep per loop (HTTP's route tables and Date line), by type.
    private var locals: [ObjectIdentifier: AnyObject] = [:]

    public static let readBufferSize = 64 * 1024
    private static let maxEvents = 256

    public init(context: TransportContext) throws {
        self.context = context
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw POSIXFailure(operation: "epoll_create1", code: errno) }
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        guard wakeFD >= 0 else {
            close(epollFD)
            throw POSIXFailure(operation: "eventfd", code: errno)
        }
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        vectors = .allocate(capacity: 1024)  // IOV_MAX on Linux
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeFD
        epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event)
    }

    deinit {
        // A loop that never ran (server never started) still owns its descriptors.
        if !finished.load(ordering: .acquiring) {
            close(wakeFD)
            close(epollFD)
        }
        readBuffer.deallocate()
        vectors.deallocate()
    }

    /// Runs `task` on the loop's thread soon; callable from any thread. Once the loop has
    /// ended, `task` runs on Dispatch's global queue instead, so late work is never lost.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        let accepted = inbox.withLock { inbox in
            guard !inbox.closed else { return false }
            inbox.tasks.append(task)
            return true
        }
        guard accepted else {
            DispatchQueue.global().async(execute: task)
            return
        }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// True on the loop's own thread.
    public var inLoop: Bool {
        threadID.load(ordering: .relaxed) == UInt(pthread_self())
    }

    /// The loop body; returns after `stop()`.
    public func run() {
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Self.maxEvents)
        defer { events.deallocate() }
        threadID.store(UInt(pthread_self()), ordering: .relaxed)
        // The loop runs at the priority the process was given (nice, systemd's Nice=),
        // whichever thread started it: a Dispatch worker carries its QoS class's nice value
        // (0 for default), and a loop started from one ran below the process and was
        // preempted by everything ranked with it (measured: 14,000 involuntary switches a
        // second per loop under `nice -n -15`, 0.74x the throughput). Where the change is
        // not allowed (a lower nice value needs CAP_SYS_NICE), the loop keeps the one it had.
        _ = ctransport_adopt_process_priority()
        nextSweep = Self.now() + context.sweepNanoseconds
        while running {
            runLocalJobs()
            runFlushes()
            let now = Self.now()
            var timeout = nextSweep > now ? Int32(min((nextSweep - now) / 1_000_000 + 1, 1000)) : 0
            if !localJobs.isEmpty { timeout = 0 }
            let count = epoll_wait(epollFD, events, Int32(Self.maxEvents), timeout)
            if count > 0 {
                for index in 0..<Int(count) {
                    let event = events[index]
                    let fd = event.data.fd
                    if fd == wakeFD {
                        runTasks()
                    } else if let listener = listeners[fd] {
                        acceptConnections(listener)
                    } else if !watchers.isEmpty, let waiter = watchers.removeValue(forKey: fd) {
                        waiter.resume(returning: true)
                    } else if fd >= 0, fd < connections.count, let connection = connections[Int(fd)] {
                        connection.handle(events: event.events)
                    }
                }
            }
            if Self.now() >= nextSweep {
                sweep()
                nextSweep = Self.now() + context.sweepNanoseconds
            }
        }
        for case let connection? in connections { connection.close() }
        for fd in listeners.keys { epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil) }
        listeners = [:]
        peers = []
        // From here on `execute` and `enqueue` hand work to Dispatch; what is already queued
        // runs now, and socket waiters learn that this loop no longer watches.
        closed.store(true, ordering: .releasing)
        let leftovers = inbox.withLock { inbox in
            inbox.closed = true
            defer { inbox.tasks.removeAll() }
            return inbox.tasks
        }
        for task in leftovers { task() }
        runLocalJobs()
        runFlushes()
        let waiting = watchers
        watchers.removeAll()
        for (fd, waiter) in waiting {
            epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
            waiter.resume(returning: false)
        }
        close(wakeFD)
        close(epollFD)
        finished.store(true, ordering: .releasing)
    }

    private func runTasks() {
        var value: UInt64 = 0
        _ = read(wakeFD, &value, 8)
        let pending = inbox.withLock { inbox in
            defer { inbox.tasks.removeAll(keepingCapacity: true) }
            return inbox.tasks
        }
        for task in pending { task() }
    }

    /// Runs the task jobs queued from this thread, including those they queue in turn, up
    /// to a bound so sockets are not starved; what is left runs after the next poll.
    private func runLocalJobs() {
        var rounds = 0
        while !localJobs.isEmpty, rounds < 16 {
            let jobs = localJobs
            localJobs.removeAll(keepingCapacity: true)
            for job in jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
            rounds += 1
        }
    }

    /// Runs `body` on the loop's thread once the jobs, tasks and events at hand are done,
    /// before the loop next waits; loop thread only. A connection that several tasks
    /// answered in one wakeup uses it to write all the answers with one send.
    public func beforeWaiting(_ body: @escaping () -> Void) {
        pendingFlushes.append(body)
    }

    private func runFlushes() {
        while !pendingFlushes.isEmpty {
            let flushes = pendingFlushes
            pendingFlushes.removeAll(keepingCapacity: true)
            for flush in flushes { flush() }
        }
    }

    // MARK: Listeners (loop thread)

    public func addListener(_ listener: ListenerSocket) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue
        event.data.fd = listener.fileDescriptor
        if epoll_ctl(epollFD, EPOLL_CTL_ADD, listener.fileDescriptor, &event) == 0 {
            listeners[listener.fileDescriptor] = listener
        }
    }

    /// Stops accepting and closes idle connections; busy ones finish and then close.
    public func beginShutdown() {
        for fd in listeners.keys { epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil) }
        listeners = [:]
        pausedListeners = []
        for case let connection? in connections { connection.shutdownRequested() }
    }

    public func stop() {
        running = false
    }

    /// Accepts what is pending and deals the connections out round-robin over all loops.
    /// Left to `EPOLLEXCLUSIVE` alone, a burst of connects lands on whichever loop woke first
    /// (it finds the listener still ready and never sleeps), leaving the other cores idle;
    /// measured: 16 wrk connections all on one loop in some runs.
    private func acceptConnections(_ listener: ListenerSocket) {
        for _ in 0..<64 {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    ctransport_accept4(listener.fileDescriptor, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                }
            }
            if fd < 0 {
                let code = errno
                // EAGAIN: another loop took it or the queue is empty. Out of descriptors or
                // memory: the connection stays queued; stop watching the listener briefly.
                if code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM {
                    epoll_ctl(epollFD, EPOLL_CTL_DEL, listener.fileDescriptor, nil)
                    listeners[listener.fileDescriptor] = nil
                    pausedListeners.append((listener, Self.now() + 100_000_000))
                }
                return
            }
            if context.isShuttingDown {
                close(fd)
                continue
            }
            let limit = context.limits.maxConnections
            let previous = context.connectionCount.wrappingAdd(1, ordering: .relaxed).oldValue
            if previous >= limit {
                context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
                close(fd)
                context.observer?.connectionRejected(listener: listener.name, reason: "max_connections")
                continue
            }
            if !listener.isUnix {
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            let remote = listener.isUnix ? "unix" : SocketAddress.describe(&storage)
            let acceptedAt = Self.now()
            let target = peers.isEmpty ? self : peers[context.nextLoopIndex(count: peers.count)]
            if target === self {
                adopt(fd, listener: listener, remoteAddress: remote, acceptedAt: acceptedAt)
            } else {
                target.execute { target.adopt(fd, listener: listener, remoteAddress: remote, acceptedAt: acceptedAt) }
            }
        }
    }

    /// Takes an accepted socket into this loop (on this loop's thread).
    private func adopt(_ fd: Int32, listener: ListenerSocket, remoteAddress: String, acceptedAt: UInt64) {
        guard running, !context.isShuttingDown else {
            close(fd)
            context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
            return
        }
        let transport: any ConnectionTransport
        if let tls = listener.tls {
            guard let secured = makeTLSTransport(fd, tls: tls, listener: listener) else { return }
            transport = secured
        } else {
            transport = SocketTransport(fileDescriptor: fd)
        }
        let connection = listener.makeConnection(self, transport, listener, remoteAddress, acceptedAt)
        if Int(fd) >= connections.count {
            connections.append(contentsOf: repeatElement(nil, count: Int(fd) + 1 - connections.count + 64))
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = fd
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
            transport.close()
            context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
            return
        }
        connections[Int(fd)] = connection
        context.observer?.connectionOpened(listener: listener.name)
    }

    /// A TLS transport for an accepted socket, or nil (socket closed, slot released) when
    /// too many handshakes are in progress or OpenSSL cannot allocate.
    private func makeTLSTransport(_ fd: Int32, tls: TLSContextReloader, listener: ListenerSocket) -> TLSTransport? {
        let handshakes = context.tlsHandshakes.wrappingAdd(1, ordering: .relaxed).oldValue
        var transport: TLSTransport?
        if handshakes < context.limits.maxTLSHandshakes {
            transport = TLSTransport(fileDescriptor: fd, tls: tls.current, context: context)
        }
        guard let transport else {
            context.tlsHandshakes.wrappingSubtract(1, ordering: .relaxed)
            context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
            close(fd)
            context.observer?.connectionRejected(listener: listener.name, reason: handshakes < context.limits.maxTLSHandshakes
                                                 ? "tls_allocation" : "max_tls_handshakes")
            return nil
        }
        return transport
    }

    // MARK: Connections (loop thread)

    /// This loop's instance of a protocol layer's per-loop state, made on first use. Loop
    /// thread only.
    public func local<State: AnyObject>(_ make: () -> State) -> State {
        let key = ObjectIdentifier(State.self)
        if let state = locals[key] { return unsafeDowncast(state, to: State.self) }
        let state = make()
        locals[key] = state
        return state
    }

    /// Changes the readiness a connection waits for.
    public func setInterest(_ fd: Int32, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
    }

    /// Hands a socket from one protocol's connection to another (the protocol chooser to
    /// HTTP/1.1 or HTTP/2): the registration, the connection count and the observer's
    /// view of the socket stay as they are.
    public func replace(_ old: any LoopConnection, with new: any LoopConnection) {
        let fd = Int(old.fileDescriptor)
        guard fd < connections.count, connections[fd] === old else { return }
        connections[fd] = new
    }

    /// Forgets a connection that closed itself.
    public func remove(_ connection: any LoopConnection) {
        let fd = Int(connection.fileDescriptor)
        if fd < connections.count, connections[fd] === connection {
            connections[fd] = nil
        }
        epoll_ctl(epollFD, EPOLL_CTL_DEL, connection.fileDescriptor, nil)
        context.connectionCount.wrappingSubtract(1, ordering: .relaxed)
        context.observer?.connectionClosed(listener: connection.listener.name)
    }

    private func sweep() {
        let now = Self.now()
        for listener in listeners.values { listener.tls?.reloadIfChanged(now: now) }
        if !pausedListeners.isEmpty, !context.isShuttingDown {
            let due = pausedListeners.filter { $0.until <= now }
            pausedListeners.removeAll { $0.until <= now }
            for entry in due { addListener(entry.listener) }
        }
        for case let connection? in connections where connection.deadline <= now {
            connection.deadlineReached()
        }
    }

    /// The monotonic clock in nanoseconds.
    public static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}

extension EventLoop: TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if inLoop, !closed.load(ordering: .acquiring) {
            localJobs.append(job)
        } else {
            execute { [self] in job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}

extension EventLoop: SocketReactor {
    public func readable(_ fileDescriptor: Int32) async -> Bool {
        await withUnsafeContinuation { continuation in
            if inLoop {
                watch(fileDescriptor, continuation)
            } else {
                execute { [self] in watch(fileDescriptor, continuation) }
            }
        }
    }

    /// Adds a one-time readability watch (loop thread, or Dispatch once the loop has ended,
    /// in which case the waiter is told at once that nobody watches).
    private func watch(_ fd: Int32, _ waiter: UnsafeContinuation<Bool, Never>) {
        guard !closed.load(ordering: .acquiring), running, watchers[fd] == nil else {
            waiter.resume(returning: false)
            return
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLONESHOT.rawValue
        event.data.fd = fd
        var armed = false
        if registered.contains(fd) {
            armed = epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event) == 0
        }
        if !armed {
            armed = epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0
                || (errno == EEXIST && epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event) == 0)
        }
        guard armed else {
            registered.remove(fd)
            waiter.resume(returning: false)
            return
        }
        registered.insert(fd)
        watchers[fd] = waiter
    }
}
