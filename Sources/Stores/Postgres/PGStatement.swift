/// A statement the store sends often enough to prepare: each session parses and plans it
/// once, on first use, and then only binds and executes it. For the lock cycle's statements
/// (CTEs with an upsert) PostgreSQL spends more of each call parsing and planning than
/// executing: `pgbench -M prepared` runs them 2–3 times faster than `-M extended`
/// (bench/RESULTS.md).
///
/// The name is derived from the text, so two declarations of the same SQL share one
/// prepared statement and different SQL never collides in practice (64-bit FNV-1a). A
/// statement prepared through the protocol is not transactional (a ROLLBACK keeps it) and
/// lives as long as the session; PostgreSQL replans it by itself when a table it reads
/// changes. Sessions through a transaction pooler would lose it between transactions,
/// which is one more reason the store refuses poolers (`PGPoolerCheck`).
///
/// A statement sent rarely (migrations, transaction control, one-off reads) stays unnamed
/// (`oneOff`): parsed at each call, and nothing kept in the session.
struct PGStatement: Sendable {
    let sql: String
    /// The prepared statement's name in the session; nil for an unnamed one.
    let name: String?

    init(_ sql: String) {
        self.sql = sql
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sql.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        name = "keycoord_" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    private init(unnamed sql: String) {
        self.sql = sql
        name = nil
    }

    static func oneOff(_ sql: String) -> PGStatement {
        PGStatement(unnamed: sql)
    }
}
