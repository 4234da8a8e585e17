import GRPC
import Logging
import PluginProtos
import Synchronization

/// What SPIRE configured: the settings and the local key store they name. Init, Config and
/// KeyManager share it; Configure replaces it whole.
final class PluginState: Sendable {
    /// What KeyManager works with once configured.
    struct Configured: Sendable {
        var config: PluginConfig
        var store: LocalKeyStore
        var control: ControlAPIClient
        var signer: SharedKeySigner
    }
    private let configured = Mutex<Configured?>(nil)
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func current() throws -> Configured {
        guard let current = configured.withLock({ $0 }) else {
            throw GRPCStatus(.failedPrecondition, "the plugin is not configured yet")
        }
        return current
    }

    static let configService = "spire.service.common.config.v1.Config"
    static let initService = "spire.service.private.init.v1.Init"

    var methods: [String: GRPCMethod] {
        [
            "/\(Self.initService)/Init": ProtobufMethod.unary { (_: Spire_Service_Private_Init_V1_InitRequest) in
                var response = Spire_Service_Private_Init_V1_InitResponse()
                response.pluginServiceNames = [KeyManagerService.service, Self.configService]
                return response
            },
            "/\(Self.initService)/Deinit": ProtobufMethod.unary { (_: Spire_Service_Private_Init_V1_DeinitRequest) in
                Spire_Service_Private_Init_V1_DeinitResponse()
            },
            "/\(Self.configService)/Validate": ProtobufMethod.unary { (request: Spire_Service_Common_Config_V1_ValidateRequest) in
                var response = Spire_Service_Common_Config_V1_ValidateResponse()
                do throws(PluginConfig.Invalid) {
                    _ = try PluginConfig.parse(trustDomain: request.coreConfiguration.trustDomain, hcl: request.hclConfiguration)
                    response.valid = true
                } catch {
                    response.valid = false
                    response.notes = [error.description]
                }
                return response
            },
            "/\(Self.configService)/Configure": ProtobufMethod.unary { [self] (request: Spire_Service_Common_Config_V1_ConfigureRequest) in
                try configure(request)
                return Spire_Service_Common_Config_V1_ConfigureResponse()
            },
        ]
    }

    private func configure(_ request: Spire_Service_Common_Config_V1_ConfigureRequest) throws {
        let config: PluginConfig
        do throws(PluginConfig.Invalid) {
            config = try PluginConfig.parse(trustDomain: request.coreConfiguration.trustDomain, hcl: request.hclConfiguration)
        } catch {
            throw GRPCStatus(.invalidArgument, error.description)
        }
        let store: LocalKeyStore
        do {
            store = try LocalKeyStore(path: config.keysPath)
        } catch {
            throw GRPCStatus(.invalidArgument, "keys_path: \(error)")
        }
        let control: ControlAPIClient
        do {
            control = try ControlAPIClient(config: config)
        } catch {
            throw GRPCStatus(.invalidArgument, "\(config.caFile != nil ? "ca_file" : "client_cert_file"): \(error)")
        }
        if config.keysPath == nil {
            logger.warning("keys_path is not set: X.509 CA and WIT keys live in memory and do not survive a restart")
        }
        configured.withLock {
            $0 = Configured(config: config, store: store, control: control, signer: SharedKeySigner(settings: config.backend))
        }
        logger.info("configured", metadata: ["trust_domain": "\(config.trustDomain)", "server_id": "\(config.serverID)"])
    }
}
