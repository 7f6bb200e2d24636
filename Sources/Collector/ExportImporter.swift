import AuditKernel
import AuditStore
import CSV
import Foundation
import KrakenAPI
import ZIPFoundation

/// Limits an archive must meet before anything is unpacked (zip bombs: a small download that unpacks to
/// terabytes of CSV would fill PostgreSQL's disk through COPY).
struct ExportLimits: Sendable {
    var maxUncompressedBytes: Int64
    var maxCompressionRatio: Double
    /// Entries smaller than this are not ratio-checked (a tiny, repetitive file packs well and harms nobody).
    static let ratioFloor: Int64 = 1 << 20
}

/// What importing one export file did (stored in `audit.exports`).
struct ImportResult: Sendable {
    var header: [String] = []
    var rowsInFile = 0
    var unkeyed = 0
    var inserted = 0
    var already = 0
    var mismatches = 0
    var firstId: String?
    var lastId: String?
    var firstTime: String?
    var lastTime: String?
    var verification: [(String, JSONValue)] = []
}

/// Imports one downloaded export file inside the caller's transaction: the zip is read by ZIPFoundation (CRC
/// checked), the header by CSV.swift, and the rows are parsed by PostgreSQL's own CSV parser (`COPY ... WITH
/// (FORMAT csv)` into a staging table), converted there, verified, reconciled with rows the API already gave
/// and inserted with `source = 'export'` and the report id. Any error rolls the whole file back.
///
/// Kraken export vs REST differences handled here (../shared/kraken-export-api.md §5):
/// - columns are mapped **by name** (four ledger and three trade header generations; unknown extra columns are
///   kept in `raw` and listed in the verification); a missing required column refuses the file;
/// - `time` is UTC text without zone, with or without `.ffff` → `timestamptz`;
/// - asset names `BTC`/`XBT`/`XXBT`, `EUR`/`ZEUR` ... → the REST key, via the public `Assets` list; pairs
///   `XXBTZUSD`/`XBTUSD`/`XBT/USD`/`BTC/USD` → the REST pair key via `AssetPairs`;
/// - numbers are bare and may be `0` for `0.0000000000`: stored as NUMERIC and compared numerically;
/// - a file whose non-zero fees are all negative is sign-normalised;
/// - ledger rows with an empty `txid` (initiated/failed deposits) cannot be keyed: counted, not imported;
/// - trades' `ledgers` is one field of comma-separated ids; `postxid`/`posttxid` and `posstatus`/`posstatuscode`
///   are both accepted; rows are not assumed to be in any order.
struct ExportImporter {
    let accountId: Int
    let krakenId: String
    let report: String
    /// Requested data window, unix seconds, inclusive.
    let starttm: Int64
    let endtm: Int64
    /// Name in the file → REST key.
    let assetAliases: [String: String]
    let pairAliases: [String: String]
    let limits: ExportLimits

    static let ledgerRequired = ["txid", "refid", "time", "type", "aclass", "asset", "amount", "fee", "balance"]
    static let ledgerKnown = Set(ledgerRequired + ["subtype", "subclass", "wallet", "amountusd"])
    static let tradeRequired = ["txid", "ordertxid", "pair", "time", "type", "ordertype", "price", "cost", "fee", "vol"]
    static let tradeKnown = Set(
        tradeRequired + [
            "margin", "misc", "ledgers", "postxid", "posttxid", "posstatus", "posstatuscode", "cprice", "ccost", "cfee", "cvol",
            "cmargin", "net", "trades", "aclass", "subclass", "costusd", "leverage",
        ])

    private struct HeaderFound: Error { let bytes: [UInt8] }

    // MARK: archive and header

