import AuditConfig
import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import Logging

/// Backfills an account's history through Kraken's data export, one report per kind (ledgers, trades).
///
/// **State machine** (one `audit.exports` row per request; each run advances every report at most one step
/// unless `--wait`, so a nightly job never blocks on Kraken):
/// `requesting` (row written before AddExport; after a kill the report is found again by its description)
/// → `requested` (ExportStatus: Queued/Processing → stay) → `processed` → `downloaded` (RetrieveExport streamed to
/// `<file>.part`, fsynced, renamed; SHA-256 recorded) → `imported` (one transaction: COPY, verify, reconcile,
/// insert, row update). `rejected` (file refused), `failed` (Kraken's error) and `expired` (report gone) are
/// requested again with the **same data window** up to ``ExportOptions/maxAttempts`` times.
///
/// **Seam.** A first run that uses the export fixes `E = Kraken time − settle` and, in the same transaction that
/// records the requests for `[start, E]`, sets the paging cursors of `Ledgers`, `TradesHistory` and
/// `ClosedOrders` to `done_until = E − max(0, seamOverlap − overlapSeconds)`. Paging then reads
/// `(done_until − overlapSeconds, now]`, which starts at least `seamOverlap` seconds before `E`: every row is in
/// the export (time ≤ E) or in paging (time > E − overlap), the overlap is read by both and deduplicated by id
/// (and reconciled field by field). A kill leaves either both or neither.
struct ExportBackfill {
    let account: AccountConfig
    let accountId: Int
    let paced: PacedClient
    let store: any PGRunner
    let options: CollectOptions
    let logger: Logger
    static let reports = ["ledgers", "trades"]
    static let pagedEndpoints = PagedEndpoint.all.map(\.method)

    // MARK: first run

    /// On an account's first run, decides between export and paging; for export, records the two requests and
    /// seeds the paging cursors (one transaction). Returns the mode in effect for the history before now.
    /// `keyInfo` is this run's GetApiKeyInfo answer (``KeySnapshot``), nil when the call failed.
    func begin(serverTime: Int64, keyInfo: JSONValue?) async throws(CollectError) -> BackfillMode {
        let accountId = self.accountId
        let (hasExports, hasCursors) = try await store.collectRun { db in
            (
                try db.query("SELECT count(*) FROM audit.exports WHERE account_id = $1", [accountId]).rows[0].decode(0, as: Int.self) > 0,
                try db.query(
                    "SELECT count(*) FROM audit.collect_cursors WHERE account_id = $1 AND endpoint = ANY($2::text[])",
                    [accountId, PGArray.text(Self.pagedEndpoints)]
                ).rows[0].decode(0, as: Int.self) > 0
            )
        }
        if hasExports { return .export }
        let requested = options.export.mode ?? account.backfill
        if hasCursors || options.full {
            if requested == .export {
                logger.notice("export backfill applies to an account's first collection only; paging from the stored high-water marks")
            }
            return .paging
        }
        var mode = requested ?? .paging
        if requested == nil {
            // Auto: export when the key may (from the run's GetApiKeyInfo answer).
            if let keyInfo {
                let permissions = keyInfo["permissions"]?.arrayValue?.compactMap(\.stringValue) ?? []
                mode = permissions.contains("export-data") ? .export : .paging
            } else {
                logger.warning("could not read the key's permissions; backfilling by paging")
                mode = .paging
            }
        }
        guard mode == .export else { return .paging }
        let start = options.since.map { Int64($0.timeIntervalSince1970) } ?? options.export.historyStart
        let end = serverTime - options.export.settleSeconds
        guard end > start else { return .paging }
        let seed = end - max(0, options.export.seamOverlapSeconds - options.overlapSeconds)
        let name = account.name
        try await store.collectRun { db in
            try db.transaction {
                for report in Self.reports {
                    try db.execute(
                        """
                        INSERT INTO audit.exports (account_id, report, descr, status, starttm, endtm)
                        VALUES ($1, $2, $3, $6, $4, $5)
                        """, [accountId, report, "kraken-audit \(name) \(report) \(start)-\(end) #1", start, end, ExportState.requesting])
                }
                for endpoint in Self.pagedEndpoints {
                    try CollectStore.saveCursor(db, accountId: accountId, endpoint: endpoint, cursor: PageCursor(doneUntil: seed))
                }
            }
        }
        logger.info(
            "backfilling through Kraken's data export",
            metadata: ["start": "\(start)", "end": "\(end)", "paging_from": "\(seed - options.overlapSeconds)"])
        return .export
    }

    // MARK: advancing

    func latest(_ report: String) async throws(CollectError) -> ExportRecord? {
        let accountId = self.accountId
        return try await store.collectRun { db in
            guard
                let r = try db.query(
                    """
                    SELECT id, report, kraken_id, descr, attempt, status, starttm, endtm, file_path, sha256, kraken_status
                      FROM audit.exports WHERE account_id = $1 AND report = $2 ORDER BY id DESC LIMIT 1
                    """, [accountId, report]
                ).rows.first
            else { return nil }
            return ExportRecord(
                id: try r.decode(0), report: try r.decode(1), krakenId: try r.decodeOptional(2), descr: try r.decode(3),
                attempt: try r.decode(4), status: try Self.state(r.decode(5)), starttm: try r.decode(6), endtm: try r.decode(7),
                filePath: try r.decodeOptional(8), sha256: try r.decodeOptional(9), krakenStatus: try r.decodeOptional(10))
        }
    }

