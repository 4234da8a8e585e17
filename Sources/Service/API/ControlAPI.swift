import Core
import Crypto
import Foundation
import HTTP
import HTTPTypes
import Logging

/// The control API SPIRE servers and operators call: locks, key publication, ensure,
/// taint and revoke. Each handler decodes, calls Core, encodes; every mutating call
/// leaves one audit log line.
final class ControlAPI: Sendable {
    private let coordinator: Coordinator
    private let store: any CoordinationStore
    private let auth: ControlAuthenticator
    private let logger: Logger
    private let audit: Logger
    /// Refreshed after a successful mutation so this instance's JWKS reflects it at once.
    private let publisher: JWKSPublisher
    /// Lock calls run on the connection's event loop (`HTTPHandler.asyncOnLoop`): true for a
    /// store whose lock calls only wait on sockets the loop watches (PostgreSQL), so a lock
    /// cycle costs no thread hand-off. The file store writes and syncs lease files, which
    /// must not hold a loop that also serves the JWKS.
    private let locksOnLoop: Bool

    static let maxEventWait: Int64 = 60
    /// Actions after which this instance re-renders its JWKS at once.
    private static let changesJWKS: Set<String> = ["key.publish", "key.taint", "key.revoke"]
    static let maxLockTTL: Int64 = 3600
    static let maxLockWait: Int64 = 300

    init(coordinator: Coordinator, store: any CoordinationStore, auth: ControlAuthenticator, logger: Logger,
         publisher: JWKSPublisher, locksOnLoop: Bool = false) {
        self.publisher = publisher
        self.locksOnLoop = locksOnLoop
        self.coordinator = coordinator
        self.store = store
        self.auth = auth
        self.logger = logger
        var audit = logger
        audit[metadataKey: "log"] = "audit"
        self.audit = audit
    }

    func register(on router: Router) {
        route(router, .post, "/v1/locks/{name}", "lock.acquire", onLoop: locksOnLoop, acquireLock)
        route(router, .get, "/v1/locks/{name}", nil, onLoop: locksOnLoop, lockStatus)
        route(router, .delete, "/v1/locks/{name}", "lock.release", onLoop: locksOnLoop, releaseLock)
        route(router, .post, "/v1/locks/{name}/renew", "lock.renew", onLoop: locksOnLoop, renewLock)
        route(router, .post, "/v1/keys", "key.publish", publishKey)
        route(router, .get, "/v1/keys", nil, listKeys)
        route(router, .get, "/v1/keys/{kid}", nil, showKey)
        routeAudited(router, .post, "/v1/keys/{kid}/taint", "key.taint", taintKey)
        route(router, .delete, "/v1/keys/{kid}", "key.revoke", revokeKey)
        route(router, .post, "/v1/jwt-keys/{key_type}/ensure", "key.ensure", ensure)
        route(router, .get, "/v1/events", nil, events)
    }

    /// Wraps a handler with authentication, error mapping and (for mutations) the audit line.
    /// `onLoop`: the handler never blocks nor computes for long (see `HTTPHandler.asyncOnLoop`);
    /// the others (key generation, backends, long polls) run on the shared task pool.
    private func route(_ router: Router, _ method: HTTPRequest.Method, _ path: String, _ action: String?, onLoop: Bool = false,
                       _ body: @escaping @Sendable (HTTPServerRequest, Caller) async throws -> (HTTPServerResponse, String)) {
        routeAudited(router, method, path, action, onLoop: onLoop) { request, caller in
            let (response, target) = try await body(request, caller)
            return (response, target, [:])
        }
    }

    /// `route` for a handler that adds members of its own to the audit line (a taint's reason).
    private func routeAudited(_ router: Router, _ method: HTTPRequest.Method, _ path: String, _ action: String?, onLoop: Bool = false,
                              _ body: @escaping @Sendable (HTTPServerRequest, Caller) async throws
                                  -> (HTTPServerResponse, String, Logger.Metadata)) {
        let handler: @Sendable (HTTPServerRequest) async -> HTTPServerResponse = { [auth, audit, publisher] request in
            let requestID = RequestID.of(request)
            var callerID = "anonymous"
            // What the call is about, also for refused calls; handlers refine it (the kid a publish made).
            var target = request.pathParameters["kid"] ?? request.pathParameters["name"] ?? request.pathParameters["key_type"] ?? ""
            var response: HTTPServerResponse
            var details: Logger.Metadata = [:]
            do {
                let caller = try auth.authenticate(request)
                callerID = caller.id
                (response, target, details) = try await body(request, caller)
                if let action, Self.changesJWKS.contains(action) { await publisher.refresh(force: false) }
            } catch {
                response = ProblemMapper.response(for: error)
            }
            if let action {
                let status = response.status.code
                // Built inside the logger's autoclosure: only when the audit line is written.
                audit.info("audit", metadata: ([
                    "action": .string(action), "caller": .string(callerID), "target": .string(target),
                    "status": .stringConvertible(status), "request_id": .string(requestID),
                    "remote": .string(request.remoteAddress),
                ] as Logger.Metadata).merging(details) { fixed, _ in fixed })
            }
            response.headerFields[.requestID] = requestID
            return response
        }
        router.add(method, path, onLoop ? .asyncOnLoop(handler) : .async(handler))
    }

