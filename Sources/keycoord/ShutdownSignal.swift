import Dispatch
import Foundation

/// Waits for SIGTERM or SIGINT (the container runtime's stop, or Ctrl-C).
enum ShutdownSignal {
    static func wait() async -> String {
        await withCheckedContinuation { continuation in
            let queue = DispatchQueue(label: "keycoord.signals")
            let fired = NSLock()
            nonisolated(unsafe) var done = false
            nonisolated(unsafe) var sources: [DispatchSourceSignal] = []
            for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    fired.lock()
                    defer { fired.unlock() }
                    guard !done else { return }
                    done = true
                    sources.forEach { $0.cancel() }
                    continuation.resume(returning: name)
                }
                sources.append(source)
                source.resume()
            }
        }
    }
}
