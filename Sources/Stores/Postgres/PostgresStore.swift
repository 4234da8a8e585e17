import Core
import Foundation
import Logging
import Synchronization

/// The coordination store on PostgreSQL: leased, fenced locks on session advisory locks
/// (one pinned connection per held lease) and the key registry in tables, with
/// LISTEN/NOTIFY to follow other instances' changes. One database serves many trust domains
/// and many sidecars; each sidecar uses `poolSize` + one per held lease + one listener
/// connection.
public final class PostgresStore: CoordinationStore {
    /// The schema version this binary writes.
    public static let schemaVersion = PGMigrator.latestVersion

    /// Names this instance in lock rows, so an operator can see which sidecar holds what.
    public let instanceID: String

    let settings: PGSettings
    let pool: PGPool
    let leaseConnections: PGPool
    let hub: PGChangeHub
    let listener: PGListener
    let leases = Mutex<[String: PGLease]>([:])
    let expiry = PGExpiryTimer()
    /// This sidecar's waiters for locks it holds, served in arrival order by hand-over.
    let handoffs = PGHandoffQueue()
    let logger: Logger?

    /// How often a `waitForChange` caller re-reads the sequence even without a notification.
    static let changePollInterval: TimeInterval = 1
    static let healthTimeout: Duration = .seconds(3)
    static let updateAttempts = 5

    /// Connects, refuses a transaction-mode pooler, applies pending migrations and starts the
    /// change listener. `url` is a libpq URL or keyword/value string; empty uses the `PG*`
    /// environment variables. Throws `.storeUnavailable` when PostgreSQL cannot be used.
    ///
    /// `poolSize` sessions serve registry statements. Every held lease pins a session of its
    /// own; up to `leaseSpares` sessions freed by released leases are kept for the next
    /// acquire (opening one costs the server a process start, ~5 ms) and closed after
    /// `idleTimeout` unused, like idle pool sessions.
    public init(url: String, instanceID: String, poolSize: Int = 4, leaseSpares: Int = 64,
                idleTimeout: Duration = .seconds(60), logger: Logger? = nil) async throws {
        guard poolSize >= 1 else { throw CoordinationError.invalid("poolSize must be at least 1") }
        guard leaseSpares >= 0 else { throw CoordinationError.invalid("leaseSpares must not be negative") }
        guard !instanceID.isEmpty else { throw CoordinationError.invalid("instanceID must not be empty") }
        let settings = PGSettings(url: url)
        self.settings = settings
        self.instanceID = instanceID
        self.logger = logger
        pool = PGPool(settings: settings, maxSize: poolSize, maxIdle: poolSize, idleTimeout: idleTimeout, label: "pool")
        leaseConnections = PGPool(settings: settings, maxSize: nil, maxIdle: leaseSpares, idleTimeout: idleTimeout, label: "lease")
        hub = PGChangeHub()
        listener = PGListener(settings: settings, hub: hub, logger: logger)
        _ = try await Self.prepare(settings)
        listener.start()
        expiry.start { [weak self] in self?.expireLeases() }
    }

    /// A store dropped without `close()` still stops its listener thread; its sessions close
    /// as their connections are freed, which releases any advisory lock they held.
    deinit {
        listener.stop()
        expiry.cancel()
    }

    /// Applies pending migrations to the database at `url` and returns the schema version.
    /// Safe to run from many sidecars at once. Run it with a role that may create tables if
    /// the sidecars' own role may not.
    public static func migrate(url: String) async throws -> Int {
        try await prepare(PGSettings(url: url))
    }

    private static func prepare(_ settings: PGSettings) async throws -> Int {
        do {
            let connection = try await PGConnection.connect(settings, label: "migrate")
            do {
                try await PGPoolerCheck.verify(connection)
                let version = try await PGMigrator.migrate(connection)
                await connection.close()
                return version
            } catch {
                await connection.close()
                throw error
            }
        } catch {
            throw mapped(error)
        }
    }

    /// Whether a pooled session answers within a few seconds and can write: a standby (a
    /// URL without `target_session_attrs=read-write` that reached a replica) answers reads
    /// but refuses every write, so it is reported unavailable with that reason.
    public func healthCheck() async -> Result<Void, CoordinationError> {
        do {
            let rows = try await PGDeadline.run(within: Self.healthTimeout) { [pool] in
                try await Self.retryingStaleConnection(pool) {
                    try await $0.query("SELECT current_setting('transaction_read_only') = 'on' AS read_only")
                }
            }
            if try rows.bool(0, "read_only") {
                return .failure(.storeUnavailable(
                    "PostgreSQL session is read-only (a standby, or default_transaction_read_only): writes would fail; "
                        + "point postgres-url at the primary, e.g. with target_session_attrs=read-write"))
            }
            return .success(())
        } catch {
            return .failure(Self.mapped(error) as? CoordinationError ?? .storeUnavailable("\(error)"))
        }
    }

    /// Whether the LISTEN connection is up (changes from other instances arrive at once);
    /// when it is down, `waitForChange` still works by polling.
    public var isFollowingChanges: Bool { listener.isConnected }

    public func close() async {
        handoffs.close()
        let held = leases.withLock { leases -> [PGLease] in
            defer { leases.removeAll() }
            return Array(leases.values)
        }
        for lease in held where lease.end() {
            _ = await finish(lease)
        }
        listener.stop()
        expiry.cancel()
        await pool.close()
        await leaseConnections.close()
    }

    /// Runs a statement sequence that is safe to repeat. After a server restart the pool's
    /// idle connections are dead and the first use fails; the pool then drops them all, so
    /// one retry on a fresh connection tells "restarted" apart from "down".
    static func retryingStaleConnection<T: Sendable>(_ pool: PGPool, _ body: @Sendable (PGConnection) async throws -> T) async throws -> T {
        do {
            return try await pool.withConnection(body)
        } catch let error as PGError where error.kind == .connectionLost {
            return try await pool.withConnection(body)
        }
    }

    /// Driver failures become `.storeUnavailable` with PostgreSQL's message; coordination
    /// errors and the caller's own errors (thrown by `mutate`) pass through unchanged.
    static func mapped(_ error: Error) -> Error {
        guard let error = error as? PGError else { return error }
        if error.isUnavailable {
            return CoordinationError.storeUnavailable("PostgreSQL is unavailable: \(error.message)")
        }
        return CoordinationError.storeUnavailable("PostgreSQL failed: \(error.description)")
    }
}
