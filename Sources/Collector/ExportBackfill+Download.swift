import AuditConfig
import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The `processed` step: RetrieveExport streamed to a private file.
extension ExportBackfill {
    /// `processed`: RetrieveExport streamed into `<dir>/<file>.part` (never into memory; at most
    /// ``ExportOptions/maxDownloadBytes``), fsync, rename, SHA-256 computed while writing.
    func download(_ r: ExportRecord, stats: inout EndpointStats) async throws(CollectError) -> Bool {
        guard let kid = r.krakenId else { return false }
        guard ExportFile.isValidKrakenId(kid) else {
            // Only an id stored before ids were checked can get here; it never becomes a path.
            try await update(
                r.id, "status = $3, error = $2", [ExportError.badKrakenId(shown: ExportError.shown(kid)).description, ExportState.failed])
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
        try await update(
            r.id, "status = $5, downloaded_at = now(), file_path = $2, file_size = $3, sha256 = $4, error = NULL",
            [file.path, bytes, sha, ExportState.downloaded])
        logger.info("export downloaded", metadata: ["report": "\(r.report)", "bytes": "\(bytes)", "sha256": "\(sha)"])
        return true
    }

    /// The account name as part of a file name: ASCII letters, digits, `-`, `_`, `.` kept, anything else `_`
    /// (config names are checked at load; this keeps a path component a path component regardless).
    static func fileSafe(_ name: String) -> String {
        let mapped = String(
            name.unicodeScalars.map { s -> Character in
                s.isASCII && (CharacterSet.alphanumerics.contains(s) || s == "-" || s == "_" || s == ".") ? Character(s) : "_"
            })
        return mapped.hasPrefix(".") ? "_" + mapped.dropFirst() : mapped
    }
}
