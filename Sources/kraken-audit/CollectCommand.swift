import ArgumentParser
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
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("account"), help: "Only this account (repeatable).")
    var accounts: [String] = []

    @Option(help: "For a first run (or with --full): collect history from this date (YYYY-MM-DD, UTC).")
    var since: String?

    @Flag(help: "Ignore stored high-water marks and collect the whole history again (from --since).")
    var full = false

    func run() async throws {
        let env = try global.environment(label: "collect")
        let sinceDate: Date?
        do {
            sinceDate = try since.map { try parseDay($0, option: "--since") }
            try env.checkAccounts(accounts)
            try env.requireCurrentSchema()
        } catch {
            throw fail(error)
        }
        let collector = env.collector(showProgress: ProgressLine.isTerminal && global.logFormat == "human")
        let outcomes = await collector.collect(accounts: accounts, options: CollectOptions(since: sinceDate, full: full))
        for o in outcomes {
            let calls = o.endpoints.values.reduce(0) { $0 + $1.calls }
            let inserted = o.endpoints.values.reduce(0) { $0 + $1.rows.inserted }
            let updated = o.endpoints.values.reduce(0) { $0 + $1.rows.updated }
            if let e = o.error {
                print("\(o.account): FAILED (\(e.isTemporary ? "temporary" : "needs attention")): \(e)")
            } else {
                print("\(o.account): ok, \(calls) calls, \(inserted) new rows, \(updated) updated")
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
