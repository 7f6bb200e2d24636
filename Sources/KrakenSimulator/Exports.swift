import AuditKernel
import Foundation
import KrakenAPI
import ZIPFoundation

/// Which generation of Kraken's export file layout the simulator writes (../shared/kraken-export-api.md §5).
public enum ExportHeaderGeneration: String, Sendable, CaseIterable {
    /// Before Oct 2020: ledgers `txid,refid,time,type,aclass,asset,amount,fee,balance` with REST asset keys
    /// (`XXBT`); trades `txid,ordertxid,pair,time,type,ordertype,price,cost,fee,vol,margin,misc,ledgers` with REST
    /// pair keys (`XXBTZUSD`).
    case classic
    /// Since 2024: ledgers add `subtype` and `wallet` and use display names (`BTC`, `EUR`); trades add the position
    /// columns (`postxid,posstatus,cprice,...`, bare empty) and name pairs `BTC/USD`.
    case current
}

/// The file of one report, built on a background queue (a 1M-row file takes seconds; building it inside the
/// state actor would hold a cooperative thread and stall every in-process simulator).
final class ExportBuild: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<[UInt8], EndpointError>?
    var value: Result<[UInt8], EndpointError>? { lock.withLock { result } }
    func finish(_ r: Result<[UInt8], EndpointError>) { lock.withLock { result = r } }
}

/// One report requested with `AddExport` (../shared/kraken-export-api.md §1-§4).
struct SimExport: Sendable {
    let id: String
    let account: String
    let report: String
    let descr: String
    let format: String
    let fields: [String]?
    let dataStart: Int64
    let dataEnd: Int64
    let createdTicks: Int64
    /// Failure text a `Processed` report carries (``SimulatorOptions/exportError`` at request time).
    let error: String?
    let build = ExportBuild()

    /// Queued, then Processing until the configured delay has passed and the file is built.
    func status(nowTicks: Int64, options: SimulatorOptions) -> (status: String, completedTicks: Int64?) {
        let queued = createdTicks + Int64(options.exportQueuedSeconds * 10_000)
        let done = queued + Int64(options.exportProcessingSeconds * 10_000)
        if nowTicks < queued { return ("Queued", nil) }
        if nowTicks < done || build.value == nil { return ("Processing", nil) }
        return ("Processed", done)
    }
}

/// The export endpoints and the file writer. Files are built from the same in-memory history the REST endpoints
/// serve, once per report on a background queue (so a second download is byte-identical).
///
/// Differences from the REST API written on purpose, as Kraken's files have them (each is handled by the
/// collector's importer):
/// - `time` is UTC text without zone: ledgers `YYYY-MM-DD HH:MM:SS` (seconds only; REST has 4 decimals), trades
///   `YYYY-MM-DD HH:MM:SS.ffff`.
/// - text fields are double-quoted, numbers bare; a zero amount or fee is written `0` (REST: `0.0000000000`).
/// - assets (``ExportHeaderGeneration/current``): display names `BTC`, `ETH`, `USD`, `EUR`, `FEE` instead of the REST
///   keys `XXBT`, `XETH`, `ZUSD`, `ZEUR`, `KFEE`; pairs `BTC/USD` instead of `XXBTZUSD`.
/// - ledgers: the ledger id is the `txid` column; `wallet` is `spot / main`; each deposit is preceded by an
///   "initiated" row with empty `txid` and empty `balance` (``SimulatorOptions/exportAwkwardRows``), which REST
///   does not list.
/// - trades: `ledgers` is one quoted field holding comma-separated ledger ids; position columns are bare empty.
/// - rows are written newest first.
enum ExportFiles {
    static let reports: Set<String> = ["ledgers", "trades"]
    static let ledgerFields = ["refid", "time", "type", "subtype", "aclass", "asset", "amount", "fee", "balance", "wallet"]
    static let tradeFields = ["ordertxid", "time", "ordertype", "price", "cost", "fee", "vol", "margin", "misc", "ledgers"]

    static func displayAsset(_ key: String, _ generation: ExportHeaderGeneration) -> String {
        guard generation == .current else { return key }
        switch key {
        case "XXBT": return "BTC"
        case "XETH": return "ETH"
        case "ZUSD": return "USD"
        case "ZEUR": return "EUR"
        case "KFEE": return "FEE"
        default: return key
        }
    }

