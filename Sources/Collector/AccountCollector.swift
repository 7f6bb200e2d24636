import AuditConfig
import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import Logging

/// Collects everything of one account: paged history in fixed windows, open orders, orders referenced by
/// trades, funding status, a balance snapshot.
///
/// Paging is provably complete under live inserts: each window has a fixed `end` (Kraken's time at the start,
/// minus a settle margin) and a fixed `start` (the stored high-water mark minus an overlap, exclusive), and is
/// read with `ofs` = 0, 50, 100, ... Entries booked after the window's end cannot enter it; an entry inserted
/// inside it only shifts older rows down (read twice, deduplicated by id), and the end-of-window check
/// compares what is stored with Kraken's `count`, re-reading the window once if rows are missing. Every page
/// is stored in one transaction together with the cursor that produced it, so a kill at any point resumes
/// exactly there.
final class AccountCollector: Sendable {
    let account: AccountConfig
    let accountId: Int
    let paced: PacedClient
    let store: any PGRunner
    let options: CollectOptions
    let logger: Logger
    let progress: ProgressLine?

    init(
        account: AccountConfig, accountId: Int, paced: PacedClient, store: any PGRunner, options: CollectOptions, logger: Logger,
        progress: ProgressLine?
    ) {
        self.account = account
        self.accountId = accountId
        self.paced = paced
        self.store = store
        self.options = options
        self.logger = logger
        self.progress = progress
    }

    static let pageSize = 50

    func collectAll() async throws(CollectError) -> [String: EndpointStats] {
        var stats: [String: EndpointStats] = [:]
        // Every stored cursor must be readable before anything is called or written: a run that stopped at the
        // second endpoint would otherwise leave the first one collected under a state nobody can interpret.
        let (accountId, name) = (self.accountId, account.name)
        try await store.collectRun { db in
            for endpoint in PagedEndpoint.all {
                _ = try CollectStore.cursor(db, accountId: accountId, account: name, endpoint: endpoint.method)
            }
        }
        let serverTime = try await paced.serverTime()
        try await store.collectRun { try CollectStore.prepare($0) }
        switch options.scope {
        case .everything: break
        case .streamGap:
            for endpoint in PagedEndpoint.all where endpoint.kind != .orders {
                stats[endpoint.method] = try await collectPaged(endpoint, serverTime: serverTime)
            }
            return stats
        case .withdrawalStatus:
            stats["WithdrawStatus"] = try await collectFunding(
                method: "WithdrawStatus", upsert: CollectStore.Tables.withdrawalsUpsert, key: "withdrawals")
            return stats
        }
        // The key's settings, once per run (posture rules); the same answer serves the backfill decision below.
        let key = try await KeySnapshot(accountId: accountId, paced: paced, store: store, logger: logger).take()
        stats["GetApiKeyInfo"] = key.stats
        // Export backfill: decide on a first run (and seed the seam), request reports before paging so Kraken
        // works on them meanwhile; poll/download/import after paging (one step each, or until done with --wait).
        let backfill = ExportBackfill(account: account, accountId: accountId, paced: paced, store: store, options: options, logger: logger)
        let mode = try await backfill.begin(serverTime: serverTime, keyInfo: key.info)
        if mode == .export {
            for (k, v) in try await backfill.advance(wait: false) { stats[k] = (stats[k] ?? EndpointStats()).merged(v) }
        }
        for endpoint in PagedEndpoint.all {
            stats[endpoint.method] = try await collectPaged(endpoint, serverTime: serverTime)
        }
        stats["OpenOrders"] = try await collectOpenOrders()
        stats["QueryOrders"] = try await collectMissingOrders()
        stats["WithdrawStatus"] = try await collectFunding(
            method: "WithdrawStatus", upsert: CollectStore.Tables.withdrawalsUpsert, key: "withdrawals")
        stats["DepositStatus"] = try await collectFunding(
            method: "DepositStatus", upsert: CollectStore.Tables.depositsUpsert, key: "deposits")
        stats["BalanceEx"] = try await collectBalances()
        if mode == .export {
            for (k, v) in try await backfill.advance(wait: options.export.wait) { stats[k] = (stats[k] ?? EndpointStats()).merged(v) }
        }
        progress?.finish(account: account.name)
        return stats
    }

