#if canImport(Glibc)
import Glibc
#endif
import EventIO
import Foundation
import Synchronization

/// A `SocketReactor` for the driver tests: each wait polls its socket on a thread of its
/// own. It counts waits, so a test can tell the driver really waited through it, and can
/// refuse every wait, as a stopped event loop does.
final class PollReactor: SocketReactor {
    let waits = Atomic<Int>(0)
    let refusing: Bool

    init(refusing: Bool = false) {
        self.refusing = refusing
    }

    func readable(_ fileDescriptor: Int32) async -> Bool {
        waits.wrappingAdd(1, ordering: .relaxed)
        if refusing { return false }
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var descriptor = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
                while poll(&descriptor, 1, -1) < 0 && errno == EINTR {}
                continuation.resume(returning: true)
            }
        }
    }

    var waitCount: Int { waits.load(ordering: .relaxed) }
}
