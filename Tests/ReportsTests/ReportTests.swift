import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import Reports
import TestSupport
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

@Suite struct ReportTests {
    let database: TestDatabase
    let db: PGConnection
    let since = Date(timeIntervalSince1970: 1_764_028_800)  // 2025-11-25T00:00Z
    var until: Date { since.addingTimeInterval(86400) }

    init() throws {
        database = try TestDatabase("reports")
        db = try database.migrated()
        let a = try AccountStore.ensure(on: db, name: "main")
        try db.executeScript(
            """
            INSERT INTO audit.collector_runs (command, account_id, started_at, finished_at, status, stats) VALUES
              ('collect', \(a), '2025-11-25 02:00+00', '2025-11-25 02:05+00', 'success', '{"Ledgers":{"calls":3,"inserted":120,"updated":0},"TradesHistory":{"calls":2,"inserted":60,"updated":0}}'),
              ('collect', \(a), '2025-11-25 14:00+00', '2025-11-25 14:01+00', 'failed', '{}');
            UPDATE audit.collector_runs SET error = 'Kraken Ledgers returned HTTP 520 (temporary; retry later)' WHERE status = 'failed';
            INSERT INTO audit.ledger_entries (account_id, ledger_id, refid, time, type, asset, amount, fee, balance, raw) VALUES
              (\(a), 'L1AAAA-AAAAA-AAAAAA', 'QSB7IFM-Q3LT3X-NVAOKE', '2025-11-20 10:00+00', 'deposit', 'XXBT', 2.5000000000, 0, 2.5000000000, '{}'),
              (\(a), 'L2AAAA-AAAAA-AAAAAA', 'THVRQM-33VKH-UCI7BS', '2025-11-25 09:00+00', 'trade', 'XXBT', 0.0200000000, 0, 1.7949500000, '{}'),
              (\(a), 'L3AAAA-AAAAA-AAAAAA', 'THVRQM-33VKH-UCI7BS', '2025-11-25 09:00+00', 'trade', 'ZUSD', -600.2000, 0.9603, 9399.8397, '{}'),
              (\(a), 'L4AAAA-AAAAA-AAAAAA', 'FTQcuak-V6Za8qrWnhzTx67yYHz8Tg', '2025-11-25 02:12+00', 'withdrawal', 'XXBT', -0.7248500000, 0.0002000000, 1.7749500000, '{}'),
              (\(a), 'L5AAAA-AAAAA-AAAAAA', 'QSB7IFM-Q3LT3X-NVAOKF', '2025-11-10 10:00+00', 'deposit', 'ZUSD', 10000.0000, 0, 10000.0000, '{}');
            INSERT INTO audit.trades (account_id, txid, ordertxid, pair, time, type, ordertype, price, cost, fee, vol, raw) VALUES
              (\(a), 'THVRQM-33VKH-UCI7BS', 'OQCLML-BW3P3-BUCMWZ', 'XXBTZUSD', '2025-11-25 09:00+00', 'buy', 'limit', 30010.00000, 600.20000, 0.96032, 0.02000000, '{}');
            INSERT INTO audit.withdrawals (account_id, refid, method, asset, info, amount, fee, time, status, key, raw) VALUES
              (\(a), 'FTQcuak-V6Za8qrWnhzTx67yYHz8Tg', 'Bitcoin', 'XXBT', 'bc1qa35ls3egf0872h3w', 0.72485000, 0.00020000, '2025-11-25 02:12+00', 'Success', 'btc-wallet-2', '{}');
            INSERT INTO audit.findings (rule_id, severity, account_id, entity_type, entity_id, title, evidence, dedupe_key, first_seen, last_seen, occurred_at) VALUES
              ('unexpected_withdrawal', 'high', \(a), 'withdrawal', 'FTQcuak-V6Za8qrWnhzTx67yYHz8Tg', 'Withdrawal of 0.72485 XXBT to an address not in the allowlist, 03:12 Europe/Berlin <script>', '{"address":"bc1qa35ls3egf0872h3w","amount":"0.72485000"}', 'k1', '2025-11-25 03:00+00', '2025-11-25 03:00+00', '2025-11-25 02:12+00'),
              ('off_hours_trading', 'medium', \(a), 'trade', 'THVRQM-33VKH-UCI7BS', '=HYPERLINK("x") trade, "quoted"', '{}', 'k2', '2025-11-25 10:00+00', '2025-11-25 10:00+00', '2025-11-25 09:00+00');
            INSERT INTO audit.api_calls (account_id, endpoint, started_at, duration_ms, http_status, errors, error_kind, counter_after) VALUES
              (\(a), 'Ledgers', '2025-11-25 02:00+00', 120, 200, '{}', NULL, 2),
              (\(a), 'Ledgers', '2025-11-25 02:01+00', 110, 200, '{}', NULL, 4),
              (\(a), 'Ledgers', '2025-11-25 14:00+00', 90, 520, '{"HTTP 520"}', 'http', 5.5);
            """)
    }

    func report() throws -> Report {
        try ReportBuilder(timezone: TimeZone(identifier: "Europe/Berlin")!).build(on: db, since: since, until: until)
    }

