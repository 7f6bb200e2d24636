import AuditKernel
import AuditStore
import Foundation
import Testing
import ZIPFoundation

@testable import Collector

/// Issue 18 kept the import's checks while making it set-based: balance continuity (same-second entries in any
/// order pass, a real gap is named), duplicate ids refuse the file, ids already stored are kept (dedupe), and the
/// bulk-appended rows verify as an intact chain.
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

    static func importFile(_ h: ExportHarness, _ path: URL, account: Int) throws -> ImportResult {
        let importer = ExportImporter(
            accountId: account, krakenId: "CHECKS", report: "ledgers", starttm: 1_704_067_200 - 86_400, endtm: 1_704_067_200 + 86_400,
            assetAliases: ["XBT": "XXBT"], pairAliases: [:], limits: ExportLimits(maxUncompressedBytes: 1 << 30, maxCompressionRatio: 1000))
        let opened = try #require(try OpenedExport.openForImport(path.path))
        return try h.db.transaction { try importer.run(h.db, file: opened) }
    }

    @Test func continuityDuplicatesDedupeAndTheChain() async throws {
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
            let first = try Self.importFile(h, clean, account: account)
            let verification = JSONValue.object(first.verification)
            #expect(verification["balance_chain_breaks"] == .number("1"))
            #expect(verification["balance_chain_break_ids"] == .array([.string("LCHK-0009")]), "\(verification.jsonText)")
            #expect(first.inserted == 5 && first.already == 0)
            // The same file again: every id is already stored, nothing is appended twice.
            let again = try Self.importFile(h, clean, account: account)
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
                _ = try Self.importFile(h, duplicated, account: account)
            } throws: { error in
                guard case ExportError.duplicateIds(_, 1, let examples) = error else { return false }
                return examples == ["LDUP-0001"]
            }
        }
    }
}
