import AuditKernel
import Foundation
import KrakenAPI

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Files the executable writes for other tools.
public enum SimulatorFiles {
    /// Writes the credentials JSON (`[{"account","api_key","secret","permissions"}]` plus `url`) with mode 0600.
    public static func writeCredentials(_ accounts: [SimulatedAccount], baseURL: URL, to path: String) throws(SimulatorError) {
        let doc = JSONValue.object([
            ("url", .string(baseURL.absoluteString)),
            ("accounts", .array(accounts.map(SimulatorState.accountJSON))),
        ])
        let bytes = Array((doc.jsonText + "\n").utf8)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw .fileWrite(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        // O_CREAT's mode applies only to new files: tighten an existing one too.
        guard fchmod(fd, 0o600) == 0 else { throw .fileWrite(path: path, reason: String(cString: strerror(errno))) }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw .fileWrite(path: path, reason: String(cString: strerror(errno))) }
            written += n
        }
    }
}

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
