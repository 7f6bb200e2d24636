import Analyser
import AuditKernel
import AuditStore
import ChildProcesses
import Foundation
import Reports
import TestSupport
import Testing

/// Issue 19 part 4: the HTML report of a real (simulated, collected, analysed) database rendered in headless
/// Chromium: a screenshot that is not blank and shows the charts' colours, no console message, no request from the
/// page to the network, chart bars that match the report's numbers, and a PDF print holding the findings table.
@Suite struct BrowserReportTests {
    /// What one Chromium run produced.
    struct Rendering {
        let dom: String
        let log: String
        let screenshot: URL
        let pdf: URL
        let netLog: URL

        /// Console messages the page logged (Chromium prints them as `INFO:CONSOLE...` with --enable-logging).
        var consoleLines: [String] { log.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") } }

        /// URLs the page itself requested (netlog URL_REQUEST_START_JOB events whose network isolation key is the
        /// file:// page; the browser's own background requests have other keys).
        func pageRequests() throws -> [String] {
            let log = try JSONValue.parse(Array(try Data(contentsOf: netLog)))
            let types = log["constants"]?["logEventTypes"]?.objectMembers ?? []
            let start = try #require(types.first { $0.0 == "URL_REQUEST_START_JOB" }?.1.numberText, "netlog without URL_REQUEST_START_JOB")
            var urls: [String] = []
            for event in log["events"]?.arrayValue ?? [] where event["type"]?.numberText == start {
                let params = event["params"]
                if params?["network_isolation_key"]?.stringValue?.contains("file://") == true, let url = params?["url"]?.stringValue {
                    urls.append(url)
                }
            }
            return urls
        }
    }

    /// Renders `page` once: DOM dump, screenshot and PDF, with console logging and a netlog; host names resolve
    /// nowhere (`MAP * ~NOTFOUND`), so nothing could leave the machine even if the page asked.
    static func render(_ page: URL, in dir: URL) async throws -> Rendering {
        let chromium = try OperatorTools.tool("chromium")
        let shot = dir.appendingPathComponent("screenshot.png")
        let pdf = dir.appendingPathComponent("print.pdf")
        let netLog = dir.appendingPathComponent("netlog.json")
        var args = [
            "--headless", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--log-net-log=\(netLog.path)", "--user-data-dir=\(dir.appendingPathComponent("profile").path)",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-default-apps", "--window-size=1100,900",
            "--screenshot=\(shot.path)", "--print-to-pdf=\(pdf.path)", "--no-pdf-header-footer", "--dump-dom", page.absoluteString,
        ]
        if geteuid() == 0 { args.insert("--no-sandbox", at: 0) }  // Chromium refuses to run its sandbox as root
        var env = OperatorTools.environment
        env["HOME"] = dir.path
        let p = try ChildProcess.start(
            chromium, arguments: args, environment: env, stdout: .capture(limit: 32 << 20), stderr: .capture(limit: 8 << 20))
        let t = await p.exit(timeout: 120)
        if t == nil { _ = await p.exitOrKill(timeout: 0) }
        p.waitForOutput(timeout: 10)
        #expect(t == .exited(0), "chromium: \(String(describing: t)); \(p.stderrText.suffix(3000))")
        return Rendering(dom: p.stdoutText, log: p.stderrText, screenshot: shot, pdf: pdf, netLog: netLog)
    }

    /// The screenshot's size, number of distinct colours and pixel counts of `colours`.
    static func inspect(_ png: URL, colours: [String]) async throws -> (width: Int, height: Int, colours: Int, has: [String: Int]) {
        let (status, out) = try await OperatorTools.run(
            try OperatorTools.tool("python3"), [OperatorTools.fixture("png_colours.py"), png.path] + colours, timeout: 120)
        try #require(status == 0, "png_colours.py: \(out)")
        let j = try JSONValue.parse(out)
        var has: [String: Int] = [:]
        for (c, n) in j["has"]?.objectMembers ?? [] { has[c] = Int(n.numberText ?? "0") ?? 0 }
        return (
            Int(j["width"]?.numberText ?? "0") ?? 0, Int(j["height"]?.numberText ?? "0") ?? 0, Int(j["colours"]?.numberText ?? "0") ?? 0,
            has
        )
    }

    /// One bar of an inline SVG chart as the browser's DOM holds it.
    struct Bar: Equatable {
        let label: String
        let value: Int
        let height: Double
        let fill: String
    }

