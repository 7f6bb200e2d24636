import Foundation

/// Parameters of one account's generated history.
struct HistoryParameters: Sendable {
    var seed: UInt64
    var accountIndex: Int
    var account: String
    /// Unix seconds; the history covers [start, end).
    var startSeconds: Int64
    var endSeconds: Int64
    var timeZone: TimeZone
    /// Business hours in local minutes after midnight, [start, end).
    var businessStartMinute: Int
    var businessEndMinute: Int
    /// `Calendar` weekdays (1 = Sunday) with business activity.
    var businessWeekdays: Set<Int>
    /// Approximate number of ledger entries to generate.
    var targetLedgerEntries: Int
    /// Plant no anomalies.
    var clean: Bool
}
