import Foundation

/// Whole-file creation that readers never see half done: temp file in the same
/// directory, write, fsync, link into place, fsync the directory.
enum AtomicFile {
    /// Creates `path` with `bytes` unless it already exists; never overwrites, so several
    /// processes starting at once agree on one content. Returns false when it existed.
    static func createExclusive(_ bytes: [UInt8], at path: String, mode: mode_t) throws -> Bool {
        let temp = try writeTemp(bytes, beside: path, mode: mode)
        defer { unlink(temp) }
        if link(temp, path) == 0 {
            syncDirectory(of: path)
            return true
        }
        if errno == EEXIST { return false }
        throw ConfigError("cannot create \(path): \(String(cString: strerror(errno)))")
    }

    private static func writeTemp(_ bytes: [UInt8], beside path: String, mode: mode_t) throws -> String {
        let directory = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let temp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ConfigError("cannot create \(temp): \(String(cString: strerror(errno)))") }
        var ok = true
        var offset = 0
        bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; ok = false; break }
                offset += n
            }
        }
        if ok { ok = fsync(fd) == 0 }
        close(fd)
        guard ok else {
            unlink(temp)
            throw ConfigError("cannot write \(temp): \(String(cString: strerror(errno)))")
        }
        return temp
    }

    private static func syncDirectory(of path: String) {
        let parent = (path as NSString).deletingLastPathComponent
        let dfd = open(parent.isEmpty ? "." : parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}
