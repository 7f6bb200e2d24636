import ArgumentParser
import Operations

struct RulesCommand: AsyncParsableCommand {
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

    @Option(
        help:
            "Account for --psql (required when several are configured; its id is looked up with a subquery, its timezone from the config).")
    var account: String?

    func run() async throws {
        try await global.run(RulesOperation(verbose: verbose, psqlRule: psql, account: account))
    }
}
