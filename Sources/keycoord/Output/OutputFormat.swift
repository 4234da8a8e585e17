import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// How a client command prints an answer: a table for a person at a terminal, the
/// server's JSON unchanged for a pipe or a script (like kubectl's `-o`).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json

    /// `table` when standard output is a terminal, else `json`.
    static var automatic: OutputFormat { isatty(STDOUT_FILENO) == 1 ? .table : .json }
}
