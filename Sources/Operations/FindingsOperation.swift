import Analyser
import AuditStore
import Foundation

/// `kraken-audit findings list|show|ack|resolve|suppress|reopen`: reads and triages findings.
public struct FindingsOperation: AuditOperation {
    public static let label = "findings"

    /// What to do.
    public enum Action: Sendable {
        /// List the findings `filter` selects; `json`: one JSON array, evidence included.
        case list(FindingFilter, json: Bool)
        /// One finding with its evidence and status history.
        case show(id: Int64)
        /// Change a finding's status; `by` nil: `$USER` (or `$LOGNAME`).
        case setStatus(id: Int64, to: FindingStatus, note: String, by: String?)
    }

    /// What this invocation does.
    public var action: Action
    let processEnvironment: [String: String]

    /// `processEnvironment` supplies the default `by` (`$USER`, `$LOGNAME`).
    public init(_ action: Action, processEnvironment: [String: String] = ProcessInfo.processInfo.environment) {
        self.action = action
        self.processEnvironment = processEnvironment
    }

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        let db = try environment.connect()
        defer { db.close() }
        switch action {
        case .list(let filter, let json):
            let findings = try FindingStore.list(on: db, filter: filter)
            if json { return CommandResult(lines: ["[" + findings.map(Self.json).joined(separator: ",\n") + "]"]) }
            if findings.isEmpty { return CommandResult(lines: ["no findings"]) }
            return CommandResult(
                lines: findings.map { f in
                    "#\(f.id) [\(f.severity.rawValue)] \(f.status.rawValue) \(f.account ?? "-") \(f.ruleId): \(f.title)"
                })
        case .show(let id):
            let f = try FindingStore.get(on: db, id: id)
            let history = try FindingStore.history(on: db, id: id)
            var lines = [
                "#\(f.id) [\(f.severity.rawValue)] \(f.title)",
                "rule: \(f.ruleId)   account: \(f.account ?? "-")   entity: \(f.entityType ?? "-") \(f.entityId ?? "")",
                "status: \(f.status.rawValue)\(f.statusNote.map { " (\($0))" } ?? "")",
                "occurred: \(f.occurredAt.map(PGTimestamp.format) ?? "-")   first seen: \(PGTimestamp.format(f.firstSeen))   last seen: \(PGTimestamp.format(f.lastSeen))   detections: \(f.detections)   occurrences: \(f.occurrences)",
            ]
            if !f.apiCallIds.isEmpty { lines.append("api calls: \(f.apiCallIds.map(String.init).joined(separator: ", "))") }
            lines.append("evidence:")
            lines.append(Self.pretty(f.evidence))
            for h in history {
                lines.append("  \(PGTimestamp.format(h.at)) \(h.old ?? "-") -> \(h.new) by \(h.by)\(h.note.map { ": \($0)" } ?? "")")
            }
            return CommandResult(lines: lines)
        case .setStatus(let id, let status, let note, let by):
            let who = by ?? processEnvironment["USER"] ?? processEnvironment["LOGNAME"] ?? "unknown"
            let f = try FindingStore.setStatus(on: db, id: id, to: status, note: note, by: who)
            return CommandResult(lines: ["#\(f.id) is now \(f.status.rawValue): \(f.title)"])
        }
    }

    /// A finding's evidence pretty-printed (keys sorted); the text as stored when it is not JSON.
    static func pretty(_ json: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return json }
        return String(decoding: data, as: UTF8.self)
    }

    /// One finding as a JSON object on one line (`findings list --json`).
    static func json(_ f: Finding) -> String {
        var object: [String: Any] = [
            "id": f.id, "rule": f.ruleId, "severity": f.severity.rawValue, "title": f.title, "status": f.status.rawValue,
            "dedupe_key": f.dedupeKey, "first_seen": PGTimestamp.format(f.firstSeen), "last_seen": PGTimestamp.format(f.lastSeen),
            "detections": f.detections, "occurrences": f.occurrences, "api_call_ids": f.apiCallIds,
        ]
        object["account"] = f.account
        object["entity_type"] = f.entityType
        object["entity_id"] = f.entityId
        object["occurred_at"] = f.occurredAt.map(PGTimestamp.format)
        object["status_note"] = f.statusNote
        object["evidence"] = (try? JSONSerialization.jsonObject(with: Data(f.evidence.utf8))) ?? f.evidence
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
