import ArgumentParser
import Operations

extension LogLevel: ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}

/// Options every subcommand accepts, before or after the subcommand's name (see ``KrakenAudit/global``).
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "Config file (default: $KRAKEN_AUDIT_CONFIG, ./kraken-audit.toml, /etc/kraken-audit/kraken-audit.toml). Also accepted before the subcommand; given twice, the one after the subcommand wins."
    )
    var config: String?

    @Option(name: .long, help: "Log level.")
    var logLevel: LogLevel = .info

    @Option(name: .long, help: "Log format: human, or json (for journald/files).")
    var logFormat: LogFormat = .human

    @Option(
        name: .long,
        help:
            "Database connections this process's pool may open (1-1000), shared by all accounts; overrides [database] max_connections (default 8)."
    )
    var dbConnections: Int?

    @Option(
        name: .long, help: ArgumentHelp("Directory holding sql/migrations (default: found next to the executable).", visibility: .hidden))
    var sqlDir: String?

    mutating func validate() throws {
        if let n = dbConnections, !(1...1000).contains(n) {
            throw ValidationError("--db-connections must be a whole number from 1 to 1000, not \(n)")
        }
    }

    var settings: GlobalSettings {
        GlobalSettings(
            configPath: config, logLevel: logLevel, logFormat: logFormat, sqlDirectory: sqlDir, databaseConnections: dbConnections)
    }

    /// Runs `operation` with these options (``CommandRunner``) and exits with its status.
    func run(_ operation: some AuditOperation) async throws {
        let status = await CommandRunner.run(operation, settings: settings)
        if status != .success { throw ExitCode(status.rawValue) }
    }
}
