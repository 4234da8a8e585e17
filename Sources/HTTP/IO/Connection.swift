#if canImport(Glibc)
import Glibc
#endif
import CTransportShims
import EventIO
import HTTPTypes
import Transport

/// One accepted HTTP/1.x connection: reads, frames and dispatches requests, and writes the
/// responses in request order. Bytes are parsed where they were read (the loop's shared read
/// buffer); only an incomplete request is copied into the connection's own buffer, so an idle
/// keep-alive connection holds no buffer at all.
final class Connection: LoopConnection, @unchecked Sendable {
    // @unchecked: confined to its event loop's thread. Async handlers hand their responses
    // back through `EventLoop.execute`, never touching the connection from another thread.

    unowned let loop: EventLoop
    let listener: ListenerSocket
    private let router: Router
    let fileDescriptor: Int32
    private let transport: any ConnectionTransport
    private let remoteAddress: String
    private let context: ServerContext
    private let limits: ServerLimits
    /// The route tables and Date line this connection's loop keeps for HTTP.
    private let loopState: HTTPLoopState
    /// Where this loop reports answered requests on this listener; nil without an observer.
    private let recorder: (any HTTPRequestRecorder)?

    /// Bytes of an incomplete request carried over between reads.
    private var carry: UnsafeMutableRawBufferPointer?
    private var carryCount = 0
    private let maxCarry: Int

    private var parser: RequestHeadParser
    private var head = RequestHead()
    private var phase = Phase.head

    /// A request whose head is complete and whose body is still arriving.
    private var pending: PendingRequest?
    private var bodyRemaining = 0
    private var chunkDecoder: ChunkedBodyDecoder?

    /// Responses not yet rendered, oldest first; `firstSequence` numbers `slots[0]`.
    private var slots: [Slot] = []
    private var firstSequence: UInt64 = 0
    private var output = OutputQueue()

    private var acceptingRequests = true
    /// The request whose body is being read asked to close the connection after it.
    private var closeAfterBody = false
    private var closeWhenFlushed = false
    private var peerClosed = false
    private var draining = false
    private(set) var isClosed = false
    /// What the connection waits for; `registered` adds the transport's `extraInterest`.
    private var interest = EPOLLIN.rawValue
    private var registered = EPOLLIN.rawValue

    private let acceptedAt: UInt64
    private var requestsServed = 0
    private var requestStartedAt: UInt64 = 0
    private var bodyStartedAt: UInt64 = 0
    private var lastActivity: UInt64
    private var writeBlockedSince: UInt64 = 0
    private var drainStartedAt: UInt64 = 0
    /// When the connection next needs attention from the loop's sweep, and what it needs.
    private(set) var deadline = UInt64.max
    private var deadlineAction = DeadlineAction.close

    private enum DeadlineAction {
        case close
        case headerTimeout
        case bodyTimeout
    }

    private enum Phase {
        case head
        case body
    }

    private struct PendingRequest {
        var request: HTTPServerRequest
        var isHead: Bool
        var keepAlive: Bool
        /// `EventLoop.now()` of the read that completed the head; nil when nothing records it.
        var started: UInt64?
    }

    private struct Slot {
        var response: HTTPServerResponse?
        var isHead: Bool
        var keepAlive: Bool
        var keepAliveHeader: Bool
        var interimContinue: Bool
        var method: HTTPRequest.Method
        var template: String?
        var started: UInt64?
    }

    private static let continueLine: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    private static let closeLine: [UInt8] = Array("Connection: close\r\n".utf8)
    private static let keepAliveLine: [UInt8] = Array("Connection: keep-alive\r\n".utf8)
    private static let unknownMethod = HTTPRequest.Method("UNKNOWN") ?? .get

    init(loop: EventLoop, transport: any ConnectionTransport, listener: ListenerSocket, context: ServerContext,
         router: Router, remoteAddress: String, acceptedAt: UInt64) {
        self.loop = loop
        self.transport = transport
        self.fileDescriptor = transport.fileDescriptor
        self.listener = listener
        self.router = router
        self.remoteAddress = remoteAddress
        self.context = context
        self.limits = context.limits
        let loopState = loop.local { HTTPLoopState() }
        self.loopState = loopState
        self.recorder = loopState.recorder(of: context, listener: listener.name)
        self.parser = RequestHeadParser(limits: context.limits.parserLimits)
        self.maxCarry = limits.maxRequestLineBytes + limits.maxHeaderBytes + 1024
        self.acceptedAt = acceptedAt
        self.lastActivity = acceptedAt
        updateDeadline()
    }

