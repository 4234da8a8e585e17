/// How an `ensure` call was answered, for metrics.
public enum EnsureOutcome: String, Sendable {
    /// A usable key was in the registry; no lock taken.
    case fastPath = "fast_path"
    /// Another instance minted while this one waited for the lock.
    case afterLock = "after_lock"
    /// This call minted the key.
    case minted
    /// Nothing could sign (taint, revoke, outage): a key was promoted or minted at once.
    case emergency
}
