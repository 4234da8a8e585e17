import FileSupport
import Foundation
import TestSupport
import Testing

/// What a file's identity notices: a rename over it, an in-place write, a link swap.
@Suite struct FileIdentityTests {
    @Test func renameAndInPlaceWriteChangeTheIdentity() throws {
        let directory = try TemporaryDirectory("file-identity")
        defer { directory.remove() }
        let path = directory.file("f")
        #expect(try FileIdentity.of(path) == nil)
        try AtomicFile.write(Array("one".utf8), to: path)
        let first = try #require(try FileIdentity.of(path))
        #expect(try FileIdentity.of(path) == first)
        try AtomicFile.write(Array("one".utf8), to: path)
        let renamed = try #require(try FileIdentity.of(path))
        #expect(renamed.inode != first.inode, "a rename over the file gives a new inode")
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data("+".utf8))
        try handle.close()
        #expect(try FileIdentity.of(path) != renamed, "an in-place write changes size and mtime")
    }

    @Test func followingLinksSeesWhatTheNameResolvesTo() throws {
        let directory = try TemporaryDirectory("file-identity")
        defer { directory.remove() }
        try AtomicFile.write([1], to: directory.file("a"))
        try AtomicFile.write([2, 2], to: directory.file("b"))
        try FileManager.default.createSymbolicLink(atPath: directory.file("link"), withDestinationPath: "a")
        let own = try FileIdentity.of(directory.file("link"))
        let target = try FileIdentity.of(directory.file("link"), followingLinks: true)
        #expect(target == (try FileIdentity.of(directory.file("a"))))
        #expect(own != target)

        try FileManager.default.createSymbolicLink(atPath: directory.file("link.new"), withDestinationPath: "b")
        #expect(rename(directory.file("link.new"), directory.file("link")) == 0)
        #expect(try FileIdentity.of(directory.file("link"), followingLinks: true) == (try FileIdentity.of(directory.file("b"))))
        try FileManager.default.removeItem(atPath: directory.file("b"))
        #expect(try FileIdentity.of(directory.file("link"), followingLinks: true) == nil, "a dangling link has no target")
    }
}
