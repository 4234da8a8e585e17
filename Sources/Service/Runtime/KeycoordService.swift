import Backends
import Core
import FileSupport
import Foundation
import HTTP
import Logging
import Stores
import Transport

/// One keycoord instance: store, backend, coordinator, JWKS publisher, rotation loop and
/// the two listeners, wired from a `ServiceConfig`.
public final class KeycoordService: Sendable {
    public let config: ServiceConfig
    public let metrics: ServiceMetrics
    public let coordinator: Coordinator
    private let store: any CoordinationStore
    private let backend: any KeyBackend
    private let server: HTTPServer
    private let publisher: JWKSPublisher
    private let rotation: RotationLoop
    private let logger: Logger
    private let publicRouter = Router()
    private let controlRouter = Router()

    /// Builds every part; connects to the store and backend but listens on nothing yet.
    /// `metrics` holds the registry `/metrics` renders: `keycoord serve` passes the one it
    /// gave swift-metrics' `MetricsSystem`; each test service gets its own.
    public init(config: ServiceConfig, logger: Logger, metrics: ServiceMetrics = ServiceMetrics()) async throws {
        try config.validate()
        self.config = config
        self.logger = logger
        self.metrics = metrics
        let instanceID = config.resolvedInstanceID

        try PrivateDirectory.create(config.stateDir)
        let store = try await Self.makeStore(config, instanceID: instanceID, logger: logger)
        let backend = try Self.makeBackend(config, logger: logger)
        self.store = store
        self.backend = backend

        var coordinatorConfig = CoordinatorConfig(trustDomain: config.trustDomain, instanceID: instanceID)
        coordinatorConfig.kidFormat = config.kidFormat
        coordinatorConfig.keyTypes = config.keyTypes
        coordinatorConfig.policy = RotationPolicy(ttl: config.keyTTL, publishLead: config.publishLead, grace: config.grace)
        coordinatorConfig.maxKeysPerFamily = config.maxKeysPerFamily
        coordinatorConfig.maxJWKSBytes = config.maxJWKSBytes
        coordinatorConfig.pendingGrace = config.pendingGrace
        let coordinator = try Coordinator(config: coordinatorConfig, store: store, backend: backend,
                                          observer: CoordinatorEventObserver(metrics: metrics, logger: logger))
        self.coordinator = coordinator
        // A keys directory of another registry is refused at start. A store not reachable
        // yet is no reason to stop: the coordinator claims before it first mints or reconciles.
        do {
            try await coordinator.claimBackend()
        } catch CoordinationError.invalid(let message) {
            throw CoordinationError.invalid(message)
        } catch {
            logger.warning("backend not claimed yet; retried before the first mint", metadata: ["error": .string("\(error)")])
        }

        let publisher = JWKSPublisher(coordinator: coordinator, store: store, config: config, metrics: metrics, logger: logger)
        self.publisher = publisher
        self.rotation = RotationLoop(coordinator: coordinator, interval: config.rotationInterval, metrics: metrics,
                                     logger: logger) { await publisher.refresh(force: false) }

        var limits = ServerLimits()
        limits.maxHeaderBytes = config.maxHeaderBytes
        limits.maxBodyBytes = config.maxBodyBytes
        limits.headerTimeout = config.headerTimeout
        limits.idleTimeout = config.idleTimeout
        limits.writeTimeout = config.writeTimeout
        limits.maxConnections = config.maxConnections
        limits.shutdownGrace = config.shutdownGrace
        self.server = HTTPServer(limits: limits, observer: HTTPEventObserver(metrics: metrics, logger: logger))

        let auth = try Self.makeAuthenticator(config, metrics: metrics, logger: logger)
        PublicAPI(publisher: publisher,
                  readiness: Readiness(store: store, backend: backend, publisher: publisher, keyTypes: config.keyTypes,
                                       authenticator: auth),
                  metrics: metrics).register(on: publicRouter)
        ControlAPI(coordinator: coordinator, store: store, auth: auth, logger: logger, publisher: publisher,
                   locksOnLoop: config.store == .postgres)
            .register(on: controlRouter)
    }

    /// Every route of both listeners, for checking against openapi.yaml.
    public var routes: [(listener: String, method: String, template: String)] {
        publicRouter.routes.map { ("public", $0.method.rawValue, $0.template) }
            + controlRouter.routes.map { ("control", $0.method.rawValue, $0.template) }
    }

