import AuditKernel
import Foundation
import KrakenAPI
import ZIPFoundation

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
    static func table(_ export: SimExport, history h: AccountHistory, generation: ExportHeaderGeneration, awkward: Bool) -> [[(
        String, Bool
    )]] {
        let lo = export.dataStart * 10_000
        let hi = export.dataEnd * 10_000
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
            var header = [
                "txid", "ordertxid", "pair", "time", "type", "ordertype", "price", "cost", "fee", "vol", "margin", "misc", "ledgers",
            ]
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
                rows.append(
                    columns.map { c in
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
