import ArgumentParser
import AuditConfig
import Collector
import Foundation
import Operations

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

    @Option(help: "How a first run backfills history: export or paging (overrides the config's `backfill`).")
    var backfill: String?

    @Flag(help: "Wait for pending exports: poll, download and import them in this run.")
    var wait = false

    @Option(help: "With --wait: give up waiting after this many minutes (the next run continues).")
    var waitMinutes: Double = 360

    @Option(help: "With --wait: seconds between ExportStatus polls.")
    var pollSeconds: Double = 30

    @Option(help: "Directory for downloaded export files (default $KRAKEN_AUDIT_EXPORT_DIR, $STATE_DIRECTORY/exports or ./kraken-audit-exports).")
    var exportDir: String?

    func run() async throws {
        let env = try global.environment(label: "collect")
        let sinceDate: Date?
        var export = ExportOptions(wait: wait, waitTimeoutSeconds: waitMinutes * 60, pollSeconds: max(1, pollSeconds))
        if let exportDir { export.directory = URL(fileURLWithPath: exportDir) }
        do {
            if let backfill {
                guard let mode = BackfillMode(rawValue: backfill) else {
                    throw ValidationError("--backfill must be export or paging, not '\(backfill)'")
                }
                export.mode = mode
            }
            guard waitMinutes > 0 else { throw ValidationError("--wait-minutes must be positive") }
            sinceDate = try since.map { try parseDay($0, option: "--since") }
            try env.checkAccounts(accounts)
            try env.requireCurrentSchema()
        } catch {
            throw fail(error)
        }
        let collector = env.collector(showProgress: ProgressLine.isTerminal && global.logFormat == "human")
        let outcomes = await collector.collect(accounts: accounts, options: CollectOptions(since: sinceDate, full: full, export: export))
        for o in outcomes {
            let calls = o.endpoints.values.reduce(0) { $0 + $1.calls }
            let inserted = o.endpoints.values.reduce(0) { $0 + $1.rows.inserted }
            let updated = o.endpoints.values.reduce(0) { $0 + $1.rows.updated }
            if let e = o.error {
                print("\(o.account): FAILED (\(e.isTemporary ? "temporary" : "needs attention")): \(e)")
            } else {
                print("\(o.account): ok, \(calls) calls, \(inserted) new rows, \(updated) updated")
            }
            for (name, s) in o.endpoints.sorted(by: { $0.key < $1.key }) where name.hasPrefix("Export:") {
                print("\(o.account): \(name.dropFirst(7)) export \(s.state ?? "none"), \(s.rows.inserted) rows imported this run")
            }
        }
        let status = ExitStatus.forOutcomes(outcomes)
        if status != .success { throw ExitCode(status.rawValue) }
    }
}

/// Parses `YYYY-MM-DD` (UTC midnight) for an option; the error names the option.
func parseDay(_ text: String, option: String) throws -> Date {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd"
    guard text.count == 10, let d = f.date(from: text) else {
        throw ValidationError("\(option) must be a date like 2026-01-15, not '\(text)'")
    }
    return d
}
