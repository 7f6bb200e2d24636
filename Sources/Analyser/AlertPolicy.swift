import AuditConfig

/// When the analyser queues findings in the alert outbox (`[alerts]`). Re-notifications of findings still open
/// and notices of resolutions are queued by the Alerts module when it delivers.
public struct AlertPolicy: Sendable, Equatable {
    /// Findings at or above this severity are announced.
    public var minSeverity: Severity

    public init(minSeverity: Severity) {
        self.minSeverity = minSeverity
    }

    /// The policy of an `[alerts]` table; nil when alerts are not configured (then nothing is queued).
    public init?(_ config: AlertsConfig?) {
        guard let config, let severity = Severity(rawValue: config.minSeverity) else { return nil }
        self.init(minSeverity: severity)
    }
}
