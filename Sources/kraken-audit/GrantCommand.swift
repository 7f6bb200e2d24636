import ArgumentParser
import Foundation
import Operations

extension AuditRole: ExpressibleByArgument {}

struct GrantCommand: ParsableCommand {
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

    func run() throws {
        let env = try global.environment(label: "grant")
        do {
            let db = try env.connect()
            defer { db.close() }
            let outcome = revoke ? try RoleGrant.revoke(role, from: name, on: db) : try RoleGrant.grant(role, to: name, on: db)
            let verb = revoke ? "revoked \(outcome.role) from" : "granted \(outcome.role) to"
            let unchanged = revoke ? " (no change: it was not a member)" : " (no change: already a member)"
            print("\(verb) \(outcome.grantee)\(outcome.changed ? "" : unchanged)")
            if !revoke, !outcome.granteeCanLogin {
                print("note: \(outcome.grantee) cannot log in (NOLOGIN); grant it to a login role or ALTER ROLE ... LOGIN")
            }
        } catch let error as GrantError {
            FileHandle.standardError.write(Data("kraken-audit: error: \(error)\n".utf8))
            throw ExitCode(error.exitStatus.rawValue)
        } catch {
            throw fail(error)
        }
    }
}
