/// Report output formats.
public enum ReportFormat: String, Sendable, CaseIterable {
    /// Markdown for a terminal or an email (``Report/markdown()``).
    case markdown
    /// One self-contained HTML file (``Report/html()``).
    case html
    /// JSON, schema ``Report/schema`` (``Report/json()``).
    case json
    /// CSV tables (``Report/csvTables()``).
    case csv
}
