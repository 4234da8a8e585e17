import Core
import Foundation

/// Content of `registry/<trust-domain>.json`: one trust domain's records and sequence.
struct RegistryDocument: Codable, Sendable {
    var format: Int = 1
    var trustDomain: String
    var sequence: UInt64
    var records: [KeyRecord]

    var snapshot: RegistrySnapshot { RegistrySnapshot(records: records, sequence: sequence) }
}