    @Test func contentIsExactAndComplete() throws {
        let r = try report()
        let a = try #require(r.accounts.first)
        #expect(a.collection.runs == 2 && a.collection.succeeded == 1 && a.collection.failed == 1)
        #expect(a.collection.failures.first?.error.contains("HTTP 520") == true)
        #expect(a.collection.rowsAdded.map(\.0) == ["Ledgers", "TradesHistory"])
        #expect(a.findings.map(\.severity) == ["high", "medium"])
        #expect(a.withdrawals.first?.amount == "0.72485000")
        #expect(a.withdrawals.first?.addressName == "btc-wallet-2")
        #expect(a.trading.first?.cost == "600.20000")
        let xbt = try #require(a.balances.first { $0.asset == "XXBT" })
        #expect(xbt.start == "2.5000000000")
        #expect(xbt.end == "1.7949500000")
        #expect(xbt.netFlows == "-0.7048500000")
        let usd = try #require(a.balances.first { $0.asset == "ZUSD" })
        #expect(usd.fees == "0.9603")
        #expect(a.apiUsage.calls == 3 && a.apiUsage.errors == 1)
        #expect(a.apiUsage.peakCounter == 5.5)
    }

    @Test func markdownShowsTimesWithOffset() throws {
        let md = try report().markdown()
        #expect(md.contains("2025-11-25 03:12:00 +01:00"))  // 02:12 UTC in Berlin (CET)
        #expect(md.contains("| high | unexpected_withdrawal |"))
        #expect(md.contains("**FAILED**"))
        #expect(md.contains("bc1qa35ls3egf0872h3w"))
    }

    @Test func markdownCannotBeInjectedByTitlesOrAddressNames() throws {
        let a = try AccountStore.ensure(on: db, name: "main")
        try db.execute(
            """
            INSERT INTO audit.findings (rule_id, severity, account_id, entity_type, entity_id, title, evidence, dedupe_key, first_seen, last_seen, occurred_at)
            VALUES ('unexpected_withdrawal', 'low', $1, 'withdrawal', 'X', $2, '{}', 'k3', '2025-11-25 04:00+00', '2025-11-25 04:00+00', '2025-11-25 04:00+00')
            """, [a, "Withdrawal to [verify your account](https://evil.example) <img src=x onerror=alert(1)> *now*"])
        try db.execute("UPDATE audit.withdrawals SET key = $1", ["<b>x</b>|`y`"])
        let md = try report().markdown()
        #expect(md.contains("Withdrawal to \\[verify your account\\](https://evil.example) \\<img src=x onerror=alert(1)\\> \\*now\\*"))
        #expect(!md.contains("[verify your account]("))
        #expect(!md.contains(" <img"))  // only the escaped form \\<img
        #expect(md.contains("\\<b\\>x\\</b\\>\\|\\`y\\`"))
        #expect(md.contains("| -0.7048500000 |") || md.contains("-0.7048500000"))  // numbers stay readable
    }

    @Test func jsonFollowsTheVersionedSchema() throws {
        let json = try report().json()
        let text = json.jsonText
        let parsed = try JSONValue.parse(text)
        #expect(parsed["schema"]?.stringValue == "kraken-audit.report/1")
        #expect(parsed["period"]?["since"]?.stringValue == "2025-11-25T01:00:00+01:00")
        let account = try #require(parsed["accounts"]?.arrayValue?.first)
        #expect(account["withdrawals"]?.arrayValue?.first?["amount"]?.stringValue == "0.72485000")
        #expect(account["findings"]?.arrayValue?.first?["evidence"]?["amount"]?.stringValue == "0.72485000")
        #expect(parsed["findings_by_severity"]?["high"]?.numberText == "1")
    }

    @Test func csvIsSpreadsheetSafe() throws {
        let tables = Dictionary(uniqueKeysWithValues: try report().csvTables())
        let findings = try #require(tables["findings.csv"])
        #expect(findings.hasPrefix("account,id,severity,rule_id,status,title"))
        #expect(findings.contains("\"'=HYPERLINK(\"\"x\"\") trade, \"\"quoted\"\"\""))  // formula neutralised, quotes doubled
        #expect(
            tables["withdrawals.csv"]?.contains("2025-11-25T03:12:00+01:00,XXBT,0.72485000,0.00020000,bc1qa35ls3egf0872h3w,btc-wallet-2")
                == true)
        #expect(tables["trades.csv"]?.contains("main,XXBTZUSD,1,0.02000000,600.20000,0.96032") == true)
    }

    @Test func htmlIsWellFormedAndSelfContained() throws {
        let html = try report().html()
        // No network: no external scripts, styles, images or fonts.
        for banned in ["<script", "<link", "src=\"http", "href=\"http", "url(", "@import"] {
            #expect(!html.contains(banned), "\(banned)")
        }
        #expect(html.contains("&lt;script&gt;"))  // a finding title is escaped
        #expect(html.contains("<svg"))
        // Well-formed: parses as XML (after dropping the HTML doctype).
        let xml = html.replacingOccurrences(of: "<!DOCTYPE html>", with: "")
        let parser = XMLParser(data: Data(xml.utf8))
        let ok = parser.parse()
        #expect(ok, "\(String(describing: parser.parserError)) line \(parser.lineNumber)")
    }

    @Test func atomicWriteLeavesNoHalfFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("report.html").path
        try AtomicFile.write("old", to: path)
        try AtomicFile.write(try report().html(), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["report.html"])
        // Unwritable target: an error naming the path, and nothing left behind.
        #expect(throws: OutputError.self) { try AtomicFile.write("x", to: dir.appendingPathComponent("missing/sub/report.html").path) }
        try FileManager.default.setAttributes([.posixPermissions: 0o500], ofItemAtPath: dir.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dir.path) }
        if geteuid() != 0 {  // root ignores directory permissions
            #expect(throws: OutputError.self) { try AtomicFile.write("new", to: path) }
            #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
        }
    }
}
