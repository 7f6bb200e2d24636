import AuditKernel
import Foundation

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
            .object([
                ("pair", .string(p.pair)), ("trades", n(p.trades)), ("volume", .string(p.volume)), ("cost", .string(p.cost)),
                ("fees", .string(p.fees)),
            ])
        }
        let balances: [JSONValue] = a.balances.map { b in
            .object([
                ("asset", .string(b.asset)), ("start", .string(b.start)), ("end", .string(b.end)), ("net_amount", .string(b.netFlows)),
                ("fees", .string(b.fees)),
            ])
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
