import Core
import Foundation
import Testing
@testable import Backends

/// Each credential source against temp files and a fake of the STS, ECS and IMDS
/// endpoints (Tests/python/aws_fake_metadata.py) on loopback.
@Suite struct AWSCredentialChainTests {
    static let webToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6a2V5Y29vcmQifQ.c2ln"
    static let roleARN = "arn:aws:iam::123456789012:role/keycoord"
    static let ecsToken = "ecs-secret-token"

    struct Fake {
        let helper: AWSTestHelperProcess
        let base: String

        init(lifetime: Int = 3600) async throws {
            let config = try JSONSerialization.data(withJSONObject: [
                "ecs_token": AWSCredentialChainTests.ecsToken, "web_identity_token": AWSCredentialChainTests.webToken,
                "role_arn": AWSCredentialChainTests.roleARN, "lifetime_seconds": lifetime,
            ])
            helper = try await AWSTestHelperProcess.start("aws_fake_metadata.py", arguments: [String(decoding: config, as: UTF8.self)])
            guard let port = helper.readyPort else { throw AWSTestSupport.Failure(description: helper.firstLine) }
            base = "http://127.0.0.1:\(port)"
        }

        struct Logged: Decodable {
            var method: String
            var path: String
            var headers: [String: String]
            var form: [String: String]?
        }

        func log() async throws -> [Logged] {
            let response = try await HTTPClient().send(HTTPClientRequest(method: "GET", url: URL(string: "\(base)/_log")!))
            return try JSONDecoder().decode([Logged].self, from: Data(response.body))
        }
    }

    /// A scratch directory with files, removed afterwards.
    final class Scratch {
        let path: String

        init(files: [String: String] = [:]) throws {
            path = NSTemporaryDirectory() + "keycoord-aws-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            for (name, content) in files {
                try content.write(toFile: "\(path)/\(name)", atomically: true, encoding: .utf8)
            }
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    /// The standard chain over `environment` (HOME pointed at an empty scratch directory
    /// and instance metadata at a closed port unless the test says otherwise).
    func chain(_ environment: [String: String], explicit: AWSCredentials? = nil, scratch: Scratch) throws -> AWSCredentialChain {
        var env = ["HOME": scratch.path, "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"]
        env.merge(environment) { _, new in new }
        let profile = try AWSSharedConfig(profile: nil, environment: env)
        return try AWSCredentialChain.standard(explicit: explicit, profile: profile,
                                               region: AWSEndpoints.region(configured: nil, environment: env, profile: profile),
                                               environment: env, http: HTTPClient(defaultTimeout: 2))
    }

    @Test func explicitThenEnvironmentThenSharedProfile() async throws {
        let scratch = try Scratch(files: [
            "credentials": "[default]\naws_access_key_id = FROMFILE\naws_secret_access_key = file-secret\n",
        ])
        let files = ["AWS_SHARED_CREDENTIALS_FILE": "\(scratch.path)/credentials"]
        let env = files.merging(["AWS_ACCESS_KEY_ID": "FROMENV", "AWS_SECRET_ACCESS_KEY": "env-secret",
                                 "AWS_SESSION_TOKEN": "env-token"]) { a, _ in a }
        let explicit = AWSCredentials(accessKeyID: "EXPLICIT", secretAccessKey: "s")
        #expect(try await chain(env, explicit: explicit, scratch: scratch).credentials() == explicit)
        let fromEnv = try await chain(env, scratch: scratch).credentials()
        #expect(fromEnv == AWSCredentials(accessKeyID: "FROMENV", secretAccessKey: "env-secret", sessionToken: "env-token"))
        #expect(try await chain(files, scratch: scratch).credentials().accessKeyID == "FROMFILE")
        await #expect(throws: AWSError.self) {
            try await chain(["AWS_ACCESS_KEY_ID": "ONLYID"], scratch: scratch).credentials()
        }
    }

