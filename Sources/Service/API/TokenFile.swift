import Crypto
import FileSupport
import Foundation
import Synchronization

/// Bearer tokens from a file, one per line (`#` comments and blank lines allowed), re-read
/// when the file the name resolves to changes, so tokens rotate without a restart: put the
/// new token beside the old one, move clients over, remove the old one. Comparison is
/// constant-time.
///
/// A rewrite the file cannot be read from (missing, empty, a token under 16 characters)
/// fails closed: no token of the file is accepted until a valid file replaces it, so a
/// token an operator removed never keeps working because the new file was refused. Each
/// refused version is reported once through `onRefused` (a log line and a metric) and
/// stays visible in `status` (`/readyz`).
final class TokenFile: Sendable {
    /// Whether the file's current version is in force.
    enum Status: Sendable, Equatable {
        case loaded(tokens: Int)
        case refused(String)
    }

    private struct Loaded: Sendable {
        var identity: FileIdentity?
        var tokens: [[UInt8]]
        /// Per token, the caller id logs show for it: `token:` + 8 hex digits of its SHA-256.
        var ids: [String]
        var refusal: String?
    }

    let path: String
    private let loaded: Mutex<Loaded>
    private let onRefused: @Sendable (_ path: String, _ reason: String) -> Void

    /// Reads the file; throws when it is unusable, so a bad configuration fails at start.
    init(path: String, onRefused: @escaping @Sendable (_ path: String, _ reason: String) -> Void = { _, _ in }) throws {
        self.path = path
        self.onRefused = onRefused
        let identity = try? FileIdentity.of(path, followingLinks: true)
        self.loaded = Mutex(try Self.read(path, identity: identity))
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

    /// The state of the file's current version (re-read first if it changed).
    var status: Status {
        let current = currentTokens()
        return current.refusal.map(Status.refused) ?? .loaded(tokens: current.tokens.count)
    }

    private func currentTokens() -> Loaded {
        let identity = try? FileIdentity.of(path, followingLinks: true)
        var refusal: String?
        let current = loaded.withLock { state in
            guard identity != state.identity else { return state }
            do {
                state = try Self.read(path, identity: identity)
            } catch {
                state = Loaded(identity: identity, tokens: [], ids: [], refusal: "\(error)")
                refusal = state.refusal
            }
            return state
        }
        if let refusal { onRefused(path, refusal) }
        return current
    }

    private static func read(_ path: String, identity: FileIdentity?) throws -> Loaded {
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
        return Loaded(identity: identity, tokens: tokens,
                      ids: tokens.map { "token:" + Hex.encode(Digest.sha256($0).prefix(4)) }, refusal: nil)
    }
}
