import Backends
import Core
import Crypto
import GRPC
import Synchronization

/// Signs with shared keys through the project's Backends, the way the sidecar that minted
/// them does: one backend per name a key record carries (`disk`, `aws-kms`, `gcp-kms`,
/// `azure-key-vault`), built on first use from the plugin's backend settings. The sidecar
/// is not on this path: SignData costs what the backend's sign costs, and nothing per call
/// beyond it (no path resolution, no conversion of the signature to another encoding).
final class SharedKeySigner: Sendable {
    private let settings: BackendSettings
    private let state = Mutex(State())

    private struct State {
        var backends: [String: any KeyBackend] = [:]
        /// The reference each slot's key has on this server, by the key record's backend and reference.
        var refs: [Source: String] = [:]
    }

    private struct Source: Hashable {
        var backend: String
        var ref: String
    }

    /// `settings.kind` is ignored: each key names its backend.
    init(settings: BackendSettings) {
        self.settings = settings
    }

    /// The signature as SPIRE wants it: DER ECDSA, PKCS #1 v1.5 or PSS bytes for RSA. The
    /// backend checks the scheme against the key type (a refusal is INVALID_ARGUMENT).
    func sign(_ slot: SharedSlot, digest: [UInt8], scheme: SignatureScheme) async throws -> [UInt8] {
        let (backend, ref) = try resolve(slot)
        do {
            return try await backend.sign(ref: ref, keyType: slot.keyType, digest: digest, scheme: scheme, encoding: .der)
        } catch let error as CoordinationError {
            throw Self.status(error, kid: slot.kid)
        } catch let status as GRPCStatus {
            throw status
        } catch {
            throw GRPCStatus(.internal, "signing with shared key \(slot.kid) failed: \(error)")
        }
    }

    /// The slot's backend and its key's reference on this server, worked out once per key.
    private func resolve(_ slot: SharedSlot) throws -> (any KeyBackend, String) {
        try state.withLock { state in
            let source = Source(backend: slot.backend, ref: slot.backendRef)
            let backend = try backend(named: slot.backend, in: &state)
            if let ref = state.refs[source] { return (backend, ref) }
            let ref = Self.localRef(slot, backend: backend)
            state.refs[source] = ref
            return (backend, ref)
        }
    }

    /// A disk key's reference is its path on the sidecar's mount of the shared volume,
    /// `<keys dir>/<trust domain>/<file>`; this server may mount the volume elsewhere, so
    /// the last two components are taken under the disk backend's directory (`keys_dir`
    /// with links resolved; the backend still checks the shape). Cloud references name the
    /// key itself.
    private static func localRef(_ slot: SharedSlot, backend: any KeyBackend) -> String {
        guard let disk = backend as? DiskBackend else { return slot.backendRef }
        let parts = slot.backendRef.split(separator: "/", omittingEmptySubsequences: false).suffix(2)
        return ([disk.directory] + parts.map(String.init)).joined(separator: "/")
    }

    private func backend(named name: String, in state: inout State) throws -> any KeyBackend {
        if let backend = state.backends[name] { return backend }
        guard let kind = BackendSettings.Kind(rawValue: name) else {
            throw GRPCStatus(.failedPrecondition, "shared key backend \"\(name)\" is not one this plugin can sign with")
        }
        var settings = self.settings
        settings.kind = kind
        if kind == .disk && settings.keysDir.isEmpty {
            throw GRPCStatus(.failedPrecondition, "keys_dir: the shared key is on disk; set keys_dir to the shared keys volume as this server mounts it")
        }
        do {
            let backend = try settings.makeBackend()
            state.backends[name] = backend
            return backend
        } catch {
            throw GRPCStatus(.failedPrecondition, "cannot use the \(name) backend with this plugin's settings: \(error)")
        }
    }

    /// A refused scheme is the caller's; the rest follows the backend's error kind.
    private static func status(_ error: CoordinationError, kid: String) -> GRPCStatus {
        switch error {
        case .invalid(let message):
            return GRPCStatus(.invalidArgument, "shared key \(kid): \(message)")
        case .backendFailure(let failure):
            switch failure.kind {
            case .denied: return GRPCStatus(.permissionDenied, "shared key \(kid): \(failure)")
            case .notFound: return GRPCStatus(.notFound, "shared key \(kid) is gone from its backend: \(failure)")
            case .throttled, .unavailable: return GRPCStatus(.unavailable, "shared key \(kid): \(failure)")
            default: return GRPCStatus(.internal, "shared key \(kid): \(failure)")
            }
        default:
            return GRPCStatus(.internal, "shared key \(kid): \(error)")
        }
    }
}
