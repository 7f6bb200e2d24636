import ArgumentParser
import Operations

struct AnalyseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyse",
        abstract: "Run the anomaly rules (sql/rules) over the collected data and update the findings.",
        discussion: """
            Incremental by default: each rule looks at the rows collected since its last run (plus the look-back it
            needs). Re-running never duplicates findings. New findings at or above [alerts] min_severity are queued
            for `kraken-audit alerts`.

            Examples:
              kraken-audit analyse
              kraken-audit analyse --account main --rule unexpected_withdrawal --since 2026-01-01
            """,
        aliases: ["analyze"])

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Only this account (repeatable).")
    var account: [String] = []

    @Option(name: .customLong("rule"), help: "Only this rule (repeatable); see `kraken-audit rules`.")
    var rules: [String] = []

    @Option(
        name: .long,
        help:
            "Re-analyse every row whose event time is at/after this date (YYYY-MM-DD, UTC) or ISO 8601 time, ignoring the incremental state."
    )
    var since: String?

    @Flag(name: .long, help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        if let since, DateArgument.dayOrTime(since) == nil {
            throw ValidationError("--since must be a date like 2026-01-31 or an ISO 8601 time like 2026-01-31T08:00:00Z")
        }
    }

    func run() async throws {
        var operation = AnalyseOperation()
        operation.accounts = account
        operation.rules = rules
        operation.since = since.flatMap(DateArgument.dayOrTime)
        operation.json = json
        try await global.run(operation)
    }
}
