// libFuzzer entry for `PublicKeyInput.parse` (PEM, DER, base64 DER, JWK). Built outside
// SwiftPM by scripts/fuzz.sh over Sources/Crypto, the Core key files and this file.
//
// Beyond "no crash, no sanitizer report", a key that parses must round-trip: its PEM, its
// DER and its JWK each parse back to the same key, so what keycoord stores and publishes
// is exactly what it was given.
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
    guard let key = try? PublicKeyInput.parse(input) else { return 0 }
    for (form, bytes) in [("PEM", Array(key.pem.utf8)), ("DER", key.der),
                          ("JWK", Array(JWK(publicKey: key, kid: nil, alg: nil).json.utf8))] {
        do {
            let again = try PublicKeyInput.parse(bytes)
            if again != key { fail("the \(form) round trip changed the key") }
        } catch {
            // OpenSSL's RSA public check is probabilistic (Miller-Rabin with random bases)
            // for some malformed moduli: when the same bytes parse on another try, the key
            // sits on that edge and the difference is OpenSSL's, not ours.
            if (0..<64).contains(where: { _ in (try? PublicKeyInput.parse(bytes)) != nil }) { return 0 }
            fail("the \(form) of a parsed key does not parse: \(error)")
        }
    }
    return 0
}