    // MARK: paged history

    func collectPaged(_ ep: PagedEndpoint, serverTime: Int64) async throws(CollectError) -> EndpointStats {
        var stats = EndpointStats()
        // A window interrupted by a kill is finished first (same start/end, from its saved offset); then a
        // fresh window runs from the high-water mark to now.
        while true {
            let resumed = try await collectWindow(ep, serverTime: serverTime, stats: &stats)
            if !resumed { break }
        }
        logger.info(
            "collected",
            metadata: [
                "endpoint": "\(ep.method)", "calls": "\(stats.calls)", "inserted": "\(stats.rows.inserted)",
                "updated": "\(stats.rows.updated)",
            ])
        return stats
    }

    /// Pages through one window; returns whether it was a resumed one (so a fresh window should follow).
    func collectWindow(_ ep: PagedEndpoint, serverTime: Int64, stats: inout EndpointStats) async throws(CollectError) -> Bool {
        let (accountId, name) = (self.accountId, account.name)
        let cursor = try await store.collectRun { db in
            try CollectStore.cursor(db, accountId: accountId, account: name, endpoint: ep.method)
        }
        let doneUntil = cursor?.doneUntil
        var window: PageCursor.Window
        let resumed: Bool
        if let w = cursor?.window {
            window = w  // resume after a kill
            resumed = true
            logger.info("resuming window", metadata: ["endpoint": "\(ep.method)", "ofs": "\(w.ofs)"])
        } else {
            let sinceSeconds = options.since.map { Int64($0.timeIntervalSince1970) } ?? 0
            let start = (options.full ? nil : doneUntil.map { $0 - options.overlapSeconds }) ?? sinceSeconds
            window = PageCursor.Window(start: max(0, start), end: serverTime - options.settleSeconds, ofs: 0, pass: 1)
            resumed = false
        }
        guard window.start < window.end else { return false }

        while true {
            var params = [("start", String(window.start)), ("end", String(window.end)), ("ofs", String(window.ofs))]
            params.append(contentsOf: ep.extra)
            let response = try await paced.call(ep.method, params)
            stats.calls += 1
            let items = try dedupe(try entities(response.result, key: ep.resultKey, endpoint: ep.method), endpoint: ep.method)
            let count = response.result["count"]?.numberText.flatMap { Int($0) }
            if let count { stats.krakenCount = count }
            let rows: [[(any PGEncodable)?]]
            switch ep.kind {
            case .ledger: rows = try CollectStore.ledgerRows(items, endpoint: ep.method)
            case .trades: rows = try CollectStore.tradeRows(items, endpoint: ep.method)
            case .orders: rows = try CollectStore.orderRows(items, endpoint: ep.method)
            }
            let nextOfs = window.ofs + items.count
            let finished = items.count < Self.pageSize || (count.map { nextOfs >= $0 } ?? false)
            let w = window
            let next = PageCursor(doneUntil: doneUntil, window: PageCursor.Window(start: w.start, end: w.end, ofs: nextOfs, pass: w.pass))
            let kind = ep.kind
            let upserted = try await store.collectRun { db in
                try db.transaction { () throws -> UpsertCount in
                    let c: UpsertCount
                    switch kind {
                    case .ledger: c = try CollectStore.upsertLedger(db, accountId: accountId, rows: rows)
                    case .trades: c = try CollectStore.upsertTrades(db, accountId: accountId, rows: rows)
                    case .orders: c = try CollectStore.upsertOrders(db, accountId: accountId, rows: rows)
                    }
                    try CollectStore.saveCursor(db, accountId: accountId, endpoint: ep.method, cursor: next)
                    return c
                }
            }
            stats.rows = stats.rows + upserted
            window.ofs = nextOfs
            progress?.update(account: account.name, endpoint: ep.method, rows: window.ofs, total: count)
            guard finished else { continue }

            // End of window: what is stored for it must match Kraken's count.
            let (table, col) = (ep.table, ep.timeColumn)
            let stored = try await store.collectRun { db in
                try db.query(
                    "SELECT count(*) FROM audit.\(table) WHERE account_id = $1 AND \(col) > to_timestamp($2) AND \(col) <= to_timestamp($3)",
                    [accountId, w.start, w.end]
                ).rows[0].decode(0, as: Int.self)
            }
            stats.storedCount = stored
            if let count, stored < count, w.pass < 2 {
                logger.warning(
                    "fewer rows stored than Kraken counts; re-reading the window",
                    metadata: ["endpoint": "\(ep.method)", "kraken_count": "\(count)", "stored": "\(stored)"])
                window = PageCursor.Window(start: w.start, end: w.end, ofs: 0, pass: w.pass + 1)
                continue
            }
            if let count, stored != count {
                logger.warning(
                    "stored rows differ from Kraken's count for the window",
                    metadata: ["endpoint": "\(ep.method)", "kraken_count": "\(count)", "stored": "\(stored)"])
            }
            let done = PageCursor(doneUntil: max(w.end, doneUntil ?? 0))
            try await store.collectRun { db in try CollectStore.saveCursor(db, accountId: accountId, endpoint: ep.method, cursor: done) }
            return resumed
        }
    }

