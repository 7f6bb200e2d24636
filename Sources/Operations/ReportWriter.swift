import AuditStore
import Foundation
import Reports

extension AuditEnvironment {
    /// The report time zone (`[ops] timezone`).
    public var reportTimeZone: TimeZone { TimeZone(identifier: config.ops.timezone) ?? TimeZone(identifier: "UTC")! }

    /// Builds the report for a period.
    public func buildReport(since: Date, until: Date, accounts: [String]) throws -> Report {
        let db = try connect()
        defer { db.close() }
        return try ReportBuilder(timezone: reportTimeZone).build(on: db, since: since, until: until, accounts: accounts)
    }
}

extension Report {
    /// Renders one format. CSV is several tables: pass a directory to ``write(format:to:)`` for it.
    public func render(_ format: ReportFormat) -> String {
        switch format {
        case .markdown: return markdown()
        case .html: return html()
        case .json: return json().jsonText + "\n"
        case .csv: return csvTables().map { "# \($0.0)\n\($0.1)" }.joined(separator: "\n")
        }
    }

    /// Writes the report atomically to `path` (for CSV, `path` is a directory receiving one file per table).
    /// Returns the paths written. Files are created mode 0600 and a CSV directory that does not exist yet
    /// mode 0700, whatever the umask (financial data; see ``AtomicFile`` and ``PrivateDirectory``).
    @discardableResult
    public func write(format: ReportFormat, to path: String) throws(OutputError) -> [String] {
        if format == .csv {
            try PrivateDirectory.create(path)
            var written: [String] = []
            for (name, content) in csvTables() {
                let file = (path as NSString).appendingPathComponent(name)
                try AtomicFile.write(content, to: file)
                written.append(file)
            }
            return written
        }
        try AtomicFile.write(render(format), to: path)
        return [path]
    }
}
