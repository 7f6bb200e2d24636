import ArgumentParser
import Operations

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending database migrations (sql/migrations); safe to run concurrently and repeatedly.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Only show what is applied and pending.")
    var status = false

    func run() async throws {
        try await global.run(MigrateOperation(statusOnly: status))
    }
}
