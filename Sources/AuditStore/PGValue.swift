import AuditKernel
import Foundation

/// A Swift value that can be bound as a query parameter (sent in PostgreSQL's text format, so `NUMERIC` values
/// travel exactly).
public protocol PGEncodable: Sendable {
    /// The value's text representation as PostgreSQL parses it.
    var pgText: String { get }
}

/// A Swift value that can be read from a result column (text format).
public protocol PGDecodable {
    init(pgText: String) throws(PGError)
}

extension String: PGEncodable, PGDecodable {
    public var pgText: String { self }
    public init(pgText: String) { self = pgText }
}

extension Int: PGEncodable, PGDecodable {
    public var pgText: String { String(self) }
    public init(pgText: String) throws(PGError) {
        guard let v = Int(pgText) else { throw PGError(kind: .decode, message: "'\(pgText)' is not an integer") }
        self = v
    }
}

extension Int64: PGEncodable, PGDecodable {
    public var pgText: String { String(self) }
    public init(pgText: String) throws(PGError) {
        guard let v = Int64(pgText) else { throw PGError(kind: .decode, message: "'\(pgText)' is not a bigint") }
        self = v
    }
}

extension UInt64: PGEncodable, PGDecodable {
    public var pgText: String { String(self) }
    public init(pgText: String) throws(PGError) {
        guard let v = UInt64(pgText) else {
            throw PGError(kind: .decode, message: "'\(pgText)' is not an unsigned 64-bit integer")
        }
        self = v
    }
}

extension Bool: PGEncodable, PGDecodable {
    public var pgText: String { self ? "t" : "f" }
    public init(pgText: String) throws(PGError) {
        switch pgText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw PGError(kind: .decode, message: "'\(pgText)' is not a boolean")
        }
    }
}

extension Double: PGEncodable, PGDecodable {
    /// Doubles are for measurements (durations, ratios), never money: use ``ExactDecimal`` for amounts.
    public var pgText: String { String(self) }
    public init(pgText: String) throws(PGError) {
        guard let v = Double(pgText) else { throw PGError(kind: .decode, message: "'\(pgText)' is not a number") }
        self = v
    }
}

extension Date: PGEncodable, PGDecodable {
    /// ISO 8601 in UTC with microseconds (PostgreSQL's `timestamptz` precision).
    public var pgText: String { PGTimestamp.format(self) }
    public init(pgText: String) throws(PGError) {
        guard let d = PGTimestamp.parse(pgText) else {
            throw PGError(kind: .decode, message: "'\(pgText)' is not a timestamp")
        }
        self = d
    }
}

/// An exact decimal number kept as its canonical text: money is never a `Double`.
///
/// Accepts what Kraken sends (`"-24.5000"`, `"0.0000000000"`) and what `NUMERIC` returns; any number of digits.
public struct ExactDecimal: Sendable, Hashable, CustomStringConvertible, PGEncodable, PGDecodable {
    /// The text, validated as `[+-]?digits[.digits]` (an exponent is accepted as PostgreSQL accepts it).
    public let text: String

    /// Validates `text`; nil when it is not a decimal number.
    public init?(_ text: String) {
        guard ExactDecimal.isValid(text) else { return nil }
        self.text = text
    }

    public init(pgText: String) throws(PGError) {
        guard let v = ExactDecimal(pgText) else {
            throw PGError(kind: .decode, message: "'\(pgText)' is not a decimal number")
        }
        self = v
    }

    public var pgText: String { text }
    public var description: String { text }

    /// Whether the two are the same number regardless of trailing zeros or a leading '+' (`1.50` == `1.5`).
    public func isNumericallyEqual(to other: ExactDecimal) -> Bool { normalized == other.normalized }

