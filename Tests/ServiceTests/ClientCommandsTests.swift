import Foundation
import TestSupport
import XCTest

/// The client commands of the shipped binary against a running `keycoord serve`: tables
/// for a terminal, the server's JSON unchanged when piped.
final class ClientCommandsTests: XCTestCase {
    var directory: TemporaryDirectory!
    var server: ServeProcess!

    override func setUpWithError() throws {
        directory = try TemporaryDirectory("keycoord-cli")
        server = try ServeProcess.start(stateDir: directory.path, instance: "cli")
    }

    override func tearDown() {
        server?.kill()
        directory?.remove()
    }

    private func keycoord(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ServeProcess.binary)
        process.arguments = arguments
        process.environment = ["KEYCOORD_CONTROL_URL": "http://127.0.0.1:\(server.controlPort)",
                               "KEYCOORD_CONTROL_TOKEN_FILE": directory.path + "/control-token"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self))
    }

    func testTablesOnRequestAndJSONWhenPiped() throws {
        let ensured = try keycoord(["ensure", "--server-id", "spire-1", "--output", "json"])
        XCTAssertEqual(ensured.status, 0, ensured.err)
        let kid = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(ensured.out.utf8)) as? [String: Any])["kid"] as? String
        let key = try XCTUnwrap(kid)

        let piped = try keycoord(["keys", "list"])
        XCTAssertEqual(piped.status, 0, piped.err)
        let listed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(piped.out.utf8)) as? [String: Any], piped.out)
        XCTAssertEqual((listed["keys"] as? [[String: Any]])?.first?["kid"] as? String, key, "piped output is the server's JSON")

        let table = try keycoord(["keys", "list", "--output", "table"])
        XCTAssertEqual(table.status, 0, table.err)
        let lines = table.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, table.out)
        XCTAssertTrue(lines[0].hasPrefix("KID ") && lines[0].contains("STATE") && lines[0].contains("NOT AFTER"), lines[0])
        let row = lines[1].split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        XCTAssertEqual(Array(row.prefix(4)), [key, "ec-p256", "active", "no"], lines[1])

        let shown = try keycoord(["keys", "show", key, "--output", "table"])
        XCTAssertEqual(shown.status, 0, shown.err)
        XCTAssertTrue(shown.out.hasPrefix("FIELD"), shown.out)
        XCTAssertTrue(shown.out.contains("\nkid "), shown.out)
        XCTAssertTrue(shown.out.contains(key), shown.out)
        XCTAssertTrue(shown.out.contains(directory.path + "/keys/"), "the backend reference a server signs with is shown whole: \(shown.out)")

        let jwks = try keycoord(["jwks", "--public-url", "http://127.0.0.1:\(server.publicPort)", "--output", "table"])
        XCTAssertEqual(jwks.status, 0, jwks.err)
        XCTAssertTrue(jwks.out.contains(key) && jwks.out.contains("ES256") && jwks.out.contains("P-256"), jwks.out)
    }

    func testATaintReasonIsShownInTheTablesAndTheJSON() throws {
        let ensured = try keycoord(["ensure", "--server-id", "spire-1", "--output", "json"])
        XCTAssertEqual(ensured.status, 0, ensured.err)
        let kid = try XCTUnwrap(try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(ensured.out.utf8)) as? [String: Any])["kid"] as? String)
        let tainted = try keycoord(["keys", "taint", kid, "--reason", "incident 42 leaked", "--output", "json"])
        XCTAssertEqual(tainted.status, 0, tainted.err)
        let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(tainted.out.utf8)) as? [String: Any], tainted.out)
        XCTAssertEqual(record["taint_reason"] as? String, "incident 42 leaked")

        let shown = try keycoord(["keys", "show", kid, "--output", "table"])
        XCTAssertEqual(shown.status, 0, shown.err)
        let line = try XCTUnwrap(shown.out.split(separator: "\n").first { $0.hasPrefix("taint_reason ") }, shown.out)
        XCTAssertTrue(line.hasSuffix(" incident 42 leaked"), String(line))

        let table = try keycoord(["keys", "list", "--output", "table"])
        XCTAssertEqual(table.status, 0, table.err)
        let lines = table.out.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasSuffix("TAINT REASON"), lines[0])
        let row = try XCTUnwrap(lines.first { $0.hasPrefix(kid) }, table.out)
        XCTAssertTrue(row.contains(" yes ") && row.hasSuffix("incident 42 leaked"), row)
        let other = try XCTUnwrap(lines.dropFirst().first { !$0.hasPrefix(kid) }, "the replacement is listed: \(table.out)")
        XCTAssertTrue(other.hasSuffix(" -"), "no reason shows as -: \(other)")
    }

    func testAProblemIsOneLineOnStandardErrorWithTheExitCode() throws {
        let missing = try keycoord(["keys", "show", "no-such-kid", "--output", "table"])
        XCTAssertEqual(missing.status, 4, "404 exits 4")
        XCTAssertEqual(missing.out, "")
        XCTAssertTrue(missing.err.hasPrefix("error: ") && missing.err.contains("HTTP 404"), missing.err)
        let asJSON = try keycoord(["keys", "show", "no-such-kid"])
        XCTAssertEqual(asJSON.status, 4)
        XCTAssertTrue(asJSON.out.contains("\"status\":404") || asJSON.out.contains("\"status\": 404"), asJSON.out)
    }

    func testAnUnknownFormatIsRefused() throws {
        let refused = try keycoord(["keys", "list", "--output", "yaml"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.err.contains("table") && refused.err.contains("json"), refused.err)
    }
}
