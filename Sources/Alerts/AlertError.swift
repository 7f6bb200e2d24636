import AuditStore

/// Why alert delivery could not run.
public enum AlertError: Error, CustomStringConvertible {
    /// The configuration has no `[alerts]` table.
    case notConfigured
    /// The configured hook (this path) is missing or not executable.
    case hookNotExecutable(String)
    /// Reading or updating the alert outbox failed.
    case database(PGError)

    /// What failed and what to do.
    public var description: String {
        switch self {
        case .notConfigured: return "no [alerts] section in the config: add one with hook = \"/path/to/executable\""
        case .hookNotExecutable(let path): return "alert hook \(path) does not exist or is not executable: chmod +x it or fix [alerts] hook"
        case .database(let e): return e.description
        }
    }
}