    deinit {
        carry?.deallocate()
    }

    // MARK: Events

    func handle(events: UInt32) {
        if isClosed { return }
        // TLS blocked on the opposite direction: any readiness retries both sides.
        let retryBoth = transport.extraInterest != 0
        if retryBoth || events & EPOLLOUT.rawValue != 0 {
            flush()
        }
        if !isClosed, retryBoth || events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            if draining {
                drain()
            } else if interest & EPOLLIN.rawValue != 0 {
                readAndProcess()
            } else if events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
                close()
            }
        }
        afterEvent()
    }

    private func readAndProcess() {
        let now = EventLoop.now()
        if carryCount == 0 {
            let result = transport.read(into: loop.readBuffer)
            guard case .bytes(let count) = result else { return readEnded(result) }
            lastActivity = now
            let bytes = UnsafeRawBufferPointer(rebasing: loop.readBuffer[0..<count])
            let consumed = process(bytes, now: now)
            if consumed < count, !isClosed, acceptingRequests {
                keep(UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            }
        } else {
            let buffer = carryBuffer(minimumFree: transport.minimumReadSize)
            let result = transport.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[carryCount...]))
            guard case .bytes(let count) = result else { return readEnded(result) }
            lastActivity = now
            carryCount += count
            processCarry(now: now)
        }
    }

    private func readEnded(_ result: TransportResult) {
        switch result {
        case .wouldBlock, .bytes:
            return
        case .closed:
            peerClosed = true
            acceptingRequests = false
            if slots.isEmpty && output.isEmpty { close() }
        case .failed:
            close()
        }
    }

    /// Parses what is in the carry buffer and keeps the unconsumed rest at its front.
    private func processCarry(now: UInt64) {
        guard let buffer = carry, carryCount > 0 else { return }
        let consumed = process(UnsafeRawBufferPointer(rebasing: buffer[0..<carryCount]), now: now)
        guard !isClosed else { return }
        if consumed > 0 {
            let rest = carryCount - consumed
            if rest > 0, let base = buffer.baseAddress {
                memmove(base, base + consumed, rest)
            }
            carryCount = rest
        }
        if carryCount == 0 || !acceptingRequests {
            releaseCarry()
        }
    }

    private func keep(_ bytes: UnsafeRawBufferPointer) {
        let buffer = carryBuffer(minimumFree: bytes.count)
        UnsafeMutableRawBufferPointer(rebasing: buffer[carryCount...]).copyMemory(from: bytes)
        carryCount += bytes.count
    }

    private func carryBuffer(minimumFree: Int) -> UnsafeMutableRawBufferPointer {
        let needed = carryCount + minimumFree
        if let buffer = carry, buffer.count >= needed { return buffer }
        let size = max(needed, min(max((carry?.count ?? 0) * 2, 4096), maxCarry + EventLoop.readBufferSize))
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        if let old = carry {
            grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: old[0..<carryCount]))
            old.deallocate()
        }
        carry = grown
        return grown
    }

    private func releaseCarry() {
        carry?.deallocate()
        carry = nil
        carryCount = 0
    }

    // MARK: Framing

    /// Handles as many requests as `bytes` holds; returns how many bytes were used.
    private func process(_ bytes: UnsafeRawBufferPointer, now: UInt64) -> Int {
        var offset = 0
        while acceptingRequests && !isClosed && offset < bytes.count {
            if slots.count >= limits.maxPipelinedRequests { break }
            let region = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            switch phase {
            case .head:
                if requestStartedAt == 0 { requestStartedAt = now }
                let parsed: Int?
                do {
                    parsed = try parser.parse(region, into: &head)
                } catch {
                    fail(error)
                    return bytes.count
                }
                guard let used = parsed else {
                    if region.count >= maxCarry { fail(.headersTooLarge) }
                    return offset
                }
                parser.reset()
                offset += used
                startRequest(UnsafeRawBufferPointer(rebasing: region[0..<used]), moreBytes: offset < bytes.count, now: now)
            case .body:
                offset += consumeBody(region)
            }
        }
        return offset
    }

    private func startRequest(_ headBytes: UnsafeRawBufferPointer, moreBytes: Bool, now: UInt64) {
        requestStartedAt = 0
        requestsServed += 1
        let method = Self.method(headBytes, head.method)
        let targetBytes = UnsafeRawBufferPointer(rebasing: headBytes[head.target])
        guard let decoded = RequestTarget(targetBytes) else {
            fail(.invalidTarget, method: method)
            return
        }
        var fields = HTTPFields()
        fields.reserveCapacity(head.fields.count)
        for field in head.fields {
            let nameBytes = UnsafeRawBufferPointer(rebasing: headBytes[field.name])
            guard let name = HTTPField.Name(String(decoding: nameBytes, as: UTF8.self)) else { continue }
            fields.append(HTTPField(name: name, value: UnsafeRawBufferPointer(rebasing: headBytes[field.value])))
        }
        let request = HTTPServerRequest(
            method: method, target: String(decoding: targetBytes, as: UTF8.self), path: decoded.path,
            query: decoded.query.map { (name: $0.name, value: $0.value) }, headerFields: fields,
            body: [], version: (head.versionMajor, head.versionMinor), remoteAddress: remoteAddress,
            localListener: listener.name, tlsPeer: transport.tlsPeer)
        let keepAlive = head.keepAlive && !context.isShuttingDown
        var next = PendingRequest(request: request, isHead: method == .head, keepAlive: keepAlive,
                                  started: recorder == nil ? nil : now)
        if !keepAlive { acceptingRequests = false }

        switch head.framing {
        case .none:
            dispatch(next)
        case .contentLength(let length):
            next.request.body.reserveCapacity(length)
            bodyRemaining = length
            beginBody(next, moreBytes: moreBytes, now: now)
        case .chunked:
            chunkDecoder = ChunkedBodyDecoder(maxBodyBytes: limits.maxBodyBytes, maxTrailerBytes: limits.maxHeaderBytes)
            beginBody(next, moreBytes: moreBytes, now: now)
        }
    }

    private func beginBody(_ request: PendingRequest, moreBytes: Bool, now: UInt64) {
        pending = request
        phase = .body
        bodyStartedAt = now
        // RFC 9110 §10.1.1: the client waits for 100 before sending the body; skip it when
        // body bytes are already here.
        if head.expectContinue && !moreBytes {
            enqueue(Slot(response: nil, isHead: false, keepAlive: true, keepAliveHeader: false,
                         interimContinue: true, method: request.request.method, template: nil, started: nil))
        }
        // A connection that stops reading after this request still needs its body.
        acceptingRequests = true
        if !request.keepAlive { closeAfterBody = true }
    }

    private func consumeBody(_ region: UnsafeRawBufferPointer) -> Int {
        guard var current = pending else { return region.count }
        let used: Int
        if var decoder = chunkDecoder {
            do {
                used = try decoder.decode(region, into: &current.request.body)
            } catch {
                pending = nil
                fail(error, method: current.request.method)
                return region.count
            }
            chunkDecoder = decoder
            if decoder.isComplete { chunkDecoder = nil; bodyRemaining = 0 } else { bodyRemaining = 1 }
        } else {
            used = min(bodyRemaining, region.count)
            current.request.body.append(contentsOf: UnsafeRawBufferPointer(rebasing: region[0..<used]))
            bodyRemaining -= used
        }
        if bodyRemaining == 0 {
            pending = nil
            phase = .head
            if closeAfterBody {
                acceptingRequests = false
                closeAfterBody = false
            }
            dispatch(current)
        } else {
            pending = current
        }
        return used
    }

    // MARK: Dispatch

    private func dispatch(_ pending: PendingRequest) {
        var request = pending.request
        let routed = loopState.routes(of: router).route(&request)
        var slot = Slot(response: nil, isHead: pending.isHead, keepAlive: pending.keepAlive,
                        keepAliveHeader: pending.keepAlive && request.version.minor == 0,
                        interimContinue: false, method: request.method, template: request.routeTemplate,
                        started: pending.started)
        switch routed {
        case .handler(.sync(let body)):
            slot.response = body(request)
            enqueue(slot)
        case .handler(.async(let body)):
            start(slot, onLoop: false, body: body, request: request)
        case .handler(.asyncOnLoop(let body)):
            start(slot, onLoop: true, body: body, request: request)
        case .answer(let response):
            slot.response = response
            enqueue(slot)
        }
    }

    /// Queues the request's slot and runs `body` as a task: on the shared pool, or on this
    /// connection's loop with the loop as the task's reactor (`HTTPHandler.asyncOnLoop`). The
    /// response fills the slot on the loop's thread, directly when the task ends there.
    private func start(_ slot: Slot, onLoop: Bool, body: @escaping @Sendable (HTTPServerRequest) async -> HTTPServerResponse,
                       request: HTTPServerRequest) {
        let sequence = firstSequence + UInt64(slots.count)
        enqueue(slot)
        let loop = self.loop
        let finish: @Sendable (HTTPServerResponse) -> Void = { response in
            if loop.inLoop {
                self.complete(sequence: sequence, response: response)
            } else {
                loop.execute { self.complete(sequence: sequence, response: response) }
            }
        }
        if onLoop {
            Task(executorPreference: loop) { finish(await CurrentReactor.$value.withValue(loop) { await body(request) }) }
        } else {
            Task { finish(await body(request)) }
        }
    }

    /// Refuses the request in progress and closes the connection once the answer is out.
    private func fail(_ error: HTTPParseError, method: HTTPRequest.Method? = nil) {
        acceptingRequests = false
        closeAfterBody = false
        pending = nil
        chunkDecoder = nil
        phase = .head
        let response = Problem.response(status: HTTPResponse.Status(code: error.status), type: error.slug,
                                        title: ResponseRenderer.defaultReason(error.status), detail: error.detail)
        enqueue(Slot(response: response, isHead: method == .head, keepAlive: false, keepAliveHeader: false,
                     interimContinue: false, method: method ?? Self.unknownMethod, template: nil, started: nil))
    }

    private func complete(sequence: UInt64, response: HTTPServerResponse) {
        guard !isClosed, sequence >= firstSequence else { return }
        let index = Int(sequence - firstSequence)
        guard index < slots.count else { return }
        slots[index].response = response
        renderReadySlots()
        processCarry(now: EventLoop.now())
        afterEvent()
    }

    private func enqueue(_ slot: Slot) {
        if slots.isEmpty, slot.response != nil || slot.interimContinue {
            render(slot)
        } else {
            slots.append(slot)
            renderReadySlots()
        }
    }

    private func renderReadySlots() {
        var ready = 0
        while ready < slots.count, slots[ready].response != nil || slots[ready].interimContinue {
            render(slots[ready])
            ready += 1
        }
        if ready > 0 {
            slots.removeFirst(ready)
            firstSequence += UInt64(ready)
        }
    }

    // MARK: Output

    private func render(_ slot: Slot) {
        if slot.interimContinue {
            output.appendOwned { $0.append(contentsOf: Self.continueLine) }
            return
        }
        guard let response = slot.response else { return }
        var keepAlive = slot.keepAlive
        if keepAlive && context.isShuttingDown && slots.count <= 1 && phase == .head && carryCount == 0 {
            keepAlive = false
            acceptingRequests = false
        }
        if !keepAlive { closeWhenFlushed = true }
        let dateLine = loopState.currentDateLine()
        let sendBody = !slot.isHead && ResponseRenderer.allowsBody(response.status.code)
        switch response.payload {
        case .prerendered(let prerendered):
            if let base = prerendered.head.baseAddress {
                output.appendShared(base, count: prerendered.head.count, owner: prerendered)
            }
            output.appendOwned { out in
                out.append(contentsOf: dateLine)
                if !keepAlive { out.append(contentsOf: Self.closeLine) } else if slot.keepAliveHeader { out.append(contentsOf: Self.keepAliveLine) }
                out.append(contentsOf: [0x0D, 0x0A])
            }
            if sendBody, let base = prerendered.bodyBytes.baseAddress {
                output.appendShared(base, count: prerendered.body.count, owner: prerendered)
            }
        case .dynamic:
            output.appendOwned { out in
                ResponseRenderer.appendStatusLineAndFields(status: response.status, headerFields: response.headerFields,
                                                          contentLength: response.body.count, to: &out)
                out.append(contentsOf: dateLine)
                if !keepAlive { out.append(contentsOf: Self.closeLine) } else if slot.keepAliveHeader { out.append(contentsOf: Self.keepAliveLine) }
                out.append(contentsOf: [0x0D, 0x0A])
                if sendBody { out.append(contentsOf: response.body) }
            }
        }
        // Counted as it is queued: the loop's own shard costs a few atomic adds, less than
        // keeping the answer aside to count after the flush.
        if let recorder {
            recorder.requestCompleted(method: slot.method, routeTemplate: slot.template, status: response.status.code,
                                      nanoseconds: slot.started.map { EventLoop.now() &- $0 } ?? 0)
        }
    }

    private func flush() {
        guard !isClosed, !output.isEmpty else { return }
        switch output.flush(to: transport, vectors: loop.vectors) {
        case .bytes:
            writeBlockedSince = 0
            // The keep-alive idle period starts when the last response is out, not when the
            // request came in (an async handler may have taken long).
            lastActivity = EventLoop.now()
        case .wouldBlock:
            if writeBlockedSince == 0 { writeBlockedSince = EventLoop.now() }
        case .closed, .failed:
            close()
        }
    }

    /// After any event: write what is ready, close or drain if done, adjust interest and deadline.
    private func afterEvent() {
        guard !isClosed else { return }
        flush()
        guard !isClosed else { return }
        if output.isEmpty && slots.isEmpty {
            if closeWhenFlushed && !draining {
                beginDrain()
            } else if peerClosed {
                close()
                return
            }
        }
        guard !isClosed else { return }
        var wanted: UInt32 = 0
        if draining {
            wanted = EPOLLIN.rawValue
        } else if !output.isEmpty {
            wanted = EPOLLOUT.rawValue
        } else if acceptingRequests && !peerClosed && slots.count < limits.maxPipelinedRequests {
            wanted = EPOLLIN.rawValue
        } else if phase == .body && !peerClosed {
            wanted = EPOLLIN.rawValue
        }
        interest = wanted
        let registration = wanted | transport.extraInterest
        if registration != registered {
            registered = registration
            loop.setInterest(fileDescriptor, events: registration)
        }
        updateDeadline()
    }

    // MARK: Closing

    /// Sends FIN and reads (discarding) for a short while, so the client can read the last
    /// response before the connection closes instead of receiving a reset.
    private func beginDrain() {
        draining = true
        acceptingRequests = false
        releaseCarry()
        transport.shutdownWrite()
        drainStartedAt = EventLoop.now()
    }

    private func drain() {
        for _ in 0..<16 {
            switch transport.read(into: loop.readBuffer) {
            case .bytes: continue
            case .wouldBlock: return
            case .closed, .failed:
                close()
                return
            }
        }
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        deadline = UInt64.max
        releaseCarry()
        output.reset()
        slots.removeAll()
        loop.remove(self)
        transport.close()
    }

    /// The server is shutting down: close now if idle, otherwise finish what was received.
    func shutdownRequested() {
        guard !isClosed else { return }
        let idle = phase == .head && carryCount == 0 && slots.isEmpty && output.isEmpty
        if idle || draining {
            close()
        } else {
            afterEvent()
        }
    }

    // MARK: Deadlines


    private func updateDeadline() {
        if draining {
            set(drainStartedAt + context.drainNanoseconds, .close)
        } else if !output.isEmpty {
            set(writeBlockedSince + limits.writeTimeout.nanoseconds, .close)
        } else if phase == .body {
            set(bodyStartedAt + limits.bodyTimeout.nanoseconds, .bodyTimeout)
        } else if !slots.isEmpty || !acceptingRequests {
            deadline = UInt64.max
        } else if transport.handshakePending {
            set(acceptedAt + limits.tlsHandshakeTimeout.nanoseconds, .close)
        } else if requestsServed == 0 {
            set(acceptedAt + limits.headerTimeout.nanoseconds, carryCount > 0 ? .headerTimeout : .close)
        } else if carryCount > 0 && requestStartedAt != 0 {
            set(requestStartedAt + limits.headerTimeout.nanoseconds, .headerTimeout)
        } else {
            set(lastActivity + limits.idleTimeout.nanoseconds, .close)
        }
    }

    private func set(_ time: UInt64, _ action: DeadlineAction) {
        deadline = time
        deadlineAction = action
    }

    /// Called by the loop's sweep when `deadline` has passed.
    func deadlineReached() {
        guard !isClosed else { return }
        switch deadlineAction {
        case .close:
            close()
            return
        case .headerTimeout:
            fail(.headerTimeout)
        case .bodyTimeout:
            fail(.bodyTimeout)
        }
        afterEvent()
    }

    // MARK: Helpers

    private static func method(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> HTTPRequest.Method {
        let equals = { (literal: StaticString) in RequestHeadParser.equals(bytes, range, literal, caseInsensitive: false) }
        switch range.count {
        case 3 where equals("GET"): return .get
        case 3 where equals("PUT"): return .put
        case 4 where equals("HEAD"): return .head
        case 4 where equals("POST"): return .post
        case 5 where equals("PATCH"): return .patch
        case 6 where equals("DELETE"): return .delete
        case 7 where equals("OPTIONS"): return .options
        default:
            return HTTPRequest.Method(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self))
                ?? unknownMethod
        }
    }
}