    /// Ensures the configured key types once, binds both listeners and starts serving.
    /// Returns the bound addresses (port 0 resolved).
    public func start() async throws -> (public: ListenAddress, control: ListenAddress) {
        if !(await rotation.step()) {
            logger.warning("initial rotation step failed; serving anyway, /readyz reports not ready until it succeeds")
        }
        await publisher.start()
        let publicAddress = try server.listen(ListenAddress(parsing: config.publicListen), name: "public", router: publicRouter,
                                              tls: Self.publicTLS(config), http2: config.publicHTTP2Limits)
        let controlAddress = try server.listen(ListenAddress(parsing: config.controlListen), name: "control", router: controlRouter,
                                               tls: Self.controlTLS(config), unixSocketMode: mode_t(config.controlSocketMode))
        server.start()
        rotation.start()
        logger.notice("keycoord serving", metadata: [
            "trust_domain": .string(config.trustDomain), "public": .string(publicAddress.description),
            "control": .string(controlAddress.description), "store": .string(config.store.rawValue),
            "backend": .string(config.backend.rawValue), "control_token_file": .string(config.resolvedControlTokenFile),
            "public_tls": .stringConvertible(!config.publicTLSCert.isEmpty),
            "public_http2": .stringConvertible(config.publicHTTP2),
            "control_tls": .string(config.usesControlMTLS ? "mutual" : (config.controlTLSCert.isEmpty ? "off" : "on")),
        ])
        return (publicAddress, controlAddress)
    }

    /// Graceful stop: no new connections, in-flight requests finish (bounded by
    /// `shutdown-grace`), then the loops stop and the store releases its leases.
    public func shutdown() async {
        rotation.stop()
        await server.shutdown()
        publisher.stop()
        await store.close()
        logger.notice("keycoord stopped")
    }

    private static func publicTLS(_ config: ServiceConfig) -> TLSConfiguration? {
        guard !config.publicTLSCert.isEmpty else { return nil }
        return TLSConfiguration(certificateChainFile: config.publicTLSCert, privateKeyFile: config.publicTLSKey)
    }

    /// Client certificates are optional so bearer tokens keep working beside mTLS; one that
    /// is sent must chain to `control-client-ca` or the handshake fails.
    private static func controlTLS(_ config: ServiceConfig) -> TLSConfiguration? {
        guard !config.controlTLSCert.isEmpty else { return nil }
        return TLSConfiguration(certificateChainFile: config.controlTLSCert, privateKeyFile: config.controlTLSKey,
                                clientCAFile: config.usesControlMTLS ? config.controlClientCA : nil,
                                clientAuth: config.usesControlMTLS ? .optional : .none)
    }

    private static func makeAuthenticator(_ config: ServiceConfig, metrics: ServiceMetrics, logger: Logger) throws -> ControlAuthenticator {
        let tokenPath = config.resolvedControlTokenFile
        if config.usesGeneratedControlToken, try TokenFile.generateIfMissing(at: tokenPath) {
            logger.notice("generated a control API token", metadata: ["file": .string(tokenPath)])
        }
        let refused: @Sendable (String, String) -> Void = { path, reason in
            metrics.tokenFileRefused(path: path)
            logger.error("token file refused; none of its tokens is accepted until a valid file replaces it",
                         metadata: ["file": .string(path), "reason": .string(reason)])
        }
        let members = try TokenFile(path: tokenPath, onRefused: refused)
        var admins: TokenFile?
        if !config.adminTokenFile.isEmpty {
            admins = try TokenFile(path: config.adminTokenFile, onRefused: refused)
        } else if config.usesGeneratedControlToken {
            admins = members
        }
        for file in [members, admins].compactMap({ $0 }) {
            var info = stat()
            if stat(file.path, &info) == 0, info.st_mode & 0o077 != 0 {
                logger.warning("secret file is readable by other users; chmod 600 it",
                               metadata: ["file": .string(file.path), "mode": .string(String(info.st_mode & 0o777, radix: 8))])
            }
        }
        // validate() has checked every pattern.
        return ControlAuthenticator(memberTokens: members, adminTokens: admins,
                                    memberSPIFFEIDs: config.controlAllowSPIFFEIDs.compactMap(SPIFFEIDPattern.init),
                                    adminSPIFFEIDs: config.adminSPIFFEIDs.compactMap(SPIFFEIDPattern.init))
    }

    private static func makeStore(_ config: ServiceConfig, instanceID: String, logger: Logger) async throws -> any CoordinationStore {
        switch config.store {
        case .file:
            return try FileStore(directory: (config.stateDir as NSString).appendingPathComponent("store"), instanceID: instanceID)
        case .postgres:
            let url = config.postgresURL
            let open: @Sendable () async throws -> PostgresStore = {
                try await PostgresStore(url: url, instanceID: instanceID, poolSize: config.postgresPoolSize,
                                        leaseSpares: config.postgresLeaseSpares, idleTimeout: config.postgresIdleTimeout,
                                        logger: logger)
            }
            do {
                return try await open()
            } catch let error as CoordinationError {
                // Unreachable now: serve not-ready and keep connecting. Anything else (a
                // newer schema, a pooler in transaction mode, bad credentials are
                // storeUnavailable too) is reported the same way, with its message.
                logger.error("coordination store unreachable; retrying in the background, /readyz reports not ready",
                             metadata: ["error": .string("\(error)")])
                return ConnectingStore(firstError: "\(error)", logger: logger, connect: open)
            }
        }
    }

    private static func makeBackend(_ config: ServiceConfig, logger: Logger) throws -> any KeyBackend {
        try config.backendSettings.makeBackend()
    }
}

/// Schema migrations of the postgres store, for `keycoord migrate`.
public enum KeycoordMigrations {
    public static func migrate(url: String) async throws -> Int {
        try await PostgresStore.migrate(url: url)
    }
}
