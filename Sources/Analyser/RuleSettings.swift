import AuditConfig
import Foundation

/// A rule with its configuration applied: enabled or not, the severity override and every parameter's value.
public struct RuleSettings: Sendable {
    public let rule: Rule
    public let enabled: Bool
    /// `severity = "..."` in `[rules.<id>]`: replaces every finding's severity.
    public let severityOverride: Severity?
    /// Effective value of each declared parameter (config or default), as configured.
    public let values: [String: ConfigValue]
    /// Whether each parameter was set in the config (false: the default).
    public let configured: Set<String>
    /// Bind text of each declared parameter.
    public let binds: [String: String]

    /// Validates `table` (`[rules.<id>]`, nil when absent) against the rule's parameters.
    ///
    /// `inherited` gives parameters not set in `table` a value from another rule's table (its key path for errors):
    /// a `destinations` parameter called `allowlist` takes `[rules.unexpected_withdrawal] allowlist`.
    public init(rule: Rule, table: ConfigTable?, inherited: [String: (value: ConfigValue, path: String)] = [:]) throws(ConfigError) {
        let path = table?.path ?? "rules.\(rule.id)"
        let given = table?.values ?? [:]
        for key in given.keys.sorted() where rule.parameter(key) == nil && !Rule.universalParameters.contains(key) {
            throw .unknownKey(path: "\(path).\(key)")
        }
        var enabled = true
        if let v = given["enabled"] {
            guard case .bool(let b) = v else {
                throw .wrongType(path: "\(path).enabled", expected: "true or false", found: ParameterCodec.typeName(v))
            }
            enabled = b
        }
        var severity: Severity? = nil
        if let v = given["severity"] {
            guard case .string(let s) = v else {
                throw .wrongType(path: "\(path).severity", expected: "a severity string", found: ParameterCodec.typeName(v))
            }
            guard let parsed = Severity(rawValue: s) else {
                throw .invalidValue(
                    path: "\(path).severity", reason: "'\(s)' is not one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            severity = parsed
        }
        var values: [String: ConfigValue] = [:]
        var binds: [String: String] = [:]
        var configured = Set<String>()
        for p in rule.parameters {
            var value = p.defaultValue
            var valuePath = "\(path).\(p.name)"
            if let v = given[p.name] {
                value = v
                configured.insert(p.name)
            } else if let shared = inherited[p.name] {
                (value, valuePath) = shared
                configured.insert(p.name)
            }
            values[p.name] = value
            binds[p.name] = try ParameterCodec.encode(value, type: p.type, path: valuePath)
        }
        self.rule = rule
        self.enabled = enabled
        self.severityOverride = severity
        self.values = values
        self.configured = configured
        self.binds = binds
    }

    /// The time zone the rule's `:'timezone'` gets for an account whose own zone is `accountTimezone`.
    public func timezone(forAccount accountTimezone: String) -> String {
        if let tz = binds["timezone"], tz != "account" { return tz }
        return accountTimezone
    }

    /// Bind values in `$n` order for one account and window.
    func bindValues(accountId: Int, changedAfter: String, occurredAfter: String, now: Date, timezone: String) -> [String] {
        rule.placeholders.map { name in
            switch name {
            case "account_id": return String(accountId)
            case "changed_after": return changedAfter
            case "occurred_after": return occurredAfter
            case "now": return now.pgText
            case "timezone": return timezone
            default: return binds[name] ?? ""
            }
        }
    }

    /// Identifies the rule's SQL and parameter values: a change means earlier rows were judged differently,
    /// so the next run analyses the rule from scratch.
    func checksum(timezone: String) -> String {
        var text = rule.statement + "\u{0}" + timezone + "\u{0}" + (severityOverride?.rawValue ?? "")
        for key in binds.keys.sorted() { text += "\u{0}\(key)=\(binds[key]!)" }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// The rule whose `allowlist` of withdrawal destinations other withdrawal rules share (``ruleSettings(catalogue:config:)``).
let sharedAllowlistRule = "unexpected_withdrawal"

/// Validates every `[rules.<id>]` of the configuration against the catalogue.
public func ruleSettings(catalogue: RuleCatalogue, config: [String: ConfigTable]) throws(ConfigError) -> [RuleSettings] {
    for id in config.keys.sorted() where catalogue.rule(id) == nil {
        throw .unknownKey(path: config[id]?.path ?? "rules.\(id)")
    }
    // One list of trusted withdrawal destinations for every withdrawal rule: a `destinations` parameter called
    // `allowlist` that a rule's own table leaves unset takes the one of [rules.unexpected_withdrawal].
    var inherited: [String: (value: ConfigValue, path: String)] = [:]
    if let table = config[sharedAllowlistRule], let shared = table.values["allowlist"] {
        inherited["allowlist"] = (shared, "\(table.path).allowlist")
    }
    var out: [RuleSettings] = []
    for rule in catalogue.rules {
        let shares = rule.id != sharedAllowlistRule && rule.parameter("allowlist")?.type == .destinations
        out.append(try RuleSettings(rule: rule, table: config[rule.id], inherited: shares ? inherited : [:]))
    }
    return out
}

/// Validates `[rules.*]` of `config` against the rules in `sqlDirectory` (located like the migrations when nil), for
/// the moment the configuration is loaded: every command then refuses a bad rule parameter with exit 78 and its key
/// path before doing anything, instead of a rule failing in the middle of a nightly run.
///
/// When the rule files themselves cannot be found or read, nothing is checked here: that is not a configuration
/// problem, and the commands that run rules report it themselves.
public func validateRuleConfiguration(_ config: AuditConfiguration, sqlDirectory: String?) throws(ConfigError) {
    let catalogue: RuleCatalogue
    do {
        catalogue = try RuleCatalogue.locate(sqlDirectory: sqlDirectory)
    } catch {
        return
    }
    _ = try ruleSettings(catalogue: catalogue, config: config.rules)
}
