// libFuzzer entry for the request-body JSON reader (Sources/Service/Support/JSONReader.swift),
// built outside SwiftPM by scripts/fuzz.sh.
//
// Beyond "no crash, no sanitizer report":
// - the reader is stricter than JSONSerialization, never looser: whatever it accepts,
//   JSONSerialization accepts too, with the same top-level kind;
// - what it accepts is made only of the types its callers expect.
import Foundation

func check(_ value: Any, depth: Int = 0) {
    precondition(depth <= JSONReader.maxDepth + 1, "nesting beyond the limit came through")
    switch value {
    case is String, is Bool, is Int64, is Double, is JSONReader.Null: break
    case let array as [Any]: array.forEach { check($0, depth: depth + 1) }
    case let object as [String: Any]: object.values.forEach { check($0, depth: depth + 1) }
    default: preconditionFailure("unexpected type \(type(of: value))")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSONReader.parse(bytes) else { return 0 }
    check(value)
    guard let foundation = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else {
        preconditionFailure("accepted what JSONSerialization refuses")
    }
    precondition((value is [String: Any]) == (foundation is [String: Any]), "objects disagree")
    precondition((value is [Any]) == (foundation is [Any]), "arrays disagree")
    return 0
}