    /// Opens the archive (through the verified open file, see ``OpenedExport``) and returns its single CSV entry,
    /// after checking the entry's declared sizes against `limits` (before any byte is unpacked).
    static func csvEntry(_ file: OpenedExport, limits: ExportLimits) throws(ExportError) -> (Archive, Entry) {
        let archive: Archive
        do {
            archive = try Archive(url: file.archiveURL, accessMode: .read)
        } catch {
            throw .corruptZip(path: file.path, reason: "\(error)")
        }
        let entries = Array(archive)
        let files = entries.filter { $0.type == .file }
        guard files.count == 1, let entry = files.first, entry.path.lowercased().hasSuffix(".csv") else {
            if entries.isEmpty { throw .corruptZip(path: file.path, reason: "no entries (not a zip archive, or truncated)") }
            throw .unexpectedArchive(path: file.path, entries: entries.map(\.path))
        }
        let unpacked = Int64(clamping: entry.uncompressedSize)
        let packed = Int64(clamping: entry.compressedSize)
        if unpacked > limits.maxUncompressedBytes {
            throw .entryTooLarge(
                path: file.path, entry: entry.path,
                problem: "would unpack to \(unpacked) bytes, over the limit of \(limits.maxUncompressedBytes)")
        }
        if unpacked >= ExportLimits.ratioFloor, Double(unpacked) > Double(max(packed, 1)) * limits.maxCompressionRatio {
            throw .entryTooLarge(
                path: file.path, entry: entry.path,
                problem:
                    "is compressed \(unpacked / max(packed, 1)) : 1 (\(packed) bytes unpacking to \(unpacked)), over the limit of \(Int(limits.maxCompressionRatio)) : 1"
            )
        }
        return (archive, entry)
    }

