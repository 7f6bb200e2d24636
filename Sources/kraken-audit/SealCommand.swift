import ArgumentParser
import Operations

struct SealCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seal",
        abstract:
            "Sign a digest of every hash chain's head ([integrity] signing_key_file), store it and write it to [integrity] digest_dir.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.run(SealOperation())
    }
}