    // MARK: Locks

    /// The lock named in the path; `forWrite` refuses keycoord's internal locks, which
    /// the API may show but never take, renew or release.
    private func lockName(_ request: HTTPServerRequest, forWrite: Bool = true) throws -> String {
        let name = request.pathParameters["name"] ?? ""
        guard LockName.isValid(name) else {
            throw APIError.badRequest("lock names match [A-Za-z0-9._:-]{1,200}")
        }
        if forWrite, LockName.isReserved(name) {
            throw APIError(.forbidden, "reserved-lock", "Reserved lock name",
                           "lock names starting with \"\(LockName.reservedPrefix)\" are keycoord's own rotation locks; "
                               + "choose a name with another prefix")
        }
        return name
    }

    private func acquireLock(_ request: HTTPServerRequest, _ caller: Caller) async throws -> (HTTPServerResponse, String) {
        let name = try lockName(request)
        let body = try JSONBody.parse(request, allowed: ["holder", "ttl_seconds", "wait_seconds"])
        let holder = try Validate.identifier(body.requiredString("holder", maxLength: 200), field: "holder")
        guard let ttl = try body.integer("ttl_seconds", in: 1...Self.maxLockTTL) else {
            throw APIError.badRequest("ttl_seconds is required (1 to \(Self.maxLockTTL))")
        }
        let wait = try body.integer("wait_seconds", in: 0...Self.maxLockWait) ?? 0
        let lease = try await store.acquire(lock: name, holder: holder, ttl: .seconds(ttl), wait: .seconds(wait))
        return (try JSONResponse.make(.ok, WireFormat.lease(lease)), name)
    }

    private func renewLock(_ request: HTTPServerRequest, _ caller: Caller) async throws -> (HTTPServerResponse, String) {
        let name = try lockName(request)
        let body = try JSONBody.parse(request, allowed: ["lease_id", "ttl_seconds"])
        let leaseID = try body.requiredString("lease_id", maxLength: 200)
        guard let ttl = try body.integer("ttl_seconds", in: 1...Self.maxLockTTL) else {
            throw APIError.badRequest("ttl_seconds is required (1 to \(Self.maxLockTTL))")
        }
        let lease = try await store.renew(lock: name, leaseID: leaseID, ttl: .seconds(ttl))
        return (try JSONResponse.make(.ok, WireFormat.lease(lease)), name)
    }

    private func releaseLock(_ request: HTTPServerRequest, _ caller: Caller) async throws -> (HTTPServerResponse, String) {
        let name = try lockName(request)
        guard let leaseID = request.query.first(where: { $0.name == "lease_id" })?.value, !leaseID.isEmpty else {
            throw APIError.badRequest("the lease_id query parameter is required")
        }
        try await store.release(lock: name, leaseID: leaseID)
        return (HTTPServerResponse(status: .noContent), name)
    }

    private func lockStatus(_ request: HTTPServerRequest, _ caller: Caller) async throws -> (HTTPServerResponse, String) {
        let name = try lockName(request, forWrite: false)
        return (try JSONResponse.make(.ok, WireFormat.lockStatus(try await store.status(lock: name))), name)
    }

    // MARK: Keys

    private func publishKey(_ request: HTTPServerRequest, _ caller: Caller) async throws -> (HTTPServerResponse, String) {
        let body = try JSONBody.parse(request, allowed: ["public_key", "not_after", "server_id", "fencing"])
        guard let rawKey = body.raw("public_key") else { throw APIError.badRequest("public_key is required (PEM, base64 DER or a JWK object)") }
        let publicKey = try PublicKeyMember.parse(rawKey)
        let notAfterText = try body.requiredString("not_after", maxLength: 64)
        guard let notAfter = WireTime.parse(notAfterText) else {
            throw APIError.badRequest("not_after must be an RFC 3339 time, e.g. 2026-11-28T05:00:00Z")
        }
        let serverID = try Validate.identifier(body.requiredString("server_id", maxLength: 200), field: "server_id")
        var fence: Fence?
        if let fencing = try body.object("fencing") {
            let inner = try JSONBody(fencing, allowed: ["lock", "token"])
            let lock = try inner.requiredString("lock", maxLength: 200)
            guard LockName.isValid(lock) else { throw APIError.badRequest("fencing.lock must match [A-Za-z0-9._:-]{1,200}") }
            guard let token = try inner.integer("token", in: 1...Int64.max) else { throw APIError.badRequest("fencing.token is required") }
            fence = Fence(lock: lock, token: UInt64(token))
        }
        let record = try await coordinator.publish(PublishRequest(publicKey: publicKey, notAfter: notAfter, serverID: serverID, fence: fence))
        return (try JSONResponse.make(.ok, WireFormat.key(record)), record.kid)
    }

