import AuditConfig

/// One rule: a `sql/rules/<id>.sql` file with its parsed header and its SQL ready to bind.
public struct Rule: Sendable {
    public let id: String
    public let title: String
    /// The rule's default (usually highest) severity; individual findings may be lower.
    public let severity: Severity
    /// What a finding is about (withdrawal, trade, order, ledger, api_key, account).
    public let entity: String
    /// What the rule reads (`-- input:`, default `collected`).
    public let input: RuleInput
    public let parameters: [RuleParameter]
    /// What the rule catches.
    public let catches: String
    /// Known false positives.
    public let falsePositives: String
    /// The file's path.
    public let path: String
    /// The file's text, as analysts run it with psql.
    public let source: String
    /// The statement with `:'name'` placeholders replaced by `$1`, `$2`, ... (trailing semicolon removed).
    public let statement: String
    /// Placeholder names in `$n` order (`placeholders[0]` is `$1`).
    public let placeholders: [String]
    /// How its findings are resolved (`-- resolves:`, default `manually`).
    public let resolves: RuleResolution

    /// Placeholders every rule may use without declaring them.
    public static let standardPlaceholders: Set<String> = ["account_id", "changed_after", "occurred_after", "now", "timezone"]
    /// Parameters every rule accepts in `[rules.<id>]` besides its declared ones.
    public static let universalParameters: Set<String> = ["enabled", "severity"]

    /// The declared parameter called `name`.
    public func parameter(_ name: String) -> RuleParameter? { parameters.first { $0.name == name } }
}
