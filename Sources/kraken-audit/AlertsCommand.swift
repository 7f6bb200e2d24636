import ArgumentParser
import Operations

struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Deliver pending alerts through the [alerts] hook (the nightly run calls this).",
        discussion: """
            Findings at or above [alerts] min_severity are queued when the analyser creates them. Each delivery
            groups one analysis run's findings of one account into one hook call with a JSON document on stdin.
            Exit 0 from the hook = delivered; anything else (or a timeout) = retried later with backoff.

            Examples:
              kraken-audit alerts
              kraken-audit alerts --test      # send a sample alert to check the hook
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Send a sample alert to the hook and report the result; stores nothing.")
    var test = false

    func run() async throws {
        try await global.run(AlertsOperation(test: test))
    }
}