    /// Reads the header line (decompressing only the first chunk) and parses it with CSV.swift.
    func header(_ archive: Archive, _ entry: Entry, path: String) throws(ExportError) -> (names: [String], byteLength: Int) {
        var firstLine: [UInt8] = []
        do {
            _ = try archive.extract(entry, bufferSize: 64 * 1024, skipCRC32: true) { data in
                var collected = firstLine
                collected.append(contentsOf: data)
                if let nl = collected.firstIndex(of: 0x0A) { throw HeaderFound(bytes: Array(collected[...nl])) }
                guard collected.count < 64 * 1024 else { throw HeaderFound(bytes: collected) }
                firstLine = collected
            }
        } catch let found as HeaderFound {
            firstLine = found.bytes
        } catch {
            throw .corruptZip(path: path, reason: "\(error)")
        }
        let length = firstLine.count
        var bytes = firstLine
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }  // UTF-8 byte-order mark
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        guard let text = String(validating: bytes, as: UTF8.self), !text.isEmpty else {
            throw .headerChanged(report: report, problem: "the first line is empty or not UTF-8", header: [])
        }
        let names: [String]
        do {
            let reader = try CSVReader(string: text, hasHeaderRow: false)
            names = reader.next() ?? []
        } catch {
            throw .headerChanged(report: report, problem: "unreadable header (\(error))", header: [text])
        }
        let lowered = names.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let required = report == "ledgers" ? Self.ledgerRequired : Self.tradeRequired
        let missing = required.filter { !lowered.contains($0) }
        guard missing.isEmpty else {
            throw .headerChanged(report: report, problem: "missing column(s) \(missing.joined(separator: ", "))", header: names)
        }
        guard Set(lowered).count == lowered.count else {
            throw .headerChanged(report: report, problem: "a column name repeats", header: names)
        }
        guard lowered.count <= 48 else {
            throw .headerChanged(report: report, problem: "\(lowered.count) columns (at most 48 expected)", header: names)
        }
        return (lowered, length)
    }

    // MARK: import

    /// A data exception from PostgreSQL (SQLSTATE class 22: bad number, bad date, malformed CSV) becomes
    /// ``ExportError/badData(report:reason:)``; anything else is passed on.
    func badData(_ error: any Error) -> any Error {
        if let e = error as? PGError, e.sqlState?.hasPrefix("22") == true {
            return ExportError.badData(report: report, reason: "\(e.message) [SQLSTATE \(e.sqlState ?? "")]")
        }
        return error
    }

    /// Seconds per phase, in `verification.phase_seconds` (scripts/bench-export prints them).
    final class PhaseClock {
        let prefix: String
        var phases: [(String, JSONValue)] = []
        private var start = Date()
        init(prefix: String = "") { self.prefix = prefix }
        /// Ends the phase `name` now (it began at the previous mark).
        func mark(_ name: String) {
            let now = Date()
            add(name, seconds: now.timeIntervalSince(start))
            start = now
        }
        func add(_ name: String, seconds: Double) {
            phases.append((prefix + name, .number(String(format: "%.3f", seconds))))
        }
    }

    /// A file staged in the session's temporary tables: `stage` holds the keyed, typed rows.
    struct Staged {
        var rowsInFile: Int
        var keyed: Int
        var stage: String
        var idColumn: String
        var table: String
        var entity: String
    }

    /// Imports `file` on `db`; the caller wraps this in one transaction.
    ///
    /// With a `spare` connection the file's checks (``verify``) run on it alongside the append, each session staging
    /// its own copy of the file (a temporary table is private to its session): PostgreSQL runs one backend per
    /// connection, so the checks take the second core while the first inserts.
    /// The result is the same as without: the checks' answers are waited for before this returns, their refusal
    /// wins over any error the append met meanwhile (duplicate ids fail the insert too), and the caller's
    /// transaction rolls the append back.
    func run(_ db: PGConnection, file: OpenedExport, spare: PGConnection? = nil) throws -> ImportResult {
        var alongside: AlongsideWork<Checks>?
        // Started when the append starts: earlier, the two sessions' staging and the choice of new rows would
        // compete for the cores on the import's critical path (measured: 3 s slower), while the append leaves the
        // second core mostly idle (the server inserts; only the hashing runs here).
        let startChecks = spare.map { spare in
            {
                alongside = AlongsideWork(on: spare) { c in
                    try c.transaction { try self.check(c, file: file) }
                }
            }
        }
        let phases = PhaseClock()
        do {
            var result = try importRows(db, file: file, phases: phases, startChecks: startChecks)
            if let alongside {
                let clock = Date()
                let checks = try alongside.wait().get()
                guard checks.rowsInFile == result.rowsInFile, checks.keyed == result.rowsInFile - result.unkeyed else {
                    throw ExportError.badData(
                        report: report,
                        reason:
                            "the file read as \(result.rowsInFile) rows (\(result.rowsInFile - result.unkeyed) keyed) once and \(checks.rowsInFile) (\(checks.keyed)) the second time"
                    )
                }
                result.firstId = checks.result.firstId
                result.firstTime = checks.result.firstTime
                result.lastId = checks.result.lastId
                result.lastTime = checks.result.lastTime
                // The checks' entries (unknown_columns included) before this session's, as in a one-connection import.
                result.verification = checks.result.verification + result.verification.filter { $0.0 != "unknown_columns" }
                phases.phases += checks.phases
                phases.add("wait_for_checks", seconds: Date().timeIntervalSince(clock))
            }
            result.verification.append(("phase_seconds", .object(phases.phases)))
            return result
        } catch {
            // The spare goes back to the pool when the caller's block ends: the checks must have ended first.
            if let alongside, case .failure(let refusal as ExportError) = alongside.wait() { throw refusal }
            throw error
        }
    }

    /// What the checks found on their own staged copy of the file.
    struct Checks: Sendable {
        var result: ImportResult
        var rowsInFile: Int
        var keyed: Int
        var phases: [(String, JSONValue)]
    }

    /// The checks alone, on their own staged copy of the file (see ``run(_:file:spare:)``).
    func check(_ db: PGConnection, file: OpenedExport) throws -> Checks {
        let phases = PhaseClock(prefix: "checks_")
        var result = ImportResult()
        let staged = try stage(db, file: file, result: &result, phases: phases)
        try verify(db, stage: staged.stage, idColumn: staged.idColumn, keyed: staged.keyed, result: &result, mark: phases.mark)
        phases.mark("verify_rest")
        return Checks(result: result, rowsInFile: staged.rowsInFile, keyed: staged.keyed, phases: phases.phases)
    }

    /// Stages `file`: COPY of the text rows, then typed rows of the keyed ones in `export_ledger`/`export_trades`.
    func stage(_ db: PGConnection, file: OpenedExport, result: inout ImportResult, phases: PhaseClock) throws -> Staged {
        let (archive, entry) = try Self.csvEntry(file, limits: limits)
        // The declared size was checked; a lying header could still unpack to more, so count while unpacking.
        let unpackLimit = min(Int64(clamping: entry.uncompressedSize), limits.maxUncompressedBytes)
        let (names, headerLength) = try header(archive, entry, path: file.path)
        result.header = names
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        func col(_ name: String) -> String { index[name].map { "r.c\($0)" } ?? "NULL::text" }
        let known = report == "ledgers" ? Self.ledgerKnown : Self.tradeKnown
        let unknown = names.filter { !known.contains($0) }
        if !unknown.isEmpty { result.verification.append(("unknown_columns", .array(unknown.map(JSONValue.string)))) }

        // Sorts, hashes and each bulk statement's transition table (the chain check, migration 0014) of a million-row
        // import stay in memory instead of temporary files; for this transaction only.
        try db.executeScript("SET LOCAL work_mem = '128MB'; SET LOCAL maintenance_work_mem = '256MB'")
        // 1. COPY the rows as text (PostgreSQL parses the CSV: quotes, commas inside quotes, bare empties).
        let columns = (0..<names.count).map { "c\($0) text" }.joined(separator: ", ")
        try db.executeScript("DROP TABLE IF EXISTS export_raw; CREATE TEMP TABLE export_raw (\(columns)) ON COMMIT DROP")
        do {
            result.rowsInFile = try db.copyInRaw("COPY export_raw FROM STDIN WITH (FORMAT csv)") { send in
                var skip = headerLength
                var unpacked: Int64 = 0
                do {
                    _ = try archive.extract(entry, bufferSize: 1 << 20) { data in
                        unpacked += Int64(data.count)
                        if unpacked > unpackLimit {
                            throw ExportError.entryTooLarge(
                                path: file.path, entry: entry.path,
                                problem: "unpacks to more than the \(unpackLimit) bytes it declared or the limit allows")
                        }
                        try data.withUnsafeBytes { raw in
                            if skip >= raw.count {
                                skip -= raw.count
                                return
                            }
                            try send(UnsafeRawBufferPointer(rebasing: raw[skip...]))
                            skip = 0
                        }
                    }
                } catch let e as PGError {
                    throw e
                } catch let e as ExportError {
                    throw e
                } catch {
                    throw ExportError.corruptZip(path: file.path, reason: "\(error)")
                }
            }
        } catch {
            throw badData(error)
        }

        phases.mark("copy")
        // 2. Name maps from Kraken's public Assets/AssetPairs (file name → REST key).
        try db.executeScript(
            """
            DROP TABLE IF EXISTS export_asset_alias; DROP TABLE IF EXISTS export_pair_alias;
            CREATE TEMP TABLE export_asset_alias (name text PRIMARY KEY, key text NOT NULL) ON COMMIT DROP;
            CREATE TEMP TABLE export_pair_alias (name text PRIMARY KEY, key text NOT NULL) ON COMMIT DROP;
            """)
        try db.copyIn("export_asset_alias (name, key)", rows: assetAliases.map { [$0.key, $0.value] })
        try db.copyIn("export_pair_alias (name, key)", rows: pairAliases.map { [$0.key, $0.value] })

        // 3. Typed staging rows (casts fail with SQLSTATE 22xxx on a bad value).
        let rawObject = "jsonb_build_object(" + names.indices.map { "$\($0 + 1)::text, r.c\($0)" }.joined(separator: ", ") + ")"
        let nameBinds: [(any PGEncodable)?] = names.map { $0 }
        do {
            if report == "ledgers" {
                try db.executeScript(
                    """
                    DROP TABLE IF EXISTS export_ledger;
                    CREATE TEMP TABLE export_ledger (ledger_id text, refid text, time timestamptz, type text, subtype text,
                        aclass text, asset text, file_asset text, wallet text, amount numeric, fee numeric, balance numeric,
                        raw jsonb) ON COMMIT DROP;
                    """)
                try db.execute(
                    """
                    INSERT INTO export_ledger
                    SELECT \(col("txid")), nullif(\(col("refid")), ''), (\(col("time")))::timestamp AT TIME ZONE 'UTC',
                           coalesce(\(col("type")), ''), coalesce(\(col("subtype")), ''),
                           coalesce(nullif(\(col("aclass")), ''), 'currency'), coalesce(a.key, \(col("asset"))),
                           \(col("asset")), coalesce(\(col("wallet")), ''), (\(col("amount")))::numeric,
                           coalesce(nullif(\(col("fee")), ''), '0')::numeric, nullif(\(col("balance")), '')::numeric, \(rawObject)
                      FROM export_raw r LEFT JOIN export_asset_alias a ON a.name = \(col("asset"))
                     WHERE coalesce(\(col("txid")), '') <> ''
                    """, nameBinds)
            } else {
                try db.executeScript(
                    """
                    DROP TABLE IF EXISTS export_trades;
                    CREATE TEMP TABLE export_trades (txid text, ordertxid text, postxid text, pair text, file_pair text,
                        time timestamptz, type text, ordertype text, price numeric, cost numeric, fee numeric, vol numeric,
                        margin numeric, misc text, ledgers text[], posstatus text, raw jsonb) ON COMMIT DROP;
                    """)
                try db.execute(
                    """
                    INSERT INTO export_trades
                    SELECT \(col("txid")), nullif(\(col("ordertxid")), ''),
                           nullif(coalesce(\(col("postxid")), \(col("posttxid"))), ''), coalesce(p.key, \(col("pair"))),
                           \(col("pair")), (\(col("time")))::timestamp AT TIME ZONE 'UTC', \(col("type")),
                           nullif(\(col("ordertype")), ''), (\(col("price")))::numeric, (\(col("cost")))::numeric,
                           coalesce(nullif(\(col("fee")), ''), '0')::numeric, (\(col("vol")))::numeric,
                           nullif(\(col("margin")), '')::numeric, \(col("misc")),
                           regexp_split_to_array(nullif(trim(\(col("ledgers"))), ''), '\\s*,\\s*'),
                           nullif(coalesce(\(col("posstatus")), \(col("posstatuscode"))), ''), \(rawObject)
                      FROM export_raw r LEFT JOIN export_pair_alias p ON p.name = \(col("pair"))
                     WHERE coalesce(\(col("txid")), '') <> ''
                    """, nameBinds)
            }
        } catch {
            throw badData(error)
        }
        let (stage, idColumn, table, entity) =
            report == "ledgers" ? ("export_ledger", "ledger_id", "ledger_entries", "ledger") : ("export_trades", "txid", "trades", "trade")
        let keyed = try db.query("SELECT count(*) FROM \(stage)").rows[0].decode(0, as: Int.self)
        result.unkeyed = result.rowsInFile - keyed
        phases.mark("convert")
        return Staged(rowsInFile: result.rowsInFile, keyed: keyed, stage: stage, idColumn: idColumn, table: table, entity: entity)
    }

    /// Stages, checks (here, unless `startChecks` starts them elsewhere: then only the fee signs, which the stored
    /// rows need), reconciles and appends.
    private func importRows(_ db: PGConnection, file: OpenedExport, phases: PhaseClock, startChecks: (() -> Void)?) throws
        -> ImportResult
    {
        var result = ImportResult()
        let staged = try stage(db, file: file, result: &result, phases: phases)
        let (stage, idColumn, table, entity, keyed) = (staged.stage, staged.idColumn, staged.table, staged.entity, staged.keyed)
        if startChecks != nil {
            _ = try normaliseFeeSigns(db, stage: stage)
            phases.mark("fee_signs")
        } else {
            try verify(db, stage: stage, idColumn: idColumn, keyed: keyed, result: &result, mark: phases.mark)
            phases.mark("verify_rest")
        }
        let mark = phases.mark

        // 4. Reconcile with rows the API already gave (the seam's overlap), then insert what is new.
        let diffs = report == "ledgers" ? Reconcile.ledgerFields(e: "e", a: "a") : Reconcile.tradeFields(e: "e", a: "a")
        result.mismatches = try db.execute(
            """
            INSERT INTO audit.source_mismatches AS m (account_id, entity, entity_id, field, export_value, api_value, export_id)
            SELECT $1, '\(entity)', e.\(idColumn), f.field, f.ev, f.av, $2
              FROM \(stage) e JOIN audit.\(table) a ON a.account_id = $1 AND a.\(idColumn) = e.\(idColumn) AND a.source = 'api'
             CROSS JOIN LATERAL (VALUES \(diffs)) f(field, ev, av, differs)
             WHERE f.differs
            ON CONFLICT DO NOTHING  -- append-only: an observation already recorded stays as it is (migration 0007)
            """, [accountId, krakenId])
        mark("reconcile")
        // 5. Append what is new, already linked into the account's hash chain (ChainBulkAppend, migration 0014):
        //    chosen under the chain's lock, so a concurrent collector appending the same ids waits, then skips them.
        let chainName = report == "ledgers" ? "ledger_entries" : "trades"
        guard let chainTable = ChainTable.catalogue.first(where: { $0.chain == chainName }) else {
            throw ExportError.badData(report: report, reason: "the chain \(chainName) is missing from the compiled catalogue")
        }
        let chain = ChainBulkAppend(db: db, table: chainTable)
        try chain.lock(account: accountId)
        let versions = chainTable.relation
        try db.executeScript(
            """
            DROP TABLE IF EXISTS export_append;
            CREATE TEMP TABLE export_append ON COMMIT DROP AS SELECT * FROM audit.\(versions) WITH NO DATA;
            ALTER TABLE export_append ADD COLUMN chain_seq bigint;
            """)
        let copied =
            report == "ledgers"
            ? ["ledger_id", "refid", "time", "type", "subtype", "aclass", "asset", "amount", "fee", "balance", "raw"]
            : [
                "txid", "ordertxid", "postxid", "pair", "time", "type", "ordertype", "price", "cost", "fee", "vol", "margin", "misc",
                "ledgers", "posstatus", "raw",
            ]
        // Stored: version 1 exists (ids are kept, never replaced: the stored row stays the fact, and was compared above).
        let chosen = try db.execute(
            """
            INSERT INTO export_append (chain_seq, account_id, \(copied.joined(separator: ", ")), source, export_id, first_seen_at,
                updated_at, version)
            SELECT row_number() OVER (ORDER BY e.time, e.\(idColumn)), $1, \(copied.map { "e." + $0 }.joined(separator: ", ")),
                   'export', $2, now(), now(), 1
              FROM \(stage) e
             WHERE NOT EXISTS (SELECT 1 FROM audit.\(versions) v WHERE v.account_id = $1 AND v.\(idColumn) = e.\(idColumn) AND v.version = 1)
            """, [accountId, krakenId])
        mark("select_new")
        startChecks?()
        let appended = try chain.append(account: accountId, from: "export_append")
        phases.add("append_read", seconds: appended.readSeconds)
        phases.add("append_hash_overlapped", seconds: appended.hashSeconds)
        phases.add("append_insert", seconds: appended.insertSeconds)
        mark("append")
        result.inserted = appended.rows
        // Every keyed row is stored: the rows not chosen had version 1 stored (the anti-join above, under the chain's
        // lock, which no other writer of this account's chain can pass until this transaction ends), and the chosen
        // ones were all appended. (Counting it by a join of the stage with the table cost seconds per million rows.)
        let stored = keyed - chosen + appended.rows
        guard appended.rows == chosen else { throw ExportError.countMismatch(report: report, keyed: keyed, stored: stored) }
        result.already = keyed - chosen
        result.verification.append(("rows_stored", .number(String(stored))))
        return result
    }

    /// Fees written negative throughout the file: normalises their sign (pitfall 6); true if it did. Idempotent.
    func normaliseFeeSigns(_ db: PGConnection, stage: String) throws -> Bool {
        let signs = try db.query("SELECT count(*) FILTER (WHERE fee < 0), count(*) FILTER (WHERE fee > 0) FROM \(stage)").rows[0]
        guard try signs.decode(0, as: Int.self) > 0, try signs.decode(1, as: Int.self) == 0 else { return false }
        try db.execute("UPDATE \(stage) SET fee = -fee")
        return true
    }

    /// Checks the staged rows: unique ids, times inside the window, first/last ids and times, per-asset
    /// balance continuity (ledgers) and ledger references (trades). Fatal problems throw; continuity breaks are
    /// recorded (a genuine gap is the `ledger_gap` rule's finding, not a reason to lose the history).
    func verify(
        _ db: PGConnection, stage: String, idColumn: String, keyed: Int, result: inout ImportResult, mark: (String) -> Void
    ) throws {
        let dups = try db.query("SELECT \(idColumn) FROM \(stage) GROUP BY 1 HAVING count(*) > 1 ORDER BY 1").rows
        mark("verify_unique")
        if !dups.isEmpty {
            throw ExportError.duplicateIds(
                report: report, count: dups.count, examples: try dups.prefix(5).map { try $0.decode(0, as: String.self) })
        }
        let outside = try db.query(
            """
            SELECT count(*), min(\(idColumn) || ' at ' || time::text) FROM \(stage)
             WHERE time < to_timestamp($1) OR time >= to_timestamp($2 + 1)
            """, [starttm, endtm]
        ).rows[0]
        let outsideCount = try outside.decode(0, as: Int.self)
        if outsideCount > 0 {
            throw ExportError.outsideWindow(
                report: report, count: outsideCount, example: try outside.decodeOptional(1, as: String.self) ?? "")
        }
        if let first = try db.query("SELECT \(idColumn), time::text FROM \(stage) ORDER BY time, \(idColumn) LIMIT 1").rows.first,
            let last = try db.query("SELECT \(idColumn), time::text FROM \(stage) ORDER BY time DESC, \(idColumn) DESC LIMIT 1").rows.first
        {
            result.firstId = try first.decode(0, as: String.self)
            result.firstTime = try first.decode(1, as: String.self)
            result.lastId = try last.decode(0, as: String.self)
            result.lastTime = try last.decode(1, as: String.self)
        }
        result.verification.append(("rows_keyed", .number(String(keyed))))
        if try normaliseFeeSigns(db, stage: stage) { result.verification.append(("fees_sign_normalised", .bool(true))) }
        if report == "ledgers" {
            let unknownAssets = try db.query(
                "SELECT DISTINCT file_asset FROM export_ledger WHERE file_asset = asset AND NOT EXISTS (SELECT 1 FROM export_asset_alias a WHERE a.name = asset) ORDER BY 1"
            ).rows
            if !unknownAssets.isEmpty {
                result.verification.append(("unknown_assets", .array(try unknownAssets.map { .string(try $0.decode(0, as: String.self)) })))
            }
            let missingBalance = try db.query("SELECT count(*) FROM export_ledger WHERE balance IS NULL").rows[0].decode(0, as: Int.self)
            if missingBalance > 0 {
                throw ExportError.badData(report: report, reason: "\(missingBalance) keyed row(s) without a balance")
            }
            // Each entry's opening balance (balance - amount + fee) must be the balance of an earlier (or same
            // second: the file has whole seconds only) entry of the same asset and wallet. One sorted pass finds the
            // entries whose predecessor (by time, id) does not hold it (the predecessor is such an earlier entry, so
            // every other entry passes); only those few are searched for any earlier entry holding it. The same
            // answer as searching for every entry, without an index over a million rows (measured: 15 s of 113).
            mark("verify_window")
            try db.executeScript("DROP TABLE IF EXISTS export_balance_suspects")
            try db.execute(
                """
                CREATE TEMP TABLE export_balance_suspects ON COMMIT DROP AS
                SELECT r.ledger_id, r.asset, r.wallet, r.time, r.balance - r.amount + r.fee AS opening
                  FROM (SELECT e.ledger_id, e.asset, e.wallet, e.time, e.balance, e.amount, e.fee,
                               lag(e.balance) OVER (PARTITION BY e.asset, e.wallet ORDER BY e.time, e.ledger_id) AS before,
                               min(e.time) OVER (PARTITION BY e.asset, e.wallet) AS t0
                          FROM export_ledger e) r
                 WHERE r.time > r.t0 AND r.before IS DISTINCT FROM r.balance - r.amount + r.fee
                """)
            mark("verify_balance_pass")
            // The search reads only the entries holding some suspect's opening balance (one scan, probing a hash of
            // the suspects): PostgreSQL 15 can only hash the inner side of an anti-join, which was the whole file
            // (3 s of a million-row import, measured), and an index over it cost as much to build.
            let chain = try db.query(
                """
                WITH candidates AS MATERIALIZED (
                    SELECT p.asset, p.wallet, p.balance, p.time, p.ledger_id FROM export_ledger p
                     WHERE (p.asset, p.wallet, p.balance) IN (SELECT asset, wallet, opening FROM export_balance_suspects))
                SELECT count(*), coalesce(to_jsonb((array_agg(s.ledger_id ORDER BY s.time, s.ledger_id))[1:20]), '[]')::text
                  FROM export_balance_suspects s
                 WHERE NOT EXISTS (
                       SELECT 1 FROM candidates p WHERE p.asset = s.asset AND p.wallet = s.wallet
                          AND p.balance = s.opening AND p.time <= s.time AND p.ledger_id <> s.ledger_id)
                """
            ).rows[0]
            mark("verify_balance_chain")
            result.verification.append(("balance_chain_breaks", .number(String(try chain.decode(0, as: Int.self)))))
            result.verification.append(
                ("balance_chain_break_ids", (try? JSONValue.parse(Array(try chain.decode(1, as: String.self).utf8))) ?? .array([])))
            let assets = try db.query("SELECT count(DISTINCT asset) FROM export_ledger").rows[0].decode(0, as: Int.self)
            result.verification.append(("assets", .number(String(assets))))
        } else {
            let unknownPairs = try db.query(
                "SELECT DISTINCT file_pair FROM export_trades WHERE file_pair = pair AND NOT EXISTS (SELECT 1 FROM export_pair_alias a WHERE a.name = pair) ORDER BY 1"
            ).rows
            if !unknownPairs.isEmpty {
                result.verification.append(("unknown_pairs", .array(try unknownPairs.map { .string(try $0.decode(0, as: String.self)) })))
            }
            // Every ledger id a trade names should be stored (the ledgers report is imported first).
            let missing = try db.query(
                """
                SELECT count(*) FROM export_trades t CROSS JOIN LATERAL unnest(t.ledgers) l(id)
                 WHERE NOT EXISTS (SELECT 1 FROM audit.ledger_entries e WHERE e.account_id = $1 AND e.ledger_id = l.id)
                """, [accountId]
            ).rows[0].decode(0, as: Int.self)
            result.verification.append(("trade_ledger_refs_missing", .number(String(missing))))
        }
    }
}
