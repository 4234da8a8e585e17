import Foundation
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The dedicated `LISTEN keycoord_changes` connection. It runs on a thread of its own,
/// waits for the socket to become readable with `poll()`, and hands each notification
/// (`<trust-domain>:<sequence>`) to the change hub. When the connection breaks it reconnects
/// with backoff and tells the hub to resync, since notifications sent meanwhile are lost.
final class PGListener: Sendable {
    static let channel = "keycoord_changes"

    private let settings: PGSettings
    private let hub: PGChangeHub
    private let logger: Logger?
    private let stopped = Mutex(false)
    private let connected = Mutex(false)

    init(settings: PGSettings, hub: PGChangeHub, logger: Logger?) {
        self.settings = settings
        self.hub = hub
        self.logger = logger
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "keycoord.pg.listener"
        thread.start()
    }

    /// Ends the loop; the thread notices within one poll interval and closes its connection.
    func stop() {
        stopped.withLock { $0 = true }
    }

    /// Whether the listener currently has a live LISTEN session.
    var isConnected: Bool { connected.withLock { $0 } }

    private var isStopped: Bool { stopped.withLock { $0 } }

    private func run() {
        let connection = PGRawConnection(settings: settings)
        var backoff = 0.1
        while !isStopped {
            if !connection.isConnected {
                do {
                    try connection.connect()
                    try connection.execute("LISTEN keycoord_changes")
                    connected.withLock { $0 = true }
                    backoff = 0.1
                    hub.resyncAll()
                } catch {
                    connection.close()
                    logger?.warning("PostgreSQL change listener cannot connect; retrying", metadata: ["error": "\(error)"])
                    pause(backoff)
                    backoff = min(backoff * 2, 2)
                    continue
                }
            }
            var descriptor = pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 250)
            guard ready != 0 else { continue }
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 || !connection.consumeInput() {
                logger?.warning("PostgreSQL change listener lost its connection; reconnecting")
                connected.withLock { $0 = false }
                connection.close()
                hub.resyncAll()
                continue
            }
            for notification in connection.takeNotifications() where notification.channel == Self.channel {
                guard let separator = notification.payload.lastIndex(of: ":"),
                      let sequence = UInt64(notification.payload[notification.payload.index(after: separator)...])
                else { continue }
                hub.notify(trustDomain: String(notification.payload[..<separator]), sequence: sequence)
            }
        }
        connected.withLock { $0 = false }
        connection.close()
    }

    /// Sleeps in short slices so `stop()` is noticed promptly.
    private func pause(_ seconds: Double) {
        var left = seconds
        while left > 0 && !isStopped {
            Thread.sleep(forTimeInterval: min(left, 0.1))
            left -= 0.1
        }
    }
}
