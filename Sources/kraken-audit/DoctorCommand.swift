import ArgumentParser
import Operations

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check config, secrets, database, migrations and each account's Kraken key; print a checklist with fixes.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.run(DoctorOperation())
    }
}
