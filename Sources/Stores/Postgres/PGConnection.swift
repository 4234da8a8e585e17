import Dispatch
import Foundation

/// An async face on one libpq connection. libpq calls block, so each connection owns a
/// serial Dispatch queue and every call runs there; callers await a continuation and the
/// Swift cooperative pool is never blocked on the network.
///
/// `@unchecked Sendable`: the only mutable state, `raw`, is touched exclusively on `queue`.
final class PGConnection: @unchecked Sendable {
    private let raw: PGRawConnection
    private let queue: DispatchQueue

    private init(settings: PGSettings, label: String) {
        raw = PGRawConnection(settings: settings)
        queue = DispatchQueue(label: "keycoord.pg.\(label)")
    }

    /// Opens a connection; throws `PGError.connectionLost` when the server cannot be reached.
    static func connect(_ settings: PGSettings, label: String = "connection") async throws -> PGConnection {
        let connection = PGConnection(settings: settings, label: label)
        try await connection.run { try $0.connect() }
        return connection
    }

    /// Runs `body` on the connection's queue with exclusive use of the libpq connection.
    func run<T: Sendable>(_ body: @escaping @Sendable (PGRawConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                continuation.resume(with: Result { try body(raw) })
            }
        }
    }

    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) async throws -> PGRows {
        try await run { try $0.execute(sql, parameters) }
    }

    /// Reopens a broken connection in place.
    func reconnect() async throws {
        try await run { try $0.connect() }
    }

    var isConnected: Bool {
        get async { (try? await run { $0.isConnected }) ?? false }
    }

    /// Connected and outside any transaction: fit to go back to a pool.
    var isIdle: Bool {
        get async { (try? await run { $0.isIdle }) ?? false }
    }

    var backendPID: Int32 {
        get async { (try? await run { $0.backendPID }) ?? 0 }
    }

    func close() async {
        _ = try? await run { $0.close() }
    }
}
