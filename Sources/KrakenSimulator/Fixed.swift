import Foundation

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
        let q = value / d
        let r = value % d
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
