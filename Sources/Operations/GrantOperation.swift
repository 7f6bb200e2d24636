/// `kraken-audit grant reader|writer NAME [--revoke]`: grants (or revokes) one of the kraken-audit roles.
public struct GrantOperation: AuditOperation {
    public static let label = "grant"
    /// `reader` or `writer`.
    public var role: AuditRole
    /// The PostgreSQL role that gets (or loses) `role`.
    public var grantee: String
    /// `--revoke`: revoke instead of granting.
    public var revoke: Bool

    /// Grants (or with `revoke`, revokes) `role` to `grantee`.
    public init(role: AuditRole, grantee: String, revoke: Bool = false) {
        self.role = role
        self.grantee = grantee
        self.revoke = revoke
    }

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        let db = try environment.connect()
        defer { db.close() }
        let outcome = revoke ? try RoleGrant.revoke(role, from: grantee, on: db) : try RoleGrant.grant(role, to: grantee, on: db)
        let verb = revoke ? "revoked \(outcome.role) from" : "granted \(outcome.role) to"
        let unchanged = revoke ? " (no change: it was not a member)" : " (no change: already a member)"
        var lines = ["\(verb) \(outcome.grantee)\(outcome.changed ? "" : unchanged)"]
        if !revoke, !outcome.granteeCanLogin {
            lines.append("note: \(outcome.grantee) cannot log in (NOLOGIN); grant it to a login role or ALTER ROLE ... LOGIN")
        }
        return CommandResult(lines: lines)
    }
}
