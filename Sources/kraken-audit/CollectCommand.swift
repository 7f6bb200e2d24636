import ArgumentParser
import AuditConfig
import Foundation
import Operations

extension BackfillMode: ExpressibleByArgument {}

struct CollectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Collect ledger, trades, orders, funding and balances of each account into PostgreSQL.",
        discussion: """
            Incremental and resumable: the first run backfills everything (or from --since), later runs fetch
            what is new. Paced so Kraken's call counter never exceeds its max.

            Examples:
              kraken-audit collect
              kraken-audit collect --account main --since 2026-01-01
              kraken-audit collect --account new --backfill export --wait

            Backfill (first run of an account): with the export, kraken-audit requests Kraken's ledgers and trades
            exports and pages only from about an hour before now; later runs (or --wait) poll, download, verify and
            import them. Default per account: `backfill` in the config, else export when the key has the
            Export-data permission, else paging.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("account"), help: "Only this account (repeatable).")
    var accounts: [String] = []

    @Option(help: "For a first run (or with --full): collect history from this date (YYYY-MM-DD, UTC).")
    var since: String?

    @Flag(help: "Ignore stored high-water marks and collect the whole history again (from --since).")
    var full = false

    @Option(help: "How a first run backfills history (overrides the config's `backfill`).")
    var backfill: BackfillMode?

    @Flag(help: "Wait for pending exports: poll, download and import them in this run.")
    var wait = false

    @Option(help: "With --wait: give up waiting after this many minutes (the next run continues).")
    var waitMinutes: Double = 360

    @Option(help: "With --wait: the longest wait between ExportStatus polls, in seconds (the first come after 1, 2, 4, ... s).")
    var pollSeconds: Double = 30

    @Option(
        help:
            "Directory for downloaded export files (default $KRAKEN_AUDIT_EXPORT_DIR, $STATE_DIRECTORY/exports or ./kraken-audit-exports).")
    var exportDir: String?

    func validate() throws {
        guard waitMinutes > 0 else { throw ValidationError("--wait-minutes must be positive") }
        if let since, DateArgument.day(since) == nil {
            throw ValidationError("--since must be a date like 2026-01-15, not '\(since)'")
        }
    }

    func run() async throws {
        var operation = CollectOperation()
        operation.accounts = accounts
        operation.since = since.flatMap { DateArgument.day($0) }
        operation.full = full
        operation.backfill = backfill
        operation.wait = wait
        operation.waitMinutes = waitMinutes
        operation.pollSeconds = pollSeconds
        operation.exportDirectory = exportDir
        operation.humanLogs = global.logFormat == .human
        try await global.run(operation)
    }
}
