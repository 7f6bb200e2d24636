/// `application/x-www-form-urlencoded` encoding as Kraken receives it.
///
/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is percent-encoded as UTF-8 bytes,
/// spaces included (`%20`, never `+`), so `+`, `&`, `=`, `,` and unicode cannot change the meaning of the body.
/// The signer signs exactly the bytes this produces and the transport sends the same bytes
/// (../shared/kraken-api.md §1.2, §1.3).
public enum FormEncoding {
    /// Percent-encodes one key or value.
    public static func escape(_ string: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(string.utf8.count)
        for byte in string.utf8 { append(byte, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// ``escape(_:)`` for bytes appended to `out` (the signer encodes the OTP straight from its zeroing storage).
    static func escape(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        for byte in bytes { append(byte, to: &out) }
    }

    /// One byte: RFC 3986 unreserved bytes as they are, every other byte `%XX`.
    @inline(__always)
    private static func append(_ byte: UInt8, to out: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.append(byte)
        default:
            out.append(UInt8(ascii: "%"))
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// Encodes ordered pairs as `k=v&k=v` (order kept: the signature covers the exact bytes).
    public static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    /// Decodes a form body into ordered pairs; `nil` if a percent escape is malformed or not UTF-8.
    public static func decode(_ body: String) -> [(String, String)]? {
        if body.isEmpty { return [] }
        var result: [(String, String)] = []
        for part in body.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = unescape(String(kv[0])) else { return nil }
            let value = kv.count > 1 ? unescape(String(kv[1])) : ""
            guard let value else { return nil }
            result.append((key, value))
        }
        return result
    }

    /// Reverses ``escape(_:)``; `+` is read as a space, as HTML forms send it.
    public static func unescape(_ string: String) -> String? {
        var bytes = [UInt8]()
        var iterator = Array(string.utf8).makeIterator()
        while let b = iterator.next() {
            if b == UInt8(ascii: "%") {
                guard let h = iterator.next(), let l = iterator.next(),
                    let hv = hexValue(h), let lv = hexValue(l)
                else { return nil }
                bytes.append(hv << 4 | lv)
            } else if b == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