    // MARK: orders

    func collectOpenOrders() async throws(CollectError) -> EndpointStats {
        var stats = EndpointStats()
        let response = try await paced.call("OpenOrders", [("trades", "true")])
        stats.calls = 1
        let items = try dedupe(try entities(response.result, key: "open", endpoint: "OpenOrders"), endpoint: "OpenOrders")
        let rows = try CollectStore.orderRows(items, endpoint: "OpenOrders")
        let accountId = self.accountId
        stats.rows = try await store.collectRun { db in
            try db.transaction { try CollectStore.upsertOrders(db, accountId: accountId, rows: rows) }
        }
        // Orders we hold as open that Kraken no longer lists as open have changed: refresh them below.
        let openIds = Set(items.map(\.0))
        let staleOpen = try await store.collectRun { db in
            try db.query("SELECT txid FROM audit.orders WHERE account_id = $1 AND status IN ('open', 'pending')", [accountId])
                .rows.map { try $0.decode(0, as: String.self) }
        }.filter { !openIds.contains($0) }
        if !staleOpen.isEmpty {
            let refreshed = try await queryOrders(staleOpen)
            stats.calls += refreshed.calls
            stats.rows = stats.rows + refreshed.rows
        }
        return stats
    }

    /// Orders that API trades reference but that no order list has returned. Trades imported from an export
    /// are left out: their orders lie before the seam, which an export backfill does not page (Kraken exports no
    /// orders; querying each would cost what the export saves).
    func collectMissingOrders() async throws(CollectError) -> EndpointStats {
        let accountId = self.accountId
        let missing = try await store.collectRun { db in
            try db.query(
                """
                SELECT DISTINCT t.ordertxid FROM audit.trades t
                 WHERE t.account_id = $1 AND t.ordertxid IS NOT NULL AND t.source = 'api'
                   AND NOT EXISTS (SELECT 1 FROM audit.orders o WHERE o.account_id = t.account_id AND o.txid = t.ordertxid)
                 ORDER BY 1
                """, [accountId]
            ).rows.map { try $0.decode(0, as: String.self) }
        }
        return try await queryOrders(missing)
    }