    /// The charts of the DOM, in document order: each one's plot height and bars.
    static func charts(_ dom: String) throws -> [(plotHeight: Double, bars: [Bar])] {
        let svg = try NSRegularExpression(pattern: #"<svg[^>]* height="([0-9.]+)"[^>]*>(.*?)</svg>"#, options: [.dotMatchesLineSeparators])
        let rect = try NSRegularExpression(
            pattern:
                #"<rect x="[0-9.]+" y="[0-9.]+" width="[0-9.]+" height="([0-9.]+)" fill="(#[0-9a-f]{6})"><title>([^<]*): ([0-9]+)</title></rect>"#
        )
        let ns = dom as NSString
        return svg.matches(in: dom, range: NSRange(location: 0, length: ns.length)).map { m in
            let inner = ns.substring(with: m.range(at: 2)) as NSString
            let bars = rect.matches(in: inner as String, range: NSRange(location: 0, length: inner.length)).map { r in
                Bar(
                    label: inner.substring(with: r.range(at: 3)), value: Int(inner.substring(with: r.range(at: 4)))!,
                    height: Double(inner.substring(with: r.range(at: 1)))!, fill: inner.substring(with: r.range(at: 2)))
            }
            return (Double(ns.substring(with: m.range(at: 1)))! - 30, bars)
        }
    }

    /// Bars are as tall as their value says, relative to the tallest (the renderer's geometry, to its 0.1 rounding).
    static func expectProportional(_ chart: (plotHeight: Double, bars: [Bar]), _ name: String) {
        let maxValue = max(1, chart.bars.map(\.value).max() ?? 1)
        for b in chart.bars {
            let expected = (chart.plotHeight - 12) * Double(b.value) / Double(maxValue)
            #expect(abs(b.height - expected) <= 0.051, "\(name): bar \(b.label) = \(b.value) is \(b.height) high, expected \(expected)")
        }
    }

    @Test func reportRendersCleanlyOfflineWithBarsMatchingItsNumbers() async throws {
        let dir = try OperatorTools.temporaryDirectory("browser")
        defer { try? FileManager.default.removeItem(at: dir) }
        let setup = SimulatedCollection.Setup(scale: 150, days: 20, databasePrefix: "browser", logLabel: "browser-test")
        let (report, html) = try await withSimulatedCollection(setup) { h -> (JSONValue, String) in
            let outcomes = await h.collect()
            #expect(outcomes.allSatisfy { $0.succeeded }, "\(outcomes.map { "\($0)" })")
            let catalogue = try RuleCatalogue(directory: TestDatabase.sqlDirectory.appendingPathComponent("rules"))
            _ = try Analyser(config: h.config, catalogue: catalogue, logger: h.logger).analyse(on: h.db)
            let end = Date(timeIntervalSince1970: TimeInterval(h.setup.historyEnd))
            let built = try ReportBuilder(timezone: TimeZone(identifier: "UTC")!).build(
                on: h.db, since: end.addingTimeInterval(-14 * 86400), until: Date().addingTimeInterval(3600))
            let perDay = try h.db.query(
                """
                SELECT to_char(time AT TIME ZONE 'UTC', 'MM-DD'), count(DISTINCT pair) FROM audit.trades
                 WHERE time >= $1 AND time < $2 GROUP BY 1 ORDER BY 1
                """, [end.addingTimeInterval(-14 * 86400), Date().addingTimeInterval(3600)]
            ).rows.map { "\(try $0.decode(0, as: String.self)): \(try $0.decode(1, as: Int.self))" }
            try perDay.joined(separator: "\n").write(to: dir.appendingPathComponent("per-day.txt"), atomically: true, encoding: .utf8)
            return (try JSONValue.parse(built.json().jsonText), built.html())
        }
        let page = dir.appendingPathComponent("report.html")
        try html.write(to: page, atomically: true, encoding: .utf8)
        let account = try #require(report["accounts"]?.arrayValue?.first)
        let findings = account["findings"]?.arrayValue ?? []
        try #require(findings.count >= 3, "the simulated history should give findings: \(report.jsonText.prefix(2000))")
        let totals = Dictionary(
            uniqueKeysWithValues: (report["findings_by_severity"]?.objectMembers ?? []).map { ($0.0, Int($0.1.numberText ?? "")!) })

        let r = try await Self.render(page, in: dir)

        // No console message, no request of the page's own.
        #expect(r.consoleLines.isEmpty, "console: \(r.consoleLines)")
        let requests = try r.pageRequests()
        #expect(requests.isEmpty, "the report loaded \(requests)")

        // The charts in the browser's DOM carry the report's numbers. Summary: findings per severity.
        let charts = try Self.charts(r.dom)
        try #require(charts.count == 3, "expected the summary, trades-per-day and calls-per-hour charts; DOM has \(charts.count)")
        let colours = ["critical": "#7b1fa2", "high": "#c62828", "medium": "#ef6c00", "low": "#f9a825", "info": "#607d8b"]
        #expect(charts[0].bars.map(\.label) == ["critical", "high", "medium", "low", "info"])
        for b in charts[0].bars {
            #expect(
                b.value == totals[b.label],
                "summary bar \(b.label) shows \(b.value), the report says \(String(describing: totals[b.label]))")
            #expect(b.fill == colours[b.label])
        }
        #expect(charts[0].bars.map(\.value).reduce(0, +) == findings.count)
        // Trades per day: pairs traded per UTC day, as the database has them.
        let perDay = try String(contentsOf: dir.appendingPathComponent("per-day.txt"), encoding: .utf8).split(separator: "\n").map(
            String.init)
        #expect(charts[1].bars.map { "\($0.label): \($0.value)" } == perDay)
        // Calls per hour add up to the report's call count.
        let calls = Int(account["api_usage"]?["calls"]?.numberText ?? "") ?? -1
        #expect(charts[2].bars.map(\.value).reduce(0, +) == calls && calls > 0, "calls per hour vs api_usage.calls \(calls)")
        for (i, name) in ["summary", "trades per day", "calls per hour"].enumerated() { Self.expectProportional(charts[i], name) }

        // The screenshot is a rendered page: many colours, and the bars of every non-empty severity are painted.
        let png = try await Self.inspect(r.screenshot, colours: Array(colours.values))
        #expect(png.width == 1100 && png.height == 900)
        #expect(png.colours > 20, "the screenshot has \(png.colours) colours: blank?")
        for (severity, n) in totals where n > 0 {
            #expect((png.has[colours[severity]!] ?? 0) > 50, "no \(severity) bar painted (\(colours[severity]!))")
        }

        // The PDF print holds the findings table: its header and every finding (id, rule, title) in order.
        let (pStatus, text) = try await OperatorTools.run(try OperatorTools.tool("pdftotext"), [r.pdf.path, "-"], timeout: 60)
        #expect(pStatus == 0, "\(text)")
        // Compared without whitespace and hyphens: cells wrap, and pdftotext joins a word broken at a hyphen
        // ("2026-" + "10-20" comes out as "202610-20").
        func squeeze(_ s: String) -> String { s.filter { !$0.isWhitespace && $0 != "-" } }
        let flat = squeeze(text)
        #expect(flat.contains("#severityruletitlestatusfirstseen"), "findings table header missing: \(text.prefix(1500))")
        // Each row starts with id, severity and rule, in the report's order; its title's words follow in order
        // before the next row starts (a long title wraps, and a row at a page's end continues under the header the
        // next page repeats).
        var starts: [Range<String.Index>] = []
        var cursor = flat.startIndex
        for f in findings {
            let row = (f["id"]?.numberText ?? "?") + squeeze(f["severity"]?.stringValue ?? "") + squeeze(f["rule_id"]?.stringValue ?? "")
            guard let found = flat.range(of: row, range: cursor..<flat.endIndex) else {
                Issue.record("finding row \(row) is not in the PDF's findings table after the previous row: \(text.prefix(3000))")
                return
            }
            starts.append(found)
            cursor = found.upperBound
        }
        for (i, f) in findings.enumerated() {
            let segmentEnd = i + 1 < starts.count ? starts[i + 1].lowerBound : flat.endIndex
            var at = starts[i].upperBound
            for word in (f["title"]?.stringValue ?? "").split(whereSeparator: \.isWhitespace).map({ squeeze(String($0)) })
            where !word.isEmpty {
                guard let w = flat.range(of: word, range: at..<segmentEnd) else {
                    Issue.record("finding \(f["id"]?.numberText ?? "?"): title word '\(word)' missing from its row in the PDF")
                    break
                }
                at = w.upperBound
            }
        }
    }

    @Test func theChecksCatchAConsoleErrorAndANetworkLoad() async throws {
        // The same checks on a page that does what the report must not: proof they are not blind.
        let dir = try OperatorTools.temporaryDirectory("browser-control")
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = dir.appendingPathComponent("bad.html")
        try """
        <!DOCTYPE html><html><body><h1>bad</h1><img src="http://report-assets.example/logo.png" alt="x" />
        <script>console.error("kraken-audit-control-error")</script></body></html>
        """.write(to: page, atomically: true, encoding: .utf8)
        let r = try await Self.render(page, in: dir)
        #expect(r.consoleLines.contains { $0.contains("kraken-audit-control-error") }, "\(r.log.suffix(2000))")
        #expect(try r.pageRequests() == ["http://report-assets.example/logo.png"])
    }
}
