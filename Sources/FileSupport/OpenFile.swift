#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file descriptor, closed when the last reference goes away.
///
/// Every open uses `O_CLOEXEC` (no descriptor leaks into child processes) and, unless a
/// caller asks otherwise, `O_NOFOLLOW`, so a symlink planted in a state directory is
/// refused instead of followed. The descriptor is immutable; the kernel makes concurrent
/// calls on it safe, so the type is `Sendable`.
public final class OpenFile: Sendable {
    public let descriptor: Int32
    public let path: String

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { _ = systemClose(descriptor) }

    /// Opens `path` with `flags`; files it creates get exactly `mode` (umask does not apply).
    public static func open(_ path: String, flags: Int32, mode: mode_t = 0o600, followSymlinks: Bool = false) throws -> OpenFile {
        let allFlags = flags | O_CLOEXEC | (followSymlinks ? 0 : O_NOFOLLOW)
        var fd: Int32
        repeat { fd = systemOpen(path, allFlags, mode) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw FileError.current("open", path: path) }
        let file = OpenFile(descriptor: fd, path: path)
        if flags & O_CREAT != 0 {
            let info = try file.status()
            if info.st_uid == geteuid(), info.st_mode & 0o7777 != mode, fchmod(fd, mode) != 0 {
                throw FileError.current("chmod", path: path)
            }
        }
        return file
    }

    /// Opens `path` for reading, or returns nil when it does not exist.
    public static func openIfExists(_ path: String, flags: Int32 = O_RDONLY) throws -> OpenFile? {
        do {
            return try open(path, flags: flags)
        } catch let error as FileError where error.isNotFound {
            return nil
        }
    }

    /// The whole file from offset 0. Refuses files larger than `limit` bytes, so a
    /// tampered file cannot exhaust memory.
    public func readAll(limit: Int = 64 << 20) throws -> [UInt8] {
        let size = Int(try status().st_size)
        guard size <= limit else { throw FileError("read (file larger than \(limit) bytes)", path: path, code: EFBIG) }
        var out = [UInt8](repeating: 0, count: max(size, 0) + 1)
        var total = 0
        while true {
            if total == out.count {
                guard out.count <= limit else { throw FileError("read (file larger than \(limit) bytes)", path: path, code: EFBIG) }
                out.append(contentsOf: [UInt8](repeating: 0, count: out.count))
            }
            let n = out.withUnsafeMutableBytes { raw in
                pread(descriptor, raw.baseAddress! + total, raw.count - total, off_t(total))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.current("read", path: path)
            }
            if n == 0 { break }
            total += n
        }
        return Array(out.prefix(total))
    }

    /// Writes every byte at the current offset, retrying short writes.
    public func writeAll(_ bytes: [UInt8]) throws {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                write(descriptor, raw.baseAddress! + written, raw.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.current("write", path: path)
            }
            written += n
        }
    }

    /// Flushes data and metadata to stable storage.
    public func sync() throws {
        guard fsync(descriptor) == 0 else { throw FileError.current("fsync", path: path) }
    }

    public func status() throws -> stat {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw FileError.current("stat", path: path) }
        return info
    }

    /// Identity of the open file, for caches that must notice replacement by rename.
    public func identity() throws -> FileIdentity { FileIdentity(try status()) }

    /// Takes a `flock` without waiting. Returns false when another open file description
    /// (in this or any other process) holds a conflicting lock.
    public func tryLock(exclusive: Bool) throws -> Bool {
        while true {
            if flock(descriptor, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 { return true }
            switch errno {
            case EINTR: continue
            case EWOULDBLOCK: return false
            default: throw FileError.current("flock", path: path)
            }
        }
    }

    /// Takes an exclusive `flock`, blocking the calling thread until it is granted.
    public func lockExclusive() throws {
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw FileError.current("flock", path: path) }
        }
    }

    /// Drops this descriptor's `flock` now, even if other references keep it open.
    public func unlock() {
        _ = flock(descriptor, LOCK_UN)
    }
}

// The type's own `open` shadows the C function inside it; these reach the system calls.
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func systemClose(_ fd: Int32) -> Int32 { close(fd) }
