/// Hooks the service uses for metrics and logs. Every method has a no-op default, so an
/// observer implements only what it records. Called inline: implementations must be quick.
public protocol CoordinatorObserver: Sendable {
    func ensureCompleted(keyType: KeyType, outcome: EnsureOutcome)
    func lockWaited(name: String, duration: Duration)
    /// A registry change was refused by a JWKS guard.
    func jwksRefused(reason: String)
    /// Servers were switched to a key relying parties may not have fetched yet.
    func emergencyGap(keyType: KeyType)
    func keysMinted(keyType: KeyType)
    func reconciled(destroyed: Int)
    /// A key was tainted or revoked through the API (for the audit log); `reason` as the caller gave it.
    func keyTainted(kid: String, by caller: String, reason: String?)
    func keyRevoked(kid: String, by caller: String)
    /// A key the backend no longer has (its file deleted…) was tainted to be replaced.
    func keyLost(kid: String, keyType: KeyType, reason: String)
    /// The reconciler found published backend keys the registry did not know (it lost
    /// writes) and put them back, tainted and retired, instead of destroying them.
    func keysAdopted(kids: [String])
    /// A step whose failure does not fail the caller (destroying a removed key, marking a
    /// key published, preparing the next key) failed; the reconciler or the next tick retries it.
    func deferredFailure(operation: String, error: any Error)
}

extension CoordinatorObserver {
    public func ensureCompleted(keyType: KeyType, outcome: EnsureOutcome) {}
    public func lockWaited(name: String, duration: Duration) {}
    public func jwksRefused(reason: String) {}
    public func emergencyGap(keyType: KeyType) {}
    public func keysMinted(keyType: KeyType) {}
    public func reconciled(destroyed: Int) {}
    public func keyTainted(kid: String, by caller: String, reason: String?) {}
    public func keyRevoked(kid: String, by caller: String) {}
    public func keyLost(kid: String, keyType: KeyType, reason: String) {}
    public func keysAdopted(kids: [String]) {}
    public func deferredFailure(operation: String, error: any Error) {}
}

/// The observer used when none is given.
struct SilentObserver: CoordinatorObserver {}
