import Foundation
import Logging
import Testing
@testable import SPIREPlugin

struct HCLogHandlerTests {
    @Test func linesAreHCLogJSONWithAStringMessage() throws {
        let line = HCLogHandler.render(level: .warning, message: "quote \" and\nnewline", module: "keycoord-spire-plugin",
                                       metadata: ["server_id": "spire-1", "@level": "forged"],
                                       date: Date(timeIntervalSince1970: 1_700_000_000.5))
        #expect(line.hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["@level"] == "warn")
        #expect(object["@message"] == "quote \" and\nnewline")
        #expect(object["@module"] == "keycoord-spire-plugin")
        #expect(object["@timestamp"] == "2023-11-14T22:13:20.500000+00:00")
        #expect(object["server_id"] == "spire-1")
    }

    @Test(arguments: [(Logger.Level.trace, "trace"), (.debug, "debug"), (.info, "info"), (.notice, "info"),
                      (.warning, "warn"), (.error, "error"), (.critical, "error")])
    func levelsMapToHCLogs(level: Logger.Level, expected: String) {
        #expect(HCLogHandler.hclogLevel(level) == expected)
    }
}
