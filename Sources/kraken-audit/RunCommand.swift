import ArgumentParser
import AuditConfig
import Operations

extension Severity: ExpressibleByArgument {}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "The nightly job: check migrations, collect, analyse, write reports, deliver alerts, write metrics.",
        discussion: """
            One instance per database: a second concurrent run exits at once with code 5.
            SIGINT/SIGTERM stop it cleanly (the current transaction finishes, the lock is released) with 130/143.

            Exit codes: 0 success; 3 completed but some account (or phase) failed, see the report;
            4 new findings at or above --fail-on; 5 another run holds the lock; 75 temporary failure
            (every account unreachable or locked out, database down); 78 configuration error or
            unmigrated schema (run `kraken-audit migrate`); 130/143 interrupted.

            Examples:
              kraken-audit run --report-dir /var/lib/kraken-audit/reports --metrics-file /var/lib/node_exporter/kraken_audit.prom
              kraken-audit run --account main --fail-on high
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("account"), help: "Only this account (repeatable).")
    var accounts: [String] = []

    @Option(help: "Write the report set (markdown, HTML, JSON) here, one dated set per run.")
    var reportDir: String?

    @Option(help: "Write Prometheus metrics here (textfile collector format, atomically).")
    var metricsFile: String?

    @Option(help: "Exit 4 when the run created findings at or above this severity (info, low, medium, high, critical).")
    var failOn: Severity?

    func run() async throws {
        var options = RunOptions()
        options.accounts = accounts
        options.reportDirectory = reportDir
        options.metricsFile = metricsFile
        options.failOn = failOn
        try await global.run(RunOperation(options: options))
    }
}
