import FileSupport
import Foundation
import TestSupport
import Testing

/// Whole-file replacement: the mode, no temporary left behind, exclusive creation.
@Suite struct AtomicFileTests {
    @Test func writeReplacesWithTheModeAndLeavesNoTemporary() throws {
        let directory = try TemporaryDirectory("atomic-file")
        defer { directory.remove() }
        let path = directory.file("state.json")
        try AtomicFile.write(Array("one".utf8), to: path, mode: 0o644)
        try AtomicFile.write(Array("two".utf8), to: path)
        #expect(try AtomicFile.read(path) == Array("two".utf8))
        #expect(try ScratchDirectory.permissions(of: path) == 0o600, "the replacement has exactly the mode asked for")
        #expect(try PrivateDirectory.entries(directory.path) == ["state.json"])
    }

    @Test func createExclusiveNeverReplaces() throws {
        let directory = try TemporaryDirectory("atomic-file")
        defer { directory.remove() }
        let path = directory.file("token")
        #expect(try AtomicFile.createExclusive(Array("first".utf8), at: path))
        #expect(try AtomicFile.createExclusive(Array("second".utf8), at: path) == false)
        #expect(try AtomicFile.read(path) == Array("first".utf8))
        #expect(try PrivateDirectory.entries(directory.path) == ["token"])
    }

    @Test func readAndRemoveOfAnAbsentFile() throws {
        let directory = try TemporaryDirectory("atomic-file")
        defer { directory.remove() }
        #expect(try AtomicFile.read(directory.file("absent")) == nil)
        try AtomicFile.remove(directory.file("absent"))
    }

    @Test func readRefusesPastItsLimit() throws {
        let directory = try TemporaryDirectory("atomic-file")
        defer { directory.remove() }
        let path = directory.file("big")
        try AtomicFile.write(Array(repeating: 0x61, count: 100), to: path)
        #expect(throws: FileError.self) { try AtomicFile.read(path, limit: 99) }
        #expect(try AtomicFile.read(path, limit: 100)?.count == 100)
    }

    @Test func aMissingDirectoryIsAFileErrorNamingThePath() throws {
        let directory = try TemporaryDirectory("atomic-file")
        defer { directory.remove() }
        let path = directory.file("missing/state.json")
        let error = try #require(throws: FileError.self) { try AtomicFile.write([1], to: path) }
        #expect(error.isNotFound)
        #expect(error.description.contains(directory.file("missing")), "\(error)")
    }
}
