import AuditKernel
import Foundation

extension Report {
    /// Markdown for a terminal or an email.
    public func markdown() -> String {
        let f = formatting
        var o = "# kraken-audit report\n\n"
        o += "Period: \(f.time(since)) to \(f.time(until)) (\(timezone.identifier)). Generated \(f.time(generatedAt)).\n\n"
        let totals = severityTotals.filter { $0.1 > 0 }
        o +=
            totals.isEmpty
            ? "**No findings in the period.**\n" : "**Findings:** " + totals.map { "\($0.1) \($0.0)" }.joined(separator: ", ") + "\n"
        for a in accounts {
            o += "\n## Account \(md(a.name))\n\n### Collection\n\n"
            let c = a.collection
            o += "- Runs: \(c.runs) (\(c.succeeded) succeeded, \(c.failed) failed)\n"
            o += "- Last successful collection: \(c.lastSuccess.map { f.time($0) } ?? "never")"
            if let fresh = c.freshnessSeconds { o += " (\(f.duration(fresh)) before the period's end)" }
            o += "\n"
            if !c.rowsAdded.isEmpty { o += "- Rows added: " + c.rowsAdded.map { "\(md($0.0)) \($0.1)" }.joined(separator: ", ") + "\n" }
            for failure in c.failures { o += "- **FAILED** \(f.time(failure.time)): \(md(failure.error))\n" }

            o += "\n### Findings\n\n"
            if a.findings.isEmpty {
                o += "None.\n"
            } else {
                o += "| # | severity | rule | title | status | first seen |\n|---|---|---|---|---|---|\n"
                for x in a.findings {
                    o += "| \(x.id) | \(md(x.severity)) | \(md(x.ruleId)) | \(md(x.title)) | \(md(x.status)) | \(f.time(x.firstSeen)) |\n"
                }
                o += "\nInspect one with `kraken-audit findings show ID`; acknowledge with `kraken-audit findings ack ID --note \"...\"`.\n"
            }
            o += "\n### Withdrawals\n\n"
            o += a.withdrawals.isEmpty ? "None.\n" : fundingTable(a.withdrawals, names: true)
            o += "\n### Deposits\n\n"
            o += a.deposits.isEmpty ? "None.\n" : fundingTable(a.deposits, names: false)
            o += "\n### Trading\n\n"
            if a.trading.isEmpty {
                o += "No trades.\n"
            } else {
                o += "| pair | trades | volume (base) | cost (quote) | fees (quote) |\n|---|---:|---:|---:|---:|\n"
                for t in a.trading { o += "| \(md(t.pair)) | \(t.trades) | \(t.volume) | \(t.cost) | \(t.fees) |\n" }
            }
            o += "\n### Balances\n\n"
            if a.balances.isEmpty {
                o += "No ledger activity.\n"
            } else {
                o += "| asset | start | end | net amount | fees |\n|---|---:|---:|---:|---:|\n"
                for b in a.balances { o += "| \(md(b.asset)) | \(b.start) | \(b.end) | \(b.netFlows) | \(b.fees) |\n" }
            }
            o += "\n### API usage\n\n"
            let u = a.apiUsage
            o += "- Calls: \(u.calls), errors: \(u.errors)"
            if let peak = u.peakCounter { o += ", peak counter \(String(format: "%.2f", peak))" }
            o += "\n"
            if !u.callsByEndpoint.isEmpty {
                o += "- By endpoint: " + u.callsByEndpoint.map { "\(md($0.0)) \($0.1)" }.joined(separator: ", ") + "\n"
            }
            if !u.errorsByKind.isEmpty {
                o += "- Errors by kind: " + u.errorsByKind.map { "\(md($0.0)) \($0.1)" }.joined(separator: ", ") + "\n"
            }
            for note in u.pacingNotes { o += "- Pacing: \(md(note))\n" }
        }
        return o
    }

    private func fundingTable(_ items: [FundingItem], names: Bool) -> String {
        let f = formatting
        var o =
            "| time | asset | amount | fee | address | \(names ? "address name | " : "")status |\n|---|---|---:|---:|---|\(names ? "---|" : "")---|\n"
        for w in items {
            o +=
                "| \(f.time(w.time)) | \(md(w.asset)) | \(w.amount) | \(w.fee ?? "") | \(md(w.address ?? "")) | \(names ? md(w.addressName ?? "") + " | " : "")\(md(w.status)) |\n"
        }
        return o
    }

    /// Escapes text from the data (titles, address names, addresses, assets, errors...) for markdown.
    ///
    /// Every character that can start markdown or HTML syntax inline gets a backslash (CommonMark §2.4: any
    /// escaped ASCII punctuation is shown literally): `\` `` ` `` `*` `_` `[` `]` `<` `>` `#` `|` `~` (`_` not
    /// inside a word, where it is inert and rule ids such as `unexpected_withdrawal` stay readable). So a
    /// title cannot open a link, an image, emphasis, a code span, an autolink (`<https://...>`), raw HTML
    /// (`<script>`, `<img onerror=...>`), a heading or a new table cell. Line breaks and other control
    /// characters become spaces (a value cannot start a new block). Other punctuation (`. , - ( ) : ! & $`)
    /// is kept, so addresses, names and decimals stay readable; amounts and counts come from numeric columns
    /// and are not escaped. Limit: a renderer with GFM's autolink extension may still turn a bare
    /// `https://...` in a title into a link; its text is shown as is, nothing is hidden.
    static func md(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        let scalars = Array(s.unicodeScalars)
        func isAlphanumeric(_ i: Int) -> Bool {
            scalars.indices.contains(i) && (scalars[i].properties.isAlphabetic || scalars[i].properties.numericType != nil)
        }
        for (i, scalar) in scalars.enumerated() {
            switch scalar {
            case "_" where isAlphanumeric(i - 1) && isAlphanumeric(i + 1):
                // Inside a word (`unexpected_withdrawal`) `_` cannot open or close emphasis (CommonMark §6.2).
                out.unicodeScalars.append(scalar)
            case "\\", "`", "*", "_", "[", "]", "<", ">", "#", "|", "~":
                out.unicodeScalars.append("\\")
                out.unicodeScalars.append(scalar)
            case _ where scalar.properties.generalCategory == .control,
                "\u{2028}", "\u{2029}":
                out.unicodeScalars.append(" ")
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private func md(_ s: String) -> String { Self.md(s) }
}
