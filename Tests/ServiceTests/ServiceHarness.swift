import Foundation
import HTTP
import Logging
import Service
import TestSupport
import Transport
import XCTest

/// One in-process keycoord on ephemeral loopback ports with its own state directory.
final class ServiceHarness: @unchecked Sendable {
    let directory: TemporaryDirectory
    let service: KeycoordService
    let publicPort: Int
    let controlPort: Int
    let token: String

    /// `log`, when given, receives every line the service logs (else they are dropped).
    static func start(log: CapturedLog? = nil, _ configure: (inout ServiceConfig) -> Void = { _ in }) async throws -> ServiceHarness {
        let directory = try TemporaryDirectory("keycoord-service")
        var config = ServiceConfig()
        config.stateDir = directory.path
        config.publicListen = "127.0.0.1:0"
        config.controlListen = "127.0.0.1:0"
        config.instanceID = "test-\(UUID().uuidString.prefix(8))"
        configure(&config)
        let tokenFile = config.resolvedControlTokenFile
        let logger = Logger(label: "keycoord-test", factory: { label in log?.handler(label: label) ?? SwiftLogNoOpLogHandler() })
        let service = try await KeycoordService(config: config, logger: logger)
        let (publicAddress, controlAddress) = try await service.start()
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8)
            .split(whereSeparator: \.isNewline).map(String.init).first { !$0.hasPrefix("#") } ?? ""
        return ServiceHarness(directory: directory, service: service, publicPort: Self.port(publicAddress),
                              controlPort: Self.port(controlAddress), token: token)
    }

    private init(directory: TemporaryDirectory, service: KeycoordService, publicPort: Int, controlPort: Int, token: String) {
        self.directory = directory
        self.service = service
        self.publicPort = publicPort
        self.controlPort = controlPort
        self.token = token
    }

    private static func port(_ address: ListenAddress) -> Int {
        if case .tcp(_, let port) = address { return port }
        return 0
    }

    func stop() async {
        await service.shutdown()
        directory.remove()
    }

    func publicClient() throws -> RawHTTPClient { try RawHTTPClient(port: publicPort) }
    func controlClient() throws -> RawHTTPClient { try RawHTTPClient(port: controlPort) }

    /// A control API call with the right token.
    func control(_ method: String, _ path: String, _ body: Any? = nil) throws -> RawHTTPClient.Response {
        let client = try controlClient()
        if let body { return try client.json(method, path, body, bearer: token) }
        return try client.request(method, path, bearer: token)
    }

    func jwks() throws -> [String: Any] {
        let response = try publicClient().request("GET", "/.well-known/jwks.json")
        XCTAssertEqual(response.status, 200, response.text)
        return response.json
    }

    func jwksKids() throws -> [String] {
        ((try jwks()["keys"] as? [[String: Any]]) ?? []).compactMap { $0["kid"] as? String }
    }

    func sequence() throws -> Int {
        (try control("GET", "/v1/keys").json["sequence"] as? Int) ?? -1
    }
}
