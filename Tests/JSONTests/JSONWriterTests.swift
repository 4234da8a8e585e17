import Foundation
import JSON
import Testing

/// The deterministic writer behind every API response.
@Suite struct JSONWriterTests {
    struct Inner: Encodable, Equatable {
        let z: Int
        let a: String
    }

    struct Outer: Encodable {
        let name: String
        let count: UInt64
        let negative: Int64
        let flag: Bool
        let missing: String?
        let present: Int?
        let inner: Inner
        let optionalInner: Inner?
        let list: [Inner]
        let strings: [String]
        let map: [String: Int]
        let ratio: Double

        enum CodingKeys: String, CodingKey {
            case name, count, negative, flag, missing, present, inner, list, strings, map, ratio
            case optionalInner = "optional_inner"
        }
    }

    let sample = Outer(name: "quote \" slash \\ nl \n", count: .max, negative: -3, flag: true, missing: nil, present: 7,
                       inner: Inner(z: 1, a: "x"), optionalInner: nil, list: [Inner(z: 2, a: "y")], strings: ["b", "a"],
                       map: ["b": 2, "a": 1, "é": 3, "B": 0], ratio: 0.25)

    @Test func membersAreSortedAndNilIsWrittenAsNull() throws {
        let text = try JSONWriter.encode(sample)
        #expect(text == #"{"count":18446744073709551615,"flag":true,"inner":{"a":"x","z":1},"list":[{"a":"y","z":2}],"# +
            #""map":{"B":0,"a":1,"b":2,"é":3},"missing":null,"name":"quote \" slash \\ nl \n","negative":-3,"# +
            #""optional_inner":null,"present":7,"ratio":0.25,"strings":["b","a"]}"#)
        #expect(try JSONWriter.encode(sample) == text, "the same value is the same bytes")
    }

    @Test func foundationReadsWhatItWrites() throws {
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(try JSONWriter.encode(sample).utf8)) as? [String: Any])
        #expect(parsed["name"] as? String == sample.name)
        #expect(parsed["missing"] is NSNull)
        #expect((parsed["map"] as? [String: Int])?["é"] == 3)
    }

    @Test func aNonFiniteNumberIsAnError() {
        struct Bad: Encodable { let value: Double }
        #expect(throws: EncodingError.self) { try JSONWriter.encode(Bad(value: .infinity)) }
        #expect(throws: EncodingError.self) { try JSONWriter.encode([Double.nan]) }
    }

    /// A body built from two types (ensure's answer: the key's members and `next` beside them).
    @Test func twoKeyedContainersOnOneEncoderMakeOneObject() throws {
        struct Merged: Encodable {
            enum Keys: String, CodingKey { case extra }
            func encode(to encoder: any Encoder) throws {
                try Inner(z: 9, a: "m").encode(to: encoder)
                var container = encoder.container(keyedBy: Keys.self)
                try container.encode("e", forKey: .extra)
            }
        }
        #expect(try JSONWriter.encode(Merged()) == #"{"a":"m","extra":"e","z":9}"#)
    }

    @Test func aMemberWrittenTwiceIsAnError() {
        struct Twice: Encodable {
            enum Keys: String, CodingKey { case a }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: Keys.self)
                try container.encode(1, forKey: .a)
                try container.encode(2, forKey: .a)
            }
        }
        #expect(throws: EncodingError.self) { try JSONWriter.encode(Twice()) }
    }

    @Test func scalarsAtTheTop() throws {
        #expect(try JSONWriter.encode("a\u{01}") == #""a\u0001""#)
        #expect(try JSONWriter.encode(42) == "42")
        #expect(try JSONWriter.encode(false) == "false")
        #expect(try JSONWriter.encode([String?.none, "x"]) == #"[null,"x"]"#)
    }
}
