/// One kraken-audit command, ready to run: the CLI parses its arguments into one of these and hands it to
/// ``CommandRunner``, which loads the environment, runs it, prints the result and maps errors to exit codes.
public protocol AuditOperation: Sendable {
    /// The command's name in log labels (`kraken-audit.<label>`).
    static var label: String { get }

    /// Does the work. Errors are reported by ``CommandRunner`` (one line on stderr, the code from
    /// ``ExitStatus/forError(_:)``); a result with a non-zero status is not an error (e.g. 3 = partial).
    func run(in environment: AuditEnvironment) async throws -> CommandResult
}
