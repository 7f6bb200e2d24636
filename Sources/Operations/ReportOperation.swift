import Foundation
import Reports

/// `kraken-audit report`: the report for a period, to stdout or written atomically to `--output`.
public struct ReportOperation: AuditOperation {
    public static let label = "report"
    /// `--account`; empty: every account.
    public var accounts: [String] = []
    /// `--since`, `--until`: `YYYY-MM-DD`, midnight in `[ops] timezone`. Defaults: now, and 24 hours before the end.
    public var since: String?
    public var until: String?
    /// `--format`.
    public var format: ReportFormat = .markdown
    /// `--output`: a file (a directory for csv); nil: stdout.
    public var output: String?
    let now: @Sendable () -> Date

    /// A report for the last 24 hours, markdown to stdout, until the properties say otherwise; `now` is the
    /// clock for the default end.
    public init(now: @escaping @Sendable () -> Date = { Date() }) { self.now = now }

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        try environment.checkAccounts(accounts)
        let tz = environment.reportTimeZone
        let end = try until.map { try Self.day($0, option: "--until", timezone: tz) } ?? now()
        let start = try since.map { try Self.day($0, option: "--since", timezone: tz) } ?? end.addingTimeInterval(-86400)
        guard start < end else { throw UsageError("--since must be before --until") }
        try environment.requireCurrentSchema()
        let report = try environment.buildReport(since: start, until: end, accounts: accounts)
        if let output {
            let written = try report.write(format: format, to: output)
            return CommandResult(notice: "wrote \(written.joined(separator: ", "))\n")
        }
        return CommandResult(output: report.render(format))
    }

    static func day(_ text: String, option: String, timezone: TimeZone) throws(UsageError) -> Date {
        guard let d = DateArgument.day(text, timezone: timezone) else {
            throw UsageError("\(option) must be a date like 2026-01-15, not '\(text)'")
        }
        return d
    }
}
