/// `kraken-audit migrate [--status]`: applies pending migrations, or only shows what is applied and pending
/// (exit 1 when the schema is not current).
public struct MigrateOperation: AuditOperation {
    public static let label = "migrate"
    /// `--status`: show, change nothing.
    public var statusOnly: Bool

    /// Migrates, or with `statusOnly` only reports.
    public init(statusOnly: Bool = false) { self.statusOnly = statusOnly }

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        let db = try environment.connect()
        defer { db.close() }
        let migrator = try environment.migrator()
        if statusOnly {
            let s = try migrator.status(on: db)
            var lines = [
                "applied: \(s.applied.map(String.init).joined(separator: ", "))",
                "pending: \(s.pending.map { "\($0.version)_\($0.name)" }.joined(separator: ", "))",
            ]
            if !s.changed.isEmpty { lines.append("CHANGED after applying: \(s.changed.map(\.version))") }
            if !s.unknown.isEmpty { lines.append("unknown to this version: \(s.unknown)") }
            return CommandResult(lines: lines, status: s.isCurrent ? .success : .failure)
        }
        let applied = try migrator.migrate(on: db)
        return CommandResult(lines: [
            applied.isEmpty
                ? "schema is current"
                : "applied \(applied.count) migration(s): \(applied.map { "\($0.version)_\($0.name)" }.joined(separator: ", "))"
        ])
    }
}
