import HTTP2
import Synchronization

/// One call in progress: the request's messages go to the method, the method's outcome goes
/// out as the status trailers, exactly once — whichever comes first of the method returning,
/// the deadline passing, or the client resetting the stream. A unary method runs once its
/// request has ended, with the one message it carried, and its answer (header block,
/// message, status) goes to the loop in one hand-over; a streaming method runs from the
/// start and reads the messages as they arrive.
final class GRPCCall: HTTP2StreamReceiver, Sendable {
    private let stream: HTTP2Stream
    /// Loop thread only (open and the receiver callbacks); @unchecked through the wrapper below.
    private let receiving: Receiving
    private let state = Mutex(State())

    private struct State {
        var responseStarted = false
        var ended = false
        var task: Task<Void, Never>?
        var deadlineTask: Task<Void, Never>?
        /// A streaming method's request messages, ended with the call.
        var inbox: GRPCRequestMessages.Continuation?
    }

    private final class Receiving: @unchecked Sendable {
        // @unchecked: used only from the loop thread.
        var reader: GRPCMessageReader
        var failed = false
        /// A unary method waiting for the end of its request, and the request's message.
        var unary: (@Sendable ([UInt8]) async throws -> [UInt8])?
        var request: [UInt8]?
        var inbox: GRPCRequestMessages.Continuation?
        init(_ reader: GRPCMessageReader) { self.reader = reader }
    }

    static let responseFields = [(name: "content-type", value: "application/grpc")]
    private static let okTrailers = GRPCStatus(.ok).trailerFields

    init(stream: HTTP2Stream, maxMessageBytes: Int) {
        self.stream = stream
        receiving = Receiving(GRPCMessageReader(maxMessageBytes: maxMessageBytes))
    }

    /// Starts `method` (loop thread, before the first receiver callback).
    func start(_ method: GRPCMethod, deadline: Duration?) {
        var task: Task<Void, Never>?
        switch method.shape {
        case .unary(let body):
            receiving.unary = body
        case .streaming(let body):
            let (messages, inbox) = GRPCRequestMessages.makeStream()
            receiving.inbox = inbox
            let writer = GRPCResponseWriter(stream: stream, call: self)
            task = Task {
                do {
                    try await body(messages, writer)
                    self.end(GRPCStatus(.ok))
                } catch {
                    self.end(Self.status(error))
                }
            }
        }
        let deadlineTask = deadline.map { limit in
            Task {
                guard (try? await Task.sleep(for: limit)) != nil else { return }
                self.end(GRPCStatus(.deadlineExceeded, "the deadline of \(limit) passed"))
            }
        }
        let inbox = receiving.inbox
        let ended = state.withLock { state in
            state.task = task
            state.deadlineTask = deadlineTask
            state.inbox = inbox
            return state.ended
        }
        if ended {
            task?.cancel()
            deadlineTask?.cancel()
            inbox?.finish()
        }
    }

    /// The status a method's error ends the call with.
    private static func status(_ error: any Error) -> GRPCStatus {
        switch error {
        case let status as GRPCStatus: return status
        case is CancellationError: return GRPCStatus(.cancelled, "the call was cancelled")
        default: return GRPCStatus(.unknown, "\(error)")
        }
    }

    /// True once the response header block is (or was just) sent and the call still runs.
    func beginResponse() -> Bool {
        let first: Bool? = state.withLock { state in
            guard !state.ended else { return nil }
            defer { state.responseStarted = true }
            return !state.responseStarted
        }
        guard let first else { return false }
        if first { stream.sendHeaders(status: 200, fields: Self.responseFields) }
        return true
    }

    /// A unary method's answer: the whole response, status OK, unless the call already ended.
    private func answer(_ message: [UInt8]) {
        var deadlineTask: Task<Void, Never>?
        let answering = state.withLock { state in
            guard !state.ended else { return false }
            state.ended = true
            state.responseStarted = true
            deadlineTask = state.deadlineTask
            return true
        }
        guard answering else { return }
        deadlineTask?.cancel()
        stream.respond(status: 200, fields: Self.responseFields, body: GRPCMessageReader.frame(message), trailers: Self.okTrailers)
    }

    /// Ends the call with `status`; later calls do nothing.
    func end(_ status: GRPCStatus) {
        let outcome: (started: Bool, task: Task<Void, Never>?, deadline: Task<Void, Never>?,
                      inbox: GRPCRequestMessages.Continuation?)? = state.withLock { state in
            guard !state.ended else { return nil }
            state.ended = true
            return (state.responseStarted, state.task, state.deadlineTask, state.inbox)
        }
        guard let outcome else { return }
        outcome.task?.cancel()
        outcome.deadline?.cancel()
        outcome.inbox?.finish()
        if outcome.started {
            stream.finish(trailers: status.trailerFields)
        } else {
            stream.sendHeaders(status: 200, fields: Self.responseFields + status.trailerFields, endStream: true)
        }
    }

    // MARK: HTTP2StreamReceiver (loop thread)

    func received(_ bytes: UnsafeRawBufferPointer) {
        guard !receiving.failed else { return }
        do {
            for message in try receiving.reader.append(bytes) {
                if receiving.unary != nil {
                    guard receiving.request == nil else {
                        throw GRPCStatus(.internal, "a unary request carried more than one message")
                    }
                    receiving.request = message
                } else {
                    receiving.inbox?.yield(message)
                }
            }
        } catch {
            fail(Self.status(error))
        }
    }

    func receivedEnd() {
        guard !receiving.failed else { return }
        guard !receiving.reader.isMidMessage else { return fail(GRPCStatus(.internal, "the request ended inside a message")) }
        guard let body = receiving.unary else {
            receiving.inbox?.finish()
            return
        }
        receiving.unary = nil
        guard let request = receiving.request else { return end(GRPCStatus(.internal, "the request carried no message")) }
        receiving.request = nil
        let task = Task {
            do {
                self.answer(try await body(request))
            } catch {
                self.end(Self.status(error))
            }
        }
        let ended = state.withLock { state in
            state.task = task
            return state.ended
        }
        if ended { task.cancel() }
    }

    private func fail(_ status: GRPCStatus) {
        receiving.failed = true
        receiving.inbox?.finish(throwing: status)
        end(status)
    }

    func cancelled() {
        let outcome: (Task<Void, Never>?, Task<Void, Never>?)? = state.withLock { state in
            guard !state.ended else { return nil }
            state.ended = true
            return (state.task, state.deadlineTask)
        }
        receiving.inbox?.finish(throwing: CancellationError())
        outcome?.0?.cancel()
        outcome?.1?.cancel()
    }
}
