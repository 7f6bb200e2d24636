import AuditStore

/// Decides whether this process may collect an account now (issue 18): the seam between the collector and
/// whoever shares the accounts out (`collect`: a session lease per account; `run`: the night's leases).
public protocol AccountLeasing: Sendable {
    /// The process session whose identity call leases name (``ProcessSession/holder``).
    var session: ProcessSession { get }
    /// Tries to take the account: ``LeaseDecision/granted`` means this process must collect it and then call
    /// ``finish(accountId:outcome:)`` (or ``abandon(accountId:)`` when it stopped without an outcome to record).
    func acquire(accountId: Int, account: String) async throws -> LeaseDecision
    /// Records how the account's collection ended, inside the transaction that closes its collector run, so a
    /// kill can never leave a finished run unrecorded (another runner would collect the account twice).
    func record(on db: PGConnection, accountId: Int, runId: Int64, succeeded: Bool) throws
    /// Records what collecting the account gave, unless ``record(on:accountId:runId:succeeded:)`` already did
    /// (a failure before its run started), and returns the lease.
    func finish(accountId: Int, outcome: AccountOutcome) async
    /// Returns the lease without recording anything (interrupted: the account is left for someone else).
    func abandon(accountId: Int) async
}

/// What ``AccountLeasing/acquire(accountId:account:)`` decided.
public enum LeaseDecision: Sendable, Equatable {
    /// This process holds the account now.
    case granted
    /// Another process holds it.
    case busy
    /// Nothing left to do for it (already collected in this night).
    case done
}

/// `collect`'s leasing: one session advisory lock per account, nothing recorded. A second `collect` of an account
/// that is being collected reports it as ``CollectError/accountBusy(account:)``.
public struct SessionLeasing: AccountLeasing {
    public let session: ProcessSession

    public init(session: ProcessSession) {
        self.session = session
    }

    public func acquire(accountId: Int, account: String) async throws -> LeaseDecision {
        try await session.tryLeaseAccount(accountId) ? .granted : .busy
    }

    public func record(on db: PGConnection, accountId: Int, runId: Int64, succeeded: Bool) throws {}

    public func finish(accountId: Int, outcome: AccountOutcome) async {
        await session.releaseAccount(accountId)
    }

    public func abandon(accountId: Int) async {
        await session.releaseAccount(accountId)
    }
}
