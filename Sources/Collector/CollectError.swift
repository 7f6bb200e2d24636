import AuditStore
import KrakenAPI

/// Why collecting an account stopped. Each case says what happened and what to do.
public enum CollectError: Error, CustomStringConvertible {
    /// Kraken refused or failed the call for good (after the retries the error allows).
    case kraken(KrakenError, attempts: Int)
    /// The key is locked out by Kraken (temporary; about 15 minutes).
    case lockedOut(fingerprint: String, secondsLeft: Double)
    /// A response did not have the documented shape; nothing of it was stored.
    case malformed(endpoint: String, reason: String)
    /// The database failed.
    case database(PGError)
    /// Credentials or configuration problem for this account.
    case configuration(String)
    /// The run was cancelled (SIGINT/SIGTERM); what was stored is consistent.
    case cancelled
    /// The stored paging cursor (`audit.collect_cursors.state`) of `endpoint` cannot be read; nothing was
    /// collected (restarting silently from `--since` would re-read the whole history under a wrong state).
    case unreadableCursor(account: String, endpoint: String, reason: String)
    /// Another process holds the account's lease (it is collecting the account now); nothing was done for it here.
    case accountBusy(account: String)

    /// Whether a later run may succeed without anyone changing anything.
    public var isTemporary: Bool {
        switch self {
        case .kraken(let e, _): return e.isTransient || e.kind == .temporaryLockout || e.kind == .invalidNonce
        case .lockedOut: return true
        case .database(let e): return e.isTemporary
        case .malformed, .configuration, .unreadableCursor: return false
        case .cancelled, .accountBusy: return true
        }
    }

    public var description: String {
        switch self {
        case .kraken(let e, let attempts):
            return attempts > 1 ? "\(e) (after \(attempts) attempts)" : e.description
        case .lockedOut(let fp, let left):
            return
                "Kraken locked out key \(fp) for another \(Int(left.rounded(.up))) s after repeated failures: fix the cause (see the call log), then run again later"
        case .malformed(let endpoint, let reason):
            return "Kraken \(endpoint) returned data kraken-audit cannot store exactly: \(reason); nothing of that response was stored"
        case .database(let e): return e.description
        case .configuration(let text): return text
        case .cancelled: return "interrupted; what was stored so far is consistent and the next run resumes"
        case .unreadableCursor(let account, let endpoint, let reason):
            return
                "the stored paging state of account \(account), endpoint \(endpoint) (audit.collect_cursors) cannot be read: \(reason); nothing was collected for the account: fix that row's state, or delete the row to collect the endpoint again from --since, then run again"
        case .accountBusy(let account):
            return
                "account \(account) is being collected by another kraken-audit process (it holds the account's lease); this one did nothing for it: run again when that one has finished"
        }
    }
}
