import AuditConfig

/// Which findings to list.
public struct FindingFilter: Sendable {
    public var account: String?
    public var statuses: [FindingStatus]
    public var minSeverity: Severity
    public var ruleIds: [String]
    public var limit: Int

    public init(
        account: String? = nil, statuses: [FindingStatus] = [.open, .acknowledged], minSeverity: Severity = .info,
        ruleIds: [String] = [], limit: Int = 100
    ) {
        self.account = account
        self.statuses = statuses
        self.minSeverity = minSeverity
        self.ruleIds = ruleIds
        self.limit = limit
    }
}
