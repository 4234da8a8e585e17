import HTTP2
import Synchronization

/// One call in progress: the request stream's messages go to the method's task, the task's
/// outcome goes out as the status trailers, exactly once — whichever comes first of the
/// method returning, the deadline passing, or the client resetting the stream.
final class GRPCCall: HTTP2StreamReceiver, Sendable {
    private let stream: HTTP2Stream
    private let messages: GRPCRequestMessages
    private let inbox: GRPCRequestMessages.Continuation
    /// Loop thread only (the receiver side); @unchecked through the wrapper below.
    private let reader: ReaderBox
    private let state = Mutex(State())

    private struct State {
        var responseStarted = false
        var ended = false
        var task: Task<Void, Never>?
        var deadlineTask: Task<Void, Never>?
    }

    private final class ReaderBox: @unchecked Sendable {
        // @unchecked: used only from the loop thread's receiver callbacks.
        var reader: GRPCMessageReader
        var failed = false
        init(_ reader: GRPCMessageReader) { self.reader = reader }
    }

    init(stream: HTTP2Stream, maxMessageBytes: Int) {
        self.stream = stream
        (messages, inbox) = GRPCRequestMessages.makeStream()
        reader = ReaderBox(GRPCMessageReader(maxMessageBytes: maxMessageBytes))
    }

    func start(_ method: GRPCMethod, deadline: Duration?) {
        let writer = GRPCResponseWriter(stream: stream, call: self)
        let messages = self.messages
        let task = Task {
            do {
                try await method.body(messages, writer)
                self.end(GRPCStatus(.ok))
            } catch let status as GRPCStatus {
                self.end(status)
            } catch is CancellationError {
                self.end(GRPCStatus(.cancelled, "the call was cancelled"))
            } catch {
                self.end(GRPCStatus(.unknown, "\(error)"))
            }
        }
        let deadlineTask = deadline.map { limit in
            Task {
                guard (try? await Task.sleep(for: limit)) != nil else { return }
                self.end(GRPCStatus(.deadlineExceeded, "the deadline of \(limit) passed"))
            }
        }
        let ended = state.withLock { state in
            state.task = task
            state.deadlineTask = deadlineTask
            return state.ended
        }
        if ended {
            task.cancel()
            deadlineTask?.cancel()
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
        if first { stream.sendHeaders(status: 200, fields: [(name: "content-type", value: "application/grpc")]) }
        return true
    }

    /// Ends the call with `status`; later calls do nothing.
    func end(_ status: GRPCStatus) {
        let outcome: (started: Bool, task: Task<Void, Never>?, deadline: Task<Void, Never>?)? = state.withLock { state in
            guard !state.ended else { return nil }
            state.ended = true
            return (state.responseStarted, state.task, state.deadlineTask)
        }
        guard let outcome else { return }
        outcome.task?.cancel()
        outcome.deadline?.cancel()
        inbox.finish()
        if outcome.started {
            stream.finish(trailers: status.trailerFields)
        } else {
            stream.sendHeaders(status: 200, fields: [(name: "content-type", value: "application/grpc")] + status.trailerFields,
                               endStream: true)
        }
    }

    // MARK: HTTP2StreamReceiver (loop thread)

    func received(_ bytes: UnsafeRawBufferPointer) {
        guard !reader.failed else { return }
        do {
            for message in try reader.reader.append(bytes) { inbox.yield(message) }
        } catch {
            reader.failed = true
            inbox.finish(throwing: error)
            end(error)
        }
    }

    func receivedEnd() {
        guard !reader.failed else { return }
        if reader.reader.isMidMessage {
            reader.failed = true
            let status = GRPCStatus(.internal, "the request ended inside a message")
            inbox.finish(throwing: status)
            end(status)
        } else {
            inbox.finish()
        }
    }

    func cancelled() {
        let outcome: (Task<Void, Never>?, Task<Void, Never>?)? = state.withLock { state in
            guard !state.ended else { return nil }
            state.ended = true
            return (state.task, state.deadlineTask)
        }
        inbox.finish(throwing: CancellationError())
        outcome?.0?.cancel()
        outcome?.1?.cancel()
    }
}
