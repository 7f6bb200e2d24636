import Foundation
import Logging

/// A command that needs no configuration file and no database (e.g. `keygen`, run before either exists).
/// ``CommandRunner/runWithoutConfiguration(_:settings:)`` runs it as ``CommandRunner/run(_:settings:)`` runs an
/// ``AuditOperation``: logging set up, result printed, errors as one line and their exit status.
public protocol StandaloneOperation: Sendable {
    /// The command's name in log labels (`kraken-audit.<label>`).
    static var label: String { get }

    /// Does the work.
    func run(logger: Logger) async throws -> CommandResult
}

extension CommandRunner {
    /// Runs `operation` without loading a configuration (`--config` is ignored); returns the exit status (never
    /// throws). Call once per process: it installs the process-wide log handler.
    public static func runWithoutConfiguration(_ operation: some StandaloneOperation, settings: GlobalSettings) async -> ExitStatus {
        LogSetup.bootstrap(format: settings.logFormat, level: settings.logLevel.loggerLevel)
        let logger = Logger(label: "kraken-audit.\(type(of: operation).label)")
        return await report { try await operation.run(logger: logger) }
    }
}
