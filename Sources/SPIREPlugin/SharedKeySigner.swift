import Backends
import Core
import Crypto
import FileSupport
import GRPC
import Synchronization

/// Signs with shared keys through the project's Backends, the way the sidecar that minted
/// them does: one backend per name a key record carries (`disk`, `aws-kms`, `gcp-kms`,
/// `azure-key-vault`), built on first use from the plugin's backend settings. The sidecar
/// is not on this path: SignData costs what the backend's sign costs.
final class SharedKeySigner: Sendable {
    private let settings: BackendSettings
    private let backends = Mutex<[String: any KeyBackend]>([:])
    /// `keys_dir` with links resolved, as the disk backend works in it; nil while it does not exist.
    private let diskRoot: String?

    /// `settings.kind` is ignored: each key names its backend.
    init(settings: BackendSettings) {
        self.settings = settings
        diskRoot = settings.keysDir.isEmpty ? nil : try? PrivateDirectory.canonical(settings.keysDir)
    }

    /// The signature as SPIRE wants it: DER ECDSA, PKCS #1 v1.5 or PSS bytes for RSA.
    func sign(_ slot: SharedSlot, digest: [UInt8], scheme: SignatureScheme) async throws -> [UInt8] {
        let backend = try backend(named: slot.backend)
        do {
            try slot.keyType.check(scheme, digest: digest)
        } catch let error as CoordinationError {
            throw GRPCStatus(.invalidArgument, "\(slot.kid): \(error)")
        }
        do {
            let jose = try await backend.sign(ref: ref(slot), keyType: slot.keyType, digest: digest, scheme: scheme)
            return try JOSESignature.der(fromJOSE: jose, keyType: slot.keyType)
        } catch let error as CoordinationError {
            throw Self.status(error, kid: slot.kid)
        } catch let status as GRPCStatus {
            throw status
        } catch {
            throw GRPCStatus(.internal, "signing with shared key \(slot.kid) failed: \(error)")
        }
    }

    /// A disk key's reference is its path on the sidecar's mount of the shared volume,
    /// `<keys dir>/<trust domain>/<file>`; this server may mount the volume elsewhere, so
    /// the last two components are taken under `keys_dir` (the disk backend still checks
    /// the shape). Cloud references name the key itself.
    private func ref(_ slot: SharedSlot) -> String {
        guard slot.backend == BackendSettings.Kind.disk.rawValue else { return slot.backendRef }
        let parts = slot.backendRef.split(separator: "/", omittingEmptySubsequences: false).suffix(2)
        let directory = diskRoot ?? (try? PrivateDirectory.canonical(settings.keysDir)) ?? settings.keysDir
        let root = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return ([root] + parts.map(String.init)).joined(separator: "/")
    }

    private func backend(named name: String) throws -> any KeyBackend {
        try backends.withLock { backends in
            if let backend = backends[name] { return backend }
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
                backends[name] = backend
                return backend
            } catch {
                throw GRPCStatus(.failedPrecondition, "cannot use the \(name) backend with this plugin's settings: \(error)")
            }
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