    func queryOrders(_ ids: [String]) async throws(CollectError) -> EndpointStats {
        var stats = EndpointStats()
        let accountId = self.accountId
        var index = 0
        while index < ids.count {
            let batch = Array(ids[index..<min(ids.count, index + 50)])  // QueryOrders takes at most 50 ids
            index += batch.count
            let response = try await paced.call("QueryOrders", [("txid", batch.joined(separator: ",")), ("trades", "true")])
            stats.calls += 1
            let items = try dedupe(try entities(response.result, key: nil, endpoint: "QueryOrders"), endpoint: "QueryOrders")
            let rows = try CollectStore.orderRows(items, endpoint: "QueryOrders")
            stats.rows =
                stats.rows
                + (try await store.collectRun { db in
                    try db.transaction { try CollectStore.upsertOrders(db, accountId: accountId, rows: rows) }
                })
        }
        return stats
    }

    // MARK: funding

    func collectFunding(method: String, upsert: String, key: String) async throws(CollectError) -> EndpointStats {
        var stats = EndpointStats()
        var cursor: String? = nil
        var seenCursors = Set<String>()
        let accountId = self.accountId
        repeat {
            let params = [("cursor", cursor ?? "true")]
            let response = try await paced.call(method, params)
            stats.calls += 1
            let records: [JSONValue]
            let result = response.result
            if let array = result.arrayValue {
                records = array
                cursor = nil
            } else if result.objectMembers != nil {
                let list = result[key] ?? result[String(key.dropLast())]
                guard let array = list?.arrayValue ?? (list == nil || list == .null ? [] : nil) else {
                    throw .malformed(endpoint: method, reason: "'\(key)' is not an array")
                }
                records = array
                switch result["next_cursor"] {
                case .string(let next) where !next.isEmpty && next != "false": cursor = next
                default: cursor = nil
                }
            } else if result == .null {
                records = []
                cursor = nil
            } else {
                throw .malformed(endpoint: method, reason: "result is neither an array nor an object")
            }
            let rows = try CollectStore.fundingRows(records, endpoint: method)
            stats.rows =
                stats.rows
                + (try await store.collectRun { db in
                    try db.transaction { try CollectStore.upsertFunding(db, accountId: accountId, upsert: upsert, rows: rows) }
                })
            if let c = cursor, !seenCursors.insert(c).inserted {
                throw .malformed(endpoint: method, reason: "next_cursor repeats; stopping to avoid a loop")
            }
        } while cursor != nil
        return stats
    }

    // MARK: balances

    func collectBalances() async throws(CollectError) -> EndpointStats {
        var stats = EndpointStats()
        let response: KrakenResponse
        var extended = true
        do {
            response = try await paced.call("BalanceEx")
        } catch CollectError.kraken(let e, _) where e.kind == .unknownMethod {
            extended = false
            response = try await paced.call("Balance")
        }
        stats.calls = 1
        var rows: [[(any PGEncodable)?]] = []
        for (asset, value) in response.result.objectMembers ?? [] {
            if extended, case .object = value {
                let r = try RowReader(endpoint: "BalanceEx", id: asset, object: value)
                rows.append([
                    asset, try r.decimal("balance"), try r.optionalDecimal("hold_trade"), try r.optionalDecimal("credit"),
                    try r.optionalDecimal("credit_used"), value.jsonText,
                ])
            } else {
                let r = try RowReader(endpoint: "Balance", id: asset, object: .object([("balance", value)]))
                rows.append([asset, try r.decimal("balance"), nil, nil, nil, value.jsonText])
            }
        }
        let (accountId, runId, snapshot) = (self.accountId, paced.runId, rows)
        let inserted = try await store.collectRun { db in
            try db.transaction { () throws -> Int in
                let now = try db.query("SELECT clock_timestamp()").rows[0].decode(0, as: Date.self)
                for row in snapshot {
                    try db.execute(
                        """
                        INSERT INTO audit.balances (account_id, snapshot_at, asset, balance, hold_trade, credit, credit_used, run_id, raw)
                        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
                        """, [accountId, now, row[0], row[1], row[2], row[3], row[4], runId, row[5]])
                }
                return snapshot.count
            }
        }
        stats.rows = UpsertCount(inserted: inserted, updated: 0)
        return stats
    }
}
