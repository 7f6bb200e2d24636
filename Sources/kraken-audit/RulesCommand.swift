import Analyser
import ArgumentParser
import AuditConfig
import Foundation
import Operations

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "List the analyser's rules with their parameters (defaults and configured values).",
        discussion: """
            Each rule is a SQL file under sql/rules; tune or disable it with [rules.<id>] in the config, e.g.
              [rules.off_hours_trading]
              business_hours = "07:00-19:00"
              holidays = ["2026-12-25"]
            `--psql ID --account NAME` prints a psql command line that runs the rule by hand with the configured values.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Also print what each rule catches and its known false positives.")
    var verbose = false

    @Option(help: "Print a psql command that runs this rule with the configured parameters.")
    var psql: String?

    @Option(help: "Account for --psql (its id is looked up with a subquery, its timezone from the config).")
    var account: String?

    func run() throws {
        let env = try global.environment(label: "rules")
        let settings: [RuleSettings]
        do {
            let catalogue = try RuleCatalogue.locate(sqlDirectory: env.sqlDirectory)
            settings = try ruleSettings(catalogue: catalogue, config: env.config.rules)
        } catch let error as AnalyserError {
            throw fail(analyser: error)
        } catch {
            throw fail(error)
        }
        if let psql {
            guard let s = settings.first(where: { $0.rule.id == psql }) else {
                throw fail(analyser: .unknownRule(id: psql, known: settings.map(\.rule.id)))
            }
            let acct = env.config.accounts.first { $0.name == account } ?? env.config.accounts.first
            print(Self.psqlCommand(s, account: acct?.name ?? "main", timezone: s.timezone(forAccount: acct?.timezone ?? env.config.ops.timezone)))
            return
        }
        for s in settings {
            let state = s.enabled ? "" : "  (disabled)"
            let sev = s.severityOverride.map { "\($0.rawValue), overridden" } ?? s.rule.severity.rawValue
            print("\(s.rule.id) [\(sev)]\(state): \(s.rule.title)")
            for p in s.rule.parameters {
                let value = s.configured.contains(p.name) ? "\(s.binds[p.name] ?? "")  (configured; default \(p.defaultLiteral))" : p.defaultLiteral
                print("    \(p.name) (\(p.type.rawValue)) = \(value)")
                if verbose { print("        \(p.description)") }
            }
            if verbose {
                print("  catches: \(s.rule.catches)")
                print("  false positives: \(s.rule.falsePositives)")
            }
        }
    }

    static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func psqlCommand(_ s: RuleSettings, account: String, timezone: String) -> String {
        var vars: [(String, String)] = []
        for name in s.rule.placeholders {
            switch name {
            case "account_id": vars.append((name, "$(psql -Atc \"SELECT id FROM audit.accounts WHERE name = '\(account)'\")"))
            case "changed_after", "occurred_after": vars.append((name, "-infinity"))
            case "now": vars.append((name, "$(date -u +%Y-%m-%dT%H:%M:%SZ)"))
            case "timezone": vars.append((name, timezone))
            default: vars.append((name, s.binds[name] ?? ""))
            }
        }
        let args = vars.map { name, value in
            value.hasPrefix("$(") ? "-v \(name)=\"\(value)\"" : "-v \(name)=\(shellQuote(value))"
        }
        return "psql -X " + args.joined(separator: " \\\n     ") + " \\\n     -f \(s.rule.path)"
    }
}