    /// The stored `status` text as a state; the table's CHECK constraint admits no other value.
    static func state(_ text: String) throws(PGError) -> ExportState {
        guard let state = ExportState(rawValue: text) else {
            throw PGError(kind: .decode, message: "audit.exports.status '\(text)' is not an export state")
        }
        return state
    }

    func update(_ id: Int64, _ sets: String, _ binds: [(any PGEncodable)?]) async throws(CollectError) {
        // `sets` is a constant of this file using $2...; $1 is the row id.
        try await store.collectRun { db in
            try db.execute("UPDATE audit.exports SET \(sets), updated_at = now() WHERE id = $1", [id] + binds)
        }
    }

    /// The first wait of `--wait` after a step that could not go on (a report just requested, or still Queued or
    /// Processing at Kraken): later waits double, up to ``ExportOptions/pollSeconds``.
    static let firstPollSeconds = 1.0

    /// Advances every report; with `wait`, loops until each is imported or finally failed, or the wait times out,
    /// polling after 1, 2, 4, ... seconds and at most every ``ExportOptions/pollSeconds``. Returns the per-report
    /// statistics.
    ///
    /// Every report still `requesting` is requested first (AddExport, or adopted by its description), before any
    /// report is polled, downloaded or imported: Kraken then prepares them side by side, and a run that ends
    /// during one report's download or import (a kill, a failure) has still asked Kraken for the others, so the
    /// next run does not have to request one and then wait for Kraken to finish it. A report Kraken has just
    /// accepted is polled after the first pause (or in a later call), never in the same breath; a report whose
    /// request fails is left for the next run while the others go on, and the failure is thrown at the end.
    func advance(wait: Bool) async throws(CollectError) -> [String: EndpointStats] {
        var perReport: [String: EndpointStats] = [:]
        // Reports Kraken accepted in this call: polled only after a pause (as `request` says, Kraken needs time; a
        // poll in the same breath might not list the report yet and take it for expired).
        var justRequested: Set<String> = []
        // A report whose request failed is left for the next run; the others still go on (rethrown at the end).
        var requestFailure: CollectError? = nil
        var unrequested: Set<String> = []
        for report in Self.reports {
            var s = EndpointStats()
            do {
                if let r = try await latest(report), r.status == .requesting, try await !request(r, stats: &s) {
                    justRequested.insert(report)
                }
            } catch {
                if case .cancelled = error { throw error }
                requestFailure = requestFailure ?? error
                unrequested.insert(report)
            }
            perReport[report] = s
        }
        var stats: [String: EndpointStats] = [:]
        let deadline = Date().addingTimeInterval(options.export.waitTimeoutSeconds)
        let longest = options.export.pollSeconds
        for report in Self.reports {
            var s = perReport[report] ?? EndpointStats()
            defer { stats["Export:\(report)"] = s }
            if unrequested.contains(report) { continue }
            var pause = min(Self.firstPollSeconds, longest)
            var pollLater = justRequested.contains(report)
            while true {
                if pollLater {
                    pollLater = false
                } else {
                    let progressed = try await step(report, stats: &s)
                    if progressed {
                        pause = min(Self.firstPollSeconds, longest)
                        continue
                    }
                }
                guard wait, let r = try await latest(report), r.status.isInProgress,
                    Date() < deadline
                else { break }
                do {
                    try await Task.sleep(for: .milliseconds(Int64(pause * 1000)))
                } catch {
                    throw .cancelled
                }
                pause = min(pause * 2, longest)
            }
            s.state = try await latest(report)?.status.rawValue
        }
        if let requestFailure { throw requestFailure }
        return stats
    }

    /// One step of one report; true when it moved on and the next step may follow right away.
    func step(_ report: String, stats: inout EndpointStats) async throws(CollectError) -> Bool {
        guard let r = try await latest(report) else { return false }
        switch r.status {
        case .requesting: return try await request(r, stats: &stats)
        case .requested: return try await poll(r, stats: &stats)
        case .processed: return try await download(r, stats: &stats)
        case .downloaded: return try await importFile(r, stats: &stats)
        case .imported:
            if options.export.deleteWhenImported, r.krakenStatus != "Deleted", let kid = r.krakenId {
                do {
                    _ = try await paced.call("RemoveExport", [("id", kid), ("type", "delete")])
                    stats.calls += 1
                } catch {
                    logger.info(
                        "could not delete the imported report at Kraken (it expires by itself)",
                        metadata: ["id": "\(kid)", "error": "\(error)"])
                }
                try await update(r.id, "kraken_status = 'Deleted'", [])
            }
            return false
        case .rejected, .failed, .expired:  // the same window again, a bounded number of times
            guard r.attempt < options.export.maxAttempts else { return false }
            let (accountId, name, attempt) = (self.accountId, account.name, r.attempt + 1)
            try await store.collectRun { db in
                try db.execute(
                    """
                    INSERT INTO audit.exports (account_id, report, descr, attempt, status, starttm, endtm)
                    VALUES ($1, $2, $3, $4, $7, $5, $6)
                    """,
                    [
                        accountId, report, "kraken-audit \(name) \(report) \(r.starttm)-\(r.endtm) #\(attempt)", attempt, r.starttm,
                        r.endtm, ExportState.requesting,
                    ])
            }
            logger.notice("requesting the export again", metadata: ["report": "\(report)", "attempt": "\(attempt)"])
            return true
        }
    }
}
