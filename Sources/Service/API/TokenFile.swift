import Crypto
import FileSupport
import Foundation
import Synchronization

/// Bearer tokens from a file, one per line (`#` comments and blank lines allowed), re-read
/// when the file changes so tokens rotate without a restart: put the new token beside the
/// old one, move clients over, remove the old one. Comparison is constant-time.
final class TokenFile: Sendable {
    private struct Loaded: Sendable {
        var identity: FileIdentity?
        var tokens: [[UInt8]]
        /// Per token, the caller id logs show for it: `token:` + 8 hex digits of its SHA-256.
        var ids: [String]
    }

    let path: String
    private let loaded: Mutex<Loaded>

    init(path: String) throws {
        self.path = path
        self.loaded = Mutex(try Self.read(path))
    }

    /// Creates `path` with a fresh random token (mode 0600) unless it exists. Returns true
    /// when it wrote a new file; several processes starting together agree on one token.
    @discardableResult
    static func generateIfMissing(at path: String) throws -> Bool {
        if FileManager.default.fileExists(atPath: path) { return false }
        try PrivateDirectory.create(PrivateDirectory.split(path).directory)
        return try AtomicFile.createExclusive(Array((SecureRandom.hexToken(bytes: 32) + "\n").utf8), at: path, mode: 0o600)
    }

    /// The caller id of `presented` if it is one of the file's tokens, nil if not. Every
    /// token is compared, so the time taken does not tell which one matched.
    func callerID(_ presented: [UInt8]) -> String? {
        let current = currentTokens()
        var matched: Int?
        for (index, token) in current.tokens.enumerated() where constantTimeEquals(token, presented) { matched = index }
        return matched.map { current.ids[$0] }
    }

    private func currentTokens() -> Loaded {
        let identity = try? FileIdentity.of(path)
        return loaded.withLock { state in
            // A file being rewritten may read as empty for a moment: keep the old tokens then.
            if identity != state.identity, let fresh = try? Self.read(path) {
                state = fresh
            }
            return state
        }
    }

    private static func read(_ path: String) throws -> Loaded {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("token file \(path) cannot be read")
        }
        let tokens = String(decoding: data, as: UTF8.self)
            .split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            .map { Array($0.utf8) }
        guard !tokens.isEmpty else { throw ConfigError("token file \(path) holds no token") }
        if let short = tokens.first(where: { $0.count < 16 }) {
            throw ConfigError("token file \(path) holds a token of \(short.count) characters; use at least 16")
        }
        return Loaded(identity: try? FileIdentity.of(path), tokens: tokens,
                      ids: tokens.map { "token:" + Hex.encode(Digest.sha256($0).prefix(4)) })
    }
}
