import AuditConfig

/// Counts for one rule on one account in one run.
public struct RuleResult: Sendable {
    public let account: String
    public let ruleId: String
    /// Rows the rule returned (after deduplication within the run).
    public var detected = 0
    /// Findings created by this run, by severity.
    public var newBySeverity: [Severity: Int] = [:]
    /// Existing findings seen again (last_seen updated).
    public var updated = 0
    /// Resolved findings reported again with newer evidence, now open again.
    public var reopened = 0
    /// Open or acknowledged findings the rule no longer reports, resolved by the analyser (rules with
    /// `-- resolves: when_absent` only).
    public var resolved = 0
    /// Outbox rows written (event `new`).
    public var alertsQueued = 0
    /// Start of the incremental window (`changed_after`), `-infinity` for a full analysis.
    public var changedAfter = "-infinity"
    /// Seconds spent, including the upsert.
    public var seconds = 0.0
    /// Why the rule failed (its transaction was rolled back; the next run retries the same window).
    public var failure: String? = nil
    /// Why the rule did not run (the account's latest collection did not complete: its stored rows are a partial
    /// copy of Kraken's). Its incremental state is left alone, so the next run after a complete collection
    /// analyses these rows too.
    public var deferred: String? = nil

    /// Findings created.
    public var new: Int { newBySeverity.values.reduce(0, +) }
}
