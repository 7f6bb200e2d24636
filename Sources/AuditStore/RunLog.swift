import AuditKernel
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The run log, `audit.collector_runs`: one row per command run (`collect`, `run`, `analyse`) and per account within
/// a collection. The only writer of that table: the collector, the analyser and the nightly run start, finish and
/// fail their runs here, so every row carries the same process fields and ``KrakenAuditVersion/current``.
///
/// Readers (reports, the analyser's "is the latest collection complete" check, metrics, the analyst views) query the
/// table directly; its columns are a schema contract.
public enum RunLog {
    /// `audit.collector_runs.status` (the table's CHECK constraint; stored as this text).
    public enum Status: String, Sendable, CaseIterable, PGEncodable {
        case running, success, partial, failed, interrupted
        public var pgText: String { rawValue }
    }

    /// Starts a run (`running`) of `command`, for `accountId` when it concerns one account; `stats` is the initial
    /// `stats` document (e.g. the analyser's selection). Returns the run id.
    public static func start(on db: PGConnection, command: String, accountId: Int? = nil, stats: JSONValue? = nil) throws(PGError) -> Int64
    {
        guard
            let row = try db.query(
                """
                INSERT INTO audit.collector_runs (command, account_id, status, pid, hostname, version, stats)
                VALUES ($1, $2, 'running', $3, $4, $5, coalesce($6::jsonb, '{}'::jsonb)) RETURNING id
                """, [command, accountId, Int(getpid()), hostname, KrakenAuditVersion.current, stats?.jsonText]
            ).rows.first
        else { throw PGError(kind: .query, message: "starting a run in audit.collector_runs returned no id") }
        return try row.decode(0, as: Int64.self)
    }

    /// Ends run `id` with `status` and `error`. `stats` replaces the run's statistics, or with `mergeStats` is
    /// added to those given at ``start(on:command:accountId:stats:)``.
    public static func finish(
        on db: PGConnection, id: Int64, status: Status, error: String?, stats: JSONValue, mergeStats: Bool = false
    ) throws(PGError) {
        let merged = mergeStats ? "stats || $4::jsonb" : "$4::jsonb"
        try db.execute(
            "UPDATE audit.collector_runs SET finished_at = clock_timestamp(), status = $2, error = $3, stats = \(merged) WHERE id = $1",
            [id, status, error, stats.jsonText])
    }

    /// Records a run of `command` that failed before it could start (no credentials, a key registered elsewhere):
    /// one finished `failed` row with the reason. Returns the run id.
    public static func recordFailure(on db: PGConnection, command: String, accountId: Int?, error: String) throws(PGError) -> Int64 {
        guard
            let row = try db.query(
                """
                INSERT INTO audit.collector_runs (command, account_id, finished_at, status, error, pid, hostname, version)
                VALUES ($1, $2, clock_timestamp(), 'failed', $3, $4, $5, $6) RETURNING id
                """, [command, accountId, error, Int(getpid()), hostname, KrakenAuditVersion.current]
            ).rows.first
        else { throw PGError(kind: .query, message: "recording a failed run in audit.collector_runs returned no id") }
        return try row.decode(0, as: Int64.self)
    }

    /// Runs left `running` by a process that no longer exists (killed, crashed) become `interrupted`: on any host
    /// when the run names its process's session lock, else on this host by its pid. Returns how many.
    @discardableResult
    public static func markAbandoned(on db: PGConnection) throws(PGError) -> Int {
        var marked = 0
        // On any host: a run that names its process's session lock (``ProcessSession/holder``, issue 18) is over when
        // nobody holds that lock any more (the exclusive try succeeds only then; it is released at commit).
        do {
            marked = try db.transaction {
                try db.execute(
                    """
                    UPDATE audit.collector_runs SET status = 'interrupted', finished_at = coalesce(finished_at, clock_timestamp()),
                           error = coalesce(error, 'the process ended without finishing (killed or crashed; its database session ended)')
                     WHERE id IN (SELECT id FROM audit.collector_runs WHERE status = 'running' AND stats ? 'holder')
                       AND status = 'running' AND pg_try_advisory_xact_lock((stats->>'holder')::bigint)
                    """)
            }
        } catch let e as PGError {
            throw e
        } catch {
            throw PGError(kind: .query, message: "\(error)")
        }
        for row in try db.query("SELECT id, pid FROM audit.collector_runs WHERE status = 'running' AND hostname = $1", [hostname]).rows {
            let id = try row.decode(0, as: Int64.self)
            if let pid = try row.decodeOptional(1, as: Int.self), pid > 0, kill(pid_t(pid), 0) == 0 || errno == EPERM { continue }  // alive
            marked += try db.execute(
                """
                UPDATE audit.collector_runs SET status = 'interrupted', finished_at = coalesce(finished_at, clock_timestamp()),
                       error = coalesce(error, 'the process ended without finishing (killed or crashed)')
                 WHERE id = $1 AND status = 'running'
                """, [id])
        }
        return marked
    }

    static var hostname: String { ProcessInfo.processInfo.hostName }
}
