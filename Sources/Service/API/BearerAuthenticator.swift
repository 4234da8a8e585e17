import Crypto
import Foundation
import HTTP
import HTTPTypes
import Synchronization

/// Checks `Authorization: Bearer <token>` against the tokens in a file (one per line,
/// `#` comments allowed), re-read when the file changes so tokens rotate without a
/// restart. Comparison is constant-time; tokens are never logged — a caller is named by
/// a short hash of its token.
public final class BearerAuthenticator: Sendable {
    private struct Loaded: Sendable {
        var stamp: FileStamp
        var tokens: [[UInt8]]
    }

    private let path: String
    private let loaded: Mutex<Loaded>

    public init(tokenFile: String) throws {
        self.path = tokenFile
        let (stamp, tokens) = try Self.read(tokenFile)
        self.loaded = Mutex(Loaded(stamp: stamp, tokens: tokens))
    }

    /// Creates `path` with a fresh random token (mode 0600) unless it exists.
    /// Returns true when it wrote a new file.
    @discardableResult
    public static func generateIfMissing(at path: String) throws -> Bool {
        if FileManager.default.fileExists(atPath: path) { return false }
        return try AtomicFile.createExclusive(Array((SecureRandom.hexToken(bytes: 32) + "\n").utf8), at: path, mode: 0o600)
    }

    /// The caller's identity when the request carries a valid token.
    public func authenticate(_ request: HTTPServerRequest) throws -> String {
        guard let header = request.headerFields[.authorization] else {
            throw APIError(.unauthorized, "unauthenticated", "Authentication required",
                           "send Authorization: Bearer <token> (the token is in the control token file)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError(.unauthorized, "unauthenticated", "Authentication required", "the Authorization header must use the Bearer scheme")
        }
        let presented = Array(parts[1].trimmingCharacters(in: .whitespaces).utf8)
        let tokens = currentTokens()
        var matched = false
        for token in tokens where constantTimeEquals(token, presented) { matched = true }
        guard matched else {
            throw APIError(.unauthorized, "unauthenticated", "Authentication required", "the bearer token is not valid")
        }
        return "token:" + Hex.encode(Digest.sha256(presented).prefix(4))
    }

    private func currentTokens() -> [[UInt8]] {
        let stamp = FileStamp(path: path)
        return loaded.withLock { state in
            if stamp != state.stamp, let (newStamp, tokens) = try? Self.read(path) {
                state = Loaded(stamp: newStamp, tokens: tokens)
            }
            return state.tokens
        }
    }

    private static func read(_ path: String) throws -> (FileStamp, [[UInt8]]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("control token file \(path) cannot be read")
        }
        let tokens = String(decoding: data, as: UTF8.self)
            .split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            .map { Array($0.utf8) }
        guard !tokens.isEmpty else { throw ConfigError("control token file \(path) holds no token") }
        if let short = tokens.first(where: { $0.count < 16 }) {
            throw ConfigError("control token file \(path) holds a token of \(short.count) characters; use at least 16")
        }
        return (FileStamp(path: path), tokens)
    }
}

/// Identity of a file's content for change detection: inode, size and mtime.
struct FileStamp: Equatable, Sendable {
    var inode: UInt64 = 0
    var size: Int64 = -1
    var mtimeNanos: Int64 = 0

    init(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        mtimeNanos = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }
}
