/// Tests/python/core_vectors.py (PyCA `cryptography` and `joserfc`) through `PythonCheck`,
/// so Core and Crypto tests can check keycoord's output against independent implementations.
public enum CoreVectors {
    /// Sends `request` (with `op`) and returns the script's JSON object.
    public static func run(_ request: [String: Any]) throws -> [String: Any] {
        guard let answer = try PythonCheck.run("core_vectors.py", input: request) as? [String: Any] else {
            throw PythonCheck.Failure(description: "core_vectors.py did not answer a JSON object")
        }
        return answer
    }
}
