#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which file a path names and which version of it: an atomic rename gives a new inode,
/// an in-place write a new mtime or size. Lets readers skip re-parsing unchanged files.
public struct FileIdentity: Sendable, Equatable {
    public let device: UInt64
    public let inode: UInt64
    public let size: Int64
    public let modifiedSeconds: Int64
    public let modifiedNanoseconds: Int64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        #if os(Linux)
        modifiedSeconds = Int64(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int64(info.st_mtim.tv_nsec)
        #else
        modifiedSeconds = Int64(info.st_mtimespec.tv_sec)
        modifiedNanoseconds = Int64(info.st_mtimespec.tv_nsec)
        #endif
    }

    /// The identity of the file at `path`, or nil if there is none. With `followingLinks`
    /// it is the identity of the file the name resolves to: Kubernetes' atomic writer
    /// (Secret and ConfigMap volumes) swaps a `..data` symlink two links away from the
    /// visible name, whose own `lstat` never changes.
    public static func of(_ path: String, followingLinks: Bool = false) throws -> FileIdentity? {
        var info = stat()
        if (followingLinks ? stat(path, &info) : lstat(path, &info)) == 0 { return FileIdentity(info) }
        if errno == ENOENT { return nil }
        throw FileError.current("stat", path: path)
    }
}
