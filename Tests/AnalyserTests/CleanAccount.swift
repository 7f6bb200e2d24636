import AuditStore
import Foundation
import TestSupport

/// A realistic, anomaly-free year of one account (deterministic from a seed): trades in business hours in
/// Europe/Berlin across both DST changes of 2026, consistent ledger balances, monthly withdrawals of usual size to
/// the allowlisted address, nightly successful collections with clean call logs, and a key created in October.
struct CleanAccount {
    static let allowlistConfig = """
        [rules.unexpected_withdrawal]
        allowlist = { XXBT = ["bc1qa35ls3egf0872h3w"] }
        """
    /// The analysis time that goes with the generated data (an hour after the last nightly collection).
    static let now = Fixture.t("2026-12-19T03:00:00Z")

    /// Exact amounts in units of 1e-10.
    static func text(_ units: Int64) -> String {
        let negative = units < 0
        let m = negative ? -units : units
        let frac = String(m % 10_000_000_000)
        return (negative ? "-" : "") + "\(m / 10_000_000_000)." + String(repeating: "0", count: 10 - frac.count) + frac
    }

    static func utc(_ y: Int, _ mo: Int, _ d: Int, _ h: Int, _ mi: Int, zone: String = "Europe/Berlin") -> Date {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: zone)!
        return cal.date(from: DateComponents(year: y, month: mo, day: d, hour: h, minute: mi))!
    }

    /// Inserts the history; returns the number of trades.
    @discardableResult
    static func generate(into f: Fixture, seed: UInt64) throws -> Int {
        var rng = SplitMix(seed: seed)
        var balances: [String: Int64] = ["ZUSD": 0, "XXBT": 0]
        var ledgerSeq = 0
        func ledger(_ refid: String, _ time: Date, _ type: String, _ asset: String, _ amount: Int64, _ fee: Int64) throws {
            balances[asset, default: 0] += amount - fee
            ledgerSeq += 1
            try f.ledger(
                Fixture.krakenId("L", Int(seed) * 1_000_000 + ledgerSeq), refid: refid, time: PGTimestamp.format(time),
                type: type, asset: asset, amount: text(amount), fee: text(fee), balance: text(balances[asset]!))
        }
        let start = utc(2026, 1, 5, 9, 0)
        try ledger("QCCBDEP-ZUSD-0001", start, "deposit", "ZUSD", 1_000_000 * 10_000_000_000, 0)
        try ledger("QCCBDEP-XXBT-0001", start.addingTimeInterval(60), "deposit", "XXBT", 10 * 10_000_000_000, 0)

        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "Europe/Berlin")!
        var day = cal.startOfDay(for: utc(2026, 1, 6, 12, 0))
        let end = utc(2026, 12, 18, 12, 0)
        var trades = 0
        var month = 0
        var nonce: Int64 = 1_767_600_000_000
        while day < end {
            let c = cal.dateComponents([.year, .month, .day, .weekday], from: day)
            let (y, mo, d) = (c.year!, c.month!, c.day!)
            // Nightly collection at 02:00 UTC: three clean calls and a successful run.
            let run = utc(y, mo, d, 2, 0, zone: "UTC")
            try f.collectorRun(
                status: "success", started: PGTimestamp.format(run),
                finished: PGTimestamp.format(run.addingTimeInterval(300)))
            for (i, endpoint) in ["Ledgers", "TradesHistory", "WithdrawStatus"].enumerated() {
                nonce += Int64(1000 * (i + 1))
                try f.apiCall(endpoint: endpoint, at: PGTimestamp.format(run.addingTimeInterval(Double(10 * i))), nonce: nonce)
            }
            let weekday = c.weekday!  // 1 = Sunday
            if (2...6).contains(weekday) {
                // The day's events in time order, so ledger balances run in time order as on Kraken.
                var times: [Date] = []
                for _ in 0..<rng.int(0...3) {
                    times.append(utc(y, mo, d, rng.int(8...16), rng.int(1...59)).addingTimeInterval(Double(rng.int(0...59))))
                }
                // A monthly withdrawal on the first Tuesday, 10:00 local, to the allowlisted address.
                let withdrawalAt: Date? = (weekday == 3 && mo != month) ? utc(y, mo, d, 10, 0) : nil
                if withdrawalAt != nil { month = mo }
                var events: [(Date, Bool)] = times.map { ($0, false) }
                if let w = withdrawalAt { events.append((w, true)) }
                for (at, isWithdrawal) in events.sorted(by: { $0.0 < $1.0 }) {
                    if isWithdrawal {
                        let amount = Int64(rng.int(10...20)) * 100_000_000  // 0.1 .. 0.2 XXBT
                        let fee: Int64 = 2_000_000
                        let refid = "FTQcuak-clean-\(seed)-\(mo)"
                        try ledger(refid, at, "withdrawal", "XXBT", -amount, fee)
                        try f.withdrawal(
                            refid, asset: "XXBT", amount: text(amount), fee: text(fee), time: PGTimestamp.format(at),
                            address: "bc1qa35ls3egf0872h3w", key: "btc-cold")
                        continue
                    }
                    let vol = Int64(rng.int(100...500)) * 1_000_000  // 0.0100000000 .. 0.0500000000
                    let price = Int64(rng.int(28_000...34_000))
                    let cost = vol * price
                    let fee = cost * 16 / 10_000
                    let buy = rng.int(0...1) == 0 || balances["XXBT"]! < vol * 2
                    trades += 1
                    let txid = Fixture.krakenId("T", Int(seed) * 100_000 + trades)
                    let ordertxid = Fixture.krakenId("O", Int(seed) * 100_000 + trades)
                    try f.order(
                        ordertxid, opentm: PGTimestamp.format(at.addingTimeInterval(-20)), closetm: PGTimestamp.format(at),
                        type: buy ? "buy" : "sell", vol: text(vol), trades: [txid])
                    try f.trade(
                        txid, order: ordertxid, time: PGTimestamp.format(at), type: buy ? "buy" : "sell",
                        price: "\(price).0000000000", vol: text(vol))
                    try ledger(txid, at, "trade", "XXBT", buy ? vol : -vol, 0)
                    try ledger(txid, at, "trade", "ZUSD", buy ? -cost : cost, fee)
                }
            }
            day = cal.date(byAdding: .day, value: 1, to: day)!
        }
        try f.apiKey(created: "2026-10-01", firstSeen: "2026-10-01T09:00:00Z", lastUsed: "2026-12-18T02:00:20Z")
        return trades
    }
}
