import Foundation

/// One asset as `/0/public/Assets` describes it (../shared/kraken-api.md §3.12, §8).
struct AssetInfo: Sendable {
    let key: String
    let altname: String
    let decimals: Int
    let displayDecimals: Int
    let collateralValue: String?
    /// Rough value in USD, for sizing activity.
    let usdPrice: Double
}

/// One pair as `/0/public/AssetPairs` describes it.
struct PairInfo: Sendable {
    let key: String
    let altname: String
    let wsname: String
    let base: Int
    let quote: Int
    let pairDecimals: Int
    let lotDecimals: Int
    let costDecimals: Int
    let ordermin: String
    let costmin: String
    let tickSize: String
}

/// The fixed asset and pair catalogue (Kraken's keys, altnames and decimals).
enum Catalogue {
    static let assets: [AssetInfo] = [
        AssetInfo(key: "XXBT", altname: "XBT", decimals: 10, displayDecimals: 5, collateralValue: "1.0000", usdPrice: 60000),
        AssetInfo(key: "XETH", altname: "ETH", decimals: 10, displayDecimals: 5, collateralValue: "1.0000", usdPrice: 3000),
        AssetInfo(key: "ZUSD", altname: "USD", decimals: 4, displayDecimals: 2, collateralValue: "1.0000", usdPrice: 1),
        AssetInfo(key: "ZEUR", altname: "EUR", decimals: 4, displayDecimals: 2, collateralValue: "1.0000", usdPrice: 1.08),
        AssetInfo(key: "DOT", altname: "DOT", decimals: 10, displayDecimals: 8, collateralValue: "0.9000", usdPrice: 7),
        AssetInfo(key: "SOL", altname: "SOL", decimals: 10, displayDecimals: 5, collateralValue: "0.9000", usdPrice: 150),
        AssetInfo(key: "ADA", altname: "ADA", decimals: 8, displayDecimals: 6, collateralValue: "0.9000", usdPrice: 0.5),
        AssetInfo(key: "USDT", altname: "USDT", decimals: 8, displayDecimals: 4, collateralValue: "1.0000", usdPrice: 1),
        AssetInfo(key: "DOT.S", altname: "DOT.S", decimals: 10, displayDecimals: 8, collateralValue: nil, usdPrice: 7),
        AssetInfo(key: "KFEE", altname: "FEE", decimals: 2, displayDecimals: 2, collateralValue: nil, usdPrice: 0.01),
    ]

    static let xbt = 0, eth = 1, usd = 2, eur = 3, dot = 4, sol = 5, ada = 6, usdt = 7, dotStaked = 8

    static let pairs: [PairInfo] = [
        PairInfo(key: "XXBTZUSD", altname: "XBTUSD", wsname: "XBT/USD", base: xbt, quote: usd, pairDecimals: 1, lotDecimals: 8, costDecimals: 5, ordermin: "0.00005", costmin: "0.5", tickSize: "0.1"),
        PairInfo(key: "XETHZUSD", altname: "ETHUSD", wsname: "ETH/USD", base: eth, quote: usd, pairDecimals: 2, lotDecimals: 8, costDecimals: 5, ordermin: "0.002", costmin: "0.5", tickSize: "0.01"),
        PairInfo(key: "XXBTZEUR", altname: "XBTEUR", wsname: "XBT/EUR", base: xbt, quote: eur, pairDecimals: 1, lotDecimals: 8, costDecimals: 5, ordermin: "0.00005", costmin: "0.45", tickSize: "0.1"),
        PairInfo(key: "XETHZEUR", altname: "ETHEUR", wsname: "ETH/EUR", base: eth, quote: eur, pairDecimals: 2, lotDecimals: 8, costDecimals: 5, ordermin: "0.002", costmin: "0.45", tickSize: "0.01"),
        PairInfo(key: "DOTUSD", altname: "DOTUSD", wsname: "DOT/USD", base: dot, quote: usd, pairDecimals: 4, lotDecimals: 8, costDecimals: 5, ordermin: "0.6", costmin: "0.5", tickSize: "0.0001"),
        PairInfo(key: "SOLUSD", altname: "SOLUSD", wsname: "SOL/USD", base: sol, quote: usd, pairDecimals: 2, lotDecimals: 8, costDecimals: 5, ordermin: "0.02", costmin: "0.5", tickSize: "0.01"),
        PairInfo(key: "DOTEUR", altname: "DOTEUR", wsname: "DOT/EUR", base: dot, quote: eur, pairDecimals: 4, lotDecimals: 8, costDecimals: 5, ordermin: "0.6", costmin: "0.45", tickSize: "0.0001"),
        PairInfo(key: "SOLEUR", altname: "SOLEUR", wsname: "SOL/EUR", base: sol, quote: eur, pairDecimals: 2, lotDecimals: 8, costDecimals: 5, ordermin: "0.02", costmin: "0.45", tickSize: "0.01"),
        PairInfo(key: "ADAUSD", altname: "ADAUSD", wsname: "ADA/USD", base: ada, quote: usd, pairDecimals: 6, lotDecimals: 8, costDecimals: 5, ordermin: "10", costmin: "0.5", tickSize: "0.000001"),
        PairInfo(key: "ADAEUR", altname: "ADAEUR", wsname: "ADA/EUR", base: ada, quote: eur, pairDecimals: 6, lotDecimals: 8, costDecimals: 5, ordermin: "10", costmin: "0.45", tickSize: "0.000001"),
        PairInfo(key: "USDTZUSD", altname: "USDTUSD", wsname: "USDT/USD", base: usdt, quote: usd, pairDecimals: 4, lotDecimals: 8, costDecimals: 5, ordermin: "5", costmin: "0.5", tickSize: "0.0001"),
        PairInfo(key: "XETHXXBT", altname: "ETHXBT", wsname: "ETH/XBT", base: eth, quote: xbt, pairDecimals: 5, lotDecimals: 8, costDecimals: 10, ordermin: "0.002", costmin: "0.00002", tickSize: "0.00001"),
    ]

