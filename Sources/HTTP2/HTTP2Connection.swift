#if canImport(Glibc)
import Glibc
#endif
import CNghttp2
import CTransportShims
import Transport

/// One HTTP/2 connection (RFC 9113) on a Transport socket. libnghttp2 does the framing,
/// HPACK, flow control and the protocol's error handling (a malformed frame is its GOAWAY or
/// RST_STREAM, never ours to get wrong); this type feeds it what the socket reads, writes what
/// it produces, and hands each request stream to the listener's `HTTP2StreamHandler`.
///
/// nghttp2 runs in its memory mode (`mem_recv` / `mem_send`), so the socket stays the loop's
/// and TLS stays the transport's. Confined to the loop's thread: streams' answers from other
/// threads arrive through `perform`.
final class HTTP2Connection: LoopConnection, @unchecked Sendable {
    // @unchecked: loop-confined; other threads reach it only through `perform`.
    unowned let loop: EventLoop
    let listener: ListenerSocket
    let fileDescriptor: Int32
    private let transport: any ConnectionTransport
    private let handler: any HTTP2StreamHandler
    private let limits: HTTP2Limits
    let remoteAddress: String
    var tlsPeer: TLSPeer? { transport.tlsPeer }
    private var session: OpaquePointer?
    private var streams: [Int32: StreamState] = [:]
    /// Bytes nghttp2 produced that the socket has not taken yet.
    private var output: [UInt8] = []
    private var outputOffset = 0
    /// True inside `nghttp2_session_mem_recv`: answers given synchronously from a callback
    /// are submitted at once but sent after the call returns (nghttp2 forbids `mem_send` there).
    private var receiving = false
    /// `afterEvent` is due before the loop next waits (`perform`).
    private var flushScheduled = false
    private var isClosed = false
    private var goingAway = false
    /// nghttp2 gave up on the connection: close once its last bytes are out.
    private var failed = false
    private var registered = EPOLLIN.rawValue
    private let acceptedAt: UInt64
    private var lastActivity: UInt64
    private var writeBlockedSince: UInt64 = 0
    private(set) var deadline = UInt64.max

    /// What the connection keeps per open stream.
    final class StreamState {
        var fields: [(name: String, value: String)] = []
        var headerBytes = 0
        /// The header list outgrew `maxHeaderListBytes`; fields past it were dropped.
        var headerListTooLarge = false
        let openedAt = EventLoop.now()
        /// The client ended its side (END_STREAM): the request timeout no longer applies.
        var requestComplete = false
        var receiver: (any HTTP2StreamReceiver)?
        /// Response body bytes queued, from `pendingOffset` on.
        var pending: [UInt8] = []
        var pendingOffset = 0
        var responseStarted = false
        var finished = false
        var trailers: [(name: String, value: String)] = []
        /// The data provider returned DEFERRED and waits for `resume_data`.
        var deferred = false
        /// Our side ended (END_STREAM sent or reset): closing is not a cancellation.
        var done = false
    }

