import Crypto
import Foundation

/// A SPIRE server publishing a key it minted itself, so relying parties find it in the JWKS.
public struct PublishRequest: Sendable {
    public var publicKey: PublicKey
    public var notAfter: Date
    public var serverID: String
    /// When given, the write is refused unless this fencing token is still the latest.
    public var fence: Fence?

    public init(publicKey: PublicKey, notAfter: Date, serverID: String, fence: Fence? = nil) {
        self.publicKey = publicKey
        self.notAfter = notAfter
        self.serverID = serverID
        self.fence = fence
    }
}
