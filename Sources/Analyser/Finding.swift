import AuditConfig
import Foundation

/// One row of `audit.findings`.
public struct Finding: Sendable {
    public let id: Int64
    public let ruleId: String
    public let severity: Severity
    public let account: String?
    public let entityType: String?
    public let entityId: String?
    public let apiCallIds: [Int64]
    public let title: String
    /// The evidence as JSON text.
    public let evidence: String
    public let dedupeKey: String
    public let firstSeen: Date
    public let lastSeen: Date
    public let occurredAt: Date?
    /// Analysis runs that reported it (re-analyses included).
    public let detections: Int
    /// How many times the problem occurred (e.g. failed collection runs with one cause since the last success):
    /// one finding per problem, not per run.
    public let occurrences: Int
    public let status: FindingStatus
    public let statusNote: String?
    public let statusChangedAt: Date?
    public let statusChangedBy: String?
}
