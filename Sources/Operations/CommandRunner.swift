import Foundation
import KrakenAPI
import Logging

/// Runs one ``AuditOperation`` as the `kraken-audit` process does: sets up logging, loads the configuration,
/// runs the operation, prints its result, and turns an error into one line on stderr and its exit status.
public enum CommandRunner {
    /// Runs `operation` with the global options `settings`; returns the exit status (never throws). Call once per
    /// process: it installs the process-wide log handler.
    public static func run(_ operation: some AuditOperation, settings: GlobalSettings) async -> ExitStatus {
        LogSetup.bootstrap(format: settings.logFormat, level: settings.logLevel.loggerLevel)
        let logger = Logger(label: "kraken-audit.\(type(of: operation).label)")
        return await report {
            var environment = try AuditEnvironment.load(
                configPath: settings.configPath, sqlDirectory: settings.sqlDirectory, logger: logger)
            if let n = settings.databaseConnections { environment.config.database.maxConnections = n }
            return try await operation.run(in: environment)
        }
    }

    /// Runs `body`, prints its result (output on stdout, notice on stderr) or its error (one line on stderr), and
    /// returns the exit status.
    static func report(_ body: () async throws -> CommandResult) async -> ExitStatus {
        do {
            let result = try await body()
            if !result.output.isEmpty { FileHandle.standardOutput.write(Data(result.output.utf8)) }
            if let notice = result.notice { FileHandle.standardError.write(Data(notice.utf8)) }
            return result.status
        } catch {
            FileHandle.standardError.write(Data(errorLine(error).utf8))
            return ExitStatus.forError(error)
        }
    }

    /// Hardens the process before anything reads a secret: no core dumps, which would write decoded API secrets
    /// and OTPs to disk (issue 14). A hardening step that fails is a warning on stderr, not a reason to stop.
    public static func hardenProcess() {
        for failure in ProcessHardening.disableCoreDumps() {
            FileHandle.standardError.write(Data("kraken-audit: warning: \(failure)\n".utf8))
        }
    }

    /// The line printed for an error ending a command.
    public static func errorLine(_ error: any Error) -> String {
        "kraken-audit: error: \(error)\n"
    }
}
