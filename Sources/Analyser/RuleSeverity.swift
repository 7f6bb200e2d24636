import AuditConfig

/// The value of a `severity` rule parameter: a finding severity, or `off` to skip that kind of finding.
///
/// The finding severities are exactly the values `audit.findings.severity`'s CHECK constraint allows
/// (sql/migrations/0001; `Severity`), so a configured value can never make the rule's INSERT fail at run time.
/// Spelling is exact (lower case): `"High"` is refused when the configuration is loaded.
public enum RuleSeverity: String, Sendable, CaseIterable {
    case info, low, medium, high, critical, off

    /// The finding severity, nil for `off`.
    public var severity: Severity? { Severity(rawValue: rawValue) }
}
