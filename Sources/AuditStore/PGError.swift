/// The one error type of the PostgreSQL layer: what failed, with SQLSTATE, message and detail when the server
/// sent them. Messages are single-line and never contain a password.
///
/// Two texts, as postgres-nio's `PSQLError` keeps them: ``description`` is what a user reads (the SQLSTATE class's
/// meaning, the server's words, what to do) and never holds SQL or source file names; ``debugDescription``
/// (`String(reflecting:)`) adds the statement and the call site that issued it, for whoever debugs the program.
public struct PGError: Error, CustomStringConvertible, CustomDebugStringConvertible, Sendable, Equatable {
    /// What was being done.
    public enum Kind: String, Sendable {
        /// Could not connect (wrong URL, server down, authentication failed).
        case connection
        /// A statement failed on the server.
        case query
        /// `COPY ... FROM STDIN` failed.
        case copy
        /// A value in a result could not be decoded to the requested Swift type.
        case decode
        /// The connection was lost or is unusable.
        case connectionLost
    }

    public let kind: Kind
    /// Five-character SQLSTATE (e.g. `23505` duplicate key), when the server sent one.
    public let sqlState: String?
    /// Primary message.
    public let message: String
    public let detail: String?
    public let hint: String?
    /// The statement that failed, as the program wrote it (`$n` placeholders; bind values are never kept). Only in
    /// ``debugDescription``.
    public private(set) var statement: String?
    /// Where the statement was issued (`#fileID`), and ``line``. Only in ``debugDescription``.
    public private(set) var file: String?
    /// The line of ``file``.
    public private(set) var line: Int?

    public init(
        kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil, hint: String? = nil, statement: String? = nil,
        file: String? = nil, line: Int? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.statement = statement
        self.file = file
        self.line = line
    }

    /// This error with the statement and call site that caused it, unless it already names them (the innermost
    /// call knows best).
    func issued(_ statement: String, file: String, line: Int) -> PGError {
        var copy = self
        if copy.statement == nil { copy.statement = statement }
        if copy.file == nil {
            copy.file = file
            copy.line = line
        }
        return copy
    }

    /// Whether the server reported a serialisation failure or deadlock (safe to retry the transaction).
    public var isRetryableTransactionFailure: Bool { sqlState == "40001" || sqlState == "40P01" }
    /// Whether the same work may succeed later without anyone changing anything: the connection failed or was
    /// lost, or the server said so (08 connection exceptions, 57P01-57P03 shutdown/restart, 53 insufficient
    /// resources, 40001/40P01, 55P03 lock not available, 57014 statement timeout).
    public var isTemporary: Bool {
        if isConnectionFailure { return true }
        guard let s = sqlState else { return false }
        return s.hasPrefix("53") || ["40001", "40P01", "55P03", "57014"].contains(s)
    }
    /// Whether the session is gone or unusable: connecting failed, the connection was lost, or the server is
    /// shutting down or restarting (08, 57P01-57P03). Nothing more can be done on this connection.
    public var isConnectionFailure: Bool {
        if kind == .connection || kind == .connectionLost { return true }
        guard let s = sqlState else { return false }
        return s.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(s)
    }
    /// Whether this is a unique-constraint violation.
    public var isUniqueViolation: Bool { sqlState == "23505" }

    /// What a user reads: what failed, the SQLSTATE and its class's meaning, the server's message, detail and hint,
    /// and what to do. Never the statement nor a source file.
    public var description: String {
        var s: String
        switch kind {
        case .connection:
            s =
                "cannot connect to PostgreSQL: \(message) (check [database] url in the config, or the PG* environment variables / ~/.pgpass)"
        case .connectionLost:
            s = "the PostgreSQL connection was lost: \(message)"
        case .query, .copy:
            s = "PostgreSQL error"
            if let sqlState {
                s += " \(sqlState)"
                if let meaning = Self.classMeaning(sqlState) { s += " (\(meaning))" }
            }
            s += ": \(message)"
        case .decode:
            s = "cannot decode a database value: \(message)"
        }
        if let detail, !detail.isEmpty { s += " (detail: \(detail))" }
        if let hint, !hint.isEmpty { s += " (hint: \(hint))" }
        if kind == .query || kind == .copy || kind == .connectionLost, let advice { s += "; \(advice)" }
        return s
    }

    /// The description, then the statement and the call site that issued it (for debugging; may be long).
    public var debugDescription: String {
        var s = "PGError(kind: \(kind.rawValue), sqlState: \(sqlState ?? "-"), description: \(String(reflecting: description))"
        if let file { s += ", issuedAt: \(file):\(line ?? 0)" }
        if let statement { s += ", statement: \(String(reflecting: statement))" }
        return s + ")"
    }

    /// The meaning of a SQLSTATE's class (its first two characters), as PostgreSQL's "Appendix A. Error Codes"
    /// names it; nil for a class not listed there.
    static func classMeaning(_ sqlState: String) -> String? {
        switch sqlState.prefix(2) {
        case "08": return "connection exception"
        case "0A": return "feature not supported"
        case "22": return "data exception"
        case "23": return "integrity constraint violation"
        case "25": return "invalid transaction state"
        case "28": return "invalid authorization"
        case "3D": return "invalid catalog name"
        case "3F": return "invalid schema name"
        case "40": return "transaction rollback"
        case "42": return "syntax error or access rule violation"
        case "53": return "insufficient resources"
        case "54": return "program limit exceeded"
        case "55": return "object not in prerequisite state"
        case "57": return "operator intervention"
        case "58": return "system error"
        case "P0": return "PL/pgSQL error"
        case "XX": return "internal error"
        default: return nil
        }
    }

    /// What to do about it, when something can be said.
    var advice: String? {
        if kind == .connectionLost { return "this is temporary: a later run retries" }
        guard let sqlState else { return nil }
        switch sqlState {
        case "42501": return "the database role lacks a privilege: grant it, or connect as a role that has it"
        case "42P01", "42703", "42883", "3F000": return "the schema may be older than this program: run `kraken-audit migrate`"
        default: break
        }
        switch sqlState.prefix(2) {
        case "28": return "check the user and password ([database] url, the PG* environment variables or ~/.pgpass)"
        case "3D": return "check the database name in [database] url"
        case "53": return "the server is short of disk, memory or connections: free some, then retry"
        default: break
        }
        if isTemporary { return "this is temporary: a later run retries" }
        return nil
    }

    /// Collapses libpq's multi-line messages into one line.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: "; ")
    }
}
