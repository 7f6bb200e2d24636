import ArgumentParser
import Operations

extension AuditRole: ExpressibleByArgument {}

struct GrantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grant",
        abstract: "Grant (or revoke) the analysts' read-only role or the collector's role to a PostgreSQL login role.",
        discussion: """
            reader = kraken_audit_reader: SELECT on the documented views of schema kraken, nothing else.
            writer = kraken_audit_writer: what collect/analyse/alerts need (rows of schema audit, no DDL).
            The roles are created by `kraken-audit migrate`. The login role must exist; the [database] user must
            be a superuser or have CREATEROLE. Examples:
              psql -c "CREATE ROLE alice LOGIN PASSWORD 'change-me'"
              kraken-audit grant reader alice
              kraken-audit grant reader alice --revoke
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "reader or writer.")
    var role: AuditRole

    @Argument(help: "The PostgreSQL role (user) that gets the role.")
    var name: String

    @Flag(help: "Revoke the role instead of granting it.")
    var revoke = false

    func run() async throws {
        try await global.run(GrantOperation(role: role, grantee: name, revoke: revoke))
    }
}
