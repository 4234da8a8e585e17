import Core

/// A cloud backend's wording of a failed call: `failure` turns what the client threw into
/// the `CoordinationError.backendFailure` (with its kind and the permission to grant) the
/// API answers with; `perform` runs one step under that rule.
protocol CloudFailureMapping {
    func failure(_ operation: String, _ error: Error, permission: String) -> CoordinationError
}

extension CloudFailureMapping {
    /// Runs one backend step, turning every failure into `CoordinationError.backendFailure`
    /// (a `CoordinationError` the step threw itself passes through).
    func perform<T>(_ operation: String, permission: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as CoordinationError {
            throw error
        } catch {
            throw failure(operation, error, permission: permission)
        }
    }
}
