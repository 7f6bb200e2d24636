import AuditConfig
import AuditStore
import KrakenAPI
import Reports
import Alerts

/// Process exit codes, following sysexits(3) where one fits. Documented in the README and `--help`.
public enum ExitStatus: Int32, Sendable, CaseIterable {
    case success = 0
    /// A check failed (doctor) or a general error.
    case failure = 1
    /// The command completed, but at least one account failed (the others were collected and reported).
    case partial = 3
    /// `--fail-on SEVERITY`: new findings at or above that severity.
    case findings = 4
    /// Another `kraken-audit run` holds the database's run lock.
    case alreadyRunning = 5
    /// Bad command line.
    case usage = 64
    /// Bad data from Kraken (malformed responses) or in the database.
    case dataError = 65
    /// A required service is unavailable and retrying later will not help by itself (e.g. a key was refused).
    case unavailable = 69
    /// Internal software error.
    case software = 70
    /// Cannot write an output file.
    case cantCreate = 73
    /// Temporary failure (database or Kraken unreachable, key locked out): retry later.
    case tempFail = 75
    /// Configuration error.
    case config = 78

    /// The code for an error escaping a command.
    public static func forError(_ error: any Error) -> ExitStatus {
        switch error {
        case is ConfigError, is SecretError, is SigningError: return .config
        case let e as PGError:
            return e.isTemporary ? .tempFail : .software
        case let e as MigrationError:
            switch e {
            case .database(let pg): return forError(pg)
            case .directoryNotFound, .badFileName, .duplicateVersion, .unreadable: return .config
            case .checksumMismatch, .databaseNewer: return .dataError
            case .failed: return .software
            }
        case let e as KrakenError:
            if e.isTransient { return .tempFail }
            switch e {
            case .insecureURL: return .config
            case .malformedResponse: return .dataError
            case .nonceUnavailable: return .tempFail
            default: return e.kind == .temporaryLockout ? .tempFail : .unavailable
            }
        case is OutputError: return .cantCreate
        case let e as AlertError:
            switch e {
            case .notConfigured, .hookNotExecutable: return .config
            case .database(let pg): return forError(pg)
            }
        case is SchemaNotCurrent: return .config
        default: return .failure
        }
    }
}
