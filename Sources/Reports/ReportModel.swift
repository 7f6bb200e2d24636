import AuditKernel
import Foundation

/// The nightly report's content, built from the database; renderers turn it into markdown, HTML, JSON, CSV.
/// JSON follows the versioned schema `kraken-audit.report/1` (documented in the README).
public struct Report: Sendable {
    public static let schema = "kraken-audit.report/1"

    public var generatedAt: Date
    public var timezone: TimeZone
    public var since: Date
    public var until: Date
    public var accounts: [AccountReport]
}

public struct AccountReport: Sendable {
    public var name: String
    public var collection: CollectionSummary
    public var findings: [FindingItem]
    public var withdrawals: [FundingItem]
    public var deposits: [FundingItem]
    public var trading: [PairActivity]
    public var balances: [BalanceChange]
    public var apiUsage: APIUsage
    /// Trading volume (quote cost) per UTC day and pair, for the chart.
    public var volumePerDay: [(day: String, pair: String, cost: String)]

    public var findingsBySeverity: [(String, Int)] {
        ["critical", "high", "medium", "low", "info"].map { s in (s, findings.filter { $0.severity == s }.count) }
    }
}

public struct CollectionSummary: Sendable {
    public var runs: Int
    public var succeeded: Int
    public var failed: Int
    public var lastSuccess: Date?
    /// Errors of failed runs in the period (newest first), so the report says what failed.
    public var failures: [(time: Date, error: String)]
    public var rowsAdded: [(String, Int)]
    /// Seconds between the last successful collection and the report's end.
    public var freshnessSeconds: Double?
}

public struct FindingItem: Sendable {
    public var id: Int64
    public var ruleId: String
    public var severity: String
    public var status: String
    public var title: String
    public var entityType: String?
    public var entityId: String?
    public var firstSeen: Date
    public var lastSeen: Date
    public var occurredAt: Date?
    /// Evidence JSON, exact as stored.
    public var evidence: JSONValue
}

public struct FundingItem: Sendable {
    public var refid: String
    public var time: Date
    public var asset: String
    public var amount: String
    public var fee: String?
    /// Destination/source address (`info`).
    public var address: String?
    /// Address-book name (`key`), withdrawals only.
    public var addressName: String?
    public var status: String
    public var method: String?
}

public struct PairActivity: Sendable {
    public var pair: String
    public var trades: Int
    public var volume: String
    public var cost: String
    public var fees: String
}

public struct BalanceChange: Sendable {
    public var asset: String
    public var start: String
    public var end: String
    public var netFlows: String
    public var fees: String
}

public struct APIUsage: Sendable {
    public var calls: Int
    public var errors: Int
    public var callsByEndpoint: [(String, Int)]
    public var errorsByKind: [(String, Int)]
    public var peakCounter: Double?
    /// Calls per hour (hour start, count), for the chart.
    public var callsPerHour: [(Date, Int)]
    /// Keys paced slower than configured because Kraken rate-limited them despite pacing, one sentence each:
    /// "key behaves like tier starter, config says pro (...)" (collector's learned tier, migration 0006).
    public var pacingNotes: [String] = []
}

/// Report output formats.
public enum ReportFormat: String, Sendable, CaseIterable {
    case markdown, html, json, csv
}
