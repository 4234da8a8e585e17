import FileSupport
import Foundation
import Synchronization

/// The control token the plugin presents, from `token_file`: the file's first token line
/// (`#` comments and blank lines skipped, as the sidecar reads its token file), read again
/// whenever the file the name resolves to changes, so an operator rotates the token
/// without restarting SPIRE.
final class ControlToken: Sendable {
    let path: String
    private let cached = Mutex<(identity: FileIdentity?, token: String)?>(nil)

    init(path: String) {
        self.path = path
    }

    /// Why the token cannot be read.
    struct Unreadable: Error, CustomStringConvertible {
        let description: String
    }

    func current() throws -> String {
        let identity = try? FileIdentity.of(path, followingLinks: true)
        if let cached = cached.withLock({ $0 }), cached.identity == identity, identity != nil { return cached.token }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Unreadable(description: "the token file \(path) cannot be read")
        }
        let token = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .first { !$0.isEmpty && !$0.hasPrefix("#") }
        guard let token else { throw Unreadable(description: "the token file \(path) holds no token") }
        cached.withLock { $0 = (identity, token) }
        return token
    }
}
