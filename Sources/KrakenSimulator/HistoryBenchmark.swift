import Foundation
import KrakenAPI

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Measures history generation (the "1,000,000 ledger entries in well under a minute").
public enum HistoryBenchmark {
    /// Generates one account with about `ledgerEntries` ledger entries over `days` days; returns the number of
    /// ledger entries, trades and orders generated and the wall time in seconds.
    public static func run(ledgerEntries: Int, days: Int = 365, seed: UInt64 = 1)
        -> (ledger: Int, trades: Int, orders: Int, seconds: Double)
    {
        let end: Int64 = 1_767_225_600  // 2026-01-01
        let params = HistoryParameters(
            seed: seed, accountIndex: 0, account: "bench", startSeconds: end - Int64(days) * 86_400, endSeconds: end,
            timeZone: TimeZone(identifier: "Europe/Berlin") ?? .gmt, businessStartMinute: 480, businessEndMinute: 1200,
            businessWeekdays: [2, 3, 4, 5, 6], targetLedgerEntries: ledgerEntries, clean: false)
        let start = ContinuousClock.now
        let b = HistoryBuilder.generate(params)
        let d = ContinuousClock.now - start
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        return (b.history.ledger.count, b.history.trades.count, b.history.orders.count, seconds)
    }
}
