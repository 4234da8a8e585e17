import Foundation
@testable import Service
import Testing

/// Writing back what the strict reader read (a JWK inside a publish request).
@Suite struct JSONEncodingTests {
    @Test func roundTripsEveryValueKindTheReaderMakes() throws {
        let text = #"{"a":[1,"x",{"k":"v"},null],"b":true,"big":9223372036854775807,"f":false,"half":0.5,"n":null,"neg":-7,"o":{"B":4,"a":2,"z":1,"é":3},"s":"quote \" backslash \\ newline \n tab \t control \u0001 é 😀"}"#
        let read = try JSONReader.parse(Array(text.utf8))
        let written = try JSONEncoding.encode(read)
        #expect(written == text, "sorted by code point, the reader's own form")
        let foundation = try JSONSerialization.jsonObject(with: Data(written.utf8)) as? NSDictionary
        let original = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary
        #expect(foundation == original)
    }

    @Test func aValueWithNoJSONFormIsAnErrorNotNull() {
        #expect(throws: JSONEncoding.UnknownValue.self) { try JSONEncoding.encode(["when": Date()]) }
        #expect(throws: JSONEncoding.UnknownValue.self) { try JSONEncoding.encode([Double.nan]) }
        #expect(throws: JSONEncoding.UnknownValue.self) { try JSONEncoding.encode(["n": NSNull()]) }
    }
}
