import Analyser
import AuditConfig

/// `kraken-audit rules`: lists the rules with their parameters, or (`--psql ID`) prints a psql command line that
/// runs one rule by hand with the configured values.
public struct RulesOperation: AuditOperation {
    public static let label = "rules"
    /// `--verbose`: also what each rule catches and its known false positives.
    public var verbose = false
    /// `--psql ID`.
    public var psqlRule: String?
    /// `--account` for `--psql`.
    public var account: String?

    /// Lists the rules (`verbose`: with what they catch), or prints the psql command for `psqlRule`.
    public init(verbose: Bool = false, psqlRule: String? = nil, account: String? = nil) {
        self.verbose = verbose
        self.psqlRule = psqlRule
        self.account = account
    }

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        let catalogue = try RuleCatalogue.locate(sqlDirectory: environment.sqlDirectory)
        let settings = try ruleSettings(catalogue: catalogue, config: environment.config.rules)
        if let psqlRule {
            guard let s = settings.first(where: { $0.rule.id == psqlRule }) else {
                throw AnalyserError.unknownRule(id: psqlRule, known: settings.map(\.rule.id))
            }
            let acct = try Self.psqlAccount(named: account, in: environment.config.accounts)
            return CommandResult(lines: [Self.psqlCommand(s, account: acct.name, timezone: s.timezone(forAccount: acct.timezone))])
        }
        var lines: [String] = []
        for s in settings {
            let state = s.enabled ? "" : "  (disabled)"
            let sev = s.severityOverride.map { "\($0.rawValue), overridden" } ?? s.rule.severity.rawValue
            lines.append("\(s.rule.id) [\(sev)]\(state): \(s.rule.title)")
            for p in s.rule.parameters {
                let value =
                    s.configured.contains(p.name) ? "\(s.binds[p.name] ?? "")  (configured; default \(p.defaultLiteral))" : p.defaultLiteral
                lines.append("    \(p.name) (\(p.type.rawValue)) = \(value)")
                if verbose { lines.append("        \(p.description)") }
            }
            if verbose {
                lines.append("  catches: \(s.rule.catches)")
                lines.append("  false positives: \(s.rule.falsePositives)")
            }
        }
        return CommandResult(lines: lines)
    }

    /// The account `--psql` runs for: the one named by `--account` (an unknown name is a usage error, exit 64,
    /// like `analyse --account`: the command line is wrong, not the config), or the only configured account.
    /// Several accounts and no `--account` is an error too: silently picking one would run the rule for an
    /// account the analyst did not choose.
    static func psqlAccount(named name: String?, in accounts: [AccountConfig]) throws(AnalyserError) -> AccountConfig {
        let known = accounts.map(\.name)
        if let name {
            guard let match = accounts.first(where: { $0.name == name }) else {
                throw .unknownAccount(name: name, known: known)
            }
            return match
        }
        guard accounts.count == 1 else { throw .accountRequired(known: known) }
        return accounts[0]
    }

    /// `s` as one POSIX shell word whatever it holds: single quotes, each `'` written as `'\''`.
    static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// `s` as a SQL string literal (standard_conforming_strings: only `'` needs doubling).
    static func sqlLiteral(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }

    /// A psql command line running the rule's file with every placeholder set. Every value and the file's path
    /// are single-quoted, so nothing in a configured value (`$(...)`, backquotes, `;`) reaches the shell; the only
    /// command substitutions are the two this function writes itself (the account id and the current time).
    static func psqlCommand(_ s: RuleSettings, account: String, timezone: String) -> String {
        var args: [String] = []
        for name in s.rule.placeholders {
            switch name {
            case "account_id":
                // The name is a SQL literal inside a single-quoted shell word: safe for any name.
                let query = "SELECT id FROM audit.accounts WHERE name = \(sqlLiteral(account))"
                args.append("-v account_id=\"$(psql -X -At -c \(shellQuote(query)))\"")
            case "now": args.append("-v now=\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"")
            case "changed_after", "occurred_after": args.append("-v " + shellQuote("\(name)=-infinity"))
            case "timezone": args.append("-v " + shellQuote("\(name)=\(timezone)"))
            default: args.append("-v " + shellQuote("\(name)=\(s.binds[name] ?? "")"))
            }
        }
        return "psql -X " + args.joined(separator: " \\\n     ") + " \\\n     -f " + shellQuote(s.rule.path)
    }
}
