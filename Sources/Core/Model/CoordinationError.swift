import Foundation

/// Every failure the coordination layer reports. The HTTP layer maps each case to one
/// status and problem type in one place (Service/API/Problem.swift).
public enum CoordinationError: Error, Sendable, Equatable {
    /// The lock is held by someone else (after waiting, if a wait was asked for).
    case lockHeld(name: String, holder: String, expiresAt: Date)
    /// The lease is unknown, expired, or belongs to another instance.
    case leaseNotFound(name: String, leaseID: String)
    /// A guarded write carried a fencing token that is no longer the latest.
    case staleFence(lock: String, presented: UInt64, current: UInt64)
    case keyNotFound(kid: String)
    /// The key (by kid or public key) was revoked; a revoked key is never published again.
    case keyRevoked(kid: String)
    /// The request is well-formed but invalid (bad key, unsupported type, bad time…).
    case invalid(String)
    /// A change would break a JWKS guard (key count or size limit).
    case jwksLimit(String)
    /// A state change not allowed from the key's current state (e.g. reactivating a revoked key).
    case conflict(String)
    /// The coordination store cannot be reached or failed.
    case storeUnavailable(String)
    /// The key backend failed (cloud API error, unreadable key file…), with the kind of failure.
    case backendFailure(BackendError)
}

extension CoordinationError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .lockHeld(let name, let holder, let expiresAt):
            return "lock \(name) is held by \(holder) until \(expiresAt)"
        case .leaseNotFound(let name, let leaseID):
            return "lease \(leaseID) on lock \(name) is not held by this instance (expired, released or unknown)"
        case .staleFence(let lock, let presented, let current):
            return "fencing token \(presented) for lock \(lock) is stale (current \(current)); nothing was written"
        case .keyNotFound(let kid): return "no key with kid \(kid)"
        case .keyRevoked(let kid):
            return "key \(kid) was revoked; a revoked key is never published again — mint a new key"
        case .invalid(let message), .jwksLimit(let message), .conflict(let message),
             .storeUnavailable(let message):
            return message
        case .backendFailure(let failure):
            return failure.message
        }
    }
}
