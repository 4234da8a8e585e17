import Core
import Foundation
import Service
import TestSupport
import XCTest

final class ConfigLoaderTests: XCTestCase {
    func testDefaultsAreTheEmbeddedMode() throws {
        let config = try ConfigLoader.load(file: nil, environment: [:], flags: [:])
        XCTAssertEqual(config.trustDomain, "example.org")
        XCTAssertEqual(config.stateDir, "./keycoord-data")
        XCTAssertEqual(config.publicListen, "127.0.0.1:8080")
        XCTAssertEqual(config.controlListen, "127.0.0.1:8081")
        XCTAssertEqual(config.store, .file)
        XCTAssertEqual(config.backend, .disk)
        XCTAssertEqual(config.kidFormat, .spire)
        XCTAssertEqual(config.keyTypes, [.ecP256])
        XCTAssertEqual(config.keyTTL, .seconds(86_400))
        XCTAssertEqual(config.publishLead, .seconds(900))
        XCTAssertEqual(config.effectiveJWKSMaxAge, .seconds(300))
    }

    func testFlagsBeatEnvironmentWhichBeatsTheFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("keycoord.json")
        try #"{"trust-domain": "file.example", "key-type": ["rsa-2048", "ec-p384"], "key-ttl": "2h", "max-keys": 50}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(
            file: file,
            environment: ["KEYCOORD_TRUST_DOMAIN": "env.example", "KEYCOORD_PUBLISH_LEAD": "10m"],
            flags: ["trust-domain": ["flag.example"]])
        XCTAssertEqual(config.trustDomain, "flag.example")
        XCTAssertEqual(config.publishLead, .seconds(600))
        XCTAssertEqual(config.keyTypes, [.rsa2048, .ecP384])
        XCTAssertEqual(config.keyTTL, .seconds(7200))
        XCTAssertEqual(config.maxKeysPerFamily, 50)
    }

    func testBadValuesNameTheSettingAndTheSource() {
        func message(_ environment: [String: String] = [:], _ flags: [String: [String]] = [:]) -> String {
            do {
                _ = try ConfigLoader.load(file: nil, environment: environment, flags: flags)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(message([:], ["key-ttl": ["soon"]]).contains("flag --key-ttl"))
        XCTAssertTrue(message(["KEYCOORD_KEY_TYPE": "ec-p999"]).contains("KEYCOORD_KEY_TYPE"))
        XCTAssertTrue(message([:], ["publish-lead": ["13h"]]).contains("publish-lead"))
        XCTAssertTrue(message([:], ["grace": ["12h"]]).contains("grace"))
        XCTAssertTrue(message([:], ["trust-domain": ["../etc"]]).contains("trust-domain"))
        XCTAssertTrue(message([:], ["store": ["redis"]]).contains("file, postgres"))
        XCTAssertTrue(message([:], ["nonsense": ["1"]]).contains("unknown setting"))
        XCTAssertTrue(message([:], ["kid-format": ["md5"]]).contains("kid-format"))
        XCTAssertTrue(message([:], ["postgres-pool-size": ["0"]]).contains("postgres-pool-size"))
        XCTAssertTrue(message(["KEYCOORD_POSTGRES_LEASE_SPARES": "-1"]).contains("postgres-lease-spares"))
        XCTAssertTrue(message([:], ["postgres-idle-timeout": ["500ms"]]).contains("postgres-idle-timeout"))
    }

    func testPostgresSessionSettings() throws {
        let defaults = try ConfigLoader.load(file: nil, environment: [:], flags: [:])
        XCTAssertEqual(defaults.postgresPoolSize, 4)
        XCTAssertEqual(defaults.postgresLeaseSpares, 64)
        XCTAssertEqual(defaults.postgresIdleTimeout, .seconds(60))
        let set = try ConfigLoader.load(file: nil, environment: ["KEYCOORD_POSTGRES_LEASE_SPARES": "0"],
                                        flags: ["postgres-pool-size": ["8"], "postgres-idle-timeout": ["5m"]])
        XCTAssertEqual(set.postgresPoolSize, 8)
        XCTAssertEqual(set.postgresLeaseSpares, 0)
        XCTAssertEqual(set.postgresIdleTimeout, .seconds(300))
    }

    func testDurations() {
        XCTAssertEqual(DurationFormat.parse("90s"), .seconds(90))
        XCTAssertEqual(DurationFormat.parse("1h30m"), .seconds(5400))
        XCTAssertEqual(DurationFormat.parse("250ms"), .milliseconds(250))
        XCTAssertEqual(DurationFormat.parse("7d"), .seconds(604_800))
        XCTAssertEqual(DurationFormat.parse("45"), .seconds(45))
        for bad in ["", "h", "1x", "-5s", "1.5h", "1h 30m"] { XCTAssertNil(DurationFormat.parse(bad), bad) }
        // Found by the config fuzzer: these trapped on Int64 overflow instead of being refused.
        for huge in ["55555555555555555m", "9223372036854775807", "9223372036854775807s", "106752d",
                     "36500d1ms", String(repeating: "9000000000d", count: 3)] {
            XCTAssertNil(DurationFormat.parse(huge), huge)
        }
        XCTAssertEqual(DurationFormat.parse("36500d"), .seconds(36_500 * 86_400))
        XCTAssertEqual(DurationFormat.format(DurationFormat.parse("36500d")!), "36500d")
        XCTAssertEqual(DurationFormat.format(.seconds(5400)), "1h30m")
        XCTAssertEqual(DurationFormat.format(.seconds(86_400)), "1d")
    }
}
