import ArgumentParser
import Foundation
import Operations
import Reports

extension ReportFormat: ExpressibleByArgument {}

struct ReportCommand: ParsableCommand {
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
    }

    func run() throws {
        let env = try global.environment(label: "report")
        do {
            try env.checkAccounts(accounts)
            let tz = env.reportTimeZone
            let end = try until.map { try parseLocalDay($0, option: "--until", timezone: tz) } ?? Date()
            let start = try since.map { try parseLocalDay($0, option: "--since", timezone: tz) } ?? end.addingTimeInterval(-86400)
            guard start < end else { throw ValidationError("--since must be before --until") }
            try env.requireCurrentSchema()
            let report = try env.buildReport(since: start, until: end, accounts: accounts)
            if let output {
                let written = try report.write(format: format, to: output)
                FileHandle.standardError.write(Data("wrote \(written.joined(separator: ", "))\n".utf8))
            } else {
                print(report.render(format), terminator: "")
            }
        } catch let e as ValidationError {
            throw e
        } catch {
            throw fail(error)
        }
    }
}

/// Midnight of `YYYY-MM-DD` in `timezone`.
func parseLocalDay(_ text: String, option: String, timezone: TimeZone) throws -> Date {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = timezone
    f.dateFormat = "yyyy-MM-dd"
    guard text.count == 10, let d = f.date(from: text) else {
        throw ValidationError("\(option) must be a date like 2026-01-15, not '\(text)'")
    }
    return d
}
