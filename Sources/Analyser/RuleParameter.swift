import AuditConfig

/// One declared parameter of a rule (`-- param:` header line).
public struct RuleParameter: Sendable, Equatable {
    public let name: String
    public let type: ParameterType
    /// The default, as written in the header (a TOML literal).
    public let defaultLiteral: String
    /// The default, parsed.
    public let defaultValue: ConfigValue
    public let description: String
}
