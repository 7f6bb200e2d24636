import AuditConfig

/// What an analysis run did.
public struct AnalysisSummary: Sendable {
    /// `audit.collector_runs.id` of this run (command `analyse`); outbox rows carry it.
    public let runId: Int64
    public var results: [RuleResult]
    public var seconds: Double

    /// Findings created, over all rules and accounts.
    public var newFindings: Int { results.reduce(0) { $0 + $1.new } }
    /// Existing findings seen again.
    public var updatedFindings: Int { results.reduce(0) { $0 + $1.updated } }
    public var reopenedFindings: Int { results.reduce(0) { $0 + $1.reopened } }
    /// Findings resolved automatically because their condition no longer holds.
    public var resolvedFindings: Int { results.reduce(0) { $0 + $1.resolved } }
    public var alertsQueued: Int { results.reduce(0) { $0 + $1.alertsQueued } }
    /// Rules that failed.
    public var failures: [RuleResult] { results.filter { $0.failure != nil } }
    /// Rules that waited for a complete collection of their account.
    public var deferred: [RuleResult] { results.filter { $0.deferred != nil } }
    /// New findings at `severity`.
    public func newFindings(severity: Severity) -> Int { results.reduce(0) { $0 + ($1.newBySeverity[severity] ?? 0) } }
}
