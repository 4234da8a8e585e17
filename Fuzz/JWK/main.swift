// libFuzzer entry for `JWK.parse`. Built outside SwiftPM by scripts/fuzz.sh over
// Sources/Crypto, the Core key files and this file.
//
// Beyond "no crash, no sanitizer report": a JWK that parses re-encodes to JSON that parses
// to the same JWK, and when it yields a key, that key's own JWK carries the same material
// (what relying parties see is what was submitted).
import Core
import Crypto
import Foundation

/// Reports a broken property and aborts; -O builds drop `precondition` messages.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("property failed: \(message)\n".utf8))
    abort()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let jwk = try? JWK.parse(input) else { return 0 }
    let again: JWK
    do {
        again = try JWK.parse(Array(jwk.json.utf8))
    } catch {
        fail("the encoding of a parsed JWK does not parse: \(error): \(jwk.json)")
    }
    if again != jwk { fail("JWK encoding round trip changed it: \(jwk.json)") }
    guard let key = try? jwk.publicKey() else { return 0 }
    let published = JWK(publicKey: key, kid: jwk.kid, alg: jwk.alg)
    do {
        let back = try published.publicKey()
        if back != key { fail("key → JWK → key changed the key") }
    } catch {
        // OpenSSL's RSA public check is probabilistic (Miller-Rabin with random bases) for
        // some malformed moduli: when the same JWK yields its key on another try, the
        // difference is OpenSSL's, not ours.
        if (0..<64).contains(where: { _ in (try? published.publicKey()) != nil }) { return 0 }
        fail("a published JWK does not yield its key: \(error)")
    }
    return 0
}
