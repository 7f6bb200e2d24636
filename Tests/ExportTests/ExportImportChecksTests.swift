import AuditKernel
import AuditStore
import Foundation
import Testing
import ZIPFoundation

@testable import Collector

/// Issue 18 kept the import's checks while making it set-based: balance continuity (same-second entries in any
/// order pass, a real gap is named), duplicate ids refuse the file, ids already stored are kept (dedupe), and the
/// bulk-appended rows verify as an intact chain. Each runs twice: checks on the importing connection, and checks on a
/// spare connection alongside the append (``ExportImporter/run(_:file:spare:)``), which must change nothing.
@Suite(.serialized) struct ExportImportChecksTests {
    static let header = "\"txid\",\"refid\",\"time\",\"type\",\"subtype\",\"aclass\",\"asset\",\"wallet\",\"amount\",\"fee\",\"balance\""

    static func zip(_ lines: [String]) throws -> URL {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ka-checks-\(UUID().uuidString).zip")
        let data = Data(([header] + lines).joined(separator: "\n").utf8 + [0x0A])
        let archive = try Archive(url: path, accessMode: .create)
        try archive.addEntry(with: "ledgers.csv", type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) {
            position, size in data.subdata(in: Int(position)..<Int(position) + size)
        }
        return path
    }

    static func row(_ id: String, _ time: String, amount: String, balance: String) -> String {
        "\"\(id)\",\"R\(id)\",\"2024-01-01 \(time)\",\"trade\",\"\",\"currency\",\"XBT\",\"spot / main\",\"\(amount)\",\"0\",\"\(balance)\""
    }

    /// Imports `path` in one transaction on `h.db`, with the checks on a second connection when `spare`.
    static func importFile(_ h: ExportHarness, _ path: URL, account: Int, spare: Bool = false) throws -> ImportResult {
        let importer = ExportImporter(
            accountId: account, krakenId: "CHECKS", report: "ledgers", starttm: 1_704_067_200 - 86_400, endtm: 1_704_067_200 + 86_400,
            assetAliases: ["XBT": "XXBT"], pairAliases: [:], limits: ExportLimits(maxUncompressedBytes: 1 << 30, maxCompressionRatio: 1000))
        let opened = try #require(try OpenedExport.openForImport(path.path))
        let second = spare ? try h.database.connect() : nil
        defer { second?.close() }
        let result = try h.db.transaction { try importer.run(h.db, file: opened, spare: second) }
        if let second { #expect(second.isReusable, "the spare connection is given back outside any transaction") }
        return result
    }

    @Test(arguments: [false, true]) func continuityDuplicatesDedupeAndTheChain(spare: Bool) async throws {
        try await ExportHarness.with(scale: 50, days: 5) { h in
            let account = try h.db.query("INSERT INTO audit.accounts (name) VALUES ($1) RETURNING id", ["checks"]).rows[0].decode(
                0, as: Int.self)
            let clean = try Self.zip([
                Self.row("LCHK-0001", "00:00:00", amount: "1.0000000000", balance: "1.0000000000"),
                Self.row("LCHK-0002", "00:00:05", amount: "2.0000000000", balance: "3.0000000000"),
                // Same second, the later balance has the smaller id: in (time, id) order neither follows its
                // predecessor, yet each opening balance is held by an entry of that second or before.
                Self.row("LCHK-000B", "00:00:10", amount: "1.0000000000", balance: "4.0000000000"),
                Self.row("LCHK-000A", "00:00:10", amount: "1.0000000000", balance: "5.0000000000"),
                // A real gap: opening 9 is nobody's balance.
                Self.row("LCHK-0009", "00:00:20", amount: "1.0000000000", balance: "10.0000000000"),
            ])
            defer { try? FileManager.default.removeItem(at: clean) }
            let first = try Self.importFile(h, clean, account: account, spare: spare)
            let verification = JSONValue.object(first.verification)
            #expect(verification["balance_chain_breaks"] == .number("1"))
            #expect(verification["balance_chain_break_ids"] == .array([.string("LCHK-0009")]), "\(verification.jsonText)")
            #expect(first.inserted == 5 && first.already == 0)
            // The same file again: every id is already stored, nothing is appended twice.
            let again = try Self.importFile(h, clean, account: account, spare: spare)
            #expect(again.inserted == 0 && again.already == 5)
            #expect(try h.count("SELECT count(*) FROM audit.ledger_entry_versions WHERE ledger_id LIKE 'LCHK-%'") == 5)
            let chain = try ChainVerifier(db: h.db).verify(tables: ChainTable.catalogue.filter { $0.chain == "ledger_entries" })
            #expect(chain.problems.isEmpty, "\(chain.problems)")

            let duplicated = try Self.zip([
                Self.row("LDUP-0001", "00:00:00", amount: "1", balance: "1"),
                Self.row("LDUP-0001", "00:00:01", amount: "1", balance: "2"),
            ])
            defer { try? FileManager.default.removeItem(at: duplicated) }
            #expect {
                _ = try Self.importFile(h, duplicated, account: account, spare: spare)
            } throws: { error in
                guard case ExportError.duplicateIds(_, 1, let examples) = error else { return false }
                return examples == ["LDUP-0001"]
            }
        }
    }

