import AuditConfig
import Collector
import Foundation

/// `kraken-audit collect`: collects the accounts (all, or those named), prints one line per account and export,
/// and exits by ``ExitStatus/forOutcomes(_:)``.
public struct CollectOperation: AuditOperation {
    public static let label = "collect"
    /// `--account`; empty: every configured account.
    public var accounts: [String] = []
    /// `--since`: start of history for a first run (or with `full`).
    public var since: Date?
    /// `--full`: ignore stored high-water marks.
    public var full = false
    /// `--backfill`: overrides the config's `backfill` for a first run.
    public var backfill: BackfillMode?
    /// `--wait`: poll, download and import pending exports in this run.
    public var wait = false
    /// `--wait-minutes`: give up waiting after this long (the next run continues).
    public var waitMinutes: Double = 360
    /// `--poll-seconds`: the longest wait between ExportStatus polls (at least 1; the first polls come sooner).
    public var pollSeconds: Double = 30
    /// `--export-dir`; nil: the collector's default.
    public var exportDirectory: String?
    /// Whether logs are human-readable lines (a live progress line is shown only then, and only on a TTY).
    public var humanLogs = true

    /// Every account, incrementally, the config's backfill; set the properties for the options given.
    public init() {}

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        var export = ExportOptions(wait: wait, waitTimeoutSeconds: waitMinutes * 60, pollSeconds: max(1, pollSeconds))
        if let exportDirectory { export.directory = URL(fileURLWithPath: exportDirectory) }
        export.mode = backfill
        try environment.checkAccounts(accounts)
        try environment.requireCurrentSchema()
        let collector = environment.collector(showProgress: ProgressLine.isTerminal && humanLogs)
        let outcomes = await collector.collect(accounts: accounts, options: CollectOptions(since: since, full: full, export: export))
        var lines: [String] = []
        for o in outcomes {
            let calls = o.endpoints.values.reduce(0) { $0 + $1.calls }
            let inserted = o.endpoints.values.reduce(0) { $0 + $1.rows.inserted }
            let updated = o.endpoints.values.reduce(0) { $0 + $1.rows.updated }
            if let e = o.error {
                lines.append("\(o.account): FAILED (\(e.isTemporary ? "temporary" : "needs attention")): \(e)")
            } else {
                lines.append("\(o.account): ok, \(calls) calls, \(inserted) new rows, \(updated) updated")
            }
            for (name, s) in o.endpoints.sorted(by: { $0.key < $1.key }) where name.hasPrefix("Export:") {
                lines.append(
                    "\(o.account): \(name.dropFirst(7)) export \(s.state.map { "\($0)" } ?? "none"), \(s.rows.inserted) rows imported this run"
                )
            }
        }
        return CommandResult(lines: lines, status: ExitStatus.forOutcomes(outcomes))
    }
}