    /// Canonical form: no '+', no exponent, no leading zeros in the integer part, no trailing fractional zeros,
    /// `0` for zero.
    public var normalized: String {
        var s = Substring(text)
        var negative = false
        if s.hasPrefix("+") { s = s.dropFirst() } else if s.hasPrefix("-") { negative = true; s = s.dropFirst() }
        var exponent = 0
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(s[s.index(after: e)...]) ?? 0
            s = s[..<e]
        }
        var intPart = s
        var frac: Substring = ""
        if let dot = s.firstIndex(of: ".") {
            intPart = s[..<dot]
            frac = s[s.index(after: dot)...]
        }
        // Move the decimal point by the exponent (bounded by isValid).
        var digits = Array(intPart + frac)
        var point = intPart.count + exponent
        if point < 0 {
            digits.insert(contentsOf: Array(repeating: "0", count: -point), at: 0)
            point = 0
        }
        if point > digits.count { digits.append(contentsOf: Array(repeating: "0", count: point - digits.count)) }
        var whole = Substring(String(digits[0..<point]))
        var fraction = Substring(String(digits[point...]))
        while whole.count > 1, whole.hasPrefix("0") { whole = whole.dropFirst() }
        if whole.isEmpty { whole = "0" }
        while fraction.hasSuffix("0") { fraction = fraction.dropLast() }
        let body = fraction.isEmpty ? String(whole) : "\(whole).\(fraction)"
        return (negative && body != "0") ? "-" + body : body
    }

    static func isValid(_ s: String) -> Bool {
        var chars = Substring(s)
        if chars.hasPrefix("-") || chars.hasPrefix("+") { chars = chars.dropFirst() }
        var mantissa = chars
        var exponent: Substring? = nil
        if let e = chars.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = chars[..<e]
            exponent = chars[chars.index(after: e)...]
        }
        let parts = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !mantissa.isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }),
            parts.contains(where: { !$0.isEmpty })
        else { return false }
        if var exp = exponent {
            if exp.hasPrefix("-") || exp.hasPrefix("+") { exp = exp.dropFirst() }
            // Exponents are accepted within a range PostgreSQL's NUMERIC and a person can still read.
            guard !exp.isEmpty, exp.count <= 10, exp.allSatisfy(\.isASCIIDigit), let e = Int(exp), e <= 100 else { return false }
        }
        return true
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// `bytea` values (hex format).
public struct PGBytes: Sendable, Equatable, PGEncodable, PGDecodable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var pgText: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = Array("\\x".utf8)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
    public init(pgText: String) throws(PGError) {
        guard pgText.hasPrefix("\\x") else { throw PGError(kind: .decode, message: "bytea not in hex format") }
        let hex = Array(pgText.utf8.dropFirst(2))
        guard hex.count % 2 == 0 else { throw PGError(kind: .decode, message: "odd bytea hex length") }
        var out = [UInt8]()
        out.reserveCapacity(hex.count / 2)
        var i = 0
        while i < hex.count {
            guard let h = Self.nibble(hex[i]), let l = Self.nibble(hex[i + 1]) else {
                throw PGError(kind: .decode, message: "invalid bytea hex")
            }
            out.append(h << 4 | l)
            i += 2
        }
        bytes = out
    }
    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}

/// Timestamp text conversions. Sessions run with `TimeZone=UTC` and `DateStyle=ISO`, so the server sends
/// `2026-11-26 05:34:27.123456+00`.
public enum PGTimestamp {
    /// Formats as `2026-11-26T05:34:27.123456Z`.
    public static func format(_ date: Date) -> String {
        iso(totalMicros: Int64((date.timeIntervalSince1970 * 1_000_000).rounded()))
    }

    /// ISO 8601 UTC text of a time given in microseconds since the epoch.
    static func iso(totalMicros: Int64) -> String {
        var seconds = totalMicros / 1_000_000
        var micros = totalMicros % 1_000_000
        if micros < 0 { micros += 1_000_000; seconds -= 1 }
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secOfDay = seconds - days * 86400
        let (y, m, d) = CivilDate.civil(days: days)
        func pad(_ v: Int64, _ width: Int) -> String {
            let t = String(v)
            return String(repeating: "0", count: max(0, width - t.count)) + t
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secOfDay / 3600, 2)):\(pad((secOfDay % 3600) / 60, 2)):"
            + "\(pad(secOfDay % 60, 2)).\(pad(micros, 6))Z"
    }

    /// Converts Kraken's float seconds (`"1688667796.8802"`, exact text) to an ISO timestamp, rounded to
    /// microseconds (PostgreSQL's precision) without going through `Double`. Nil if not a plain decimal.
    public static func fromEpochText(_ text: String) -> String? {
        var t = Substring(text)
        var negative = false
        if t.hasPrefix("-") { negative = true; t = t.dropFirst() }
        let parts = t.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let intText = parts.first, !intText.isEmpty, intText.count <= 12, intText.allSatisfy(\.isASCIIDigit),
            let whole = Int64(intText)
        else { return nil }
        var micros: Int64 = 0
        if parts.count == 2 {
            let frac = parts[1]
            guard !frac.isEmpty, frac.allSatisfy(\.isASCIIDigit) else { return nil }
            let digits = Array(frac.utf8).map { Int64($0 - 48) }
            for i in 0..<6 { micros = micros * 10 + (i < digits.count ? digits[i] : 0) }
            if digits.count > 6, digits[6] >= 5 { micros += 1 }
        }
        let totalMicros = whole * 1_000_000 + micros
        return iso(totalMicros: negative ? -totalMicros : totalMicros)
    }

    /// Parses PostgreSQL's ISO output (`YYYY-MM-DD HH:MM:SS[.ffffff]+HH[:MM]`) or RFC 3339.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count >= 19 else { return nil }
        func num(_ r: Range<Int>) -> Int64? {
            var v: Int64 = 0
            for i in r {
                guard i < b.count, b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13),
            let mi = num(14..<16), let s = num(17..<19)
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        var offset: Int64 = 0
        if i < b.count {
            if b[i] == UInt8(ascii: "Z") {
                i += 1
            } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
                guard let oh = num(i + 1..<i + 3) else { return nil }
                var om: Int64 = 0
                var j = i + 3
                if j < b.count, b[j] == UInt8(ascii: ":") { j += 1 }
                if j + 2 <= b.count, let m = num(j..<j + 2) { om = m; j += 2 }
                offset = sign * (oh * 3600 + om * 60)
                i = j
            } else {
                return nil
            }
        }
        let days = CivilDate.days(year: y, month: mo, day: d)
        let secs = days * 86400 + h * 3600 + mi * 60 + s - offset
        return Date(timeIntervalSince1970: Double(secs) + fraction)
    }
}
