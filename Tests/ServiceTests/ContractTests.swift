import Foundation
import Service
import TestSupport
import XCTest

/// The documents operators and client authors rely on stay true to the code.
final class ContractTests: XCTestCase {
    static var repositoryRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    /// Every routed operation is documented and nothing else, each under the server of the
    /// listener that serves it (a generated client must not send control calls to the
    /// public port).
    func testOpenAPIIsValidAndListsExactlyTheRoutedOperations() async throws {
        let harness = try await ServiceHarness.start()
        let defaults = ServiceConfig()
        let servers = ["public": "http://\(defaults.publicListen)", "control": "http://\(defaults.controlListen)"]
        let routed = Set(harness.service.routes.map { "\($0.method) \($0.template) \(servers[$0.listener] ?? "")" })
        await harness.stop()
        let output = try PythonCheck.run("service_openapi.py", input: ["path": Self.repositoryRoot + "/openapi.yaml"])
        let operations = ((output as? [String: Any])?["operations"] as? [[String]]) ?? []
        let documented = Set(operations.map { $0.joined(separator: " ") })
        XCTAssertFalse(documented.isEmpty)
        XCTAssertEqual(routed.subtracting(documented), [], "routed but not in openapi.yaml (or under another server)")
        XCTAssertEqual(documented.subtracting(routed), [], "in openapi.yaml but not routed (or under another server)")
    }

    /// openapi.yaml's Identifier pattern (holders, server ids) accepts exactly what the
    /// service accepts.
    func testTheIdentifierPatternIsTheServicesRule() async throws {
        let samples = ["spire-1", "a", "!#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~", String(repeating: "x", count: 200),
                       "", "a b", "a\"b", "a\\b", "tab\there", "é", "a\u{7F}", String(repeating: "x", count: 201)]
        let output = try PythonCheck.run("service_openapi.py", input: ["path": Self.repositoryRoot + "/openapi.yaml",
                                                                        "identifiers": samples])
        let documented = try XCTUnwrap((output as? [String: Any])?["identifiers"] as? [String: Bool])
        let harness = try await ServiceHarness.start()
        let answers = Result {
            try samples.enumerated().map { index, sample in
                try harness.control("POST", "/v1/locks/identifier-\(index)", ["holder": sample, "ttl_seconds": 5])
            }
        }
        await harness.stop()
        for (sample, answer) in zip(samples, try answers.get()) {
            XCTAssertEqual(answer.status == 200, documented[sample], "holder \(sample.debugDescription): \(answer.status) \(answer.text)")
        }
    }

    func testConfigurationReferenceNamesEverySetting() throws {
        let reference = try String(contentsOfFile: Self.repositoryRoot + "/docs/configuration.md", encoding: .utf8)
        for setting in ServiceSettings.all {
            XCTAssertTrue(reference.contains("`--\(setting.name)`"), "docs/configuration.md lacks --\(setting.name)")
            XCTAssertTrue(reference.contains("`\(setting.environmentName)`"), "docs/configuration.md lacks \(setting.environmentName)")
        }
    }
}
