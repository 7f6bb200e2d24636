import AuditKernel
import AuditStore
import CSV
import Collector
import Foundation
import KrakenAPI
import KrakenSimulator
import TestSupport
import Testing
import ZIPFoundation

@Suite struct ExportBackfillTests {
    /// A nightly run never waits: run 1 requests (and pages the recent part), run 2 imports; then an increment.
    /// Stored = truth at every id, no gap at the seam, the overlap read by both sides with no disagreement.
    @Test func exportThenPagingStoresExactlyTheTruthWithoutBlocking() async throws {
        try await ExportHarness.with(configure: { o in o.exportQueuedSeconds = 30 }) { h in
            let first = await h.collect(h.options())
            #expect(first.succeeded, "\(String(describing: first.error))")
            #expect(try h.exportStatuses() == ["ledgers=requested", "trades=requested"])
            let paged = try h.count("SELECT count(*) FROM audit.ledger_entries WHERE source = 'api'")
            #expect(paged > 0, "the recent part is paged while the export is pending")
            #expect(try h.count("SELECT count(*) FROM audit.ledger_entries WHERE source = 'export'") == 0)
            // The requests cover [2013-01-01, seam]; paging started before the seam.
            let requests = await h.sim.state.exportRequests()
            #expect(requests.count == 2 && requests.allSatisfy { $0.start == 1_356_998_400 })
            let cursor = try h.db.query("SELECT min((state->>'done_until')::bigint) FROM audit.collect_cursors").rows[0].decode(
                0, as: Int64.self)
            #expect(cursor > requests[0].end - 600 - 1)

            await h.advanceClock(60)
            let second = await h.collect(h.options())
            #expect(second.succeeded, "\(String(describing: second.error))")
            #expect(try h.exportStatuses() == ["ledgers=imported", "trades=imported"])
            // The overlap: ids read from both sources, kept once (export row), no field disagrees.
            let overlap = try h.count("SELECT rows_already FROM audit.exports WHERE report = 'ledgers' AND status = 'imported'")
            #expect(overlap > 0, "paging and the export must overlap at the seam")
            #expect(try h.count("SELECT count(*) FROM audit.source_mismatches") == 0)
            #expect(try h.count("SELECT count(*) FROM audit.exports WHERE rows_unkeyed > 0 AND report = 'ledgers'") == 1)
            try await h.expectStoredEqualsTruth()

            _ = try await h.sim.state.addActivity(account: "acct1", trades: 30)
            await h.advanceClock(60)
            let third = await h.collect(h.options())
            #expect(third.succeeded)
            #expect(third.endpoints["Ledgers"]?.rows.inserted == 60)
            try await h.expectStoredEqualsTruth()
            // Provenance per row.
            #expect(try h.count("SELECT count(*) FROM audit.ledger_entries WHERE source = 'export' AND export_id IS NULL") == 0)
            #expect(try h.count("SELECT count(*) FROM audit.trades WHERE source = 'export' AND ledgers IS NULL") == 0)
            // Downloaded files kept, with their hash.
            let path = try h.db.query("SELECT file_path, sha256 FROM audit.exports WHERE report = 'trades' AND status = 'imported'").rows[0]
            let data = try #require(FileManager.default.contents(atPath: try path.decode(0, as: String.self)))
            #expect(Crypto.sha256Hex(Array(data)) == (try path.decode(1, as: String.self)))
        }
    }

    /// `--wait`: one run does everything; the auto mode picks export only when the key has `export-data`.
    @Test func waitImportsInOneRunAndAutoModeFollowsThePermission() async throws {
        try await ExportHarness.with(backfill: nil) { h in
            let outcome = await h.collect(h.options(wait: true, mode: nil))
            #expect(outcome.succeeded, "\(String(describing: outcome.error))")
            #expect(try h.exportStatuses() == ["ledgers=imported", "trades=imported"])
            #expect(outcome.endpoints["Export:ledgers"]?.state == "imported")
            try await h.expectStoredEqualsTruth()
            // Imported reports are deleted at Kraken.
            #expect(try h.count("SELECT count(*) FROM audit.exports WHERE kraken_status = 'Deleted'") == 2)
        }
        try await ExportHarness.with(permissions: ["query-funds", "query-open-trades", "query-closed-trades", "query-ledger"]) { p in
            let paging = await p.collect(p.options(wait: true, mode: nil))
            #expect(paging.succeeded)
            let exports = try p.count("SELECT count(*) FROM audit.exports")
            let exported = try p.count("SELECT count(*) FROM audit.ledger_entries WHERE source = 'export'")
            #expect(exports == 0 && exported == 0)
        }
    }

