import AuditKernel
import Foundation

extension Report {
    /// CSV tables (file name → content): `findings.csv`, `withdrawals.csv`, `trades.csv` (trading per pair).
    /// ISO times with offset, plain decimals, RFC 4180 quoting.
    public func csvTables() -> [(String, String)] {
        let f = formatting
        func row(_ fields: [String?]) -> String { fields.map { csv($0 ?? "") }.joined(separator: ",") + "\r\n" }
        var findings = row([
            "account", "id", "severity", "rule_id", "status", "title", "entity_type", "entity_id", "occurred_at", "first_seen", "last_seen",
        ])
        var withdrawals = row(["account", "refid", "time", "asset", "amount", "fee", "address", "address_name", "status", "method"])
        var trades = row(["account", "pair", "trades", "volume", "cost", "fees"])
        for a in accounts {
            for x in a.findings {
                findings += row([
                    a.name, String(x.id), x.severity, x.ruleId, x.status, x.title, x.entityType, x.entityId, x.occurredAt.map(f.iso),
                    f.iso(x.firstSeen), f.iso(x.lastSeen),
                ])
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
