#if canImport(Glibc)
import Glibc
#endif
import EventIO
import Foundation
import Synchronization
import Testing
@testable import Transport

/// `EventLoop` on its own, with no protocol above it: as a task executor and a socket
/// reactor (what `.asyncOnLoop` handlers and libpq rely on), after it stopped, and as the
/// owner of accepted connections that a protocol chooser hands from one connection to another.
@Suite(.serialized)
struct EventLoopTests {
    /// Runs a loop on its own thread for `body`, then stops it and waits for it to finish.
    static func withLoop<T>(_ body: (EventLoop) async throws -> T) async throws -> T {
        let context = TransportContext(limits: TransportLimits(maxConnections: 100, maxTLSHandshakes: 10,
                                                               tlsHandshakeTimeout: .seconds(5)),
                                       observer: nil, sweepNanoseconds: 5_000_000)
        let loop = try EventLoop(context: context)
        Thread { loop.run() }.start()
        defer {
            loop.execute { loop.stop() }
            while !loop.finished.load(ordering: .acquiring) { usleep(1000) }
        }
        return try await body(loop)
    }

    /// A socketpair whose writing end gets `message` from another thread after `milliseconds`.
    static func delayedPair(_ message: String, after milliseconds: Int) throws -> (reader: Int32, writer: Int32) {
        var pair: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        let writer = pair[1]
        Thread.detachNewThread {
            usleep(UInt32(milliseconds) * 1000)
            _ = message.withCString { write(writer, $0, strlen($0)) }
        }
        return (pair[0], pair[1])
    }

    /// A task on the loop awaits a foreign socket and is resumed on the loop's own thread.
    static func waitOnLoop(_ loop: EventLoop, _ message: String, after milliseconds: Int) async throws -> String {
        let pair = try delayedPair(message, after: milliseconds)
        defer { close(pair.reader); close(pair.writer) }
        let reader = pair.reader
        return await Task(executorPreference: loop) { () async -> String in
            let before = pthread_self()
            let woken = await loop.readable(reader)
            let same = pthread_equal(before, pthread_self()) != 0 && loop.inLoop
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = read(reader, &buffer, buffer.count)
            return "readable=\(woken) same-thread=\(same) data=\(String(decoding: buffer.prefix(max(0, count)), as: UTF8.self))"
        }.value
    }

    @Test func aTaskWaitsOnASocketWithoutLeavingTheLoopThread() async throws {
        try await Self.withLoop { loop in
            for index in 0..<5 {
                let result = try await Self.waitOnLoop(loop, "n\(index)", after: 20)
                #expect(result == "readable=true same-thread=true data=n\(index)")
            }
        }
    }

    @Test func manyTasksWaitingAtOnceAreAllWoken() async throws {
        try await Self.withLoop { loop in
            try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<40 {
                    group.addTask { try await Self.waitOnLoop(loop, "c\(index)", after: 30) }
                }
                var results: Set<String> = []
                for try await result in group { results.insert(result) }
                #expect(results == Set((0..<40).map { "readable=true same-thread=true data=c\($0)" }))
            }
        }
    }

    @Test func aStoppedLoopRefusesWatchesAndStillRunsTasks() async throws {
        let loop = try await Self.withLoop { $0 }
        let finished = loop.finished.load(ordering: .acquiring)
        #expect(finished)
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        // Nobody watches any more: the caller is told at once instead of waiting forever.
        #expect(await loop.readable(pair[0]) == false)
        // A task preferring the stopped loop runs on Dispatch instead of being lost.
        let value = await Task(executorPreference: loop) { () async -> Int in
            await Task.yield()
            return 42
        }.value
        #expect(value == 42)
    }

    /// `beforeWaiting` work runs on the loop's thread once the task that asked for it is
    /// done, and before the loop waits again (so before a task queued meanwhile): what an
    /// HTTP/2 connection several answers reached in one wakeup uses to write them at once.
    @Test func beforeWaitingRunsAfterTheTaskAndBeforeTheNextWait() async throws {
        let order = Trace()
        try await Self.withLoop { loop in
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                loop.execute {
                    loop.beforeWaiting { order.append("flush on loop: \(loop.inLoop)") }
                    loop.execute {
                        order.append("next task")
                        continuation.resume()
                    }
                    order.append("task done")
                }
            }
        }
        #expect(order.lines == ["task done", "flush on loop: true", "next task"])
    }

    /// A loop started from a thread with another nice value (as a Dispatch worker has)
    /// takes the process's: the main thread's. Raising a thread's nice value needs no
    /// privilege, so the starting thread is made nicer than the process.
    @Test func aLoopRunsAtTheProcessPriorityWhateverThreadStartedIt() async throws {
        let processNice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(getpid()))
        try #require(processNice < 19, "the test process runs at nice 19: no thread can be made nicer than it")
        let context = TransportContext(limits: TransportLimits(maxConnections: 100, maxTLSHandshakes: 10,
                                                               tlsHandshakeTimeout: .seconds(5)),
                                       observer: nil, sweepNanoseconds: 5_000_000)
        let loop = try EventLoop(context: context)
        let starter = Mutex<Int32?>(nil)
        // On Linux, PRIO_PROCESS with id 0 names the calling thread.
        Thread {
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, min(processNice + 5, 19))
            starter.withLock { $0 = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) }
            loop.run()
        }.start()
        defer {
            loop.execute { loop.stop() }
            while !loop.finished.load(ordering: .acquiring) { usleep(1000) }
        }
        let onLoop = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            loop.execute { continuation.resume(returning: getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)) }
        }
        #expect(starter.withLock { $0 } != processNice, "the starting thread ran at another nice value")
        #expect(onLoop == processNice)
    }

    /// Accepted sockets reach the listener's connection; `replace` hands one to another
    /// connection, which then gets its events, and the open-connection count is unchanged.
    @Test func acceptedConnectionsCanBeHandedToAnotherConnection() async throws {
        try await Self.withLoop { loop in
            let listener = try ListenerSocket(address: .tcp(host: "127.0.0.1", port: 0), name: "test") {
                loop, transport, listener, _, _ in HandingOver(loop: loop, transport: transport, listener: listener)
            }
            defer { listener.close() }
            loop.execute { loop.addListener(listener) }
            guard case .tcp(_, let port) = listener.address else { throw POSIXFailure(operation: "port", code: EINVAL) }
            let reply: String = try await withCheckedThrowingContinuation { continuation in
                Thread {
                    continuation.resume(with: Result {
                        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                        defer { close(fd) }
                        var address = sockaddr_in()
                        address.sin_family = sa_family_t(AF_INET)
                        address.sin_port = in_port_t(UInt16(port).bigEndian)
                        address.sin_addr.s_addr = inet_addr("127.0.0.1")
                        let connected = withUnsafePointer(to: &address) {
                            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                            }
                        }
                        guard connected == 0 else { throw POSIXFailure(operation: "connect", code: errno) }
                        _ = "ping".withCString { send(fd, $0, 4, 0) }
                        var buffer = [UInt8](repeating: 0, count: 64)
                        let count = recv(fd, &buffer, buffer.count, Int32(MSG_WAITALL))
                        return String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
                    })
                }.start()
            }
            #expect(reply.hasPrefix("peeked=ping echoed=ping"))
            #expect(loop.context.connectionCount.load(ordering: .relaxed) <= 1)
        }
    }
}