    private func listKeys(_ request: HTTPServerRequest, _ caller: Caller) async throws -> (HTTPServerResponse, String) {
        let snapshot = try await coordinator.snapshot()
        return (try JSONResponse.make(.ok, WireFormat.keyList(snapshot)), "")
    }

    private func kid(_ request: HTTPServerRequest) throws -> String {
        let kid = request.pathParameters["kid"] ?? ""
        guard Validate.isKid(kid) else { throw APIError.badRequest("a kid is 1 to 128 characters of [A-Za-z0-9_-]") }
        return kid
    }

    private func showKey(_ request: HTTPServerRequest, _ caller: Caller) async throws -> (HTTPServerResponse, String) {
        let kid = try kid(request)
        return (try JSONResponse.make(.ok, WireFormat.key(try await coordinator.key(kid: kid))), kid)
    }

    /// The longest taint reason accepted (bytes of UTF-8).
    static let maxReasonBytes = 1024

    /// The reason goes on the record and into the audit line; the caller is the audit line's
    /// `caller`, as the authenticator named it.
    private func taintKey(_ request: HTTPServerRequest, _ caller: Caller) async throws -> (HTTPServerResponse, String, Logger.Metadata) {
        try ControlAuthenticator.requireAdmin(caller, for: "taint")
        let kid = try kid(request)
        let given = try JSONBody.parse(request, allowed: ["reason"], allowEmpty: true).string("reason", maxLength: Self.maxReasonBytes)
        // An empty reason is no reason: nothing to keep or to log.
        let reason = given.flatMap { $0.isEmpty ? nil : $0 }
        let record = try await coordinator.taint(kid: kid, by: caller.id, reason: reason)
        return (try JSONResponse.make(.ok, WireFormat.key(record)), kid, reason.map { ["reason": .string($0)] } ?? [:])
    }

    private func revokeKey(_ request: HTTPServerRequest, _ caller: Caller) async throws -> (HTTPServerResponse, String) {
        try ControlAuthenticator.requireAdmin(caller, for: "revoke")
        let kid = try kid(request)
        return (try JSONResponse.make(.ok, WireFormat.key(try await coordinator.revoke(kid: kid, by: caller.id))), kid)
    }

    // MARK: Events

    /// Long poll: answers as soon as the registry's sequence is other than `after` (a key
    /// was published, rotated, tainted or revoked on any instance, or the registry went
    /// back in a failover), or after `wait` seconds.
    /// A server that gets `changed: true` calls ensure again, so a taint reaches every
    /// server within about a second instead of at its next `refresh_after`.
    private func events(_ request: HTTPServerRequest, _ caller: Caller) async throws -> (HTTPServerResponse, String) {
        func parameter(_ name: String, in range: ClosedRange<Int64>, default fallback: Int64) throws -> Int64 {
            guard let text = request.query.first(where: { $0.name == name })?.value else { return fallback }
            guard let value = Int64(text), range.contains(value) else {
                throw APIError.badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        let after = UInt64(try parameter("after", in: 0...Int64.max, default: 0))
        let wait = try parameter("wait", in: 0...Self.maxEventWait, default: 30)
        let sequence = try await store.waitForChange(trustDomain: coordinator.config.trustDomain, after: after,
                                                     timeout: .seconds(wait))
        return (try JSONResponse.make(.ok, WireFormat.Events(sequence: sequence, changed: sequence != after)), "")
    }

    private func ensure(_ request: HTTPServerRequest, _ caller: Caller) async throws -> (HTTPServerResponse, String) {
        let typeName = request.pathParameters["key_type"] ?? ""
        guard let keyType = KeyType(rawValue: typeName) else {
            throw APIError(.notFound, "unknown-key-type", "Unknown key type",
                           "key type \"\(typeName)\" is not one of \(KeyType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let body = try JSONBody.parse(request, allowed: ["server_id"])
        let serverID = try Validate.identifier(body.requiredString("server_id", maxLength: 200), field: "server_id")
        let result = try await coordinator.ensure(keyType: keyType, serverID: serverID)
        // Usually nothing changed; when this call minted, serve the key before answering.
        await publisher.refreshUnlessServing([result.current.kid] + (result.next.map { [$0.kid] } ?? []))
        return (try JSONResponse.make(.ok, WireFormat.ensure(result)), result.current.kid)
    }
}
