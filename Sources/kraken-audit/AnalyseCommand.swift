import Analyser
import ArgumentParser
import AuditConfig
import AuditStore
import Foundation
import Operations

/// Prints an analyser error and returns its exit code (configuration problems exit 78, database ones 75/70).
func fail(analyser error: AnalyserError) -> ExitCode {
    switch error {
    case .config(let e): return fail(e)
    case .database(let e): return fail(e)
    case .rulesUnreadable, .badRuleFile, .duplicateRule:
        FileHandle.standardError.write(Data("kraken-audit: error: \(error)\n".utf8))
        return ExitCode(ExitStatus.config.rawValue)
    case .unknownAccount, .unknownRule, .ruleDisabled:
        FileHandle.standardError.write(Data("kraken-audit: error: \(error)\n".utf8))
        return ExitCode(ExitStatus.usage.rawValue)
    case .alreadyRunning:
        FileHandle.standardError.write(Data("kraken-audit: error: \(error)\n".utf8))
        return ExitCode(ExitStatus.tempFail.rawValue)
    default:
        return fail(error as any Error)
    }
}

/// Parses `2026-03-30` (UTC midnight) or an ISO 8601 timestamp such as `2026-03-30T06:00:00+02:00`.
func parseSince(_ text: String) -> Date? {
    if text.count == 10 { return PGTimestamp.parse(text + "T00:00:00Z") }
    return PGTimestamp.parse(text)
}

struct AnalyseCommand: ParsableCommand {
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

    @Option(name: .long, help: "Re-analyse every row whose event time is at/after this date (YYYY-MM-DD, UTC) or ISO 8601 time, ignoring the incremental state.")
    var since: String?

    @Flag(name: .long, help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        if let since, parseSince(since) == nil {
            throw ValidationError("--since must be a date like 2026-01-31 or an ISO 8601 time like 2026-01-31T08:00:00Z")
        }
    }

    func run() throws {
        let env = try global.environment(label: "analyse")
        let summary: AnalysisSummary
        do {
            let catalogue = try RuleCatalogue.locate(sqlDirectory: env.sqlDirectory)
            let analyser = try Analyser(config: env.config, catalogue: catalogue, logger: env.logger)
            let db: PGConnection
            do { db = try env.connect() } catch { throw AnalyserError.database(error) }
            defer { db.close() }
            summary = try analyser.analyse(
                on: db, accounts: account.isEmpty ? nil : account, rules: rules.isEmpty ? nil : rules,
                since: since.flatMap(parseSince))
        } catch let error as AnalyserError {
            throw fail(analyser: error)
        }
        if json {
            print(Self.json(summary))
        } else {
            print(Self.render(summary))
        }
        if !summary.failures.isEmpty { throw ExitCode(ExitStatus.failure.rawValue) }
    }

    static func render(_ s: AnalysisSummary) -> String {
        var lines = ["analysis run \(s.runId): \(s.newFindings) new, \(s.updatedFindings) seen again, \(s.reopenedFindings) reopened, \(s.resolvedFindings) resolved automatically, \(s.alertsQueued) alert(s) queued in \(String(format: "%.2f", s.seconds)) s"]
        let header = "account".padding(toLength: 14, withPad: " ", startingAt: 0) + "rule".padding(toLength: 24, withPad: " ", startingAt: 0) + "new (crit/high/med/low/info)   again  time"
        lines.append(header)
        for r in s.results {
            let bySev = [Severity.critical, .high, .medium, .low, .info].map { String(r.newBySeverity[$0] ?? 0) }.joined(separator: "/")
            var line = r.account.padding(toLength: 14, withPad: " ", startingAt: 0)
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

    static func json(_ s: AnalysisSummary) -> String {
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
