import AuditStore
import Collector

/// `run`'s leasing (issue 18): an account is granted to this runner when no other runner holds its lease and it
/// has not been collected in this night yet; what came of it is recorded in `audit.night_accounts`.
struct NightLeasing: AccountLeasing {
    let session: ProcessSession
    let night: Night
    let runId: Int64

    func acquire(accountId: Int, account: String) async throws -> LeaseDecision {
        guard try await session.tryLeaseAccount(accountId) else { return .busy }
        let nightId = night.id
        // Checked after the lease is held: a runner records an account before returning its lease.
        let done = try await session.run { db in
            try db.query("SELECT 1 FROM audit.night_accounts WHERE night_id = $1 AND account_id = $2", [nightId, accountId]).rows.count > 0
        }
        if done { await session.releaseAccount(accountId) }
        return done ? .done : .granted
    }

    func record(on db: PGConnection, accountId: Int, runId collectorRunId: Int64, succeeded: Bool) throws {
        try Self.insert(on: db, night: night.id, accountId: accountId, runId: runId, collectorRunId: collectorRunId, succeeded: succeeded)
    }

    func finish(accountId: Int, outcome: AccountOutcome) async {
        let (nightId, runId) = (night.id, self.runId)
        // Recorded before the lease is returned, so no other runner collects it again this night (a no-op when the
        // collector recorded it with its run).
        _ = try? await session.run { db in
            try Self.insert(
                on: db, night: nightId, accountId: accountId, runId: runId, collectorRunId: outcome.runId, succeeded: outcome.succeeded)
        }
        await session.releaseAccount(accountId)
    }

    /// The account's row of the night; the first record stands.
    static func insert(on db: PGConnection, night: Int64, accountId: Int, runId: Int64, collectorRunId: Int64?, succeeded: Bool) throws {
        try db.execute(
            """
            INSERT INTO audit.night_accounts (night_id, account_id, run_id, collector_run_id, status)
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
            """, [night, accountId, runId, collectorRunId, succeeded ? "success" : "failed"])
    }

    func abandon(accountId: Int) async {
        await session.releaseAccount(accountId)
    }
}
