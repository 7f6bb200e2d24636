import AuditConfig
import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Settings of the export backfill (issue 10), part of ``CollectOptions``.
public struct ExportOptions: Sendable {
    /// Overrides every account's `backfill` (the CLI's `--backfill`); nil = the config, else auto.
    public var mode: BackfillMode?
    /// Poll, download and import in this run until every report is imported (`--wait`), instead of one step.
    public var wait: Bool
    public var waitTimeoutSeconds: Double
    public var pollSeconds: Double
    /// Where downloaded zip files are kept (audit evidence, with their SHA-256 in `audit.exports`).
    public var directory: URL
    /// The export ends this long before Kraken's clock (rows in flight settle); paging covers the rest.
    public var settleSeconds: Int64
    /// The minimum overlap between the export's end and the paging start (the seam); the effective overlap is
    /// max(this, ``CollectOptions/overlapSeconds``).
    public var seamOverlapSeconds: Int64
    /// Start of the requested data window when no `since` is given: 2013-01-01, before Kraken's first accounts
    /// (AddExport's default would be the 1st of the current month).
    public var historyStart: Int64
    /// A report that fails or is refused is requested again up to this many times in all.
    public var maxAttempts: Int
    /// Delete the report at Kraken once imported (`RemoveExport type=delete`).
    public var deleteWhenImported: Bool
    /// The largest archive `RetrieveExport` may download (streamed to disk, never held in memory); default 4 GiB.
    public var maxDownloadBytes: Int64
    /// The largest size the archive's CSV entry may unpack to; checked before unpacking and while unpacking.
    public var maxUncompressedBytes: Int64
    /// The largest compression ratio (unpacked / packed) of an entry over 1 MiB: real CSV packs about 5-15 : 1,
    /// a zip bomb 1000 : 1.
    public var maxCompressionRatio: Double

    public init(
        mode: BackfillMode? = nil, wait: Bool = false, waitTimeoutSeconds: Double = 6 * 3600, pollSeconds: Double = 30,
        directory: URL = ExportOptions.defaultDirectory, settleSeconds: Int64 = 3600, seamOverlapSeconds: Int64 = 600,
        historyStart: Int64 = 1_356_998_400, maxAttempts: Int = 3, deleteWhenImported: Bool = true,
        maxDownloadBytes: Int64 = 4 << 30, maxUncompressedBytes: Int64 = 32 << 30, maxCompressionRatio: Double = 100
    ) {
        self.maxDownloadBytes = maxDownloadBytes
        self.maxUncompressedBytes = maxUncompressedBytes
        self.maxCompressionRatio = maxCompressionRatio
        self.mode = mode
        self.wait = wait
        self.waitTimeoutSeconds = waitTimeoutSeconds
        self.pollSeconds = pollSeconds
        self.directory = directory
        self.settleSeconds = settleSeconds
        self.seamOverlapSeconds = seamOverlapSeconds
        self.historyStart = historyStart
        self.maxAttempts = maxAttempts
        self.deleteWhenImported = deleteWhenImported
    }

    /// `$KRAKEN_AUDIT_EXPORT_DIR`, else `$STATE_DIRECTORY/exports` (systemd), else `./kraken-audit-exports`.
    public static var defaultDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        if let d = env["KRAKEN_AUDIT_EXPORT_DIR"], !d.isEmpty { return URL(fileURLWithPath: d) }
        if let s = env["STATE_DIRECTORY"], !s.isEmpty, let first = s.split(separator: ":").first {
            return URL(fileURLWithPath: String(first)).appendingPathComponent("exports")
        }
        return URL(fileURLWithPath: "kraken-audit-exports")
    }
}

