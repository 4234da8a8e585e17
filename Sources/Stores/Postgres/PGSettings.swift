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
    /// Seconds for the server's probes of this session (idle, interval, count): a sidecar
    /// that vanished without closing its connections loses its locks after about 11 s.
    var serverKeepalive = (idle: 5, interval: 2, count: 3)

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
        // Client-side keepalives: a server that vanished (failover, dropped network) is noticed
        // within ~11 s instead of hanging a call until the OS gives up.
        setDefault("keepalives", "1", env: nil)
        setDefault("keepalives_idle", "5", env: nil)
        setDefault("keepalives_interval", "2", env: nil)
        setDefault("keepalives_count", "3", env: nil)
        parameters.append(("fallback_application_name", "keycoord"))
        if !url.isEmpty { parameters.append(("dbname", url)) }
        return parameters
    }
}
