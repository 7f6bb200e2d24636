import AuditStore
import Foundation

/// One night of `kraken-audit run` shared by several runner processes (issue 18; migration 0013).
///
/// Runners started while a night with the same account selection is open join it; each account is collected by
/// whichever runner leases it (``NightLeasing``) and recorded in `audit.night_accounts`; the runner that finds
/// every account recorded claims the night and does what happens once per night (verify, analysis, report,
/// alerts, seal). A night is alive while one of its runners' sessions holds its shared lock: a night whose
/// runners all died is marked `abandoned` by the next runner, which starts a new one (collection is incremental,
/// so the accounts already collected cost a few calls each).
public struct Night: Sendable, Equatable {
    public let id: Int64
    /// Whether this runner created the night (the others joined it).
    public let created: Bool

    /// Advisory lock (bigint space) serialising joins: "krak" "nit".
    static let registryLock: Int64 = 0x6B72_616B_006E_6974
    /// First key of a night's liveness lock (two-integer space; the second key is the night id).
    static let livenessSpace: Int32 = 0x6B61_0002

    /// Joins the open night of `accounts` (sorted names) or starts one; this session then holds the night's shared
    /// liveness lock until it ends. Throws ``RunError/alreadyRunning`` when a live night of another selection, or
    /// one already being finished, is in progress (this runner has nothing to do).
    static func join(session: ProcessSession, accounts: [String]) async throws -> Night {
        let selection = PGArray.text(accounts)
        return try await session.run { db in
            try db.transaction {
                try db.execute("SELECT pg_advisory_xact_lock($1)", [Self.registryLock])
                var joined: Int64? = nil
                let open = try db.query(
                    "SELECT id, accounts = $1::text[] AND state = 'open' FROM audit.nights WHERE state IN ('open', 'finishing') ORDER BY id",
                    [selection]
                ).rows
                for row in open {
                    let id = try row.decode(0, as: Int64.self)
                    // The exclusive try succeeds only when no runner's session holds the night's shared lock.
                    let dead = try db.query(
                        "SELECT pg_try_advisory_xact_lock($1::int4, $2::int4)", [Int(Self.livenessSpace), Int(id & 0x7FFF_FFFF)]
                    )
                    .rows[0].decode(0, as: Bool.self)
                    if dead {
                        try db.execute("UPDATE audit.nights SET state = 'abandoned', finished_at = now() WHERE id = $1", [id])
                        continue
                    }
                    let same = try row.decode(1, as: Bool.self)
                    guard same, joined == nil else { throw RunError.alreadyRunning }
                    joined = id
                }
                let id =
                    try joined
                    ?? db.query("INSERT INTO audit.nights (accounts) VALUES ($1::text[]) RETURNING id", [selection]).rows[0].decode(
                        0, as: Int64.self)
                try db.execute("SELECT pg_advisory_lock_shared($1::int4, $2::int4)", [Int(Self.livenessSpace), Int(id & 0x7FFF_FFFF)])
                return Night(id: id, created: joined == nil)
            }
        }
    }

    /// Claims the once-per-night work when every account of the night is recorded and nobody claimed it yet.
    func claimFinish(session: ProcessSession, runId: Int64) async throws -> Bool {
        let id = self.id
        return try await session.run { db in
            try db.query(
                """
                UPDATE audit.nights n SET state = 'finishing', finisher_run_id = $2
                 WHERE n.id = $1 AND n.state = 'open'
                   AND (SELECT count(*) FROM audit.night_accounts a WHERE a.night_id = n.id) >= cardinality(n.accounts)
                RETURNING id
                """, [id, runId]
            ).rows.count == 1
        }
    }

    /// Marks the night finished (its report and alerts are done).
    func finish(session: ProcessSession) async {
        let id = self.id
        _ = try? await session.run { db in
            try db.execute("UPDATE audit.nights SET state = 'finished', finished_at = now() WHERE id = $1", [id])
        }
    }
}
