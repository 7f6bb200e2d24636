import AuditConfig
import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import Logging

/// The `downloaded` step: verify the file, import it in one transaction.
extension ExportBackfill {
    /// Name maps (file name → REST key) from the public Assets and AssetPairs lists (no counter cost).
    func aliases() async throws(CollectError) -> (assets: [String: String], pairs: [String: String]) {
        let names = try await KrakenNames.load(paced)
        return (names.assets, names.pairs)
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
            limits: ExportLimits(
                maxUncompressedBytes: options.export.maxUncompressedBytes, maxCompressionRatio: options.export.maxCompressionRatio))
        let started = Date()
        let rowId = r.id
        let outcome: Result<ImportResult, ExportError>
        do {
            outcome = .success(
                // A spare connection, when the pool has one free, checks the file alongside the append.
                try await store.runWithSpare { db, spare in
                    try db.transaction { () throws -> ImportResult in
                        let t0 = Date()
                        var result = try importer.run(db, file: opened, spare: spare)
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
