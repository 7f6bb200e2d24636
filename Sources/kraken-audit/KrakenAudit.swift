import ArgumentParser
import AuditKernel
import Operations

@main
struct KrakenAudit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kraken-audit",
        abstract: "Audits Kraken exchange accounts: collects, analyses, reports and alerts.",
        discussion: """
            Global options (--config, --log-level, --log-format) go before or after
            the subcommand: `kraken-audit --config PATH migrate` is the same as
            `kraken-audit migrate --config PATH`. Given on both sides, the one after
            the subcommand wins.

            Examples:
              kraken-audit doctor --config /etc/kraken-audit/kraken-audit.toml
              kraken-audit --config /etc/kraken-audit/kraken-audit.toml run
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
            KeygenCommand.self, SealCommand.self, VerifyCommand.self, WatchCommand.self,
        ]
    )

    /// Given before the subcommand. argument-parser parses a command's options wherever they appear on the line
    /// (also after the subcommand), and a subcommand's `@OptionGroup` of the same type reuses these values: so
    /// every subcommand sees the global options from either place, the later occurrence winning.
    @OptionGroup var global: GlobalOptions

    /// Entry point: hardens the process before anything reads a secret, then parses and runs the command.
    static func main() async {
        CommandRunner.hardenProcess()
        await main(nil)
    }
}