/// Peeks the first bytes, hands the socket to an `Echoing` connection, which reads them.
private final class HandingOver: LoopConnection {
    unowned let loop: EventLoop
    let listener: ListenerSocket
    let transport: any ConnectionTransport
    var fileDescriptor: Int32 { transport.fileDescriptor }
    var deadline: UInt64 { UInt64.max }

    init(loop: EventLoop, transport: any ConnectionTransport, listener: ListenerSocket) {
        self.loop = loop
        self.transport = transport
        self.listener = listener
    }

    func handle(events: UInt32) {
        let window = UnsafeMutableRawBufferPointer(rebasing: loop.readBuffer[0..<4])
        // Fewer than four bytes so far: the next readiness event peeks again.
        if case .bytes(let count) = transport.peek(into: window), count == 4 {
            let next = Echoing(loop: loop, transport: transport, listener: listener,
                               peeked: String(decoding: UnsafeRawBufferPointer(window), as: UTF8.self))
            loop.replace(self, with: next)
            next.handle(events: events)
        }
    }

    func deadlineReached() {}
    func shutdownRequested() { close() }
    func close() {
        loop.remove(self)
        transport.close()
    }
}

private final class Echoing: LoopConnection {
    unowned let loop: EventLoop
    let listener: ListenerSocket
    let transport: any ConnectionTransport
    let peeked: String
    var fileDescriptor: Int32 { transport.fileDescriptor }
    var deadline: UInt64 { UInt64.max }

    init(loop: EventLoop, transport: any ConnectionTransport, listener: ListenerSocket, peeked: String) {
        self.loop = loop
        self.transport = transport
        self.listener = listener
        self.peeked = peeked
    }

    func handle(events: UInt32) {
        guard case .bytes(let count) = transport.read(into: loop.readBuffer) else { return close() }
        var reply = Array("peeked=\(peeked) echoed=".utf8) + Array(UnsafeRawBufferPointer(rebasing: loop.readBuffer[0..<count]))
        reply += [UInt8](repeating: 0x20, count: max(0, 64 - reply.count))
        _ = reply.withUnsafeMutableBytes { bytes in
            loop.vectors[0] = iovec(iov_base: bytes.baseAddress, iov_len: bytes.count)
            return transport.write(UnsafeMutableBufferPointer(rebasing: loop.vectors[0..<1]))
        }
    }

    func deadlineReached() {}
    func shutdownRequested() { close() }
    func close() {
        loop.remove(self)
        transport.close()
    }
}

/// Lines appended on the loop's thread, read once it is done.
private final class Trace: Sendable {
    private let stored = Mutex<[String]>([])
    func append(_ line: String) { stored.withLock { $0.append(line) } }
    var lines: [String] { stored.withLock { $0 } }
}
