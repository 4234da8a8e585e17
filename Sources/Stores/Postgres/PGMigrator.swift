import Core
import Foundation

/// The schema, as versioned migrations embedded in the binary, and the code that applies
/// them. Migrations run under a session advisory lock of a fixed key, so sidecars starting
/// together apply each one exactly once; each migration and its version row commit together.
enum PGMigrator {
    /// Each migration is a list of single statements (the driver uses the extended query
    /// protocol, one statement per call). Never edit a released migration; append a new one.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE keycoord_keys (
                trust_domain text NOT NULL,
                kid text NOT NULL,
                position bigint NOT NULL,
                state text NOT NULL,
                not_after timestamptz NOT NULL,
                record jsonb NOT NULL,
                sequence bigint NOT NULL,
                PRIMARY KEY (trust_domain, kid)
            )
            """,
            "CREATE INDEX keycoord_keys_order ON keycoord_keys (trust_domain, position)",
            """
            CREATE TABLE keycoord_sequences (
                trust_domain text PRIMARY KEY,
                sequence bigint NOT NULL CHECK (sequence > 0)
            )
            """,
            """
            CREATE TABLE keycoord_lock_epochs (
                name text PRIMARY KEY,
                epoch bigint NOT NULL CHECK (epoch > 0),
                holder text,
                lease_id text,
                instance text,
                acquired_at timestamptz,
                expires_at timestamptz
            )
            """,
        ],
        [
            """
            CREATE TABLE keycoord_registries (
                trust_domain text PRIMARY KEY,
                identity text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
        ],
        // Why a key was tainted, beside state and not_after for operators' SQL. The record
        // jsonb stays the truth: a record written before this column has no reason in
        // either place and reads back as untainted-for-no-reason (nil).
        [
            "ALTER TABLE keycoord_keys ADD COLUMN taint_reason text",
        ],
    ]

    static var latestVersion: Int { migrations.count }

    /// Brings the schema to `latestVersion` and returns it. Throws `PGError` when
    /// the database cannot be reached, and refuses (`.storeUnavailable`) a database whose schema is
    /// newer than this binary knows: an older sidecar must not write to a newer schema.
    static func migrate(_ connection: PGConnection) async throws -> Int {
        try await connection.query("SELECT pg_advisory_lock($1::bigint)", [PGLockKey.migrations.parameter])
        do {
            let version = try await applyPending(connection)
            try await connection.query("SELECT pg_advisory_unlock($1::bigint)", [PGLockKey.migrations.parameter])
            return version
        } catch {
            // The session lock ends with the session; close it so a failure cannot leave it held.
            await connection.close()
            throw error
        }
    }

    private static func applyPending(_ connection: PGConnection) async throws -> Int {
        // Checked before creating: even CREATE TABLE IF NOT EXISTS needs CREATE on the schema,
        // and sidecars on a migrated database may have DML grants only.
        let present = try await connection.query("SELECT to_regclass('keycoord_schema') IS NOT NULL AS present")
        if try !present.bool(0, "present") {
            try await connection.query("""
                CREATE TABLE keycoord_schema (
                    version integer PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
        }
        let rows = try await connection.query("SELECT coalesce(max(version), 0) AS version FROM keycoord_schema")
        let current = Int(try rows.int64(0, "version"))
        if current > latestVersion {
            throw CoordinationError.storeUnavailable(
                "the database schema is version \(current) but this keycoord knows only up to \(latestVersion); "
                    + "refusing to start: upgrade keycoord (an older binary must not write a newer schema)")
        }
        guard current < latestVersion else { return current }
        for version in (current + 1)...latestVersion {
            try await connection.query("BEGIN")
            do {
                for statement in migrations[version - 1] {
                    try await connection.query(statement)
                }
                try await connection.query("INSERT INTO keycoord_schema (version) VALUES ($1)", [String(version)])
                try await connection.query("COMMIT")
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw error
            }
        }
        return latestVersion
    }
}
