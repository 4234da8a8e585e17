#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Directories only this user may enter (mode 0700), and the directory-level calls the
/// durable file operations need.
public enum PrivateDirectory {
    /// Creates `path` and any missing parents with mode 0700. Existing directories are left
    /// as they are (an operator may have chosen their mode); a non-directory is an error.
    public static func create(_ path: String) throws {
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw FileError("create directory (not a directory)", path: path, code: ENOTDIR) }
            return
        }
        guard errno == ENOENT else { throw FileError.current("stat", path: path) }
        let parent = split(path).directory
        if parent != path { try create(parent) }
        if mkdir(path, 0o700) != 0 {
            guard errno == EEXIST else { throw FileError.current("mkdir", path: path) }
            return
        }
        // mkdir applies the umask; 0700 must hold whatever the umask.
        guard chmod(path, 0o700) == 0 else { throw FileError.current("chmod", path: path) }
    }

    /// fsync of the directory itself, which makes a rename, create or unlink in it durable.
    public static func sync(_ path: String) throws {
        let directory = try OpenFile.open(path, flags: O_RDONLY | O_DIRECTORY)
        try directory.sync()
    }

    /// Names in `path` (without `.` and `..`), or an empty list when it does not exist.
    public static func entries(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw FileError.current("opendir", path: path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    String(cString: $0)
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The absolute, symlink-free form of an existing directory.
    public static func canonical(_ path: String) throws -> String {
        guard let resolved = realpath(path, nil) else { throw FileError.current("realpath", path: path) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Splits a path into its directory and last component (`"a/b"` → `("a", "b")`,
    /// `"b"` → `(".", "b")`, `"/b"` → `("/", "b")`).
    public static func split(_ path: String) -> (directory: String, name: String) {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return (".", String(trimmed)) }
        let directory = trimmed[..<slash]
        return (directory.isEmpty ? "/" : String(directory), String(trimmed[trimmed.index(after: slash)...]))
    }
}
