import Foundation

/// Writes log lines to a file descriptor (standard error) from a thread of its own, so a
/// caller never blocks on the log: an event loop writing an audit line must not stall its
/// connections because the container's log pipe is full. Lines wait in a bounded buffer;
/// when it is full, new lines are dropped and counted, and a line saying how many were lost
/// is written once the pipe drains. Lines keep their order and never interleave.
final class LogWriter: @unchecked Sendable {
    // @unchecked: `pending`, `dropped` and `writing` are guarded by `condition`.
    private let fileDescriptor: Int32
    private let capacity: Int
    private let condition = NSCondition()
    private var pending: [UInt8] = []
    private var dropped = 0
    private var writing = false

    init(fileDescriptor: Int32, capacity: Int) {
        self.fileDescriptor = fileDescriptor
        self.capacity = capacity
        let thread = Thread { [self] in run() }
        thread.name = "keycoord-log"
        thread.start()
    }

    /// Queues `line` (ending in a newline); never blocks on the descriptor.
    func write(_ line: String) {
        condition.lock()
        if pending.count + line.utf8.count > capacity {
            dropped += 1
        } else {
            pending.append(contentsOf: line.utf8)
        }
        condition.signal()
        condition.unlock()
    }

    /// Waits until every queued line is written, or `timeout` passes (a stuck pipe must not
    /// hold the process at exit). True when everything was written.
    @discardableResult
    func flush(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !pending.isEmpty || writing || dropped > 0 {
            guard condition.wait(until: deadline) else { return false }
        }
        return true
    }

    private func run() {
        while true {
            condition.lock()
            while pending.isEmpty && dropped == 0 { condition.wait() }
            var batch = pending
            pending.removeAll(keepingCapacity: true)
            let lost = dropped
            dropped = 0
            writing = true
            condition.unlock()
            if lost > 0 {
                let time = RFC3339.format(Date(), fractional: true)
                batch.append(contentsOf: Array(#"{"time":"\#(time)","level":"warning","logger":"keycoord","msg":"log lines dropped: the log output was not keeping up","dropped":"\#(lost)"}"#.utf8))
                batch.append(0x0A)
            }
            writeAll(batch)
            condition.lock()
            writing = false
            condition.broadcast()
            condition.unlock()
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        var offset = 0
        bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Foundation.write(fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
