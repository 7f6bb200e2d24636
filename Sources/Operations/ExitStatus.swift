import Alerts
import Analyser
import AuditConfig
import AuditKernel
import AuditStore
import Collector
import Integrity
import KrakenAPI
import Reports
import Watch

/// Process exit codes, following sysexits(3) where one fits. Documented in the README ("Exit codes") and in
/// `kraken-audit --help`; ``forError(_:)`` is the one place that maps an error to one of them.
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
    /// Stopped cleanly by SIGINT (128 + 2).
    case interrupted = 130
    /// Stopped cleanly by SIGTERM (128 + 15).
    case terminated = 143

    /// The status for a command stopped cleanly by `signal` (SIGINT → 130, SIGTERM → 143; those are the only
    /// signals kraken-audit stops on; anything else counts as a temporary failure: the next run resumes).
    public static func forSignal(_ signal: Int32) -> ExitStatus {
        ExitStatus(rawValue: 128 + signal).flatMap { $0 == .interrupted || $0 == .terminated ? $0 : nil } ?? .tempFail
    }

    /// The code for an error escaping a command: every error type the tool throws is named here, so a new
    /// error type or case gets its code in this one place (the table in `ExitStatusTests` lists them all).
    public static func forError(_ error: any Error) -> ExitStatus {
        switch error {
        case is ConfigError, is SecretError, is SigningError, is SchemaNotCurrent: return .config
        case let e as PGError: return forDatabase(e)
        case let e as MigrationError: return forMigration(e)
        case let e as KrakenError: return forKraken(e)
        case let e as ResponseBodyError:
            switch e {
            case .tooLarge: return .unavailable
            case .fileWrite: return .cantCreate
            }
        case is OutputError: return .cantCreate
        case let e as AlertError:
            switch e {
            case .notConfigured, .hookNotExecutable: return .config
            case .database(let pg): return forDatabase(pg)
            }
        case let e as AnalyserError: return forAnalyser(e)
        case let e as CollectError: return forCollect(e)
        case let e as ExportError: return forExport(e)
        case let e as GrantError:
            switch e {
            case .invalidName, .granteeMissing: return .usage
            case .roleMissing: return .config
            case .notAllowed: return .unavailable
            case .database(let pg): return forDatabase(pg)
            }
        case let e as RunError:
            switch e {
            case .alreadyRunning, .nothingLeft: return .alreadyRunning
            case .interrupted(let signal): return forSignal(signal)
            }
        case let e as IntegrityError: return forIntegrity(e)
        case let e as WatchError:
            switch e {
            case .configuration, .subscriptionRefused: return .config
            case .database: return .tempFail
            default: return .unavailable
            }
        case is UsageError: return .usage
        case is JSONParseError: return .dataError
        case is CancellationError: return .tempFail
        default: return .failure
        }
    }

    static func forDatabase(_ e: PGError) -> ExitStatus {
        e.isTemporary ? .tempFail : .software
    }

    static func forMigration(_ e: MigrationError) -> ExitStatus {
        switch e {
        case .database(let pg): return forDatabase(pg)
        case .directoryNotFound, .badFileName, .duplicateVersion, .unreadable: return .config
        case .checksumMismatch, .databaseNewer: return .dataError
        case .failed: return .software
        }
    }

    static func forKraken(_ e: KrakenError) -> ExitStatus {
        if e.isTransient { return .tempFail }
        switch e {
        case .insecureURL: return .config
        case .malformedResponse: return .dataError
        case .nonceUnavailable: return .tempFail
        default: return e.kind == .temporaryLockout ? .tempFail : .unavailable
        }
    }

    /// Configuration and rule-file problems exit 78; a wrong `--account`/`--rule` (the command line is wrong, not
    /// the config) 64; a concurrent analyser 75; an unknown finding or a refused status change 1.
    static func forAnalyser(_ e: AnalyserError) -> ExitStatus {
        switch e {
        case .config, .rulesUnreadable, .badRuleFile, .duplicateRule: return .config
        case .database(let pg): return forDatabase(pg)
        case .unknownAccount, .accountRequired, .unknownRule, .ruleDisabled: return .usage
        case .alreadyRunning: return .tempFail
        case .findingNotFound, .invalidStatusChange: return .failure
        }
    }

    /// As one account's outcome counts in ``forOutcomes(_:)``: temporary → 75, configuration → 78, the rest by
    /// what caused it.
    static func forCollect(_ e: CollectError) -> ExitStatus {
        switch e {
        case .kraken(let k, _): return e.isTemporary ? .tempFail : forKraken(k)
        case .lockedOut, .cancelled, .accountBusy: return .tempFail
        // A cursor row kraken-audit cannot read is bad data in the database, not something a retry fixes.
        case .malformed, .unreadableCursor: return .dataError
        case .database(let pg): return forDatabase(pg)
        case .configuration: return .config
        }
    }

    /// A file Kraken exported that cannot be imported is bad data (65); one that will be fetched again is
    /// temporary (75); Kraken failing the export is a refusal (69); an export file kraken-audit cannot create
    /// privately is an output problem (73).
    static func forExport(_ e: ExportError) -> ExitStatus {
        switch e {
        case .notZip, .corruptZip, .unexpectedArchive, .headerChanged, .badData, .duplicateIds, .outsideWindow,
            .badKrakenId, .entryTooLarge:
            return .dataError
        case .countMismatch, .fileMissing: return .tempFail
        case .krakenFailed: return .unavailable
        case .unsafeFile: return .cantCreate
        }
    }

    /// Signing keys, the digest directory and the hook are configuration (78); a malformed digest is bad data (65); a
    /// key or digest file kraken-audit cannot create, or one it will not overwrite, is an output problem (73); a hook
    /// that fails is a refusing service (69); libcrypto failing on valid input is internal (70).
    static func forIntegrity(_ e: IntegrityError) -> ExitStatus {
        switch e {
        case .keyFileMissing, .keyFileUnreadable, .keyFileNotPrivate, .keyFileOwner, .invalidKey, .fingerprintMismatch,
            .hookNotExecutable, .digestDirectory:
            return .config
        case .keyFileExists, .keyFileWrite, .digestFileIO, .digestFileConflict: return .cantCreate
        case .malformedDigest, .notCanonicalizable: return .dataError
        case .hookFailed, .hookTimedOut: return .unavailable
        case .crypto: return .software
        }
    }
}
