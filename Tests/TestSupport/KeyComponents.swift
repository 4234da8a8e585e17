import Core
import Crypto

/// The components of a key, or nil when it is of the other family, for `#require` in tests
/// (a pattern match that returned early on a miss would pass without asserting).
extension PublicKey {
    public var ecPoint: (x: [UInt8], y: [UInt8])? {
        if case .ec(_, let x, let y) = parameters { return (x, y) }
        return nil
    }

    public var rsaComponents: (n: [UInt8], e: [UInt8])? {
        if case .rsa(let n, let e) = parameters { return (n, e) }
        return nil
    }
}

extension JWK {
    public var rsaComponents: (n: [UInt8], e: [UInt8])? {
        if case .rsa(let n, let e) = material { return (n, e) }
        return nil
    }
}