    /// Never lets the trades report reach Kraken's AddExport (as a run killed between the two AddExports).
    struct TradesAddExportLost: HTTPTransport {
        struct Lost: Error {}
        let inner = URLSessionTransport()
        func send(_ request: TransportRequest) async throws -> TransportResponse {
            if request.url.path.hasSuffix("/AddExport"), String(decoding: request.body, as: UTF8.self).contains("report=trades") {
                throw Lost()
            }
            return try await inner.send(request)
        }
    }

    /// A run that ends in one report's download (a kill, a failure) has already asked Kraken for the other, and
    /// `--wait` polls a report Kraken finishes in seconds after seconds, not after the 30 s `--poll-seconds`
    /// default (ExportKillTests once took 107 s: after kills landing in ledgers' download and import, the re-run
    /// had to request trades itself, found it not ready and slept 30 s).
    @Test func everyReportIsRequestedFirstAndWaitPollsSoon() async throws {
        try await ExportHarness.with(configure: { o in o.exportQueuedSeconds = 2 }) { h in
            // Run 1: ledgers requested, trades left `requesting` with nothing at Kraken.
            #expect(!(await h.collect(h.options(), transport: TradesAddExportLost()).succeeded))
            #expect(try h.exportStatuses() == ["ledgers=requested", "trades=requesting"])
            await h.advanceClock(60)  // ledgers is Processed
            // Run 2 ends in ledgers' download, as a kill there would end it; trades was requested before.
            await h.sim.state.addFault(FaultRule(kind: .http502, rate: 1, methods: ["RetrieveExport"]))
            #expect(!(await h.collect(h.options()).succeeded))
            #expect(try h.exportStatuses() == ["ledgers=processed", "trades=requested"])
            // Trades stays Queued for 2 s: a --wait run with the production poll interval still ends in seconds.
            await h.sim.state.clearFaults()
            var options = h.options(wait: true)
            options.export.pollSeconds = 30
            let started = ContinuousClock.now
            let outcome = await h.collect(options)
            let took = ContinuousClock.now - started
            #expect(outcome.succeeded, "\(String(describing: outcome.error))")
            #expect(took < .seconds(25), "--wait took \(took): it slept a whole 30 s interval")
            #expect(try h.exportStatuses() == ["ledgers=imported", "trades=imported"])
            // Each report was asked for at Kraken once (the lost trades request never reached it).
            #expect(
                try h.count(
                    "SELECT count(*) FROM audit.api_calls WHERE endpoint = 'AddExport' AND http_status = 200 AND error_kind IS NULL")
                    == 2)
            try await h.expectStoredEqualsTruth()
        }
    }

    /// A report Kraken has just accepted is not polled in the same breath (Kraken needs time; an immediate poll that
    /// did not find it yet would take it for expired), and one report's failed request does not stop the other's
    /// download and import.
    @Test func aJustRequestedReportIsPolledLaterAndAFailedRequestStopsNotTheOther() async throws {
        try await ExportHarness.with { h in
            #expect(!(await h.collect(h.options(), transport: TradesAddExportLost()).succeeded))
            #expect(try h.exportStatuses() == ["ledgers=requested", "trades=requesting"])
            let pollsAfterRequest = """
                SELECT count(*) FROM audit.api_calls WHERE endpoint = 'ExportStatus' AND params->>'report' = 'ledgers'
                   AND id > (SELECT max(id) FROM audit.api_calls WHERE endpoint = 'AddExport' AND params->>'report' = 'ledgers')
                """
            #expect(try h.count(pollsAfterRequest) == 0, "ledgers was polled in the run that requested it")
            await h.advanceClock(60)  // ledgers is Processed
            // Trades' request fails again: ledgers is still downloaded and imported, and the run reports the failure.
            #expect(!(await h.collect(h.options(wait: true), transport: TradesAddExportLost()).succeeded))
            #expect(try h.exportStatuses() == ["ledgers=imported", "trades=requesting"])
            let last = await h.collect(h.options(wait: true))
            #expect(last.succeeded, "\(String(describing: last.error))")
            #expect(try h.exportStatuses() == ["ledgers=imported", "trades=imported"])
            try await h.expectStoredEqualsTruth()
        }
    }

    /// A truncated download (bad zip) is refused with a clear error, nothing imported; the report is requested
    /// again with the same window and the retry imports it.
    @Test func corruptedZipIsRefusedAndRequestedAgain() async throws {
        try await ExportHarness.with(configure: { o in
            o.faults = [FaultRule(kind: .truncatedJSON, count: 1, methods: ["RetrieveExport"])]
        }) { h in
            var options = h.options(wait: true)
            options.export.maxAttempts = 1
            _ = await h.collect(options)
            let rejected = try h.db.query("SELECT status, error FROM audit.exports WHERE report = 'ledgers'").rows[0]
            #expect(try rejected.decode(0, as: String.self) == "rejected")
            let error = try rejected.decode(1, as: String.self)
            #expect(error.contains("not a readable zip archive") && error.contains("nothing was imported"), "\(error)")
            #expect(try h.count("SELECT count(*) FROM audit.ledger_entries WHERE source = 'export'") == 0)

            options.export.maxAttempts = 3
            let retry = await h.collect(options)
            #expect(retry.succeeded)
            #expect(try h.exportStatuses() == ["ledgers=imported", "trades=imported"])
            let windows = try h.count("SELECT count(DISTINCT (starttm, endtm)) FROM audit.exports")
            #expect(windows == 1, "a retry keeps the seam")
            try await h.expectStoredEqualsTruth()
        }
    }

    /// A renamed column is a changed layout: refused with a clear error, nothing imported, not retried.
    @Test func changedHeaderIsRefused() async throws {
        try await ExportHarness.with(configure: { o in o.exportHeaderRenames = ["amount": "amt"] }) { h in
            _ = await h.collect(h.options(wait: true))
            let row = try h.db.query("SELECT status, error, attempt FROM audit.exports WHERE report = 'ledgers' ORDER BY id DESC LIMIT 1")
                .rows[0]
            #expect(try row.decode(0, as: String.self) == "rejected")
            let error = try row.decode(1, as: String.self)
            #expect(error.contains("CSV header changed") && error.contains("missing column(s) amount"), "\(error)")
            #expect(try h.count("SELECT count(*) FROM audit.ledger_entries WHERE source = 'export'") == 0)
            _ = await h.collect(h.options(wait: true))
            #expect(try h.count("SELECT count(*) FROM audit.exports WHERE report = 'ledgers'") == 1, "a layout change is not retried")
            // The trades file was fine and is imported.
            #expect(try h.exportStatuses() == ["ledgers=rejected", "trades=imported"])
        }
    }

    /// Export and API rows of the same id are compared field by field; a difference is recorded for the
    /// source_mismatch rule (here: the API row of an overlap id was stored with another amount first).
    @Test func disagreementBecomesASourceMismatch() async throws {
        try await ExportHarness.with(configure: { o in o.exportQueuedSeconds = 30 }) { h in
            _ = await h.collect(h.options())
            let id = try h.db.query("SELECT ledger_id FROM audit.ledger_entries WHERE source = 'api' ORDER BY time LIMIT 1").rows[0].decode(
                0, as: String.self)
            try h.db.execute("UPDATE audit.ledger_entries SET amount = amount + 1 WHERE ledger_id = $1", [id])
            await h.advanceClock(60)
            _ = await h.collect(h.options(wait: true))
            let m = try h.db.query("SELECT entity, field, export_value, api_value FROM audit.source_mismatches").rows
            #expect(m.count == 1)
            #expect(try m.first?.decode(1, as: String.self) == "amount")
            #expect(try m.first?.decode(0, as: String.self) == "ledger")
            // The rule turns it into one finding per entity.
            let sql = try String(contentsOf: TestDatabase.sqlDirectory.appendingPathComponent("rules/source_mismatch.sql"), encoding: .utf8)
            let bound = sql.replacingOccurrences(of: ":'account_id'", with: "'1'").replacingOccurrences(
                of: ":'changed_after'", with: "'-infinity'"
            )
            .replacingOccurrences(of: ":'occurred_after'", with: "'-infinity'")
            let rows = try h.db.query(bound).rows
            #expect(rows.count == 1)
            #expect(try rows.first?.decode("dedupe_key", as: String.self) == "source_mismatch:1:ledger:\(id)")
        }
    }
}

