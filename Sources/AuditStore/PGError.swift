/// The one error type of the PostgreSQL layer: what failed, with SQLSTATE, message and detail when the server
/// sent them. Messages are single-line and never contain a password.
public struct PGError: Error, CustomStringConvertible, Sendable, Equatable {
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

    public init(kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil, hint: String? = nil) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
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

    public var description: String {
        var s: String
        switch kind {
        case .connection:
            s = "cannot connect to PostgreSQL: \(message) (check [database] url in the config, or the PG* environment variables / ~/.pgpass)"
        case .connectionLost:
            s = "the PostgreSQL connection was lost: \(message)"
        case .query, .copy:
            s = "PostgreSQL error"
            if let sqlState { s += " \(sqlState)" }
            s += ": \(message)"
        case .decode:
            s = "cannot decode a database value: \(message)"
        }
        if let detail, !detail.isEmpty { s += " (detail: \(detail))" }
        if let hint, !hint.isEmpty { s += " (hint: \(hint))" }
        return s
    }

    /// Collapses libpq's multi-line messages into one line.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: "; ")
    }
}
