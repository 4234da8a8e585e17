import Core
import Foundation

/// What `/readyz` reports: ready only when the store answers, the JWKS has been read,
/// every rotated key type has a key to sign with, and this instance's backend can use it
/// (a disk key on a volume this sidecar cannot read makes it not ready — it must never
/// hand its SPIRE server a reference it cannot use).
final class Readiness: Sendable {
    struct Report: Sendable {
        var ready: Bool
        var checks: [(name: String, ok: Bool, detail: String)]

        /// The `/readyz` body: `{"status": "ready"|"not ready", "checks": {name: {ok, detail}}}`.
        var wire: WireFormat.Readiness {
            WireFormat.Readiness(status: ready ? "ready" : "not ready",
                                 checks: Dictionary(checks.map { ($0.name, WireFormat.Readiness.Check(ok: $0.ok, detail: $0.detail)) },
                                                    uniquingKeysWith: { first, _ in first }))
        }
    }

    private let store: any CoordinationStore
    private let backend: any KeyBackend
    private let publisher: JWKSPublisher
    private let keyTypes: [KeyType]
    private let authenticator: ControlAuthenticator

    init(store: any CoordinationStore, backend: any KeyBackend, publisher: JWKSPublisher, keyTypes: [KeyType],
         authenticator: ControlAuthenticator) {
        self.store = store
        self.backend = backend
        self.publisher = publisher
        self.keyTypes = keyTypes
        self.authenticator = authenticator
    }

    func check() async -> Report {
        var checks: [(String, Bool, String)] = []
        for (role, file) in authenticator.tokenFiles {
            switch file.status {
            // The public listener serves this: the path and reason go to the log only.
            case .loaded(let count): checks.append(("tokens:\(role)", true, "\(count) tokens"))
            case .refused: checks.append(("tokens:\(role)", false, "token file refused (the log says why); none of its tokens is accepted"))
            }
        }
        switch await store.healthCheck() {
        case .success: checks.append(("store", true, "reachable"))
        case .failure(let error): checks.append(("store", false, error.description))
        }
        guard let rendered = publisher.rendered else {
            checks.append(("jwks", false, publisher.lastStoreError ?? "registry not read yet"))
            return Report(ready: false, checks: checks)
        }
        checks.append(("jwks", true, "\(rendered.document.kids.count) keys, sequence \(rendered.sequence)"))
        for keyType in keyTypes {
            let signing = rendered.records.first { $0.keyType == keyType && $0.canSign && $0.backendRef != nil }
            guard let signing, let ref = signing.backendRef else {
                checks.append(("key:\(keyType.rawValue)", false, "no active key yet"))
                continue
            }
            if let problem = await backend.checkUsable(ref: ref) {
                checks.append(("key:\(keyType.rawValue)", false, "key \(signing.kid) is not usable here: \(problem)"))
            } else {
                checks.append(("key:\(keyType.rawValue)", true, "active key \(signing.kid)"))
            }
        }
        return Report(ready: checks.allSatisfy { $0.1 }, checks: checks)
    }
}
