import ArgumentParser
import Operations

struct KeygenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create the Ed25519 key that signs integrity digests: FILE (private, 0600) and FILE.pub; never overwrites.",
        discussion: """
            Prints the public key, its fingerprint and the line to add to kraken-audit.toml
            ([integrity] signing_key_file). Needs no configuration file and no database.
            Exit 73 when FILE or FILE.pub already exists.
            """)

    @Option(name: .long, help: ArgumentHelp("The private key file to create (FILE.pub gets the public key).", valueName: "FILE"))
    var out: String

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let status = await CommandRunner.runWithoutConfiguration(KeygenOperation(output: out), settings: global.settings)
        if status != .success { throw ExitCode(status.rawValue) }
    }
}
