import Core

/// An error answer of a cloud API, classified by the cloud's client so that retry rules
/// and error wording can be written once for every cloud.
public protocol CloudServiceError: Error, Sendable, CustomStringConvertible {
    /// What the failure is, in keycoord's terms.
    var kind: BackendError.Kind { get }
    /// The wait the cloud asked for (`Retry-After`, retry info), if it gave one.
    var retryAfter: Duration? { get }
    /// The cloud's own message, quoted to operators as is.
    var serviceMessage: String { get }
}
