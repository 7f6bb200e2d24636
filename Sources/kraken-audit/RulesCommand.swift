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

    @Option(help: "Account for --psql (required when several are configured; its id is looked up with a subquery, its timezone from the config).")
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
            let acct: AccountConfig
            do {
                acct = try Self.psqlAccount(named: account, in: env.config.accounts)
            } catch {
                // Exit 64 (usage) for both cases, as `analyse --account` does for an unknown name.
                FileHandle.standardError.write(Data("kraken-audit: error: \(error)\n".utf8))
                throw ExitCode(ExitStatus.usage.rawValue)
            }
            print(Self.psqlCommand(s, account: acct.name, timezone: s.timezone(forAccount: acct.timezone)))
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
