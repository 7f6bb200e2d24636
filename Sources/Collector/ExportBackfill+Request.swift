import AuditConfig
import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import Logging

/// The `requesting` and `requested` steps: AddExport (or adopting a report Kraken already has), ExportStatus.
extension ExportBackfill {
    /// `requesting`: adopt a report Kraken already has under our description (a kill after AddExport), else request it.
    func request(_ r: ExportRecord, stats: inout EndpointStats) async throws(CollectError) -> Bool {
        let listed = try await paced.call("ExportStatus", [("report", r.report)])
        stats.calls += 1
        if let found = listed.result.arrayValue?.first(where: { $0["descr"]?.stringValue == r.descr }), let kid = found["id"]?.stringValue {
            try checkKrakenId(kid, endpoint: "ExportStatus")
            try await update(r.id, "kraken_id = $2, status = $3", [kid, ExportState.requested])
            return true
        }
        let added = try await paced.call(
            "AddExport",
            [
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
            try await update(
                r.id, "status = $3, error = $2",
                ["Kraken no longer lists report \(r.krakenId ?? "?") (deleted or expired)", ExportState.expired])
            return true
        }
        let status = item["status"]?.stringValue ?? "?"
        if let error = item["error"]?.stringValue, !error.isEmpty {
            try await update(
                r.id, "status = $4, kraken_status = $2, error = $3",
                [status, ExportError.krakenFailed(krakenId: kid, error: error).description, ExportState.failed])
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
}