/// One `audit.exports` row as the state machine needs it.
struct ExportRecord: Sendable {
    let id: Int64
    let report: String
    let krakenId: String?
    let descr: String
    let attempt: Int
    let status: ExportState
    let starttm: Int64
    let endtm: Int64
    let filePath: String?
    let sha256: String?
    let krakenStatus: String?
}

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
    let store: PGConnection
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
                try db.query("SELECT count(*) FROM audit.collect_cursors WHERE account_id = $1 AND endpoint = ANY($2::text[])", [accountId, PGArray.text(Self.pagedEndpoints)]).rows[0].decode(0, as: Int.self) > 0
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
        logger.info("backfilling through Kraken's data export", metadata: ["start": "\(start)", "end": "\(end)", "paging_from": "\(seed - options.overlapSeconds)"])
        return .export
    }

    // MARK: advancing

    func latest(_ report: String) async throws(CollectError) -> ExportRecord? {
        let accountId = self.accountId
        return try await store.collectRun { db in
            guard let r = try db.query(
                """
                SELECT id, report, kraken_id, descr, attempt, status, starttm, endtm, file_path, sha256, kraken_status
                  FROM audit.exports WHERE account_id = $1 AND report = $2 ORDER BY id DESC LIMIT 1
                """, [accountId, report]
            ).rows.first else { return nil }
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

    /// Advances every report; with `wait`, loops (polling every ``ExportOptions/pollSeconds``) until each is
    /// imported or finally failed, or the wait times out. Returns the per-report statistics.
    func advance(wait: Bool) async throws(CollectError) -> [String: EndpointStats] {
        var stats: [String: EndpointStats] = [:]
        let deadline = Date().addingTimeInterval(options.export.waitTimeoutSeconds)
        for report in Self.reports {
            var s = EndpointStats()
            while true {
                let progressed = try await step(report, stats: &s)
                if progressed { continue }
                guard wait, let r = try await latest(report), r.status.isInProgress,
                    Date() < deadline
                else { break }
                do {
                    try await Task.sleep(for: .milliseconds(Int64(options.export.pollSeconds * 1000)))
                } catch {
                    throw .cancelled
                }
            }
            s.state = try await latest(report)?.status.rawValue
            stats["Export:\(report)"] = s
        }
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
                    logger.info("could not delete the imported report at Kraken (it expires by itself)", metadata: ["id": "\(kid)", "error": "\(error)"])
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
                    """, [accountId, report, "kraken-audit \(name) \(report) \(r.starttm)-\(r.endtm) #\(attempt)", attempt, r.starttm, r.endtm, ExportState.requesting])
            }
            logger.notice("requesting the export again", metadata: ["report": "\(report)", "attempt": "\(attempt)"])
            return true
        }
    }

    /// `requesting`: adopt a report Kraken already has under our description (a kill after AddExport), else request it.
    func request(_ r: ExportRecord, stats: inout EndpointStats) async throws(CollectError) -> Bool {
        let listed = try await paced.call("ExportStatus", [("report", r.report)])
        stats.calls += 1
        if let found = listed.result.arrayValue?.first(where: { $0["descr"]?.stringValue == r.descr }), let kid = found["id"]?.stringValue {
            try checkKrakenId(kid, endpoint: "ExportStatus")
            try await update(r.id, "kraken_id = $2, status = $3", [kid, ExportState.requested])
            return true
        }
        let added = try await paced.call("AddExport", [
            ("report", r.report), ("description", r.descr), ("format", "CSV"), ("fields", "all"),
            ("starttm", String(r.starttm)), ("endtm", String(r.endtm)),
        ])
        stats.calls += 1
        guard let kid = added.result["id"]?.stringValue, !kid.isEmpty else {
            throw .malformed(endpoint: "AddExport", reason: "no report id in the result")
        }
        try checkKrakenId(kid, endpoint: "AddExport")
        try await update(r.id, "kraken_id = $2, status = $3", [kid, ExportState.requested])
        logger.info("export requested", metadata: ["report": "\(r.report)", "id": "\(kid)"])
        return false  // Kraken needs time; the next step is a later poll
    }

    /// `requested`: one ExportStatus call.
    func poll(_ r: ExportRecord, stats: inout EndpointStats) async throws(CollectError) -> Bool {
        let listed = try await paced.call("ExportStatus", [("report", r.report)])
        stats.calls += 1
        guard let kid = r.krakenId, let item = listed.result.arrayValue?.first(where: { $0["id"]?.stringValue == kid }) else {
            try await update(r.id, "status = $3, error = $2", ["Kraken no longer lists report \(r.krakenId ?? "?") (deleted or expired)", ExportState.expired])
            return true
        }
        let status = item["status"]?.stringValue ?? "?"
        if let error = item["error"]?.stringValue, !error.isEmpty {
            try await update(r.id, "status = $4, kraken_status = $2, error = $3", [status, ExportError.krakenFailed(krakenId: kid, error: error).description, ExportState.failed])
            logger.error("Kraken failed the export", metadata: ["id": "\(kid)", "error": "\(error)"])
            return true
        }
        guard status == "Processed" else {
            try await update(r.id, "kraken_status = $2", [status])
            return false
        }
        try await update(r.id, "status = $3, kraken_status = $2, processed_at = now()", [status, ExportState.processed])
        return true
    }

    /// Refuses a report id that could not safely be part of a file name; nothing is stored for it (the row
    /// stays `requesting`, and the next run adopts the report again by its description).
    func checkKrakenId(_ kid: String, endpoint: String) throws(CollectError) {
        guard ExportFile.isValidKrakenId(kid) else {
            let error = ExportError.badKrakenId(shown: ExportError.shown(kid))
            logger.error("export id refused", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            throw .malformed(endpoint: endpoint, reason: error.description)
        }
    }

    /// `processed`: RetrieveExport streamed into `<dir>/<file>.part` (never into memory; at most
    /// ``ExportOptions/maxDownloadBytes``), fsync, rename, SHA-256 computed while writing.
    func download(_ r: ExportRecord, stats: inout EndpointStats) async throws(CollectError) -> Bool {
        guard let kid = r.krakenId else { return false }
        guard ExportFile.isValidKrakenId(kid) else {
            // Only an id stored before ids were checked can get here; it never becomes a path.
            try await update(r.id, "status = $3, error = $2", [ExportError.badKrakenId(shown: ExportError.shown(kid)).description, ExportState.failed])
            return true
        }
        let dir = options.export.directory
        let file = dir.appendingPathComponent("\(Self.fileSafe(account.name))-\(r.report)-\(kid)-\(r.id).zip")
        let part = file.path + ".part"
        let fd: Int32
        do throws(ExportError) {
            try ExportFile.ensurePrivateDirectory(dir)
            fd = try ExportFile.createPart(part)
        } catch {
            throw .configuration(error.description)
        }
        var keepPart = false
        defer {
            close(fd)
            if !keepPart { unlink(part) }
        }
        let sink = ResponseFile(descriptor: fd, maxBytes: options.export.maxDownloadBytes)
        let paced = self.paced
        let outcome: Result<KrakenPayload, CollectError> = await KrakenClient.$responseFile.withValue(sink) {
            do throws(CollectError) {
                return .success(try await paced.call("RetrieveExport", [("id", kid)], binaryAllowed: true))
            } catch {
                return .failure(error)
            }
        }
        let payload: KrakenPayload
        switch outcome {
        case .success(let p):
            payload = p
            stats.calls += 1
        case .failure(.kraken(let e, _)) where !e.isTransient:
            stats.calls += 1
            try await update(r.id, "error = $2", [ExportError.notZip(krakenId: kid, detail: "\(e)").description])
            if case .responseFileFailed = e { throw .kraken(e, attempts: 1) }  // a full disk is the operator's to fix
            return false
        case .failure(let e):
            throw e
        }
        guard case .binary = payload, KrakenPayload.isZip(sink.head) else {
            try await update(r.id, "error = $2", [ExportError.notZip(krakenId: kid, detail: "a JSON answer").description])
            return false
        }
        let bytes = sink.byteCount
        let sha = sink.sha256Hex()
        do throws(ExportError) {
            try ExportFile.commit(descriptor: fd, part: part, final: file.path)
            keepPart = true  // renamed: nothing left at the .part name
        } catch {
            throw .configuration(error.description + " (set --export-dir or KRAKEN_AUDIT_EXPORT_DIR to a writable directory)")
        }
        try await update(r.id, "status = $5, downloaded_at = now(), file_path = $2, file_size = $3, sha256 = $4, error = NULL", [file.path, bytes, sha, ExportState.downloaded])
        logger.info("export downloaded", metadata: ["report": "\(r.report)", "bytes": "\(bytes)", "sha256": "\(sha)"])
        return true
    }

    /// The account name as part of a file name: ASCII letters, digits, `-`, `_`, `.` kept, anything else `_`
    /// (config names are checked at load; this keeps a path component a path component regardless).
    static func fileSafe(_ name: String) -> String {
        let mapped = String(name.unicodeScalars.map { s -> Character in
            s.isASCII && (CharacterSet.alphanumerics.contains(s) || s == "-" || s == "_" || s == ".") ? Character(s) : "_"
        })
        return mapped.hasPrefix(".") ? "_" + mapped.dropFirst() : mapped
    }

    /// Name maps (file name → REST key) from the public Assets and AssetPairs lists (no counter cost).
    func aliases() async throws(CollectError) -> (assets: [String: String], pairs: [String: String]) {
        let assetsResult = try await paced.publicCall("Assets").result
        let pairsResult = try await paced.publicCall("AssetPairs").result
        var assets: [String: String] = [:]
        var display: [String: [String]] = [:]  // REST key → names the export may use
        let extra = ["XBT": ["BTC"], "XDG": ["DOGE"]]
        for (key, info) in assetsResult.objectMembers ?? [] {
            assets[key] = key
            display[key] = [key]
            if let alt = info["altname"]?.stringValue {
                if assets[alt] == nil { assets[alt] = key }
                display[key, default: []].append(alt)
                for name in extra[alt] ?? [] where assets[name] == nil {
                    assets[name] = key
                    display[key, default: []].append(name)
                }
            }
        }
        var pairs: [String: String] = [:]
        for (key, _) in pairsResult.objectMembers ?? [] { pairs[key] = key }
        for (key, info) in pairsResult.objectMembers ?? [] {
            if let alt = info["altname"]?.stringValue, pairs[alt] == nil { pairs[alt] = key }
            if let ws = info["wsname"]?.stringValue, pairs[ws] == nil { pairs[ws] = key }
            if let base = info["base"]?.stringValue, let quote = info["quote"]?.stringValue {
                for b in display[base] ?? [base] {
                    for q in display[quote] ?? [quote] where pairs["\(b)/\(q)"] == nil { pairs["\(b)/\(q)"] = key }
                }
            }
        }
        return (assets, pairs)
    }

    /// Tests only: called after the file was opened and verified, before it is imported (a test swaps the file
    /// at the path here to show the import reads the verified file).
    @TaskLocal static var afterVerify: (@Sendable (String) -> Void)?

    /// `downloaded`: verify the file's hash, import it in one transaction.
    func importFile(_ r: ExportRecord, stats: inout EndpointStats) async throws(CollectError) -> Bool {
        guard let kid = r.krakenId, let path = r.filePath else { return false }
        // Opened once (no symlinks), hashed, and imported from this same open file (see OpenedExport).
        let opened: OpenedExport
        do throws(ExportError) {
            guard let o = try OpenedExport.openForImport(path) else { throw .fileMissing(path: path, reason: "is missing") }
            guard try o.sha256Hex() == r.sha256 else { throw .fileMissing(path: path, reason: "changed since it was downloaded") }
            opened = o
        } catch {
            try await update(r.id, "status = $3, error = $2", [error.description, ExportState.processed])
            return true
        }
        Self.afterVerify?(path)
        let (assets, pairs) = try await aliases()
        let importer = ExportImporter(
            accountId: accountId, krakenId: kid, report: r.report, starttm: r.starttm, endtm: r.endtm, assetAliases: assets,
            pairAliases: pairs,
            limits: ExportLimits(maxUncompressedBytes: options.export.maxUncompressedBytes, maxCompressionRatio: options.export.maxCompressionRatio))
        let started = Date()
        let rowId = r.id
        let outcome: Result<ImportResult, ExportError>
        do {
            outcome = .success(try await store.run { db in
                try db.transaction { () throws -> ImportResult in
                    let t0 = Date()
                    var result = try importer.run(db, file: opened)
                    result.verification.append(("import_seconds", .number(String(format: "%.3f", Date().timeIntervalSince(t0)))))
                    let verification = JSONValue.object(result.verification).jsonText
                    try db.execute(
                        """
                        UPDATE audit.exports SET status = $13, imported_at = now(), header = $2::text[], rows_in_file = $3,
                            rows_unkeyed = $4, rows_inserted = $5, rows_already = $6, mismatches = $7, first_id = $8, last_id = $9,
                            first_time = $10, last_time = $11, verification = $12::jsonb, error = NULL, updated_at = now()
                         WHERE id = $1
                        """,
                        [
                            rowId, PGArray.text(result.header), result.rowsInFile, result.unkeyed, result.inserted, result.already,
                            result.mismatches, result.firstId, result.lastId, result.firstTime, result.lastTime, verification,
                            ExportState.imported,
                        ])
                    return result
                }
            })
        } catch let e as ExportError {
            outcome = .failure(e)
        } catch let e as PGError {
            throw .database(e)  // the transaction rolled back; the file is imported again next run
        } catch {
            throw .database(PGError(kind: .query, message: "\(error)"))
        }
        switch outcome {
        case .success(let result):
            stats.rows = stats.rows + UpsertCount(inserted: result.inserted, updated: 0)
            let seconds = Date().timeIntervalSince(started)
            logger.info(
                "export imported",
                metadata: [
                    "report": "\(r.report)", "rows": "\(result.rowsInFile)", "inserted": "\(result.inserted)",
                    "already": "\(result.already)", "mismatches": "\(result.mismatches)",
                    "rows_per_s": "\(Int(Double(result.rowsInFile) / max(seconds, 0.001)))",
                ])
            return true
        case .failure(let e):
            // Nothing was imported (rolled back). Keep the file next to a note for inspection.
            try await update(r.id, "status = $3, error = $2", [e.description, ExportState.rejected])
            logger.error("export file refused", metadata: ["report": "\(r.report)", "error": "\(e)"])
            if !e.retryable { try await update(r.id, "attempt = $2", [options.export.maxAttempts]) }
            return true
        }
    }
}