    static func displayPair(_ pair: PairInfo, _ generation: ExportHeaderGeneration) -> String {
        guard generation == .current else { return pair.key }
        return displayAsset(Catalogue.assets[pair.base].key, generation) + "/" + displayAsset(Catalogue.assets[pair.quote].key, generation)
    }

    /// `2023-12-14 15:24:51` (ledgers) or `2020-11-04 09:45:58.4168` (trades) in UTC.
    static func time(_ ticks: Int64, fraction: Bool) -> String {
        let text = TimeFormat.wall(ticks: ticks, offset: 0)
        guard fraction else { return text }
        let frac = ((ticks % 10_000) + 10_000) % 10_000
        let f = String(frac)
        return text + "." + String(repeating: "0", count: 4 - f.count) + f
    }

    /// A REST decimal string as the export writes it: zero is `0`, anything else unchanged.
    static func number(_ rest: String) -> String {
        rest.allSatisfy { $0 == "0" || $0 == "." || $0 == "-" } ? "0" : rest
    }

    /// Appends one CSV/TSV field: text quoted (quotes doubled), numbers and empty position columns bare.
    static func append(_ value: String, quoted: Bool, to out: inout [UInt8]) {
        if quoted {
            out.append(0x22)
            for b in value.utf8 {
                if b == 0x22 { out.append(0x22) }
                out.append(b)
            }
            out.append(0x22)
        } else {
            out.append(contentsOf: value.utf8)
        }
    }

    /// The file's rows (header first) as (value, quoted) cells.
    static func table(_ export: SimExport, history h: AccountHistory, generation: ExportHeaderGeneration, awkward: Bool) -> [[(String, Bool)]] {
        let lo = export.dataStart * 10_000, hi = export.dataEnd * 10_000
        var rows: [[(String, Bool)]] = []
        if export.report == "ledgers" {
            var header = ["txid", "refid", "time", "type"]
            if generation == .current { header.append("subtype") }
            header += ["aclass", "asset"]
            if generation == .current { header.append("wallet") }
            header += ["amount", "fee", "balance"]
            let selected = export.fields.map { Set($0 + ["txid"]) }
            let columns = header.filter { selected?.contains($0) ?? true }
            rows.append(columns.map { ($0, true) })
            for row in h.ledger.reversed() where row.time >= lo && row.time <= hi {
                let asset = Catalogue.assets[Int(row.asset)]
                let d = asset.decimals
                func cells(id: String, balance: String) -> [(String, Bool)] {
                    columns.map { c in
                        switch c {
                        case "txid": (id, true)
                        case "refid": (h.refid(row), true)
                        case "time": (time(row.time, fraction: false), true)
                        case "type": (row.type.name, true)
                        case "subtype": (row.subtype.name, true)
                        case "aclass": ("currency", true)
                        case "asset": (displayAsset(asset.key, generation), true)
                        case "wallet": ("spot / main", true)
                        case "amount": (number(Fixed.format(row.amount, decimals: d)), false)
                        case "fee": (number(Fixed.format(row.fee, decimals: d)), false)
                        case "balance": (balance, false)
                        default: ("", false)
                        }
                    }
                }
                rows.append(cells(id: h.ledgerID(row), balance: number(Fixed.format(row.balance, decimals: d))))
                if awkward, row.type == .deposit {
                    // Newest first: the "initiated" row is older, so it follows the credited one.
                    rows.append(cells(id: "", balance: ""))
                }
            }
        } else {
            var header = ["txid", "ordertxid", "pair", "time", "type", "ordertype", "price", "cost", "fee", "vol", "margin", "misc", "ledgers"]
            if generation == .current { header += ["postxid", "posstatus", "cprice", "ccost", "cfee", "cvol", "cmargin", "net", "trades"] }
            let selected = export.fields.map { Set($0 + ["txid", "pair", "type"]) }
            let columns = header.filter { selected?.contains($0) ?? true }
            rows.append(columns.map { ($0, true) })
            for t in h.trades.reversed() where t.time >= lo && t.time <= hi {
                let pair = Catalogue.pairs[Int(t.pair)]
                // The same texts as the REST `tradeJSON` (PrivateEndpoints.swift).
                let numbers: [String: String] = [
                    "price": PrivateEndpoints.price(t.price, pair), "cost": PrivateEndpoints.quoteAmount(t.cost, pair),
                    "fee": PrivateEndpoints.quoteAmount(t.fee, pair), "vol": Fixed.format(t.vol, decimals: pair.lotDecimals),
                    "margin": PrivateEndpoints.quoteAmount(0, pair),
                ]
                let ledgers = [t.ledgerSerial + 1, t.ledgerSerial].map { h.ledgerIDs.format($0) }.joined(separator: ",")
                rows.append(columns.map { c in
                    switch c {
                    case "txid": (h.tradeID(t.serial), true)
                    case "ordertxid": (h.orderID(t.orderSerial), true)
                    case "pair": (displayPair(pair, generation), true)
                    case "time": (time(t.time, fraction: true), true)
                    case "type": (t.side.name, true)
                    case "ordertype": (t.orderType.name, true)
                    case "price", "cost", "fee", "vol", "margin": (number(numbers[c] ?? "0"), false)
                    case "misc": ("", true)
                    case "ledgers": (ledgers, true)
                    case "postxid": ("TKH2SE-M7IF5-CFI7LT", true)
                    default: ("", false)
                    }
                })
            }
        }
        return rows
    }

