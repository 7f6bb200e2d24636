import Foundation

extension Report {
    /// One self-contained HTML file: inline CSS and SVG charts, no scripts, no network references. Written as
    /// well-formed XHTML-compatible markup so it parses as XML too (tests check that).
    public func html() -> String {
        let f = formatting
        var o = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8" /><meta name="viewport" content="width=device-width, initial-scale=1" />
            <title>kraken-audit report \(e(f.time(since))) to \(e(f.time(until)))</title>
            <style>\(Self.css)</style></head><body>
            <header><h1>kraken-audit report</h1>
            <p class="period">\(e(f.time(since))) to \(e(f.time(until))) (\(e(timezone.identifier))), generated \(e(f.time(generatedAt)))</p>
            """
        let totals = severityTotals
        o += "<section class=\"summary\"><h2>Findings by severity</h2>"
        o += svgBars(totals.map { ($0.0, $0.1) }, colors: Self.severityColors, width: 420, height: 140)
        o += "</section></header>"
        for a in accounts {
            o += "<section class=\"account\"><h2>Account \(e(a.name))</h2>"
            let c = a.collection
            o += "<h3>Collection</h3><ul>"
            o += "<li>Runs: \(c.runs) (\(c.succeeded) succeeded, \(c.failed) failed)</li>"
            o += "<li>Last successful collection: \(e(c.lastSuccess.map { f.time($0) } ?? "never"))"
            if let fresh = c.freshnessSeconds { o += " (\(e(f.duration(fresh))) before the period's end)" }
            o += "</li>"
            if !c.rowsAdded.isEmpty { o += "<li>Rows added: \(e(c.rowsAdded.map { "\($0.0) \($0.1)" }.joined(separator: ", ")))</li>" }
            for failure in c.failures { o += "<li class=\"failed\">FAILED \(e(f.time(failure.time))): \(e(failure.error))</li>" }
            o += "</ul>"

            o += "<h3>Findings</h3>"
            if a.findings.isEmpty {
                o += "<p>None.</p>"
            } else {
                o +=
                    "<table><thead><tr><th>#</th><th>severity</th><th>rule</th><th>title</th><th>status</th><th>first seen</th></tr></thead><tbody>"
                for x in a.findings {
                    o +=
                        "<tr class=\"sev-\(e(x.severity))\"><td>\(x.id)</td><td><span class=\"badge\">\(e(x.severity))</span></td><td>\(e(x.ruleId))</td><td>\(e(x.title))"
                    // A closed <details> does not print in Chromium: the printed page shows the evidence as a plain block
                    // instead (screen: the collapsible one only).
                    o +=
                        "<details><summary>evidence</summary><pre>\(e(x.evidence.jsonText))</pre></details><pre class=\"print-evidence\">\(e(x.evidence.jsonText))</pre></td>"
                    o += "<td>\(e(x.status))</td><td>\(e(f.time(x.firstSeen)))</td></tr>"
                }
                o += "</tbody></table>"
            }
            o += "<h3>Withdrawals</h3>" + fundingHTML(a.withdrawals, names: true)
            o += "<h3>Deposits</h3>" + fundingHTML(a.deposits, names: false)
            o += "<h3>Trading</h3>"
            if a.trading.isEmpty {
                o += "<p>No trades.</p>"
            } else {
                o +=
                    "<table><thead><tr><th>pair</th><th class=\"n\">trades</th><th class=\"n\">volume (base)</th><th class=\"n\">cost (quote)</th><th class=\"n\">fees (quote)</th></tr></thead><tbody>"
                for t in a.trading {
                    o +=
                        "<tr><td>\(e(t.pair))</td><td class=\"n\">\(t.trades)</td><td class=\"n\">\(e(t.volume))</td><td class=\"n\">\(e(t.cost))</td><td class=\"n\">\(e(t.fees))</td></tr>"
                }
                o += "</tbody></table>"
                o += "<h4>Trades per day</h4>" + volumeChart(a)
            }
            o += "<h3>Balances</h3>"
            if a.balances.isEmpty {
                o += "<p>No ledger activity.</p>"
            } else {
                o +=
                    "<table><thead><tr><th>asset</th><th class=\"n\">start</th><th class=\"n\">end</th><th class=\"n\">net amount</th><th class=\"n\">fees</th></tr></thead><tbody>"
                for b in a.balances {
                    o +=
                        "<tr><td>\(e(b.asset))</td><td class=\"n\">\(e(b.start))</td><td class=\"n\">\(e(b.end))</td><td class=\"n\">\(e(b.netFlows))</td><td class=\"n\">\(e(b.fees))</td></tr>"
                }
                o += "</tbody></table>"
            }
            let u = a.apiUsage
            o += "<h3>API usage</h3><p>\(u.calls) calls, \(u.errors) errors"
            if let peak = u.peakCounter { o += ", peak counter \(String(format: "%.2f", peak))" }
            o += "</p>"
            if !u.errorsByKind.isEmpty {
                o += "<p>Errors by kind: \(e(u.errorsByKind.map { "\($0.0) \($0.1)" }.joined(separator: ", ")))</p>"
            }
            for note in u.pacingNotes { o += "<p>Pacing: \(e(note))</p>" }
            o += "<h4>Calls per hour</h4>"
            o += svgBars(u.callsPerHour.map { (hourLabel($0.0), $0.1) }, colors: [:], width: 720, height: 160)
            o += "</section>"
        }
        o += "<footer>kraken-audit · schema \(Report.schema)</footer></body></html>\n"
        return o
    }

    private func hourLabel(_ d: Date) -> String {
        let fm = DateFormatter()
        fm.locale = Locale(identifier: "en_US_POSIX")
        fm.timeZone = timezone
        fm.dateFormat = "dd HH:00"
        return fm.string(from: d)
    }

    private func fundingHTML(_ items: [FundingItem], names: Bool) -> String {
        guard !items.isEmpty else { return "<p>None.</p>" }
        let f = formatting
        var o = "<table><thead><tr><th>time</th><th>asset</th><th class=\"n\">amount</th><th class=\"n\">fee</th><th>address</th>"
        if names { o += "<th>address name</th>" }
        o += "<th>status</th></tr></thead><tbody>"
        for w in items {
            o +=
                "<tr><td>\(e(f.time(w.time)))</td><td>\(e(w.asset))</td><td class=\"n\">\(e(w.amount))</td><td class=\"n\">\(e(w.fee ?? ""))</td><td class=\"addr\">\(e(w.address ?? ""))</td>"
            if names { o += "<td>\(e(w.addressName ?? ""))</td>" }
            o += "<td>\(e(w.status))</td></tr>"
        }
        return o + "</tbody></table>"
    }

    /// Trades per UTC day (count of pair-days is small; the bar shows the number of pairs' cost entries).
    private func volumeChart(_ a: AccountReport) -> String {
        var perDay: [String: Int] = [:]
        for v in a.volumePerDay { perDay[v.day, default: 0] += 1 }
        let days = perDay.keys.sorted()
        return svgBars(days.map { (String($0.suffix(5)), perDay[$0] ?? 0) }, colors: [:], width: 720, height: 140)
    }

    /// A bar chart as inline SVG.
    func svgBars(_ bars: [(String, Int)], colors: [String: String], width: Int, height: Int) -> String {
        guard !bars.isEmpty else { return "<p class=\"muted\">No data.</p>" }
        let maxValue = max(1, bars.map(\.1).max() ?? 1)
        let plotHeight = height - 30
        let slot = Double(width - 10) / Double(bars.count)
        let barWidth = max(2, slot * 0.7)
        var o =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\">"
        let labelEvery = max(1, bars.count / 12)
        for (i, (label, value)) in bars.enumerated() {
            let h = Double(plotHeight - 12) * Double(value) / Double(maxValue)
            let x = 5 + Double(i) * slot + (slot - barWidth) / 2
            let y = Double(plotHeight) - h
            let color = colors[label] ?? "#3b6ea5"
            o +=
                "<rect x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(barWidth))\" height=\"\(fmt(h))\" fill=\"\(color)\"><title>\(e(label)): \(value)</title></rect>"
            o += "<text x=\"\(fmt(x + barWidth / 2))\" y=\"\(fmt(y - 2))\" font-size=\"10\" text-anchor=\"middle\">\(value)</text>"
            if i % labelEvery == 0 {
                o += "<text x=\"\(fmt(x + barWidth / 2))\" y=\"\(height - 8)\" font-size=\"10\" text-anchor=\"middle\">\(e(label))</text>"
            }
        }
        return o + "</svg>"
    }

    private func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    /// HTML/XML text escaping.
    func e(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters are not allowed in XML; drop them.
                if c.value < 0x20, c != "\n", c != "\t" { continue }
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static let severityColors = ["critical": "#7b1fa2", "high": "#c62828", "medium": "#ef6c00", "low": "#f9a825", "info": "#607d8b"]

    static let css = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2733;margin:2em auto;max-width:1100px;padding:0 1em}
        h1{font-size:1.6em;margin:0}h2{border-bottom:2px solid #dfe5ec;padding-bottom:.2em;margin-top:1.6em}
        h3{margin:1.2em 0 .4em}.period,.muted{color:#5b6775}
        table{border-collapse:collapse;width:100%;margin:.4em 0 1em}th,td{border-bottom:1px solid #e6ebf0;padding:.3em .5em;text-align:left;vertical-align:top}
        th{background:#f4f6f9;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}td.addr{font-family:ui-monospace,monospace;word-break:break-all}
        .badge{display:inline-block;padding:0 .5em;border-radius:1em;color:#fff;background:#607d8b;font-size:.85em}
        .sev-critical .badge{background:#7b1fa2}.sev-high .badge{background:#c62828}.sev-medium .badge{background:#ef6c00}.sev-low .badge{background:#f9a825;color:#222}
        .failed{color:#c62828;font-weight:600}pre{white-space:pre-wrap;word-break:break-all;background:#f7f9fb;padding:.5em;font-size:.85em}
        footer{margin-top:3em;color:#8a96a3;font-size:.85em}
        .print-evidence{display:none}
        @media print{body{margin:0;max-width:none;font-size:11px}details{display:none}.print-evidence{display:block;white-space:pre-wrap;word-break:break-all}tr{break-inside:avoid}section.account{page-break-before:always}}
        """
}
