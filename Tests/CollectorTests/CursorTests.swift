import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import KrakenSimulator
import TestSupport
import Testing

@testable import Collector

/// The paging cursor (`audit.collect_cursors.state`) as a typed value: its stored form stays what it always was,
/// and state that is not a cursor fails the run instead of silently restarting from `--since`.
@Suite struct CursorTests {
    @Test func storedFormsParseAndRoundTrip() throws {
        // What earlier versions (and the export seam) wrote.
        #expect(try PageCursor.parse(#"{"done_until": 1700000000}"#) == PageCursor(doneUntil: 1_700_000_000))
        #expect(
            try PageCursor.parse(#"{"done_until": null, "window": {"start": 5, "end": 9, "ofs": 50, "pass": 2}}"#)
                == PageCursor(doneUntil: nil, window: .init(start: 5, end: 9, ofs: 50, pass: 2)))
        #expect(try PageCursor.parse(#"{"window": {"start": 5, "end": 9, "ofs": 0}}"#).window?.pass == 1)
        let cursor = PageCursor(doneUntil: 7, window: .init(start: 1, end: 2, ofs: 3, pass: 1))
        #expect(try PageCursor.parse(cursor.jsonText()) == cursor)
        // `done_until` is written even when unset (null), `window` only while one is open.
        let open = try JSONValue.parse(PageCursor(doneUntil: nil, window: .init(start: 1, end: 2, ofs: 0, pass: 1)).jsonText())
        #expect(open["done_until"] == .null)
        #expect(try JSONValue.parse(PageCursor(doneUntil: 4).jsonText())["window"] == nil)
        for bad in [#"{"done_until": "yesterday"}"#, #"[1, 2]"#, #"{"window": {"start": 1}}"#, #""text""#] {
            #expect(throws: PageCursor.UnreadableCursor.self, "\(bad)") { try PageCursor.parse(bad) }
        }
    }

    @Test func corruptCursorFailsTheRunAndWritesNothing() async throws {
        try await Harness.with { h in
            let first = await h.collect()
            #expect(first.first?.succeeded == true, "\(String(describing: first.first?.error))")
            try h.db.execute(#"UPDATE audit.collect_cursors SET state = '{"done_until": "yesterday"}' WHERE endpoint = 'TradesHistory'"#)
            _ = try await h.sim.state.addActivity(account: "acct1", trades: 5)
            await h.advanceClock(60)
            let written = """
                SELECT (SELECT count(*) FROM audit.api_calls) || '/' || (SELECT count(*) FROM audit.ledger_entries) || '/' ||
                       (SELECT count(*) FROM audit.trades) || '/' || (SELECT count(*) FROM audit.orders) || '/' ||
                       (SELECT count(*) FROM audit.balances) || '/' || (SELECT count(*) FROM audit.api_key_snapshots) || '/' ||
                       (SELECT string_agg(endpoint || state::text || updated_at::text, ';' ORDER BY endpoint) FROM audit.collect_cursors)
                """
            let before = try h.db.query(written).rows[0].decode(0, as: String.self)

            let again = await h.collect()
            guard case .unreadableCursor(let account, let endpoint, let reason)? = again.first?.error else {
                Issue.record("expected an unreadable-cursor failure, got \(String(describing: again.first?.error))")
                return
            }
            #expect(account == "acct1" && endpoint == "TradesHistory")
            #expect(reason.contains("done_until"))
            let text = "\(again.first?.error.map { "\($0)" } ?? "")"
            #expect(text.contains("acct1") && text.contains("TradesHistory") && text.contains("delete the row"))
            #expect(again.first?.error?.isTemporary == false)
            #expect(try h.db.query(written).rows[0].decode(0, as: String.self) == before)
            #expect(try h.count("SELECT count(*) FROM audit.collector_runs WHERE status = 'failed' AND error LIKE '%TradesHistory%'") == 1)
        }
    }
}
