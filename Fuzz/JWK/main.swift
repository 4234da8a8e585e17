// libFuzzer entry for `JWK.parse`. Built outside SwiftPM by scripts/fuzz.sh over
// Sources/Crypto, the Core key files and this file.
//
// Beyond "no crash, no sanitizer report": a JWK that parses re-encodes to JSON that parses
// to the same JWK, and when it yields a key, that key's own JWK carries the same material
// (what relying parties see is what was submitted).
import Core
import Crypto

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let jwk = try? JWK.parse(input) else { return 0 }
    guard let again = try? JWK.parse(Array(jwk.json.utf8)) else {
        preconditionFailure("the encoding of a parsed JWK does not parse: \(jwk.json)")
    }
    precondition(again == jwk, "JWK encoding round trip changed it")
    if let key = try? jwk.publicKey() {
        let published = JWK(publicKey: key, kid: jwk.kid, alg: jwk.alg)
        guard let back = try? published.publicKey() else { preconditionFailure("a published JWK does not yield its key") }
        precondition(back == key, "key → JWK → key changed the key")
    }
    return 0
}
