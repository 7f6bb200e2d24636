import Analyser
import AuditConfig
import AuditStore
import Foundation

/// `kraken-audit analyse`: runs the rules over the collected data and prints the summary (a table, or JSON);
/// exit 1 when a rule failed.
public struct AnalyseOperation: AuditOperation {
    public static let label = "analyse"
    /// `--account`; empty: every account.
    public var accounts: [String] = []
    /// `--rule`; empty: every enabled rule.
    public var rules: [String] = []
    /// `--since`: re-analyse every row at/after this time, ignoring the incremental state.
    public var since: Date?
    /// `--json`.
    public var json = false

    /// Every account and enabled rule, incrementally; set the properties for the options given.
    public init() {}

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        let catalogue = try RuleCatalogue.locate(sqlDirectory: environment.sqlDirectory)
        let analyser = try Analyser(config: environment.config, catalogue: catalogue, logger: environment.logger)
        let db: PGConnection
        do { db = try environment.connect() } catch { throw AnalyserError.database(error) }
        defer { db.close() }
        let summary = try analyser.analyse(
            on: db, accounts: accounts.isEmpty ? nil : accounts, rules: rules.isEmpty ? nil : rules, since: since)
        return CommandResult(
            lines: [json ? Self.json(summary) : Self.render(summary)], status: summary.failures.isEmpty ? .success : .failure)
    }

    /// The summary as a table: one line per account and rule.
    public static func render(_ s: AnalysisSummary) -> String {
        var lines = [
            "analysis run \(s.runId): \(s.newFindings) new, \(s.updatedFindings) seen again, \(s.reopenedFindings) reopened, \(s.resolvedFindings) resolved automatically, \(s.alertsQueued) alert(s) queued in \(String(format: "%.2f", s.seconds)) s"
        ]
        let header =
            "account".padding(toLength: 14, withPad: " ", startingAt: 0) + "rule".padding(toLength: 24, withPad: " ", startingAt: 0)
            + "new (crit/high/med/low/info)   again  time"
        lines.append(header)
        for r in s.results {
            let bySev = [Severity.critical, .high, .medium, .low, .info].map { String(r.newBySeverity[$0] ?? 0) }.joined(separator: "/")
            var line =
                r.account.padding(toLength: 14, withPad: " ", startingAt: 0)
                + r.ruleId.padding(toLength: 24, withPad: " ", startingAt: 0)
                + "\(r.new) (\(bySev))".padding(toLength: 31, withPad: " ", startingAt: 0)
                + String(r.updated).padding(toLength: 7, withPad: " ", startingAt: 0)
                + String(format: "%.3f s", r.seconds)
            if let failure = r.failure { line += "  FAILED: \(failure)" }
            if let deferred = r.deferred { line += "  deferred: \(deferred)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// The summary as one pretty-printed JSON object (`--json`).
    public static func json(_ s: AnalysisSummary) -> String {
        let object: [String: Any] = [
            "run_id": s.runId, "seconds": s.seconds, "new": s.newFindings, "updated": s.updatedFindings,
            "reopened": s.reopenedFindings, "resolved": s.resolvedFindings, "alerts_queued": s.alertsQueued,
            "results": s.results.map { r -> [String: Any] in
                var o: [String: Any] = [
                    "account": r.account, "rule": r.ruleId, "new": r.new, "updated": r.updated, "reopened": r.reopened,
                    "alerts_queued": r.alertsQueued, "changed_after": r.changedAfter, "seconds": r.seconds,
                    "new_by_severity": Dictionary(uniqueKeysWithValues: r.newBySeverity.map { ($0.key.rawValue, $0.value) }),
                ]
                if let f = r.failure { o["failure"] = f }
                if let d = r.deferred { o["deferred"] = d }
                return o
            },
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
