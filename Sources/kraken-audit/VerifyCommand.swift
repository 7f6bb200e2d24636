import ArgumentParser
import Foundation
import Operations

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute every hash chain and check every signed digest; name each row changed, deleted or inserted out of band.",
        discussion: "Exit 0: intact. 1: tampering found (each problem printed). 65/78: unreadable input or configuration.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("account"), help: "Only this account's chains (repeatable; digests are always checked whole).")
    var accounts: [String] = []

    @Option(help: "Only rows chained since this date (YYYY-MM-DD, UTC) or time (ISO 8601).")
    var since: String?

    @Option(name: .customLong("digest-dir"), help: "The digest files to check (default: [integrity] digest_dir).")
    var digestDir: String?

    @Option(
        name: .customLong("public-key"),
        help: "The public key that signed the digests (default: derived from [integrity] signing_key_file).")
    var publicKey: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        if let since, DateArgument.dayOrTime(since) == nil {
            throw ValidationError("--since '\(since)': expected YYYY-MM-DD or an ISO 8601 time such as 2026-03-30T06:00:00Z")
        }
    }

    func run() async throws {
        try await global.run(
            VerifyOperation(
                accounts: accounts, since: since.flatMap(DateArgument.dayOrTime), digestDirectory: digestDir, publicKeyFile: publicKey,
                json: json))
    }
}
