import AuditStore
import Foundation

/// `audit.watch_connections` (migration 0015), owned here: one row per WebSocket connection of `watch`.
enum WatchConnectionLog {
    /// What one connection delivered so far.
    struct Counters: Sendable, Equatable {
        var messages = 0
        var ledgerStored = 0
        var tradesStored = 0
        var duplicates = 0
        var systemStatus: String? = nil
    }

    static func open(_ db: any PGRunner, accountId: Int, holder: Int64) async throws -> Int64 {
        try await db.run { db in
            try db.query(
                "INSERT INTO audit.watch_connections (account_id, holder) VALUES ($1, $2) RETURNING id", [accountId, holder]
            ).rows[0].decode(0, as: Int64.self)
        }
    }

    static func subscribed(_ db: any PGRunner, id: Int64) async throws {
        _ = try await db.run { db in
            try db.execute("UPDATE audit.watch_connections SET subscribed_at = clock_timestamp() WHERE id = $1", [id])
        }
    }

    static func gapFilled(_ db: any PGRunner, id: Int64, runId: Int64) async throws {
        _ = try await db.run { db in
            try db.execute("UPDATE audit.watch_connections SET gap_fill_run_id = $2 WHERE id = $1", [id, runId])
        }
    }

    /// Records the counters (and, when `reason` is given, the end of the connection).
    static func update(_ db: any PGRunner, id: Int64, counters c: Counters, closeReason reason: String?) async throws {
        _ = try await db.run { db in
            try db.execute(
                """
                UPDATE audit.watch_connections
                   SET messages = $2, ledger_stored = $3, trades_stored = $4, duplicates = $5,
                       system_status = coalesce($6, system_status),
                       closed_at = CASE WHEN $7::text IS NULL THEN closed_at ELSE clock_timestamp() END,
                       close_reason = coalesce($7, close_reason)
                 WHERE id = $1
                """, [id, c.messages, c.ledgerStored, c.tradesStored, c.duplicates, c.systemStatus, reason])
        }
    }

    /// Connections of processes that died are closed as 'process ended': their holder's session lock is free (as in
    /// `RunLog.markAbandoned`; run on a pool connection, never on the session holding this process's own lock).
    static func closeAbandoned(_ db: any PGRunner) async throws {
        _ = try await db.run { db in
            try db.execute(
                """
                UPDATE audit.watch_connections w SET closed_at = clock_timestamp(), close_reason = 'process ended'
                 WHERE w.closed_at IS NULL AND pg_try_advisory_xact_lock(w.holder)
                """)
        }
    }
}
