#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file replacement that readers and crashes observe as all-or-nothing.
///
/// The content goes to a hidden temporary file in the same directory (`.<name>.tmp-<random>`),
/// which is written, fsync'd and renamed over the target; then the directory is fsync'd so
/// the rename itself survives a power loss. `rename(2)` is atomic, so a process killed at
/// any moment leaves either the previous or the new file, never a mix. A kill between
/// create and rename can leave a temporary file behind; its name starts with a dot and
/// readers of the directory skip it.
public enum AtomicFile {
    /// Replaces `path` with `bytes`; the file ends with exactly `mode`.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws {
        let (directory, name) = PrivateDirectory.split(path)
        let temporary = "\(directory)/.\(name).tmp-\(String(UInt64.random(in: .min ... .max), radix: 16))"
        do {
            let file = try OpenFile.open(temporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: mode)
            try file.writeAll(bytes)
            try file.sync()
            guard rename(temporary, path) == 0 else { throw FileError.current("rename onto \(path) from", path: temporary) }
        } catch {
            _ = unlink(temporary)
            throw error
        }
        try PrivateDirectory.sync(directory)
    }

    /// The content of `path`, or nil when it does not exist.
    public static func read(_ path: String, limit: Int = 64 << 20) throws -> [UInt8]? {
        guard let file = try OpenFile.openIfExists(path) else { return nil }
        return try file.readAll(limit: limit)
    }

    /// Removes `path`; an absent file is not an error. The directory is fsync'd so the
    /// removal is durable.
    public static func remove(_ path: String) throws {
        if unlink(path) != 0 {
            guard errno == ENOENT else { throw FileError.current("unlink", path: path) }
            return
        }
        try PrivateDirectory.sync(PrivateDirectory.split(path).directory)
    }
}
