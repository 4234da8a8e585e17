import JSON
import Testing

/// The project's one JSON string escaper (RFC 8259 §7).
@Suite struct JSONTextTests {
    @Test(arguments: [
        ("plain", #""plain""#), ("q\"b\\", #""q\"b\\""#), ("\n\r\t", #""\n\r\t""#),
        ("\u{00}\u{1F}", #""\u0000\u001f""#), ("é😀/", "\"é😀/\""), ("\u{7F}", "\"\u{7F}\""),
        ("a\u{08}é\"", #""a\u0008é\"""#), ("", #""""#),
    ])
    func quoted(_ value: String, _ expected: String) {
        #expect(JSONText.quoted(value) == expected)
    }

    @Test func objectsKeepTheGivenOrder() {
        #expect(JSONText.object([("b", "1"), ("a", JSONText.stringArray(["x", "y"]))]) == #"{"b":1,"a":["x","y"]}"#)
    }
}
