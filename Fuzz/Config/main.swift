// libFuzzer entry for the config loader. Built outside SwiftPM by scripts/fuzz.sh over
// Sources/Service/Config, the Core model files it names, and this file.
//
// Each input is written to a config file and loaded the way `keycoord serve --config`
// loads it: any content must end in a config or a `ConfigError`, never a crash. The
// input is also read as a duration: a duration that parses must print and parse back to
// itself.
import Foundation
import Service

let configPath = NSTemporaryDirectory() + "keycoord-fuzz-config-\(getpid()).json"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    if let text = String(data: bytes, encoding: .utf8), let duration = DurationFormat.parse(text) {
        let printed = DurationFormat.format(duration)
        precondition(DurationFormat.parse(printed) == duration, "\(text) → \(printed) does not parse back")
    }
    // An empty file is skipped: Foundation's FileManager.contents(atPath:) leaks its read
    // buffer for an empty file, which LeakSanitizer would report on every run.
    guard size > 0, FileManager.default.createFile(atPath: configPath, contents: bytes) else { return 0 }
    do {
        _ = try ConfigLoader.load(file: configPath, environment: [:], flags: [:])
    } catch is ConfigError {
    } catch {
        preconditionFailure("the config loader threw \(type(of: error)), not a ConfigError: \(error)")
    }
    return 0
}