    /// Pairs every simulated account trades from the first week on.
    static let normalPairs = [0, 1, 2, 3, 4, 5]
    /// A pair no account trades in normal history (the "first-ever pair" anomaly).
    static let firstEverPair = 9

    /// Index of an asset given its key (`XXBT`) or altname (`XBT`).
    static func assetIndex(_ name: String) -> Int? {
        assets.firstIndex { $0.key == name || $0.altname == name }
    }

    /// Index of a pair given its key (`XXBTZUSD`) or altname (`XBTUSD`).
    static func pairIndex(_ name: String) -> Int? {
        pairs.firstIndex { $0.key == name || $0.altname == name }
    }
}

/// Fixed-point helpers: amounts are `Int64` counts of 10^-decimals units.
enum Fixed {
    static let pow10: [Int64] = (0...18).map { e in (0..<e).reduce(Int64(1)) { acc, _ in acc * 10 } }

    /// `-600.2000` style text with exactly `decimals` fraction digits.
    static func format(_ value: Int64, decimals: Int) -> String {
        if decimals == 0 { return String(value) }
        let negative = value < 0
        let magnitude = value.magnitude
        let p = UInt64(pow10[decimals])
        let whole = magnitude / p
        var frac = String(magnitude % p)
        if frac.count < decimals { frac = String(repeating: "0", count: decimals - frac.count) + frac }
        return (negative ? "-" : "") + String(whole) + "." + frac
    }

    /// Rescales `value` from `from` decimals to `to` decimals (rounding half away from zero when reducing).
    static func rescale(_ value: Int64, from: Int, to: Int) -> Int64 {
        if to == from { return value }
        if to > from { return value * pow10[to - from] }
        let d = pow10[from - to]
        let q = value / d, r = value % d
        if r.magnitude * 2 >= d.magnitude { return q + (value < 0 ? -1 : 1) }
        return q
    }

    /// `a * b / d` rounded half up, for non-negative operands, without intermediate overflow.
    static func mulDiv(_ a: Int64, _ b: Int64, _ d: Int64) -> Int64 {
        let product = UInt64(a).multipliedFullWidth(by: UInt64(b))
        let (q, r) = UInt64(d).dividingFullWidth(product)
        return Int64(q) + (r * 2 >= UInt64(d) ? 1 : 0)
    }

    /// Converts a positive double to fixed units (for generated sizes; never used on parsed input).
    static func fromDouble(_ value: Double, decimals: Int) -> Int64 {
        Int64((value * Double(pow10[decimals])).rounded())
    }

    /// Kraken time text: unix seconds with 4 decimals (`1688667796.8802`) from ticks of 1e-4 s.
    static func time(_ ticks: Int64) -> String { format(ticks, decimals: 4) }

    /// Parses a decimal text (`1688169600`, `1688169600.5`) into ticks of 1e-4 s; nil if not a number.
    static func parseTicks(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty, first.allSatisfy(\.isASCII), let whole = Int64(first)
        else { return nil }
        var frac: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            let four = String(digits.prefix(4)).padding(toLength: 4, withPad: "0", startingAt: 0)
            frac = Int64(four) ?? 0
        }
        let (m, o) = whole.multipliedReportingOverflow(by: 10_000)
        guard !o else { return nil }
        return whole < 0 ? m - frac : m + frac
    }
}
