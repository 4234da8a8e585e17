import Foundation
@testable import Service
import Synchronization
import TestSupport
import Testing

/// Token files as operators and Kubernetes rewrite them: the kubelet's atomic writer
/// layout, and rewrites that must fail closed.
@Suite struct TokenFileTests {
    let old = "token-a-0123456789abcdef"
    let new = "token-b-0123456789abcdef"

    /// Records what `onRefused` reported.
    final class Refusals: Sendable {
        let reasons = Mutex<[String]>([])
        var count: Int { reasons.withLock { $0.count } }
        func record(_ path: String, _ reason: String) { reasons.withLock { $0.append(reason) } }
    }

    func accepts(_ file: TokenFile, _ token: String) -> Bool { file.callerID(Array(token.utf8)) != nil }

    /// The layout kubelet's atomic writer gives a Secret volume: `token → ..data/token`,
    /// `..data → ..<timestamp>`; an update writes a new timestamped directory, swaps the
    /// `..data` link by rename and deletes the old directory.
    @Test func followsAKubeletSecretVolumeSwap() throws {
        let volume = try TemporaryDirectory("token-volume")
        defer { volume.remove() }
        let fm = FileManager.default
        try fm.createDirectory(atPath: volume.file("..2026_01_01_a"), withIntermediateDirectories: false)
        try "\(old)\n".write(toFile: volume.file("..2026_01_01_a/token"), atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: volume.file("..data"), withDestinationPath: "..2026_01_01_a")
        try fm.createSymbolicLink(atPath: volume.file("token"), withDestinationPath: "..data/token")
        let file = try TokenFile(path: volume.file("token"))
        #expect(accepts(file, old))
        #expect(!accepts(file, new))

        try fm.createDirectory(atPath: volume.file("..2026_01_01_b"), withIntermediateDirectories: false)
        try "\(new)\n".write(toFile: volume.file("..2026_01_01_b/token"), atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: volume.file("..data_tmp"), withDestinationPath: "..2026_01_01_b")
        #expect(rename(volume.file("..data_tmp"), volume.file("..data")) == 0)
        try fm.removeItem(atPath: volume.file("..2026_01_01_a"))

        #expect(accepts(file, new), "the token the swapped volume holds works")
        #expect(!accepts(file, old), "the token removed with the old directory no longer works")
        #expect(file.status == .loaded(tokens: 1))
    }

    @Test(arguments: [
        ("a short line beside a valid token", "token-b-0123456789abcdef\nshort\n"),
        ("an empty file", ""),
        ("only comments", "# rotated\n\n"),
    ])
    func aRefusedRewriteFailsClosed(_ what: String, _ contents: String) throws {
        let directory = try TemporaryDirectory("token-file")
        defer { directory.remove() }
        let path = directory.file("tokens")
        try "\(old)\n".write(toFile: path, atomically: true, encoding: .utf8)
        let refusals = Refusals()
        let file = try TokenFile(path: path, onRefused: refusals.record)
        #expect(accepts(file, old))

        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(!accepts(file, old), "\(what): the removed token must stop working")
        #expect(!accepts(file, new), "\(what): a refused file grants nothing")
        let refused = if case .refused = file.status { true } else { false }
        #expect(refused, "\(what): status is \(file.status)")
        #expect(!accepts(file, old))
        #expect(refusals.count == 1, "\(what): one report per refused version, not per request")

        try "\(new)\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(accepts(file, new), "a valid file is taken again")
        #expect(file.status == .loaded(tokens: 1))
    }

    @Test func aDeletedFileFailsClosed() throws {
        let directory = try TemporaryDirectory("token-file")
        defer { directory.remove() }
        let path = directory.file("tokens")
        try "\(old)\n".write(toFile: path, atomically: true, encoding: .utf8)
        let refusals = Refusals()
        let file = try TokenFile(path: path, onRefused: refusals.record)
        try FileManager.default.removeItem(atPath: path)
        #expect(!accepts(file, old))
        #expect(!accepts(file, old))
        #expect(refusals.count == 1)
        let reason = try #require(refusals.reasons.withLock { $0.first })
        #expect(reason.contains("cannot be read"), "\(reason)")
    }

    @Test func aBadFileAtStartIsAnError() throws {
        let directory = try TemporaryDirectory("token-file")
        defer { directory.remove() }
        try "short\n".write(toFile: directory.file("tokens"), atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try TokenFile(path: directory.file("tokens")) }
    }
}