/// The simulator's export endpoints and file format.
@Suite struct SimulatorExportTests {
    @Test func statusesPermissionsAndFileFormat() async throws {
        try await ExportHarness.with(scale: 300, configure: { o in o.exportQueuedSeconds = 5 }) { h in
            let a = h.sim.accounts[0]
            let nonces = CountingNonces()
            let client = try KrakenClient(
                baseURL: h.sim.baseURL.absoluteString, credentials: KrakenCredentials(apiKey: a.apiKey, secret: Secret(a.secret)),
                nonces: nonces, logger: h.logger)
            let added = try await client.privateCall(
                "AddExport", parameters: [("report", "ledgers"), ("description", "t"), ("starttm", "0")])
            let id = try #require(added.result["id"]?.stringValue)
            #expect(id.count == 4 && id.allSatisfy(\.isUppercase))
            var status = try await client.privateCall("ExportStatus", parameters: [("report", "ledgers")])
            #expect(status.result.arrayValue?.first?["status"]?.stringValue == "Queued")
            await #expect(throws: KrakenError.self) { _ = try await client.privateCall("RetrieveExport", parameters: [("id", id)]) }
            await h.advanceClock(10)
            // The file is built on a background queue: poll with a deadline until it is ready.
            let deadline = Date().addingTimeInterval(20)
            repeat {
                status = try await client.privateCall("ExportStatus", parameters: [("report", "ledgers")])
                if status.result.arrayValue?.first?["status"]?.stringValue == "Processed" { break }
                try await Task.sleep(for: .milliseconds(50))
            } while Date() < deadline
            #expect(status.result.arrayValue?.first?["status"]?.stringValue == "Processed")
            let nonce = try await nonces.nextNonce()
            guard
                case .binary(let zip) = try await client.privateCall(
                    "RetrieveExport", parameters: [("id", id)], nonce: nonce, binaryAllowed: true)
            else {
                Issue.record("RetrieveExport did not return a zip")
                return
            }
            let archive = try Archive(data: Data(zip), accessMode: .read)
            let entry = try #require(archive["ledgers.csv"])
            var csv = Data()
            _ = try archive.extract(entry) { csv.append($0) }
            let text = try #require(String(data: csv, encoding: .utf8))
            let lines = text.split(separator: "\n")
            #expect(
                lines[0]
                    == "\"txid\",\"refid\",\"time\",\"type\",\"subtype\",\"aclass\",\"asset\",\"wallet\",\"amount\",\"fee\",\"balance\"")
            let reader = try CSVReader(string: text, hasHeaderRow: true)
            var assets = Set<String>()
            var emptyIds = 0
            while let row = reader.next() {
                #expect(row[2].count == 19, "ledger time has whole seconds: \(row[2])")
                assets.insert(row[6])
                if row[0].isEmpty { emptyIds += 1 }
            }
            #expect(assets.contains("BTC") && !assets.contains("XXBT"), "display asset names")
            #expect(emptyIds > 0, "initiated deposits have no txid")
            #expect(text.contains(",0,"), "zero written as a bare 0")
            // Export calls need the permission.
            try await h.sim.state.setPermissions(account: a.name, ["query-ledger"])
            await #expect(throws: KrakenError.self) {
                _ = try await client.privateCall("ExportStatus", parameters: [("report", "ledgers")])
            }
        }
    }
}

/// Nonces for direct client calls in tests.
final class CountingNonces: NonceSource, @unchecked Sendable {
    private let lock = NSLock()
    private var last = UInt64(Date().timeIntervalSince1970 * 1000) * 1000
    func nextNonce() async throws -> UInt64 {
        lock.withLock {
            last += 1
            return last
        }
    }
}
