import ArgumentParser
import Operations

/// Options every subcommand accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Config file (default: $KRAKEN_AUDIT_CONFIG, ./kraken-audit.toml, /etc/kraken-audit/kraken-audit.toml).")
    var config: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(name: .long, help: "Log format: human or json (for journald/files).")
    var logFormat: String = "human"

    @Option(name: .long, help: ArgumentHelp("Directory holding sql/migrations (default: found next to the executable).", visibility: .hidden))
    var sqlDir: String?

    func validate() throws {
        guard LogLevel(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be human or json") }
    }

    var settings: GlobalSettings {
        GlobalSettings(
            configPath: config, logLevel: LogLevel(rawValue: logLevel) ?? .info, logFormat: LogFormat(rawValue: logFormat) ?? .human,
            sqlDirectory: sqlDir)
    }

    /// Runs `operation` with these options (``CommandRunner``) and exits with its status.
    func run(_ operation: some AuditOperation) async throws {
        let status = await CommandRunner.run(operation, settings: settings)
        if status != .success { throw ExitCode(status.rawValue) }
    }
}
