/// Kraken-format identifiers derived from serial numbers (../shared/kraken-api.md §2).
///
/// Ledger, trade and order ids look like Kraken's (`L4UESK-KG3EQ-UFO4T5`: a prefix letter and 16 upper-case
/// alphanumerics in groups 6-5-6). The first 13 characters are the base-36 digits of an invertible scramble of
/// the row's serial number, the last 3 a check value, so an id names exactly one row and is decoded back to its
/// serial without a lookup table (1,000,000 rows need no dictionary).
struct IDCodec: Sendable {
    /// Per (seed, account, kind) key: ids differ between accounts and seeds.
    let key: UInt64
    let prefix: UInt8

    static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    private static let multA: UInt64 = 0xD6E8_FEB8_6659_FD93
    private static let multB: UInt64 = 0xA3B1_9535_4A39_B70D
    private static let invA = inverse(multA)
    private static let invB = inverse(multB)

    init(seed: UInt64, account: String, kind: String) {
        key = SplitMix64.mix(seed ^ SeededRandom.fnv1a("\(account)/\(kind)"))
        prefix = Array(kind.utf8).first ?? UInt8(ascii: "X")
    }

    /// Multiplicative inverse of an odd number modulo 2^64 (Newton's iteration).
    private static func inverse(_ a: UInt64) -> UInt64 {
        var x = a
        for _ in 0..<6 { x = x &* (2 &- a &* x) }
        return x
    }

    func scramble(_ serial: UInt64) -> UInt64 {
        var x = serial ^ key
        x = x &* IDCodec.multA
        x ^= x >> 32
        x = x &* IDCodec.multB
        x ^= x >> 29
        return x
    }

    func unscramble(_ value: UInt64) -> UInt64 {
        var x = value
        x = x ^ (x >> 29) ^ (x >> 58)
        x = x &* IDCodec.invB
        x ^= x >> 32
        x = x &* IDCodec.invA
        return x ^ key
    }

    private func check(_ scrambled: UInt64) -> UInt64 { SplitMix64.mix(scrambled ^ key) % (36 * 36 * 36) }

    /// The 16 significant characters of the id of `serial`.
    private func body(_ serial: UInt64) -> [UInt8] {
        let s = scramble(serial)
        var digits = [UInt8](repeating: 0, count: 16)
        var v = s
        for i in stride(from: 12, through: 0, by: -1) {
            digits[i] = IDCodec.alphabet[Int(v % 36)]
            v /= 36
        }
        var c = check(s)
        for i in stride(from: 15, through: 13, by: -1) {
            digits[i] = IDCodec.alphabet[Int(c % 36)]
            c /= 36
        }
        return digits
    }

    /// `P?????-?????-??????` (prefix + 5, 5, 6).
    func format(_ serial: Int64) -> String {
        let d = body(UInt64(bitPattern: serial))
        var out = [UInt8]()
        out.reserveCapacity(19)
        out.append(prefix)
        out.append(contentsOf: d[0..<5])
        out.append(UInt8(ascii: "-"))
        out.append(contentsOf: d[5..<10])
        out.append(UInt8(ascii: "-"))
        out.append(contentsOf: d[10..<16])
        return String(decoding: out, as: UTF8.self)
    }

    /// Legacy funding/transfer refid style `???????-??????-??????` (7-6-6, no prefix).
    func formatLegacy(_ serial: Int64) -> String {
        var d = body(UInt64(bitPattern: serial))
        let extra = SplitMix64.mix(UInt64(bitPattern: serial) ^ key ^ 0x5555)
        for i in 0..<3 { d.append(IDCodec.alphabet[Int((extra >> (8 * UInt64(i))) % 36)]) }
        var out = [UInt8]()
        out.append(contentsOf: d[0..<7])
        out.append(UInt8(ascii: "-"))
        out.append(contentsOf: d[7..<13])
        out.append(UInt8(ascii: "-"))
        out.append(contentsOf: d[13..<19])
        return String(decoding: out, as: UTF8.self)
    }

    /// The serial an id produced by ``format(_:)`` names, or nil if it is not one of ours.
    func decode(_ id: String) -> Int64? {
        let bytes = Array(id.utf8)
        guard bytes.count == 19, bytes[0] == prefix, bytes[6] == UInt8(ascii: "-"), bytes[12] == UInt8(ascii: "-")
        else { return nil }
        let chars = Array(bytes[1..<6]) + Array(bytes[7..<12]) + Array(bytes[13..<19])
        var value: UInt64 = 0
        for c in chars[0..<13] {
            guard let d = IDCodec.digit(c) else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 36)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            value = a
        }
        var c: UInt64 = 0
        for ch in chars[13..<16] {
            guard let d = IDCodec.digit(ch) else { return nil }
            c = c * 36 + UInt64(d)
        }
        guard c == check(value) else { return nil }
        return Int64(bitPattern: unscramble(value))
    }

    private static func digit(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(c - UInt8(ascii: "0"))
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return Int(c - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }

    /// A new-style mixed-case funding refid (`FTQcuak-V6Za8qrWnhzTx67yYHz8Tg`), unique per serial.
    func formatFunding(_ serial: Int64) -> String {
        let mixedCase = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        var chars = [UInt8]()
        var v = scramble(UInt64(bitPattern: serial))
        for _ in 0..<11 { chars.append(mixedCase[Int(v % 62)]); v /= 62 }
        var extra = SplitMix64(state: v ^ key ^ UInt64(bitPattern: serial))
        while chars.count < 27 { chars.append(mixedCase[Int(extra.next() % 62)]) }
        return "FT" + String(decoding: chars[0..<5], as: UTF8.self) + "-" + String(decoding: chars[5..<27], as: UTF8.self)
    }
}
