import AuditKernel
import Foundation

/// A finding as the report shows it (one row of `audit.findings`).
public struct FindingItem: Sendable {
    /// `audit.findings.id`, what `kraken-audit findings` commands take.
    public var id: Int64
    /// The rule that reported it.
    public var ruleId: String
    /// `info`, `low`, `medium`, `high` or `critical`.
    public var severity: String
    /// `open`, `acknowledged`, `resolved` or `suppressed`.
    public var status: String
    /// The rule's one-line summary of this finding.
    public var title: String
    /// What the finding is about (withdrawal, trade, order, ledger, api_key, account), if the rule says.
    public var entityType: String?
    /// Kraken's id of that entity (refid, txid, ...), if any.
    public var entityId: String?
    /// When an analysis run first reported it.
    public var firstSeen: Date
    /// When an analysis run last reported it.
    public var lastSeen: Date
    /// When the event it is about happened, if the rule says.
    public var occurredAt: Date?
    /// Evidence JSON, exact as stored.
    public var evidence: JSONValue
}