    /// The zip archive (one `ledgers.csv` / `trades.csv`, deflated) for `export`.
    static func zip(_ export: SimExport, history: AccountHistory, options: SimulatorOptions) throws -> [UInt8] {
        let tsv = export.format == "TSV"
        var csv: [UInt8] = []
        csv.reserveCapacity(1 << 20)
        for (n, row) in table(export, history: history, generation: options.exportHeader, awkward: options.exportAwkwardRows).enumerated() {
            for (i, cell) in row.enumerated() {
                let cell = n == 0 ? (options.exportHeaderRenames[cell.0] ?? cell.0, cell.1) : cell
                if i > 0 { csv.append(tsv ? 0x09 : 0x2C) }
                append(cell.0, quoted: cell.1, to: &csv)
            }
            csv.append(0x0A)
        }
        let archive = try Archive(accessMode: .create)
        let bytes = csv
        try archive.addEntry(
            with: "\(export.report).\(tsv ? "tsv" : "csv")", type: .file, uncompressedSize: Int64(bytes.count),
            modificationDate: Date(timeIntervalSince1970: Double(export.createdTicks) / 10_000), compressionMethod: .deflate,
            provider: { position, size in
                let start = Int(position)
                return Data(bytes[start..<min(bytes.count, start + size)])
            })
        guard let data = archive.data else { throw EndpointError("EExport:Internal error") }
        return Array(data)
    }
}

extension SimulatorState {
    /// Four capitals, unique among this simulator's reports (Kraken's ids look like `TCJA`).
    func nextExportID() -> String {
        while true {
            let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            let id = String((0..<4).map { _ in letters[Int(exportRNG.next() % 26)] })
            if !exports.contains(where: { $0.id == id }) { return id }
        }
    }

    func addExport(_ params: Params, account a: SimAccount) throws(EndpointError) -> JSONValue {
        guard let report = params["report"], ExportFiles.reports.contains(report) else { throw .invalid("report") }
        guard let descr = params["description"], !descr.isEmpty else { throw .invalid("description") }
        let format = (params["format"] ?? "CSV").uppercased()
        guard format == "CSV" || format == "TSV" else { throw .invalid("format") }
        var fields: [String]? = nil
        if let f = params.list("fields"), !(f.count == 1 && f[0] == "all") {
            let known = report == "ledgers" ? ExportFiles.ledgerFields : ExportFiles.tradeFields
            guard f.allSatisfy(known.contains) else { throw .invalid("fields") }
            fields = f
        }
        let now = nowTicks()
        let nowSeconds = now / 10_000
        // Missing starttm: the 1st of the current month, 00:00 UTC (§1) — the pitfall the collector avoids.
        let (y, m, _) = TimeFormat.civil(days: nowSeconds / 86_400)
        var start = TimeFormat.days(year: y, month: m, day: 1) * 86_400
        var end = nowSeconds
        if let s = params["starttm"], !s.isEmpty { guard let v = Int64(s), v >= 0 else { throw .invalid("starttm") }; start = v }
        if let e = params["endtm"], !e.isEmpty { guard let v = Int64(e), v >= 0 else { throw .invalid("endtm") }; end = min(v, nowSeconds) }
        guard start <= end else { throw .invalid("starttm") }
        let id = nextExportID()
        let export = SimExport(
            id: id, account: a.name, report: report, descr: descr, format: format, fields: fields, dataStart: start,
            dataEnd: end, createdTicks: now, error: options.exportError)
        exports.append(export)
        // Rows up to `end` are in the past and never change, so a snapshot of the history (copy-on-write) is the file.
        let (history, options, logger) = (a.builder.history, self.options, self.logger)
        DispatchQueue.global(qos: .utility).async {
            do {
                export.build.finish(.success(try ExportFiles.zip(export, history: history, options: options)))
            } catch {
                logger.error("could not build the export file", metadata: ["id": "\(id)", "error": "\(error)"])
                export.build.finish(.failure(EndpointError("EExport:Internal error")))
            }
        }
        return .object([("id", .string(id))])
    }

