import AuditConfig
import AuditStore
import Foundation

/// Reads findings and changes their status (`kraken-audit findings`).
public enum FindingStore {
    static let columns = """
        f.id, f.rule_id, f.severity, a.name AS account, f.entity_type, f.entity_id, f.api_call_ids::text AS api_call_ids,
        f.title, f.evidence::text AS evidence, f.dedupe_key, f.first_seen, f.last_seen, f.occurred_at, f.detections,
        f.occurrences, f.status, f.status_note, f.status_changed_at, f.status_changed_by
        """

    /// Findings matching `filter`, most severe and most recent first.
    public static func list(on db: PGConnection, filter: FindingFilter) throws(AnalyserError) -> [Finding] {
        try analyserErrors {
            let rows = try db.query(
                """
                SELECT \(columns)
                  FROM audit.findings f LEFT JOIN audit.accounts a ON a.id = f.account_id
                 WHERE ($1::text IS NULL OR a.name = $1)
                   AND f.status = ANY ($2::text[])
                   AND audit.severity_rank(f.severity) >= audit.severity_rank($3)
                   AND (cardinality($4::text[]) = 0 OR f.rule_id = ANY ($4::text[]))
                 ORDER BY audit.severity_rank(f.severity) DESC, f.last_seen DESC, f.id DESC
                 LIMIT $5
                """,
                [
                    filter.account, "{" + filter.statuses.map(\.rawValue).joined(separator: ",") + "}",
                    filter.minSeverity.rawValue, "{" + filter.ruleIds.joined(separator: ",") + "}", filter.limit,
                ]
            ).rows
            return try rows.map(decode)
        }
    }

    /// The finding with `id`.
    public static func get(on db: PGConnection, id: Int64) throws(AnalyserError) -> Finding {
        let found = try analyserErrors {
            try db.query(
                "SELECT \(columns) FROM audit.findings f LEFT JOIN audit.accounts a ON a.id = f.account_id WHERE f.id = $1",
                [id]
            ).rows.first.map(decode)
        }
        guard let found else { throw .findingNotFound(id: id) }
        return found
    }

    /// Sets a finding's status (`ack`, `resolve`, `suppress`, or `open` to reopen), recording who and why in
    /// `audit.finding_events`. (With `[alerts] notify_resolved`, the Alerts module announces resolutions, these and
    /// the analyser's automatic ones alike.)
    /// - Parameters:
    ///   - note: why (required: the next analyst reads it).
    ///   - by: who (e.g. the login name).
    @discardableResult
    public static func setStatus(
        on db: PGConnection, id: Int64, to status: FindingStatus, note: String, by: String
    ) throws(AnalyserError) -> Finding {
        let trimmed = note.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw .invalidStatusChange(id: id, reason: "a note saying why is required (--note)") }
        return try analyserErrors {
            try db.transaction { () throws -> Finding in
                let current = try db.query("SELECT status FROM audit.findings WHERE id = $1 FOR UPDATE", [id]).rows.first
                guard let current else { throw AnalyserError.findingNotFound(id: id) }
                let old = try current.decode(0, as: String.self)
                guard old != status.rawValue else {
                    throw AnalyserError.invalidStatusChange(id: id, reason: "it is already \(status.rawValue)")
                }
                try db.execute(
                    """
                    UPDATE audit.findings
                       SET status = $2, status_note = $3, status_changed_at = now(), status_changed_by = $4
                     WHERE id = $1
                    """, [id, status.rawValue, trimmed, by])
                try db.execute(
                    """
                    INSERT INTO audit.finding_events (finding_id, old_status, new_status, note, changed_by)
                    VALUES ($1, $2, $3, $4, $5)
                    """, [id, old, status.rawValue, trimmed, by])
                return try get(on: db, id: id)
            }
        }
    }

    /// Status changes of a finding, oldest first: (time, old, new, note, by).
    public static func history(on db: PGConnection, id: Int64) throws(AnalyserError) -> [(
        at: Date, old: String?, new: String, note: String?, by: String
    )] {
        try analyserErrors {
            try db.query(
                "SELECT at, old_status, new_status, note, changed_by FROM audit.finding_events WHERE finding_id = $1 ORDER BY at, id",
                [id]
            ).rows.map { r throws(PGError) in
                (
                    try r.decode(0, as: Date.self), try r.decodeOptional(1, as: String.self), try r.decode(2, as: String.self),
                    try r.decodeOptional(3, as: String.self), try r.decode(4, as: String.self)
                )
            }
        }
    }

    static func decode(_ r: PGRow) throws(PGError) -> Finding {
        let idsText = try r.decode("api_call_ids", as: String.self)
        let ids = idsText.trimmingCharacters(in: CharacterSet(charactersIn: "{}")).split(separator: ",").compactMap { Int64($0) }
        return Finding(
            id: try r.decode("id"), ruleId: try r.decode("rule_id"),
            severity: Severity(rawValue: try r.decode("severity", as: String.self)) ?? .info,
            account: try r.decodeOptional("account"), entityType: try r.decodeOptional("entity_type"),
            entityId: try r.decodeOptional("entity_id"), apiCallIds: ids, title: try r.decode("title"),
            evidence: try r.decode("evidence"), dedupeKey: try r.decode("dedupe_key"), firstSeen: try r.decode("first_seen"),
            lastSeen: try r.decode("last_seen"), occurredAt: try r.decodeOptional("occurred_at"),
            detections: try r.decode("detections"), occurrences: try r.decode("occurrences"),
            status: FindingStatus(rawValue: try r.decode("status", as: String.self)) ?? .open,
            statusNote: try r.decodeOptional("status_note"), statusChangedAt: try r.decodeOptional("status_changed_at"),
            statusChangedBy: try r.decodeOptional("status_changed_by"))
    }
}
