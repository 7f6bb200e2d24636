/// Tunables of the analyser itself (not of a rule).
public struct AnalyserOptions: Sendable {
    /// Rows changed up to this long before the previous run's mark are analysed again, covering rows written by
    /// transactions that were still open then. Re-analysis never duplicates findings.
    public var overlapSeconds: Double
    /// Alert policy; nil writes no outbox rows.
    public var alerts: AlertPolicy?

    public init(overlapSeconds: Double = 600, alerts: AlertPolicy? = nil) {
        self.overlapSeconds = overlapSeconds
        self.alerts = alerts
    }
}
