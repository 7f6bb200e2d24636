import AuditStore

/// The two database roles migration `0004_analyst_views.sql` creates (cluster-wide, `NOLOGIN`): grant them to
/// login roles.
public enum AuditRole: String, Sendable, CaseIterable {
    /// `kraken_audit_reader`: SELECT on the views of schema `kraken`, nothing else.
    case reader
    /// `kraken_audit_writer`: rows of schema `audit` (SELECT, INSERT, UPDATE), sequences, audit functions; no DDL.
    case writer

    /// The PostgreSQL role name.
    public var roleName: String { "kraken_audit_\(rawValue)" }
}

/// Why a role could not be granted or revoked. Each case says what to do.
public enum GrantError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The grantee name is empty, longer than PostgreSQL's 63 bytes, or contains a NUL byte.
    case invalidName(String)
    /// `kraken_audit_reader`/`_writer` does not exist: migration 0004 was not applied.
    case roleMissing(String)
    /// No role of that name exists in the cluster.
    case granteeMissing(String)
    /// The connected user may not grant the role (needs CREATEROLE, superuser, or ADMIN OPTION on it).
    case notAllowed(role: String, grantee: String, PGError)
    case database(PGError)

    public var description: String {
        switch self {
        case .invalidName(let name):
            return "'\(name)' is not a PostgreSQL role name (1 to 63 bytes, no NUL)"
        case .roleMissing(let role):
            return "role \(role) does not exist: run kraken-audit migrate (migration 0004 creates it)"
        case .granteeMissing(let name):
            return "no PostgreSQL role named '\(name)': create it first, e.g. CREATE ROLE \"\(name)\" LOGIN PASSWORD '...'"
        case .notAllowed(let role, let grantee, let error):
            return
                "not allowed to grant \(role) to '\(grantee)' (\(error.message)): connect as a superuser or a role with CREATEROLE ([database] url)"
        case .database(let error):
            return error.description
        }
    }

    /// The process exit status for this error (see ``ExitStatus/forError(_:)``).
    public var exitStatus: ExitStatus { ExitStatus.forError(self) }
}

/// What a grant or revoke did.
public struct GrantOutcome: Sendable, Equatable {
    public let role: String
    public let grantee: String
    /// Whether membership changed (false: the grantee already was, or was not, a member).
    public let changed: Bool
    /// Whether the grantee can log in (a NOLOGIN grantee is only useful as a group).
    public let granteeCanLogin: Bool

    public init(role: String, grantee: String, changed: Bool, granteeCanLogin: Bool) {
        self.role = role
        self.grantee = grantee
        self.changed = changed
        self.granteeCanLogin = granteeCanLogin
    }
}

/// Grants and revokes the kraken-audit roles. The grantee name is never put into SQL text by Swift: the server
/// quotes it (`format('%I')`), so any role name, however odd, is handled and nothing can be injected.
public enum RoleGrant {
    /// `GRANT <role> TO <grantee>`.
    public static func grant(_ role: AuditRole, to grantee: String, on db: PGConnection) throws(GrantError) -> GrantOutcome {
        try change(role, grantee: grantee, grant: true, on: db)
    }

    /// `REVOKE <role> FROM <grantee>`.
    public static func revoke(_ role: AuditRole, from grantee: String, on db: PGConnection) throws(GrantError) -> GrantOutcome {
        try change(role, grantee: grantee, grant: false, on: db)
    }

    /// Whether `grantee` is a direct member of `role`.
    public static func isMember(_ grantee: String, of role: AuditRole, on db: PGConnection) throws(GrantError) -> Bool {
        do {
            return try db.query(
                """
                SELECT EXISTS (SELECT FROM pg_auth_members m
                                 JOIN pg_roles r ON r.oid = m.roleid
                                 JOIN pg_roles u ON u.oid = m.member
                                WHERE r.rolname = $1 AND u.rolname = $2)
                """, [role.roleName, grantee]
            ).rows.first?.decode(0, as: Bool.self) ?? false
        } catch {
            throw .database(error)
        }
    }

    private static func change(_ role: AuditRole, grantee: String, grant: Bool, on db: PGConnection) throws(GrantError) -> GrantOutcome {
        guard !grantee.isEmpty, grantee.utf8.count <= 63, !grantee.utf8.contains(0) else { throw .invalidName(grantee) }
        let canLogin: Bool
        let statement: String
        do {
            let roleExists =
                try db.query("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)", [role.roleName])
                .rows.first?.decode(0, as: Bool.self) ?? false
            guard roleExists else { throw GrantError.roleMissing(role.roleName) }
            guard let row = try db.query("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", [grantee]).rows.first else {
                throw GrantError.granteeMissing(grantee)
            }
            canLogin = try row.decode(0, as: Bool.self)
            // The server quotes both names as identifiers; the result is a single statement.
            statement = try db.query(
                grant ? "SELECT format('GRANT %I TO %I', $1::text, $2::text)" : "SELECT format('REVOKE %I FROM %I', $1::text, $2::text)",
                [role.roleName, grantee]
            ).rows[0].decode(0, as: String.self)
        } catch let error as GrantError {
            throw error
        } catch let error as PGError {
            throw .database(error)
        } catch {
            throw .database(PGError(kind: .query, message: "\(error)"))
        }
        let before = try isMember(grantee, of: role, on: db)
        do {
            try db.execute(statement)
        } catch {
            if error.sqlState == "42501" || error.sqlState == "0LP01" {
                throw .notAllowed(role: role.roleName, grantee: grantee, error)
            }
            throw .database(error)
        }
        let after = try isMember(grantee, of: role, on: db)
        return GrantOutcome(role: role.roleName, grantee: grantee, changed: before != after, granteeCanLogin: canLogin)
    }
}
