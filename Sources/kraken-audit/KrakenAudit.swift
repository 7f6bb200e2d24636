import Analyser
import ArgumentParser
import AuditConfig
import AuditKernel
import Foundation
import KrakenAPI
import Logging
import Operations

@main
struct KrakenAudit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kraken-audit",
        abstract: "Audits Kraken exchange accounts: collects, analyses, reports and alerts.",
        discussion: """
            Examples:
              kraken-audit doctor --config /etc/kraken-audit/kraken-audit.toml
              kraken-audit migrate
              kraken-audit collect --account main

            Exit codes:
              0  success
              1  a check failed (doctor) or a general error
              3  completed, but some account failed
              4  new findings at or above --fail-on SEVERITY
              5  another run holds the lock
              64 usage error
              65 bad data (malformed Kraken response, changed or unknown migration)
              69 a service refused permanently (invalid key, permission denied)
              70 internal error
              73 cannot write an output file
              75 temporary failure: database or Kraken unreachable, key locked out; retry later
              78 configuration error
            """,
        version: "kraken-audit \(KrakenAuditVersion.current)",
        subcommands: [
            RunCommand.self, MigrateCommand.self, DoctorCommand.self, CollectCommand.self, AnalyseCommand.self,
            FindingsCommand.self, RulesCommand.self, ReportCommand.self, AlertsCommand.self, GrantCommand.self,
        ]
    )

    /// Entry point: hardens the process before anything reads a secret, then parses and runs the command.
    static func main() async {
        // No core dumps: they would write decoded API secrets and OTPs to disk (issue 14).
        for failure in ProcessHardening.disableCoreDumps() {
            FileHandle.standardError.write(Data("kraken-audit: warning: \(failure)\n".utf8))
        }
        await main(nil)
    }
}

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
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be human or json") }
    }

    /// Sets up logging and loads the configuration; prints the error and exits 78 on a bad config.
    func environment(label: String) throws -> AuditEnvironment {
        LogSetup.bootstrap(format: LogFormat(rawValue: logFormat) ?? .human, level: Logger.Level(rawValue: logLevel) ?? .info)
        let logger = Logger(label: "kraken-audit.\(label)")
        do {
            let path = try ConfigLoader.locate(explicit: config)
            let loaded = try ConfigLoader.load(path: path)
            // [rules.*] too: a bad rule parameter is a configuration error now, not a rule failing mid-run.
            try validateRuleConfiguration(loaded, sqlDirectory: sqlDir)
            return AuditEnvironment(config: loaded, sqlDirectory: sqlDir, logger: logger)
        } catch {
            throw fail(error)
        }
    }
}

/// Prints `error` as one line to stderr and returns the exit code for it.
func fail(_ error: any Error) -> ExitCode {
    FileHandle.standardError.write(Data("kraken-audit: error: \(error)\n".utf8))
    return ExitCode(ExitStatus.forError(error).rawValue)
}

struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending database migrations (sql/migrations); safe to run concurrently and repeatedly.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Only show what is applied and pending.")
    var status = false

    func run() throws {
        let env = try global.environment(label: "migrate")
        do {
            let db = try env.connect()
            defer { db.close() }
            let migrator = try env.migrator()
            if status {
                let s = try migrator.status(on: db)
                print("applied: \(s.applied.map(String.init).joined(separator: ", "))")
                print("pending: \(s.pending.map { "\($0.version)_\($0.name)" }.joined(separator: ", "))")
                if !s.changed.isEmpty { print("CHANGED after applying: \(s.changed.map(\.version))") }
                if !s.unknown.isEmpty { print("unknown to this version: \(s.unknown)") }
                if !s.isCurrent { throw ExitCode(1) }
                return
            }
            let applied = try migrator.migrate(on: db)
            print(applied.isEmpty ? "schema is current" : "applied \(applied.count) migration(s): \(applied.map { "\($0.version)_\($0.name)" }.joined(separator: ", "))")
        } catch let code as ExitCode {
            throw code
        } catch {
            throw fail(error)
        }
    }
}

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check config, secrets, database, migrations and each account's Kraken key; print a checklist with fixes.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let env = try global.environment(label: "doctor")
        let checks = await Doctor(environment: env).run()
        print(Doctor.render(checks))
        if checks.contains(where: { $0.status == .failed }) { throw ExitCode(1) }
    }
}