    /// Reports of the account that still exist (not deleted, not expired), newest first.
    func liveExports(_ a: SimAccount) -> [Int] {
        let now = nowTicks()
        return exports.indices.filter { i in
            exports[i].account == a.name && now < exports[i].createdTicks + options.exportExpirySeconds * 10_000
        }.reversed()
    }

    func exportStatus(_ params: Params, account a: SimAccount) throws(EndpointError) -> JSONValue {
        guard let report = params["report"], ExportFiles.reports.contains(report) else { throw .invalid("report") }
        let now = nowTicks()
        return .array(liveExports(a).filter { exports[$0].report == report }.map { i in
            let x = exports[i]
            let (status, completed) = x.status(nowTicks: now, options: options)
            let created = String(x.createdTicks / 10_000)
            var m: [(String, JSONValue)] = [
                ("id", .string(x.id)), ("descr", .string(x.descr)), ("format", .string(x.format)),
                ("report", .string(x.report)), ("subtype", .string("all")), ("status", .string(status)),
                ("flags", .string("0")), ("fields", .string(x.fields?.joined(separator: ",") ?? "all")),
                ("createdtm", .string(created)), ("expiretm", .string(String(x.createdTicks / 10_000 + options.exportExpirySeconds))),
                ("starttm", .string(String(x.dataStart))), ("completedtm", .string(completed.map { String($0 / 10_000) } ?? "0")),
                ("datastarttm", .string(String(x.dataStart))), ("dataendtm", .string(String(x.dataEnd))),
                ("aclass", .string(x.report == "ledgers" ? "currency" : "forex")), ("asset", .string("all")),
            ]
            if status == "Processed", let error = x.error { m.append(("error", .string(error))) }
            return .object(m)
        })
    }

    /// The zip bytes of a processed report (built on first retrieval).
    func retrieveExport(_ params: Params, account a: SimAccount) throws(EndpointError) -> [UInt8] {
        guard let id = params["id"], let i = liveExports(a).first(where: { exports[$0].id == id }) else { throw .invalid("id") }
        let (status, _) = exports[i].status(nowTicks: nowTicks(), options: options)
        guard status == "Processed" else { throw EndpointError("EExport:Not ready") }
        if let error = exports[i].error { throw EndpointError(error) }
        switch exports[i].build.value {
        case .success(let zip): return zip
        case .failure(let e): throw e
        case nil: throw EndpointError("EExport:Not ready")
        }
    }

    func removeExport(_ params: Params, account a: SimAccount) throws(EndpointError) -> JSONValue {
        guard let id = params["id"], let i = liveExports(a).first(where: { exports[$0].id == id }) else { throw .invalid("id") }
        guard let type = params["type"], type == "cancel" || type == "delete" else { throw .invalid("type") }
        let (status, _) = exports[i].status(nowTicks: nowTicks(), options: options)
        // `cancel` only before processing finished, `delete` only after (§4).
        guard (type == "cancel") == (status != "Processed") else { throw .invalid("type") }
        exports.remove(at: i)
        return .object([(type, .bool(true))])
    }

    /// Reports requested so far (all accounts), for tests: (id, account, report, data window).
    public func exportRequests() -> [(id: String, account: String, report: String, start: Int64, end: Int64)] {
        exports.map { ($0.id, $0.account, $0.report, $0.dataStart, $0.dataEnd) }
    }
}
