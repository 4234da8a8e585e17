import Core
import Foundation
import Testing
import TestSupport
@testable import Backends

/// The backend conformance suite (Tests/TestSupport/BackendConformance.swift) against
/// every backend: disk, AWS KMS on moto (faults through the fault proxy), GCP Cloud KMS and
/// Azure Key Vault on their protocol fakes, and each cloud backend over its in-memory client.
@Suite struct BackendConformanceTests {
    static let withoutFaults = BackendConformance.Check.allCases.filter { !$0.needsFaults }

    @Test(arguments: withoutFaults)
    func disk(_ check: BackendConformance.Check) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("keys")
        try await BackendConformance { try DiskBackend(directory: path) }.run(check)
    }

    @Test(arguments: BackendConformance.Check.allCases)
    func awsOnMoto(_ check: BackendConformance.Check) async throws {
        let proxy = try await AWSFaultProxy.start()
        defer { proxy.stop() }
        try await BackendConformance(faults: proxy) {
            try AWSTestSupport.motoBackend(endpoint: proxy.url) { config in
                config.requestTimeout = 5
                config.retryBaseDelay = 0.02
                config.retryMaxDelay = 0.3
            }
        }.run(check)
    }

    @Test(arguments: BackendConformance.Check.allCases)
    func gcpOnItsFake(_ check: BackendConformance.Check) async throws {
        let fake = try await GCPTestSupport.fake()
        defer { fake.stop() }
        try await BackendConformance(faults: GCPTestSupport.Faults(fake: fake)) { try GCPTestSupport.backend(fake) }.run(check)
    }

    @Test(arguments: BackendConformance.Check.allCases)
    func azureOnItsFake(_ check: BackendConformance.Check) async throws {
        let fake = try await AzureTestSupport.fake()
        defer { fake.stop() }
        try await BackendConformance(faults: AzureTestSupport.Faults(fake: fake)) { try AzureTestSupport.backend(fake) }.run(check)
    }
}

/// The fault proxy in front of the shared moto, with faults queued at run time.
final class AWSFaultProxy: BackendConformance.Faults, @unchecked Sendable {
    let helper: AWSTestHelperProcess
    let url: String

    private init(helper: AWSTestHelperProcess, url: String) {
        self.helper = helper
        self.url = url
    }

    static func start() async throws -> AWSFaultProxy {
        let helper = try await AWSTestHelperProcess.start("aws_fault_proxy.py", arguments: [try AWSTestSupport.motoURL(), "{}"])
        guard let port = helper.readyPort else { throw AWSTestSupport.Failure(description: "proxy: \(helper.firstLine)") }
        return AWSFaultProxy(helper: helper, url: "http://127.0.0.1:\(port)")
    }

    func stop() { helper.stop() }

    private func plan(_ plan: [String: [String]]) async throws {
        let body = try JSONSerialization.data(withJSONObject: plan)
        let response = try await HTTPClient().send(HTTPClientRequest(method: "POST", url: URL(string: "\(url)/_plan")!,
                                                                     body: [UInt8](body)))
        guard response.isSuccess else { throw AWSTestSupport.Failure(description: "proxy plan: \(response.status)") }
    }

    private static func operation(_ operation: BackendConformance.Operation) -> String {
        switch operation {
        case .create: return "CreateKey"
        case .sign: return "Sign"
        }
    }

    // The backend's attempt timeout is 5 s: an answer held 8 s is lost to it.
    func loseNextAnswer(_ operation: BackendConformance.Operation) async throws {
        try await plan([Self.operation(operation): ["lost:8"]])
    }

    func throttle(_ operation: BackendConformance.Operation, times: Int) async throws {
        try await plan([Self.operation(operation): Array(repeating: "throttle", count: times)])
    }

    func deny(_ operation: BackendConformance.Operation) async throws {
        try await plan([Self.operation(operation): ["denied"]])
    }
}
