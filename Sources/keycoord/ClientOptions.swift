import ArgumentParser
import Foundation

/// Where a client command finds the control API and its token.
struct ClientOptions: ParsableArguments {
    @Option(help: "Control API: http://HOST:PORT or unix:PATH (env KEYCOORD_CONTROL_URL).")
    var controlURL: String?

    @Option(help: "Bearer token file (env KEYCOORD_CONTROL_TOKEN_FILE; default ./keycoord-data/control-token).")
    var tokenFile: String?

    @Option(help: "table or json (default: table on a terminal, json when piped).")
    var output: OutputFormat?

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    func client() throws -> ControlClient {
        try ControlClient(url: controlURL ?? environment["KEYCOORD_CONTROL_URL"] ?? "http://127.0.0.1:8081")
    }

    /// KEYCOORD_CONTROL_TOKEN wins over any file, so secrets can come from the environment.
    func token() throws -> String {
        if let token = environment["KEYCOORD_CONTROL_TOKEN"], !token.isEmpty { return token }
        let path = tokenFile ?? environment["KEYCOORD_CONTROL_TOKEN_FILE"] ?? "./keycoord-data/control-token"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read the control token file \(path) (use --token-file or KEYCOORD_CONTROL_TOKEN)")
        }
        let token = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty && !$0.hasPrefix("#") }
        guard let token else { throw ValidationError("the control token file \(path) holds no token") }
        return token
    }

    /// Sends a control request, prints the answer (`table` renders it with `view`, `json`
    /// prints the body as the server sent it), and fails the command on a non-2xx status.
    func call(_ method: String, _ path: String, json: [String: Any]? = nil, view: ClientView = .record) throws {
        let body = try json.map { Array(try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys])) }
        let response = try client().send(method, path, body: body, token: try token())
        view.print(response, format: output ?? .automatic)
        guard (200..<300).contains(response.status) else { throw ExitCode(response.status == 404 ? 4 : 1) }
    }
}

/// Path segments are validated by the server; escaping keeps them one segment here.
func pathSegment(_ value: String) -> String {
    value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._:"))) ?? value
}