    init(loop: EventLoop, transport: any ConnectionTransport, listener: ListenerSocket,
         handler: any HTTP2StreamHandler, limits: HTTP2Limits, remoteAddress: String, acceptedAt: UInt64) {
        self.loop = loop
        self.remoteAddress = remoteAddress
        self.transport = transport
        self.fileDescriptor = transport.fileDescriptor
        self.listener = listener
        self.handler = handler
        self.limits = limits
        self.acceptedAt = acceptedAt
        self.lastActivity = acceptedAt
        session = Self.makeSession(self, limits: limits)
        if let session {
            let frameBytes = min(max(limits.maxFrameBytes, HTTP2Limits.frameBytesRange.lowerBound),
                                 HTTP2Limits.frameBytesRange.upperBound)
            let streamWindow = min(max(limits.streamWindowBytes, 1), HTTP2Limits.windowBytesRange.upperBound)
            var settings = [
                nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                       value: UInt32(clamping: limits.maxConcurrentStreams)),
                nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                                       value: UInt32(clamping: limits.maxHeaderListBytes)),
                nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue),
                                       value: UInt32(frameBytes)),
                nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                       value: UInt32(streamWindow)),
            ]
            nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
            let connectionWindow = min(max(limits.connectionWindowBytes, 65_535), HTTP2Limits.windowBytesRange.upperBound)
            nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32(connectionWindow))
        }
        updateDeadline()
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    // MARK: Loop events

    func handle(events: UInt32) {
        guard !isClosed else { return }
        let retryBoth = transport.extraInterest != 0
        if retryBoth || events & EPOLLOUT.rawValue != 0 { writeOutput() }
        if !isClosed, retryBoth || events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            readInput()
        }
        afterEvent()
    }

    private func readInput() {
        guard let session else { return close() }
        for _ in 0..<16 {
            switch transport.read(into: loop.readBuffer) {
            case .bytes(let count):
                receiving = true
                let used = nghttp2_session_mem_recv(session, loop.readBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self), count)
                receiving = false
                if used < 0 {
                    // Fatal for the connection (bad preface, flood, HPACK failure): nghttp2 has
                    // queued its GOAWAY where it could; send what there is and close.
                    failed = true
                    return
                }
                if count < loop.readBuffer.count { return }
            case .wouldBlock:
                return
            case .closed, .failed:
                return close()
            }
        }
    }

    /// Runs `body` on the loop's thread (now, when already there) and sends what it queued
    /// before the loop next waits: the answers of all streams that finished in one wakeup
    /// leave in one write.
    func perform(_ body: @escaping @Sendable (HTTP2Connection) -> Void) {
        if loop.inLoop {
            guard !isClosed else { return }
            body(self)
            if !receiving { flushBeforeWaiting() }
        } else {
            loop.execute { [self] in
                guard !isClosed else { return }
                body(self)
                flushBeforeWaiting()
            }
        }
    }

    private func flushBeforeWaiting() {
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.beforeWaiting { [self] in
            flushScheduled = false
            afterEvent()
        }
    }

    /// Sends what nghttp2 has, updates interest, and closes when both sides are done.
    private func afterEvent() {
        guard !isClosed, let session else { return }
        while true {
            var chunk: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &chunk)
            if count <= 0 {
                if count < 0 { return close() }
                break
            }
            if let chunk { output.append(contentsOf: UnsafeBufferPointer(start: chunk, count: count)) }
        }
        writeOutput()
        guard !isClosed else { return }
        let idleDone = nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0
        if outputOffset == output.count, idleDone || failed || (goingAway && streams.isEmpty) {
            return close()
        }
        let wanted = EPOLLIN.rawValue | (outputOffset < output.count ? EPOLLOUT.rawValue : 0) | transport.extraInterest
        if wanted != registered {
            registered = wanted
            loop.setInterest(fileDescriptor, events: wanted)
        }
        updateDeadline()
    }

    private func writeOutput() {
        while outputOffset < output.count {
            let result: TransportResult = output.withUnsafeMutableBytes { bytes in
                loop.vectors[0] = iovec(iov_base: bytes.baseAddress.map { $0 + outputOffset }, iov_len: bytes.count - outputOffset)
                return transport.write(UnsafeMutableBufferPointer(rebasing: loop.vectors[0..<1]))
            }
            switch result {
            case .bytes(let written):
                outputOffset += written
                writeBlockedSince = 0
            case .wouldBlock:
                if writeBlockedSince == 0 { writeBlockedSince = EventLoop.now() }
                return
            case .closed, .failed:
                return close()
            }
        }
        output.removeAll(keepingCapacity: output.capacity <= 64 * 1024)
        outputOffset = 0
    }

    // MARK: Answers (loop thread)

    func sendHeaders(stream id: Int32, status: Int, fields: [(name: String, value: String)], endStream: Bool) {
        guard let session, let state = streams[id], !state.responseStarted, !state.done else { return }
        state.responseStarted = true
        if endStream {
            state.pending = []
            state.done = true
            state.finished = true
        }
        Self.withHeaderBlock([(":status", String(status))] + fields) { nva, count in
            if endStream {
                _ = nghttp2_submit_response(session, id, nva, count, nil)
            } else {
                var provider = nghttp2_data_provider()
                provider.read_callback = readResponseBody
                _ = nghttp2_submit_response(session, id, nva, count, &provider)
            }
        }
    }

    /// A whole response at once: header block, body (none for an empty one), trailers (a
    /// trailing header block, when there are any) and the end.
    func respond(stream id: Int32, status: Int, fields: [(name: String, value: String)], body: [UInt8],
                 trailers: [(name: String, value: String)]) {
        guard let state = streams[id], !state.responseStarted, !state.done else { return }
        if body.isEmpty && trailers.isEmpty { return sendHeaders(stream: id, status: status, fields: fields, endStream: true) }
        state.pending = body
        state.finished = true
        state.trailers = trailers
        sendHeaders(stream: id, status: status, fields: fields, endStream: false)
    }

    /// Body bytes and the end may be handed over before the header block is submitted (the
    /// stream's callers race from several threads); the data provider sends them in order.
    func sendData(stream id: Int32, _ bytes: [UInt8]) {
        guard let state = streams[id], !state.finished else { return }
        state.pending.append(contentsOf: bytes)
        resumeIfDeferred(id, state)
    }

    func finish(stream id: Int32, trailers: [(name: String, value: String)]) {
        guard let state = streams[id], !state.finished else { return }
        state.finished = true
        state.trailers = trailers
        resumeIfDeferred(id, state)
    }

    func reset(stream id: Int32, errorCode: UInt32) {
        guard let session, let state = streams[id], !state.done else { return }
        state.done = true
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, errorCode)
    }

    private func resumeIfDeferred(_ id: Int32, _ state: StreamState) {
        guard state.responseStarted, state.deferred, let session else { return }
        state.deferred = false
        nghttp2_session_resume_data(session, id)
    }

    /// nghttp2 asks for up to `length` body bytes of stream `id`.
    fileprivate func responseBody(stream id: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int,
                                  flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let session, let state = streams[id] else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
        let available = state.pending.count - state.pendingOffset
        if available == 0 && !state.finished {
            state.deferred = true
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        }
        let count = min(available, length)
        if count > 0 {
            state.pending.withUnsafeBytes { bytes in
                UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + state.pendingOffset, byteCount: count)
            }
            state.pendingOffset += count
            if state.pendingOffset == state.pending.count {
                state.pending.removeAll(keepingCapacity: true)
                state.pendingOffset = 0
            }
        }
        if state.finished && state.pending.count == state.pendingOffset {
            state.done = true
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            if !state.trailers.isEmpty {
                flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                Self.withHeaderBlock(state.trailers) { nva, count in
                    _ = nghttp2_submit_trailer(session, id, nva, count)
                }
            }
        }
        return count
    }

    // MARK: Requests (nghttp2 callbacks, loop thread)

    fileprivate func beginHeaders(stream id: Int32) {
        streams[id] = StreamState()
        lastActivity = EventLoop.now()
    }

    /// Keeps a field unless the header list has outgrown `maxHeaderListBytes`; the handler
    /// then answers the stream (`HTTP2Stream.headerListTooLarge`).
    fileprivate func header(stream id: Int32, name: String, value: String) {
        guard let state = streams[id], !state.headerListTooLarge else { return }
        state.headerBytes += name.utf8.count + value.utf8.count + 32
        guard state.headerBytes <= limits.maxHeaderListBytes else {
            state.headerListTooLarge = true
            return
        }
        state.fields.append((name, value))
    }

    fileprivate func requestHeadersComplete(stream id: Int32, endStream: Bool) {
        guard let state = streams[id] else { return }
        if state.receiver == nil {
            let stream = HTTP2Stream(id: id, fields: state.fields, headerListTooLarge: state.headerListTooLarge,
                                     connection: self)
            state.receiver = handler.open(stream)
        }
        if endStream {
            state.requestComplete = true
            state.receiver?.receivedEnd()
        }
    }

    fileprivate func dataChunk(stream id: Int32, _ bytes: UnsafeRawBufferPointer) {
        streams[id]?.receiver?.received(bytes)
    }

    fileprivate func requestEnded(stream id: Int32) {
        guard let state = streams[id] else { return }
        state.requestComplete = true
        state.receiver?.receivedEnd()
    }

    fileprivate func streamClosed(stream id: Int32) {
        guard let state = streams.removeValue(forKey: id) else { return }
        lastActivity = EventLoop.now()
        if !state.done { state.receiver?.cancelled() }
    }

    // MARK: Lifecycle

    func close() {
        guard !isClosed else { return }
        isClosed = true
        deadline = UInt64.max
        let open = streams
        streams.removeAll()
        for state in open.values where !state.done { state.receiver?.cancelled() }
        output = []
        loop.remove(self)
        transport.close()
    }

    /// Server shutdown: GOAWAY now, close once the streams already open have finished.
    func shutdownRequested() {
        guard !isClosed, let session else { return }
        if streams.isEmpty { return close() }
        goingAway = true
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue),
                              nghttp2_session_get_last_proc_stream_id(session), UInt32(NGHTTP2_NO_ERROR.rawValue), nil, 0)
        afterEvent()
    }

    /// The deadline `updateDeadline` chose has passed: a stalled write or an unfinished
    /// handshake closes; requests that took too long are reset; an idle connection is told
    /// GOAWAY(NO_ERROR) before it closes, so the client knows no stream was lost.
    func deadlineReached() {
        guard !isClosed else { return }
        if (outputOffset < output.count && writeBlockedSince != 0) || transport.handshakePending { return close() }
        if !streams.isEmpty {
            let now = EventLoop.now()
            for (id, state) in streams where !state.requestComplete && state.openedAt + limits.requestTimeout.nanoseconds <= now {
                state.requestComplete = true
                state.receiver?.cancelled()
                reset(stream: id, errorCode: UInt32(NGHTTP2_CANCEL.rawValue))
            }
            return afterEvent()
        }
        if let session {
            nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue),
                                  nghttp2_session_get_last_proc_stream_id(session), UInt32(NGHTTP2_NO_ERROR.rawValue), nil, 0)
            failed = true
            afterEvent()
        }
        close()
    }

    private func updateDeadline() {
        let context = loop.context
        if outputOffset < output.count, writeBlockedSince != 0 {
            deadline = writeBlockedSince + limits.writeTimeout.nanoseconds
        } else if transport.handshakePending {
            deadline = acceptedAt + context.limits.tlsHandshakeTimeout.nanoseconds
        } else if streams.isEmpty {
            deadline = lastActivity + limits.idleTimeout.nanoseconds
        } else {
            var earliest = UInt64.max
            for state in streams.values where !state.requestComplete {
                earliest = min(earliest, state.openedAt + limits.requestTimeout.nanoseconds)
            }
            deadline = earliest
        }
    }

    // MARK: nghttp2 plumbing

    /// Calls `body` with `fields` as an nghttp2 header block; nghttp2 copies it during the call.
    private static func withHeaderBlock<R>(_ fields: [(name: String, value: String)],
                                           _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        var bytes: [UInt8] = [0]
        var spans: [(name: Int, nameLength: Int, value: Int, valueLength: Int)] = []
        for field in fields {
            let name = bytes.count
            bytes.append(contentsOf: field.name.utf8)
            let value = bytes.count
            bytes.append(contentsOf: field.value.utf8)
            spans.append((name, value - name, value, bytes.count - value))
        }
        return bytes.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            let block = spans.map { span in
                nghttp2_nv(name: base + span.name, value: base + span.value, namelen: span.nameLength,
                           valuelen: span.valueLength, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
            }
            return block.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }

    private static func makeSession(_ connection: HTTP2Connection, limits: HTTP2Limits) -> OpaquePointer? {
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else { return nil }
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameReceived)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        var options: OpaquePointer?
        guard nghttp2_option_new(&options) == 0, let options else { return nil }
        defer { nghttp2_option_del(options) }
        nghttp2_option_set_stream_reset_rate_limit(options, UInt64(max(limits.maxResetBurst, 1)),
                                                   UInt64(max(limits.resetsPerSecond, 0)))
        nghttp2_option_set_max_continuations(options, max(limits.maxContinuationFrames, 0))
        // Closed streams are not kept for the RFC 7540 priority tree (deprecated by RFC 9113):
        // a reset flood then leaves nothing behind.
        nghttp2_option_set_no_closed_streams(options, 1)
        var session: OpaquePointer?
        let context = Unmanaged.passUnretained(connection).toOpaque()
        guard nghttp2_session_server_new2(&session, callbacks, context, options) == 0 else { return nil }
        return session
    }
}

