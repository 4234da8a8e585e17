import Foundation

/// How to reach PostgreSQL: the caller's URL (or keyword/value string; empty means libpq's
/// usual `PG*` environment variables) plus keycoord's defaults for what the URL leaves unset.
struct PGSettings: Sendable {
    var url: String
    /// `connect_timeout` in seconds unless the URL or `PGCONNECT_TIMEOUT` sets one.
    var connectTimeoutSeconds = 5
    /// Applied with `SET` after connecting unless the session already has one (URL `options`
    /// or `PGOPTIONS`): bounds any statement, so a stuck server cannot hang a sidecar.
    var statementTimeoutMilliseconds = 30_000

    /// Keyword/value pairs for `PQconnectdbParams` with `expand_dbname = 1`. Defaults come
    /// first and the caller's string last: libpq keeps the last value of a repeated keyword,
    /// so anything the URL sets wins. An environment variable also wins over a default here
    /// because libpq consults it only for keywords that are absent.
    func connectionParameters(environment: [String: String] = ProcessInfo.processInfo.environment) -> [(String, String)] {
        var parameters: [(String, String)] = []
        func setDefault(_ keyword: String, _ value: String, env: String?) {
            if let env, environment[env] != nil { return }
            parameters.append((keyword, value))
        }
        setDefault("connect_timeout", String(connectTimeoutSeconds), env: "PGCONNECT_TIMEOUT")
        // Keepalives make a dead peer (a crashed sidecar, a dropped network) visible within
        // ~11 s on both sides, which is what frees a dead holder's advisory lock.
        setDefault("keepalives", "1", env: nil)
        setDefault("keepalives_idle", "5", env: nil)
        setDefault("keepalives_interval", "2", env: nil)
        setDefault("keepalives_count", "3", env: nil)
        parameters.append(("fallback_application_name", "keycoord"))
        if !url.isEmpty { parameters.append(("dbname", url)) }
        return parameters
    }
}
