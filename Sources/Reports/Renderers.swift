import AuditKernel
import Foundation

/// Shared formatting: times in the report's time zone with the UTC offset shown; amounts as exact text.
struct Formatting {
    let timezone: TimeZone

    func time(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = timezone
        f.dateFormat = "yyyy-MM-dd HH:mm:ss xxx"
        return f.string(from: date)
    }

    /// ISO 8601 with offset (JSON, CSV).
    func iso(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = timezone
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ssxxx"
        return f.string(from: date)
    }

    func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 120 { return "\(s) s" }
        if s < 7200 { return "\(s / 60) min" }
        if s < 172_800 { return "\(s / 3600) h" }
        return "\(s / 86400) d"
    }
}

extension Report {
    var formatting: Formatting { Formatting(timezone: timezone) }

    /// Total findings per severity over all accounts.
    var severityTotals: [(String, Int)] {
        ["critical", "high", "medium", "low", "info"].map { s in
            (s, accounts.reduce(0) { $0 + $1.findings.filter { $0.severity == s }.count })
        }
    }
}

// MARK: - Markdown

extension Report {
    /// Markdown for a terminal or an email.
    public func markdown() -> String {
        let f = formatting
        var o = "# kraken-audit report\n\n"
        o += "Period: \(f.time(since)) to \(f.time(until)) (\(timezone.identifier)). Generated \(f.time(generatedAt)).\n\n"
        let totals = severityTotals.filter { $0.1 > 0 }
        o += totals.isEmpty ? "**No findings in the period.**\n" : "**Findings:** " + totals.map { "\($0.1) \($0.0)" }.joined(separator: ", ") + "\n"
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
            if !u.callsByEndpoint.isEmpty { o += "- By endpoint: " + u.callsByEndpoint.map { "\(md($0.0)) \($0.1)" }.joined(separator: ", ") + "\n" }
            if !u.errorsByKind.isEmpty { o += "- Errors by kind: " + u.errorsByKind.map { "\(md($0.0)) \($0.1)" }.joined(separator: ", ") + "\n" }
            for note in u.pacingNotes { o += "- Pacing: \(md(note))\n" }
        }
        return o
    }

    private func fundingTable(_ items: [FundingItem], names: Bool) -> String {
        let f = formatting
        var o = "| time | asset | amount | fee | address | \(names ? "address name | " : "")status |\n|---|---|---:|---:|---|\(names ? "---|" : "")---|\n"
        for w in items {
            o += "| \(f.time(w.time)) | \(md(w.asset)) | \(w.amount) | \(w.fee ?? "") | \(md(w.address ?? "")) | \(names ? md(w.addressName ?? "") + " | " : "")\(md(w.status)) |\n"
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

// MARK: - JSON

extension Report {
    /// The report as JSON, schema `kraken-audit.report/1`. Amounts are strings holding exact decimals.
    public func json() -> JSONValue {
        let f = formatting
        func n(_ v: Int) -> JSONValue { .number(String(v)) }
        func t(_ d: Date?) -> JSONValue { d.map { .string(f.iso($0)) } ?? .null }
        let accountsJSON: [JSONValue] = accounts.map { accountJSON($0) }
        return .object([
            ("schema", .string(Report.schema)), ("generated_at", t(generatedAt)), ("timezone", .string(timezone.identifier)),
            ("period", .object([("since", t(since)), ("until", t(until))])),
            ("findings_by_severity", .object(severityTotals.map { ($0.0, n($0.1)) })),
            ("accounts", .array(accountsJSON)),
        ])
    }
}

extension Report {
    private func accountJSON(_ a: AccountReport) -> JSONValue {
        let f = formatting
        func s(_ v: String?) -> JSONValue { v.map { .string($0) } ?? .null }
        func n(_ v: Int) -> JSONValue { .number(String(v)) }
        func t(_ d: Date?) -> JSONValue { d.map { .string(f.iso($0)) } ?? .null }
        func funding(_ w: FundingItem) -> JSONValue {
            .object([
                ("refid", .string(w.refid)), ("time", t(w.time)), ("asset", .string(w.asset)), ("amount", .string(w.amount)),
                ("fee", s(w.fee)), ("address", s(w.address)), ("address_name", s(w.addressName)), ("status", .string(w.status)),
                ("method", s(w.method)),
            ])
        }
        let c = a.collection
        let failures: [JSONValue] = c.failures.map { .object([("time", t($0.time)), ("error", .string($0.error))]) }
        let collection: JSONValue = .object([
            ("runs", n(c.runs)), ("succeeded", n(c.succeeded)), ("failed", n(c.failed)),
            ("last_success", t(c.lastSuccess)),
            ("freshness_seconds", c.freshnessSeconds.map { .number(String(Int($0))) } ?? .null),
            ("failures", .array(failures)),
            ("rows_added", .object(c.rowsAdded.map { ($0.0, n($0.1)) })),
        ])
        let findings: [JSONValue] = a.findings.map { x in
            let members: [(String, JSONValue)] = [
                ("id", .number(String(x.id))), ("rule_id", .string(x.ruleId)), ("severity", .string(x.severity)),
                ("status", .string(x.status)), ("title", .string(x.title)), ("entity_type", s(x.entityType)),
                ("entity_id", s(x.entityId)), ("occurred_at", t(x.occurredAt)), ("first_seen", t(x.firstSeen)),
                ("last_seen", t(x.lastSeen)), ("evidence", x.evidence),
            ]
            return .object(members)
        }
        let trading: [JSONValue] = a.trading.map { p in
            .object([("pair", .string(p.pair)), ("trades", n(p.trades)), ("volume", .string(p.volume)), ("cost", .string(p.cost)), ("fees", .string(p.fees))])
        }
        let balances: [JSONValue] = a.balances.map { b in
            .object([("asset", .string(b.asset)), ("start", .string(b.start)), ("end", .string(b.end)), ("net_amount", .string(b.netFlows)), ("fees", .string(b.fees))])
        }
        let u = a.apiUsage
        let usage: JSONValue = .object([
            ("calls", n(u.calls)), ("errors", n(u.errors)),
            ("peak_counter", u.peakCounter.map { .number(String(format: "%.3f", $0)) } ?? .null),
            ("calls_by_endpoint", .object(u.callsByEndpoint.map { ($0.0, n($0.1)) })),
            ("errors_by_kind", .object(u.errorsByKind.map { ($0.0, n($0.1)) })),
            ("pacing_notes", .array(u.pacingNotes.map(JSONValue.string))),
        ])
        return .object([
            ("name", .string(a.name)), ("collection", collection),
            ("findings_by_severity", .object(a.findingsBySeverity.map { ($0.0, n($0.1)) })),
            ("findings", .array(findings)), ("withdrawals", .array(a.withdrawals.map(funding))),
            ("deposits", .array(a.deposits.map(funding))), ("trading", .array(trading)), ("balances", .array(balances)),
            ("api_usage", usage),
        ])
    }
}

// MARK: - CSV

extension Report {
    /// CSV tables (file name → content): `findings.csv`, `withdrawals.csv`, `trades.csv` (trading per pair).
    /// ISO times with offset, plain decimals, RFC 4180 quoting.
    public func csvTables() -> [(String, String)] {
        let f = formatting
        func row(_ fields: [String?]) -> String { fields.map { csv($0 ?? "") }.joined(separator: ",") + "\r\n" }
        var findings = row(["account", "id", "severity", "rule_id", "status", "title", "entity_type", "entity_id", "occurred_at", "first_seen", "last_seen"])
        var withdrawals = row(["account", "refid", "time", "asset", "amount", "fee", "address", "address_name", "status", "method"])
        var trades = row(["account", "pair", "trades", "volume", "cost", "fees"])
        for a in accounts {
            for x in a.findings {
                findings += row([a.name, String(x.id), x.severity, x.ruleId, x.status, x.title, x.entityType, x.entityId, x.occurredAt.map(f.iso), f.iso(x.firstSeen), f.iso(x.lastSeen)])
            }
            for w in a.withdrawals {
                withdrawals += row([a.name, w.refid, f.iso(w.time), w.asset, w.amount, w.fee, w.address, w.addressName, w.status, w.method])
            }
            for t in a.trading { trades += row([a.name, t.pair, String(t.trades), t.volume, t.cost, t.fees]) }
        }
        return [("findings.csv", findings), ("withdrawals.csv", withdrawals), ("trades.csv", trades)]
    }

    private func csv(_ s: String) -> String { Self.csv(s) }

    /// One RFC 4180 field, neutralised against formula injection (OWASP "CSV Injection"): a value starting
    /// with `=`, `+`, `-`, `@`, TAB or CR gets a leading `'` so spreadsheets show it as text. Negative decimals
    /// (`-0.72485`) are left as numbers. The first Unicode scalar is checked, not the first Character: "\r\n"
    /// is one Character in Swift and would hide a leading CR.
    static func csv(_ s: String) -> String {
        var v = s
        if let first = v.unicodeScalars.first {
            switch first {
            case "=", "+", "@", "\t", "\r": v = "'" + v
            case "-" where !isNegativeDecimal(v): v = "'" + v
            default: break
            }
        }
        if v.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return v
    }

    /// `-` then ASCII digits with at most one `.` (what PostgreSQL prints for a negative numeric).
    static func isNegativeDecimal(_ v: String) -> Bool {
        let rest = v.utf8.dropFirst()
        guard !rest.isEmpty, rest.first != UInt8(ascii: "."), rest.last != UInt8(ascii: ".") else { return false }
        var dots = 0
        for b in rest {
            if b == UInt8(ascii: ".") { dots += 1 } else if !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) { return false }
        }
        return dots <= 1
    }
}