private func connection(_ userData: UnsafeMutableRawPointer?) -> HTTP2Connection? {
    userData.map { Unmanaged<HTTP2Connection>.fromOpaque($0).takeUnretainedValue() }
}

private func isRequestHeaders(_ frame: UnsafePointer<nghttp2_frame>) -> Bool {
    frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue)
}

private let onBeginHeaders: nghttp2_on_begin_headers_callback = { _, frame, userData in
    guard let frame, isRequestHeaders(frame), frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST else { return 0 }
    connection(userData)?.beginHeaders(stream: frame.pointee.hd.stream_id)
    return 0
}

private let onHeader: nghttp2_on_header_callback = { _, frame, name, nameLength, value, valueLength, _, userData in
    guard let frame, isRequestHeaders(frame), let name, let value else { return 0 }
    let nameText = String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self)
    let valueText = String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)
    connection(userData)?.header(stream: frame.pointee.hd.stream_id, name: nameText, value: valueText)
    return 0
}

private let onFrameReceived: nghttp2_on_frame_recv_callback = { _, frame, userData in
    guard let frame, let owner = connection(userData) else { return 0 }
    let endStream = frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    let id = frame.pointee.hd.stream_id
    switch UInt32(frame.pointee.hd.type) {
    case NGHTTP2_HEADERS.rawValue:
        if frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
            owner.requestHeadersComplete(stream: id, endStream: endStream)
        } else if endStream {
            owner.requestEnded(stream: id)
        }
    case NGHTTP2_DATA.rawValue:
        if endStream { owner.requestEnded(stream: id) }
    default:
        break
    }
    return 0
}

private let onDataChunk: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
    guard let data else { return 0 }
    connection(userData)?.dataChunk(stream: streamID, UnsafeRawBufferPointer(start: data, count: length))
    return 0
}

private let onStreamClose: nghttp2_on_stream_close_callback = { _, streamID, _, userData in
    connection(userData)?.streamClosed(stream: streamID)
    return 0
}

private let readResponseBody: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, _, userData in
    guard let buffer, let flags, let owner = connection(userData) else {
        return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
    }
    return owner.responseBody(stream: streamID, into: buffer, length: length, flags: flags)
}
