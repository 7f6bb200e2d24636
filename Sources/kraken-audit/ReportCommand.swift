import ArgumentParser
import Operations
import Reports

extension ReportFormat: ExpressibleByArgument {}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the audit report for a period (default: the last 24 hours, markdown to stdout).",
        discussion: """
            Formats: markdown, html (one self-contained file with charts), json (schema kraken-audit.report/1),
            csv (findings.csv, withdrawals.csv, trades.csv into the --output directory).
            Writing to --output is atomic: a failed report leaves no half-written file. Files are written
            mode 0600 and a csv directory that does not exist yet is created mode 0700, whatever the umask.

            Examples:
              kraken-audit report
              kraken-audit report --format html --output /var/lib/kraken-audit/report.html
              kraken-audit report --account main --since 2026-11-01 --until 2026-12-01 --format csv --output ./nov
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("account"), help: "Only this account (repeatable).")
    var accounts: [String] = []

    @Option(help: "Start (YYYY-MM-DD, midnight in [ops] timezone). Default: 24 hours before --until.")
    var since: String?

    @Option(help: "End, exclusive (YYYY-MM-DD, midnight in [ops] timezone). Default: now.")
    var until: String?

    @Option(help: "markdown, html, json or csv.")
    var format: ReportFormat = .markdown

    @Option(help: "Write to this file (a directory for csv) instead of stdout.")
    var output: String?

    func validate() throws {
        if format == .csv && output == nil { throw ValidationError("--format csv writes several files: give --output DIRECTORY") }
        // The shape only: midnight in [ops] timezone is computed once the config is loaded.
        for (option, value) in [("--until", until), ("--since", since)] {
            if let value, DateArgument.day(value) == nil {
                throw ValidationError("\(option) must be a date like 2026-01-15, not '\(value)'")
            }
        }
    }

    func run() async throws {
        var operation = ReportOperation()
        operation.accounts = accounts
        operation.since = since
        operation.until = until
        operation.format = format
        operation.output = output
        try await global.run(operation)
    }
}