    /// The checks on a spare connection report exactly what they report on the importing one (fee signs normalised,
    /// an unknown asset, a gap, first and last ids), the rows stored are the same, and a refusal found alongside
    /// (a row outside the window) rolls the append back.
    @Test func checksAlongsideTheAppendMatchTheChecksInLine() async throws {
        try await ExportHarness.with(scale: 50, days: 5) { h in
            func fee(_ line: String) -> String {
                // Fee "-0.1" in every row: written negative throughout, so normalised.
                line.replacingOccurrences(of: ",\"0\",", with: ",\"-0.1000000000\",")
            }
            let lines = [
                fee(Self.row("LALG-0001", "00:00:00", amount: "1.0000000000", balance: "0.9000000000")),
                fee(Self.row("LALG-0002", "00:00:05", amount: "2.0000000000", balance: "2.8000000000")),
                fee(Self.row("LALG-0003", "00:00:09", amount: "1.0000000000", balance: "9.0000000000")),  // a gap
                fee(Self.row("LALG-0004", "00:00:10", amount: "1.0000000000", balance: "9.9000000000"))
                    .replacingOccurrences(of: "\"XBT\"", with: "\"NEWCOIN\""),
            ]
            var stored: [[String]] = []
            var checks: [JSONValue] = []
            for spare in [false, true] {
                let account = try h.db.query("INSERT INTO audit.accounts (name) VALUES ($1) RETURNING id", ["alongside-\(spare)"]).rows[0]
                    .decode(0, as: Int.self)
                let file = try Self.zip(lines)
                defer { try? FileManager.default.removeItem(at: file) }
                let result = try Self.importFile(h, file, account: account, spare: spare)
                #expect(result.inserted == 4 && result.unkeyed == 0 && result.firstId == "LALG-0001" && result.lastId == "LALG-0004")
                checks.append(.object(result.verification.filter { $0.0 != "phase_seconds" }))
                stored.append(
                    try h.db.query(
                        "SELECT ledger_id || ' ' || asset || ' ' || amount || ' ' || fee || ' ' || balance FROM audit.ledger_entries WHERE account_id = $1 ORDER BY ledger_id",
                        [account]
                    ).rows.map { try $0.decode(0, as: String.self) })
                let phases = JSONValue.object(result.verification)["phase_seconds"]?.jsonText ?? ""
                #expect(phases.contains("checks_verify_unique") == spare, "\(phases)")
            }
            #expect(checks[0] == checks[1], "in line: \(checks[0].jsonText)\nalongside: \(checks[1].jsonText)")
            #expect(checks[0]["fees_sign_normalised"] == .bool(true))
            #expect(checks[0]["balance_chain_break_ids"] == .array([.string("LALG-0003")]), "\(checks[0].jsonText)")
            #expect(checks[0]["unknown_assets"] == .array([.string("NEWCOIN")]), "\(checks[0].jsonText)")
            #expect(stored[0] == stored[1] && stored[0].count == 4 && stored[0][0].hasSuffix(" 0.1000000000 0.9000000000"), "\(stored)")

            // Outside the requested window (a day later than it ends): refused by the checks alongside, nothing stored.
            let account = try h.db.query("INSERT INTO audit.accounts (name) VALUES ('alongside-late') RETURNING id").rows[0].decode(
                0, as: Int.self)
            let late = try Self.zip([
                Self.row("LLATE-0001", "00:00:00", amount: "1", balance: "1"),
                Self.row("LLATE-0002", "00:00:00", amount: "1", balance: "2").replacingOccurrences(of: "2024-01-01", with: "2024-01-03"),
            ])
            defer { try? FileManager.default.removeItem(at: late) }
            #expect {
                _ = try Self.importFile(h, late, account: account, spare: true)
            } throws: { error in
                guard case ExportError.outsideWindow(_, 1, _) = error else { return false }
                return true
            }
            #expect(try h.count("SELECT count(*) FROM audit.ledger_entry_versions WHERE account_id = $1", [account]) == 0)
        }
    }
}
