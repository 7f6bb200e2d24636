/// Exact sums of decimal texts (`"0.1"` + `"0.25"` = `"0.35"`), for the rare execution report with several fees:
/// money is never added as `Double`.
enum DecimalSum {
    /// The sum of `texts` (each `[+-]?digits[.digits]`), or nil when one is not such a number.
    static func sum(_ texts: [String]) -> String? {
        var total: (negative: Bool, digits: [Int], scale: Int) = (false, [0], 0)
        for t in texts {
            guard let n = parse(t) else { return nil }
            total = add(total, n)
        }
        return format(total)
    }

    private static func parse(_ t: String) -> (negative: Bool, digits: [Int], scale: Int)? {
        var s = Substring(t)
        var negative = false
        if s.hasPrefix("-") { negative = true; s = s.dropFirst() } else if s.hasPrefix("+") { s = s.dropFirst() }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty || parts.count == 2 else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        let all = whole + fraction
        guard !all.isEmpty, all.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return (negative, all.map { Int(String($0))! }, fraction.count)
    }

    /// Magnitudes as integers at a common scale, then signed addition.
    private static func add(_ a: (negative: Bool, digits: [Int], scale: Int), _ b: (negative: Bool, digits: [Int], scale: Int))
        -> (negative: Bool, digits: [Int], scale: Int)
    {
        let scale = max(a.scale, b.scale)
        let x = a.digits + Array(repeating: 0, count: scale - a.scale)
        let y = b.digits + Array(repeating: 0, count: scale - b.scale)
        if a.negative == b.negative { return (a.negative, magnitudeAdd(x, y), scale) }
        if compare(x, y) >= 0 { return (a.negative, magnitudeSubtract(x, y), scale) }
        return (b.negative, magnitudeSubtract(y, x), scale)
    }

    private static func trimmed(_ d: [Int]) -> [Int] {
        let t = Array(d.drop { $0 == 0 })
        return t.isEmpty ? [0] : t
    }

    private static func compare(_ x: [Int], _ y: [Int]) -> Int {
        let a = trimmed(x)
        let b = trimmed(y)
        if a.count != b.count { return a.count < b.count ? -1 : 1 }
        for (p, q) in zip(a, b) where p != q { return p < q ? -1 : 1 }
        return 0
    }

    private static func magnitudeAdd(_ x: [Int], _ y: [Int]) -> [Int] {
        var out: [Int] = []
        var carry = 0
        var i = x.count - 1
        var j = y.count - 1
        while i >= 0 || j >= 0 || carry > 0 {
            let s = (i >= 0 ? x[i] : 0) + (j >= 0 ? y[j] : 0) + carry
            out.append(s % 10)
            carry = s / 10
            i -= 1
            j -= 1
        }
        return out.reversed()
    }

    /// x - y with x >= y.
    private static func magnitudeSubtract(_ x: [Int], _ y: [Int]) -> [Int] {
        var out: [Int] = []
        var borrow = 0
        var i = x.count - 1
        var j = y.count - 1
        while i >= 0 {
            var d = x[i] - borrow - (j >= 0 ? y[j] : 0)
            borrow = d < 0 ? 1 : 0
            if d < 0 { d += 10 }
            out.append(d)
            i -= 1
            j -= 1
        }
        return out.reversed()
    }

    private static func format(_ n: (negative: Bool, digits: [Int], scale: Int)) -> String {
        var digits = n.digits
        while digits.count <= n.scale { digits.insert(0, at: 0) }
        let whole = trimmed(Array(digits.prefix(digits.count - n.scale)))
        let fraction = digits.suffix(n.scale)
        let body = whole.map(String.init).joined() + (n.scale > 0 ? "." + fraction.map(String.init).joined() : "")
        let isZero = digits.allSatisfy { $0 == 0 }
        return (n.negative && !isZero ? "-" : "") + body
    }
}
