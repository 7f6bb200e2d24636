import AuditKernel

/// The JSON Canonicalization Scheme (RFC 8785, "JCS") for the values kraken-audit signs: the same value always
/// gives the same bytes, whatever order or spacing it was built or read with.
///
/// Rules (RFC 8785 §3.2, restricted to what digests hold):
/// - no whitespace between tokens;
/// - object members sorted by their names compared as arrays of UTF-16 code units;
/// - strings in UTF-8 with only the required escapes: `\"`, `\\`, `\b`, `\t`, `\n`, `\f`, `\r`, and `\u00xx`
///   (lower-case hex) for the other control characters below U+0020; everything else, `/` and non-ASCII
///   included, as is;
/// - `true`, `false`, `null`;
/// - numbers: integers only, written in plain decimal without a leading `+`, leading zeros or `-0` (which is what
///   RFC 8785's ECMAScript number serialisation gives for integers up to 2⁵³). Digests hold no fractions.
///
/// ``encode(_:)`` writes any value (a number outside the subset is written as its source text); ``check(_:)``
/// says whether a value is inside the subset, so input read from elsewhere can be refused first.
public enum CanonicalJSON {
    /// The largest integer RFC 8785 writes exactly (IEEE 754 doubles hold every integer up to 2⁵³ − 1).
    public static let maxSafeInteger: Int64 = 9_007_199_254_740_991

    /// The canonical UTF-8 bytes of `value`.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, to: &out)
        return out
    }

    /// Refuses what the subset cannot hold: numbers other than integers within ±(2⁵³ − 1) (fractions,
    /// exponents, `-0`, leading zeros) and objects with a member name twice.
    public static func check(_ value: JSONValue) throws(IntegrityError) {
        switch value {
        case .null, .bool, .string: return
        case .number(let text):
            guard integer(text) != nil else {
                throw .notCanonicalizable(reason: "number \(text) is not an integer from -\(maxSafeInteger) to \(maxSafeInteger)")
            }
        case .array(let elements):
            for e in elements { try check(e) }
        case .object(let members):
            var seen = Set<String>()
            for (name, member) in members {
                guard seen.insert(name).inserted else { throw .notCanonicalizable(reason: "member name \"\(name)\" appears twice") }
                try check(member)
            }
        }
    }

    /// `text` as an integer when it is one written canonically (`0`, `-12`, `345`) within ±(2⁵³ − 1), else nil.
    public static func integer(_ text: String) -> Int64? {
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        guard digits == "0" ? !text.hasPrefix("-") : digits.first != "0" else { return nil }
        guard digits.count <= 16, let value = Int64(text), abs(value) <= maxSafeInteger else { return nil }
        return value
    }

    private static func write(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .number(let text): out += Array(text.utf8)
        case .string(let s): writeString(s, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, e) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(e, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let sorted = members.sorted { $0.0.utf16.lexicographicallyPrecedes($1.0.utf16) }
            for (i, (name, member)) in sorted.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(name, to: &out)
                out.append(UInt8(ascii: ":"))
                write(member, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writeString(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x00..<0x20: out += [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            // Multi-byte UTF-8 sequences never contain bytes below 0x80, so copying byte by byte keeps them whole.
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