    @Test func sharedFilesProfilesAndRegion() async throws {
        let scratch = try Scratch(files: [
            "creds": """
                # comment
                [default]
                aws_access_key_id=DEFAULTKEY
                aws_secret_access_key=default-secret
                [dev]
                aws_access_key_id = DEVKEY
                aws_secret_access_key = dev-secret
                aws_session_token = dev-token
                """,
            "config": """
                [default]
                region = eu-west-1
                [profile dev]
                region = eu-north-1
                [profile cfg]
                ; keys may live in the config file too
                aws_access_key_id = CFGKEY
                aws_secret_access_key = cfg-secret
                region = ca-central-1
                s3 =
                  max_concurrent_requests = 2
                """,
        ])
        let base = ["AWS_SHARED_CREDENTIALS_FILE": "\(scratch.path)/creds", "AWS_CONFIG_FILE": "\(scratch.path)/config",
                    "HOME": scratch.path]
        let defaults = try AWSSharedConfig(profile: nil, environment: base)
        #expect(defaults.settings["aws_access_key_id"] == "DEFAULTKEY")
        #expect(AWSEndpoints.region(configured: nil, environment: base, profile: defaults) == "eu-west-1")
        let dev = try AWSSharedConfig(profile: nil, environment: base.merging(["AWS_PROFILE": "dev"]) { a, _ in a })
        #expect(try await AWSProfileCredentialSource(config: dev).load()
            == AWSCredentials(accessKeyID: "DEVKEY", secretAccessKey: "dev-secret", sessionToken: "dev-token"))
        #expect(AWSEndpoints.region(configured: nil, environment: base, profile: dev) == "eu-north-1")
        #expect(AWSEndpoints.region(configured: nil, environment: base.merging(["AWS_REGION": "us-east-2"]) { a, _ in a },
                                    profile: dev) == "us-east-2")
        let cfg = try AWSSharedConfig(profile: "cfg", environment: base.merging(["AWS_PROFILE": "dev"]) { a, _ in a })
        #expect(cfg.profileName == "cfg")
        #expect(try await AWSProfileCredentialSource(config: cfg).load()?.accessKeyID == "CFGKEY")
        #expect(cfg.settings["max_concurrent_requests"] == nil)
        let missing = try AWSSharedConfig(profile: "nope", environment: base)
        #expect(!missing.found && missing.profileExplicit)
        #expect(throws: CoordinationError.self) {
            try AWSKMSBackend(config: AWSKMSConfig(region: "us-east-1", profile: "nope"), environment: base)
        }
    }

    @Test func webIdentityThroughSTSIsCachedAndRefreshedBeforeExpiry() async throws {
        let fake = try await Fake(lifetime: 120)
        defer { fake.helper.stop() }
        let scratch = try Scratch(files: ["token": Self.webToken + "\n"])
        let env = ["AWS_WEB_IDENTITY_TOKEN_FILE": "\(scratch.path)/token", "AWS_ROLE_ARN": Self.roleARN,
                   "AWS_ROLE_SESSION_NAME": "keycoord-test", "AWS_ENDPOINT_URL_STS": "\(fake.base)/sts/",
                   "AWS_REGION": "us-east-1"]
        // Credentials living 120 s are inside the default 300 s refresh margin: every call refreshes.
        let eager = try chain(env, scratch: scratch)
        let first = try await eager.credentials()
        #expect(first.accessKeyID.hasPrefix("STS"))
        #expect(first.sessionToken?.hasPrefix("token-STS-") == true)
        #expect(first.expiration.map { $0.timeIntervalSinceNow > 60 } == true)
        #expect(try await eager.credentials().accessKeyID != first.accessKeyID)
        // With a 60 s margin the same credentials are served from the cache.
        let sources = [try #require(try AWSWebIdentityCredentialSource(
            environment: env, profile: nil, region: "us-east-1", http: HTTPClient()))]
        let cached = AWSCredentialChain(sources: sources, refreshMargin: 60)
        let one = try await cached.credentials()
        #expect(try await cached.credentials() == one)
        #expect(await cached.activeSource?.contains("web identity") == true)

        let calls = try await fake.log().filter { $0.path == "/sts/" }
        #expect(calls.count == 3)
        #expect(calls.allSatisfy { $0.headers["authorization"] == nil }) // AssumeRoleWithWebIdentity is unsigned
        #expect(calls.first?.form?["RoleSessionName"] == "keycoord-test")
        #expect(calls.first?.form?["WebIdentityToken"] == Self.webToken)

        try "not-the-token".write(toFile: "\(scratch.path)/token", atomically: true, encoding: .utf8)
        await #expect { try await chain(env, scratch: scratch).credentials() } throws: { error in
            "\(error)".contains("InvalidIdentityToken") && "\(error)".contains("token & role")
        }
        #expect(throws: AWSError.self) {
            try chain(["AWS_WEB_IDENTITY_TOKEN_FILE": "\(scratch.path)/token"], scratch: scratch)
        }
    }

    @Test func containerCredentialsWithAuthorizationToken() async throws {
        let fake = try await Fake()
        defer { fake.helper.stop() }
        let scratch = try Scratch(files: ["ecs-token": Self.ecsToken + "\n"])
        let full = ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "\(fake.base)/ecs/credentials",
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "\(scratch.path)/ecs-token"]
        let credentials = try await chain(full, scratch: scratch).credentials()
        #expect(credentials.accessKeyID.hasPrefix("ECS"))
        #expect(credentials.sessionToken?.hasPrefix("token-ECS-") == true)
        #expect(credentials.expiration != nil)

        let relative = try #require(try AWSContainerCredentialSource(
            environment: ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/ecs/credentials",
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN": Self.ecsToken],
            http: HTTPClient(), relativeBase: fake.base))
        #expect(try await relative.load()?.accessKeyID.hasPrefix("ECS") == true)

        let wrongToken = full.merging(["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong"]) { _, new in new }
        await #expect { try await chain(wrongToken, scratch: scratch).credentials() } throws: { error in
            "\(error)".contains("HTTP 403")
        }
        #expect(throws: AWSError.self) {
            try chain(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://example.com/creds"], scratch: scratch)
        }
    }

    @Test func instanceMetadataV2() async throws {
        let fake = try await Fake()
        defer { fake.helper.stop() }
        let scratch = try Scratch()
        let credentials = try await chain(["AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.base], scratch: scratch).credentials()
        #expect(credentials.accessKeyID.hasPrefix("IMDS"))
        let log = try await fake.log()
        #expect(log.map(\.method) == ["PUT", "GET", "GET"])
        #expect(log.first?.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600")
        #expect(log.dropFirst().allSatisfy { $0.headers["x-aws-ec2-metadata-token"] == "imds-session-token" })
        #expect(log.last?.path == "/latest/meta-data/iam/security-credentials/keycoord-role")
        #expect(try AWSInstanceMetadataCredentialSource(environment: ["AWS_EC2_METADATA_DISABLED": "true"],
                                                        http: HTTPClient()) == nil)
    }

    @Test func nothingConfiguredSaysWhatWasTried() async throws {
        let scratch = try Scratch()
        await #expect { try await chain([:], scratch: scratch).credentials() } throws: { error in
            let text = "\(error)"
            return text.contains("no AWS credentials found") && text.contains("environment: not configured")
                && text.contains("instance metadata")
        }
    }

    @Test func backendSignsWithWebIdentityCredentials() async throws {
        let fake = try await Fake()
        defer { fake.helper.stop() }
        let scratch = try Scratch(files: ["token": Self.webToken])
        let env = ["AWS_WEB_IDENTITY_TOKEN_FILE": "\(scratch.path)/token", "AWS_ROLE_ARN": Self.roleARN,
                   "AWS_ENDPOINT_URL_STS": "\(fake.base)/sts/", "AWS_ENDPOINT_URL_KMS": try AWSTestSupport.motoURL(),
                   "AWS_REGION": "us-east-1", "HOME": scratch.path, "AWS_EC2_METADATA_DISABLED": "true"]
        let backend = try AWSKMSBackend(config: AWSKMSConfig(), environment: env)
        #expect(try await backend.list(trustDomain: AWSTestSupport.uniqueTrustDomain("sts")).isEmpty)
        #expect(try await fake.log().filter { $0.path == "/sts/" }.count == 1)
    }
}
