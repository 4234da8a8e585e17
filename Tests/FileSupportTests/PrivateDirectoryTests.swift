import FileSupport
import Foundation
import TestSupport
import Testing

/// 0700 directories whatever the umask, path splitting, listing.
@Suite struct PrivateDirectoryTests {
    @Test func createMakesParentsWithMode0700WhateverTheUmask() throws {
        let directory = try TemporaryDirectory("private-directory")
        defer { directory.remove() }
        let previous = umask(0)
        defer { umask(previous) }
        let nested = directory.file("a/b/c")
        try PrivateDirectory.create(nested)
        for path in [directory.file("a"), directory.file("a/b"), nested] {
            #expect(try ScratchDirectory.permissions(of: path) == 0o700, "\(path)")
        }
        try PrivateDirectory.create(nested)
    }

    @Test func anExistingDirectoryKeepsItsModeAndAFileIsRefused() throws {
        let directory = try TemporaryDirectory("private-directory")
        defer { directory.remove() }
        let shared = directory.file("shared")
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o750])
        try PrivateDirectory.create(shared)
        #expect(try ScratchDirectory.permissions(of: shared) == 0o750, "an operator's choice is kept")
        try AtomicFile.write([1], to: directory.file("file"))
        #expect(throws: FileError.self) { try PrivateDirectory.create(directory.file("file")) }
    }

    @Test(arguments: [("a/b", "a", "b"), ("b", ".", "b"), ("/b", "/", "b"), ("a/b/", "a", "b"), ("/a/b//", "/a", "b")])
    func split(_ path: String, _ directory: String, _ name: String) {
        let parts = PrivateDirectory.split(path)
        #expect(parts.directory == directory && parts.name == name, "\(path) → \(parts)")
    }

    @Test func entriesOfAMissingDirectoryAreEmpty() throws {
        let directory = try TemporaryDirectory("private-directory")
        defer { directory.remove() }
        #expect(try PrivateDirectory.entries(directory.file("none")) == [])
        try AtomicFile.write([1], to: directory.file("x"))
        #expect(try PrivateDirectory.entries(directory.path) == ["x"])
        #expect(try PrivateDirectory.canonical(directory.path + "/.") == PrivateDirectory.canonical(directory.path))
    }
}
